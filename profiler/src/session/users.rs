//! Users and groups for `--user`: by name or id, and a user's groups as
//! login sets them.
//!
//! A dynamically linked build asks the C library, so every NSS source of
//! the host counts (files, systemd, LDAP, SSSD). The static release binary
//! (`cargo xtask dist`, glibc linked with `crt-static`) reads `/etc/passwd`
//! and `/etc/group` itself: static glibc answers from files, but reaches
//! any other source of `nsswitch.conf` by loading its module with dlopen,
//! and on Debian 12 (`passwd: files systemd`) that crashes the process
//! with SIGSEGV (measured: `getgrouplist` of any user, `getpwnam` of an
//! unknown one). So the static binary knows the users of the files only.

use std::path::PathBuf;

/// A user's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserEntry {
    pub(crate) name: String,
    pub(crate) uid: libc::uid_t,
    pub(crate) gid: libc::gid_t,
    pub(crate) home: PathBuf,
}

#[cfg(not(target_feature = "crt-static"))]
mod source {
    use nix::unistd::{Gid, Group, Uid, User};

    use super::UserEntry;

    fn entry(user: Option<User>) -> Option<UserEntry> {
        user.map(|u| UserEntry {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
        })
    }

    pub(crate) fn user_by_name(name: &str) -> nix::Result<Option<UserEntry>> {
        User::from_name(name).map(entry)
    }

    pub(crate) fn user_by_uid(uid: libc::uid_t) -> nix::Result<Option<UserEntry>> {
        User::from_uid(Uid::from_raw(uid)).map(entry)
    }

    pub(crate) fn group_by_name(name: &str) -> nix::Result<Option<libc::gid_t>> {
        Group::from_name(name).map(|g| g.map(|g| g.gid.as_raw()))
    }

    pub(crate) fn groups_of(name: &str, gid: libc::gid_t) -> Vec<libc::gid_t> {
        match std::ffi::CString::new(name) {
            Ok(cname) => nix::unistd::getgrouplist(&cname, Gid::from_raw(gid))
                .map(|list| list.into_iter().map(Gid::as_raw).collect())
                .unwrap_or_else(|_| vec![gid]),
            Err(_) => vec![gid],
        }
    }
}

#[cfg(target_feature = "crt-static")]
mod source {
    use super::{UserEntry, files};

    fn read(path: &str) -> nix::Result<String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(text),
            // No such database: no such entry, as the C library answers.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
        }
    }

    pub(crate) fn user_by_name(name: &str) -> nix::Result<Option<UserEntry>> {
        Ok(files::users(&read("/etc/passwd")?).find(|u| u.name == name))
    }

    pub(crate) fn user_by_uid(uid: libc::uid_t) -> nix::Result<Option<UserEntry>> {
        Ok(files::users(&read("/etc/passwd")?).find(|u| u.uid == uid))
    }

    pub(crate) fn group_by_name(name: &str) -> nix::Result<Option<libc::gid_t>> {
        Ok(files::groups(&read("/etc/group")?)
            .find(|g| g.name == name)
            .map(|g| g.gid))
    }

    pub(crate) fn groups_of(name: &str, gid: libc::gid_t) -> Vec<libc::gid_t> {
        files::groups_of(&read("/etc/group").unwrap_or_default(), name, gid)
    }
}

pub(crate) use source::{group_by_name, groups_of, user_by_name, user_by_uid};

/// The files' formats, passwd(5) and group(5).
#[cfg_attr(not(any(test, target_feature = "crt-static")), allow(dead_code))]
mod files {
    use std::path::PathBuf;

    use super::UserEntry;

    /// `name:password:uid:gid:gecos:home:shell` lines; others are skipped.
    pub(crate) fn users(text: &str) -> impl Iterator<Item = UserEntry> + '_ {
        text.lines().filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [name, _, uid, gid, _, home, ..] if !name.is_empty() => Some(UserEntry {
                    name: (*name).to_owned(),
                    uid: uid.parse().ok()?,
                    gid: gid.parse().ok()?,
                    home: PathBuf::from(home),
                }),
                _ => None,
            }
        })
    }

    pub(crate) struct GroupEntry<'a> {
        pub(crate) name: &'a str,
        pub(crate) gid: libc::gid_t,
        pub(crate) members: Vec<&'a str>,
    }

    /// `name:password:gid:member,member` lines; others are skipped.
    pub(crate) fn groups(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
        text.lines().filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [name, _, gid, members] if !name.is_empty() => Some(GroupEntry {
                    name,
                    gid: gid.parse().ok()?,
                    members: members.split(',').filter(|m| !m.is_empty()).collect(),
                }),
                _ => None,
            }
        })
    }

    /// What getgrouplist(3) gives: `gid` first, then every group that
    /// lists `name` as a member, each once.
    pub(crate) fn groups_of(text: &str, name: &str, gid: libc::gid_t) -> Vec<libc::gid_t> {
        let mut list = vec![gid];
        for group in groups(text) {
            if group.members.contains(&name) && !list.contains(&group.gid) {
                list.push(group.gid);
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::files;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          # a comment\n\
                          postgres:x:101:104:PostgreSQL:/var/lib/postgresql:/bin/bash\n\
                          broken:x:notanumber:1::/:/bin/sh\n\
                          \n";
    const GROUP: &str = "root:x:0:\n\
                         postgres:x:104:\n\
                         ssl-cert:x:108:postgres\n\
                         docker:x:995:alice,postgres\n\
                         again:x:104:postgres\n";

    #[test]
    fn passwd_lines_are_read_as_the_c_library_reads_them() {
        let users: Vec<_> = files::users(PASSWD).collect();
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].name, "postgres");
        assert_eq!((users[1].uid, users[1].gid), (101, 104));
        assert_eq!(users[1].home, std::path::Path::new("/var/lib/postgresql"));
    }

    #[test]
    fn a_users_groups_are_its_own_and_those_that_list_it() {
        assert_eq!(files::groups_of(GROUP, "postgres", 104), [104, 108, 995]);
        assert_eq!(files::groups_of(GROUP, "alice", 1000), [1000, 995]);
        assert_eq!(
            files::groups(GROUP)
                .find(|g| g.name == "docker")
                .map(|g| g.gid),
            Some(995)
        );
    }
}
