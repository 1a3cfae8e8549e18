//! Errno numbers and names, as profiles and reports give them.
//!
//! The numbers are those of Linux's generic and x86 ABIs (asm-generic
//! errno.h), which x86_64, arm and arm64 share; mips and parisc number some
//! of them differently, which no report of this tool runs on.

/// `(number, name)`, by number.
const ERRNOS: &[(u32, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EDEADLK"),
    (36, "ENAMETOOLONG"),
    (37, "ENOLCK"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (42, "ENOMSG"),
    (43, "EIDRM"),
    (60, "ENOSTR"),
    (61, "ENODATA"),
    (62, "ETIME"),
    (63, "ENOSR"),
    (66, "EREMOTE"),
    (67, "ENOLINK"),
    (71, "EPROTO"),
    (72, "EMULTIHOP"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (84, "EILSEQ"),
    (87, "EUSERS"),
    (88, "ENOTSOCK"),
    (89, "EDESTADDRREQ"),
    (90, "EMSGSIZE"),
    (91, "EPROTOTYPE"),
    (92, "ENOPROTOOPT"),
    (93, "EPROTONOSUPPORT"),
    (94, "ESOCKTNOSUPPORT"),
    (95, "EOPNOTSUPP"),
    (96, "EPFNOSUPPORT"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (100, "ENETDOWN"),
    (101, "ENETUNREACH"),
    (102, "ENETRESET"),
    (103, "ECONNABORTED"),
    (104, "ECONNRESET"),
    (105, "ENOBUFS"),
    (106, "EISCONN"),
    (107, "ENOTCONN"),
    (108, "ESHUTDOWN"),
    (109, "ETOOMANYREFS"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
    (112, "EHOSTDOWN"),
    (113, "EHOSTUNREACH"),
    (114, "EALREADY"),
    (115, "EINPROGRESS"),
    (116, "ESTALE"),
    (122, "EDQUOT"),
    (123, "ENOMEDIUM"),
    (124, "EMEDIUMTYPE"),
    (125, "ECANCELED"),
    (126, "ENOKEY"),
    (127, "EKEYEXPIRED"),
    (128, "EKEYREVOKED"),
    (129, "EKEYREJECTED"),
    (130, "EOWNERDEAD"),
    (131, "ENOTRECOVERABLE"),
    (132, "ERFKILL"),
];

/// The name of errno `number`, e.g. `ENOSYS` for 38.
pub(crate) fn name(number: u32) -> Option<&'static str> {
    ERRNOS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
}

/// The number of errno `name`, e.g. 38 for `ENOSYS`.
pub(crate) fn number(name: &str) -> Option<u32> {
    ERRNOS.iter().find(|(_, n)| *n == name).map(|(n, _)| *n)
}

/// `ENOSYS (38)`, or just the number for one without a name here.
pub(crate) fn describe(number: u32) -> String {
    match name(number) {
        Some(name) => format!("{name} ({number})"),
        None => format!("errno {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree_with_libc() {
        assert_eq!(number("EPERM"), Some(libc::EPERM as u32));
        assert_eq!(number("ENOSYS"), Some(libc::ENOSYS as u32));
        assert_eq!(number("EAFNOSUPPORT"), Some(libc::EAFNOSUPPORT as u32));
        assert_eq!(name(libc::EINVAL as u32), Some("EINVAL"));
        assert_eq!(describe(38), "ENOSYS (38)");
        assert_eq!(number("EWHATEVER"), None);
        for (n, name) in ERRNOS {
            assert_eq!(number(name), Some(*n), "{name}");
        }
    }
}
