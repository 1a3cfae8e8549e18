//! A container's hand-over: its OCI runtime connects to a unix socket of
//! this run's own ([`Agent`]) and sends the container's listener there.

use std::{
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::net::UnixListener,
    },
    path::PathBuf,
    sync::atomic::{AtomicBool, Ordering},
};

use super::{Listener, ListenerError};
use crate::{profile::Arch, profile::eval::EffectivePolicy};

/// Where a container's runtime hands the listener over: a unix socket in a
/// directory of this run's own (see [`Listener::start_socket`]).
pub(crate) struct Agent {
    /// The socket's path, the runtime spec's `linux.seccomp.listenerPath`.
    pub path: PathBuf,
    /// The token the runtime must pass back (`listenerMetadata`).
    pub token: String,
}

impl Listener {
    /// Starts the thread for a container: it waits for the OCI runtime
    /// (runc) to connect to a fresh unix socket and send the container's
    /// listener, as the runtime spec's `listenerPath` has it (one message:
    /// the JSON state, and the descriptors named in its `fds` as
    /// `SCM_RIGHTS`). The socket is in a directory made for this run
    /// (mode 0700, a fresh name the runtime cannot be pointed away from),
    /// removed when the listener is finished or dropped; a connection that
    /// does not pass the run's random token as its metadata is refused.
    pub(crate) fn start_socket(
        policy: EffectivePolicy,
        arch: Arch,
    ) -> std::io::Result<(Listener, Agent)> {
        use std::os::unix::fs::PermissionsExt;
        remove_stale_socket_dirs(&std::env::temp_dir());
        let prefix = format!("{SOCKET_DIR_PREFIX}{}.", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let mode = std::fs::metadata(dir.path())?.permissions().mode() & 0o7777;
        if mode != 0o700 {
            return Err(std::io::Error::other(format!(
                "the private directory {} has mode {mode:o}, not 700",
                dir.path().display()
            )));
        }
        let path = dir.path().join("agent.sock");
        let socket = UnixListener::bind(&path)?;
        socket.set_nonblocking(true)?;
        let token = random_token()?;
        let agent = Agent {
            path,
            token: token.clone(),
        };
        let mut listener = Listener::serving(policy, arch, move |stop| {
            accept_listener(&socket, &token, stop)
        })?;
        listener.socket_dir = Some(dir);
        Ok((listener, agent))
    }
}

/// The name of a run's socket directory starts so, then the tool's pid.
const SOCKET_DIR_PREFIX: &str = "syscall-profile-listener.";

/// Removes the socket directories in `temp` of runs whose tool is gone (a
/// run killed with SIGKILL cannot remove its own): only directories (not
/// links) owned by this user, whose pid runs no process.
fn remove_stale_socket_dirs(temp: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SOCKET_DIR_PREFIX))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// 128 random bits, in hex: the metadata the runtime must pass back.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: writes at most the rest of the array.
        let got = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if got < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
            continue;
        }
        filled += got as usize;
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The runtime spec's "container process state", as runc sends it to the
/// `listenerPath` (only what is read of it).
#[derive(serde::Deserialize)]
struct ProcessState {
    fds: Vec<String>,
    #[serde(default)]
    metadata: String,
}

/// The most bytes of state and descriptors one connection may send.
const STATE_BYTES: usize = 64 * 1024;
const STATE_FDS: usize = 16;

/// Accepts connections on `socket` until one passes `token` and a
/// `seccompFd`: that descriptor; `None` when told to stop first (the
/// container never started). Other connections are closed, with what
/// they sent.
fn accept_listener(
    socket: &UnixListener,
    token: &str,
    stop: &AtomicBool,
) -> Result<Option<OwnedFd>, ListenerError> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let mut poll = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on the stack.
        if unsafe { libc::poll(&mut poll, 1, 100) } <= 0 {
            continue;
        }
        let stream = match socket.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ListenerError::Accept(e)),
        };
        if let Ok(Some(fd)) = receive_state(&stream, token) {
            return Ok(Some(fd));
        }
    }
}

/// Reads one connection to its end: the state and the descriptors; the
/// `seccompFd` when the state carries `token`.
fn receive_state(
    stream: &std::os::unix::net::UnixStream,
    token: &str,
) -> std::io::Result<Option<OwnedFd>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut bytes = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut buffer = vec![0u8; 4096];
    // Room for STATE_FDS descriptors, aligned for cmsghdr.
    let mut control = vec![0u64; 64];
    loop {
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: a zeroed msghdr is valid; its pointers are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() * 8;
        // SAFETY: the buffers outlive the call and their sizes are given.
        let got = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if got < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        // SAFETY: walks the control messages recvmsg wrote, within
        // msg_controllen; each SCM_RIGHTS datum is an array of ints.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                    let header = libc::CMSG_LEN(0) as usize;
                    let n = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                        / std::mem::size_of::<libc::c_int>();
                    for i in 0..n {
                        let fd = data.add(i).read_unaligned();
                        if fd >= 0 {
                            fds.push(OwnedFd::from_raw_fd(fd));
                        }
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        if got == 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..got as usize]);
        if bytes.len() > STATE_BYTES || fds.len() > STATE_FDS {
            return Ok(None);
        }
        // One message: the state is whole once it parses.
        if serde_json::from_slice::<ProcessState>(&bytes).is_ok() {
            break;
        }
    }
    let Ok(state) = serde_json::from_slice::<ProcessState>(&bytes) else {
        return Ok(None);
    };
    if state.metadata != token {
        return Ok(None);
    }
    let Some(index) = state.fds.iter().position(|name| name == "seccompFd") else {
        return Ok(None);
    };
    Ok((index < fds.len()).then(|| fds.swap_remove(index)))
}

#[cfg(test)]
mod tests {
    use std::os::{fd::RawFd, unix::net::UnixStream};

    use super::super::pipe;
    use super::*;
    use crate::profile::Profile;

    /// Sends `state` and `fds` as runc does: one message, the descriptors
    /// as SCM_RIGHTS.
    fn send_state(path: &std::path::Path, state: &str, fds: &[RawFd]) {
        let stream = UnixStream::connect(path).unwrap();
        let mut iov = libc::iovec {
            iov_base: state.as_ptr() as *mut libc::c_void,
            iov_len: state.len(),
        };
        let mut control = vec![0u64; 16];
        // SAFETY: a test's msghdr over live buffers.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            let size = std::mem::size_of_val(fds) as u32;
            msg.msg_controllen = libc::CMSG_SPACE(size) as usize;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                fds.len(),
            );
            assert!(libc::sendmsg(stream.as_raw_fd(), &msg, 0) >= 0);
        }
        drop(stream);
    }

    /// Inode of a descriptor, to tell which one came back.
    fn inode(fd: RawFd) -> u64 {
        // SAFETY: fstat into a zeroed struct.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(fd, &mut st), 0);
            st.st_ino
        }
    }

    /// The socket is alone in a 0700 directory; a connection with the
    /// wrong token is refused and the next one, with the token, hands over
    /// the descriptor at the index of "seccompFd"; the directory is gone
    /// once the listener is.
    #[test]
    fn the_runtime_hands_the_listener_over_with_the_token_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        let path = dir.path().join("agent.sock");
        let socket = UnixListener::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        let (a_r, _a_w) = pipe().unwrap();
        let (b_r, _b_w) = pipe().unwrap();
        let stop = AtomicBool::new(false);
        let client = {
            let path = path.clone();
            let (a, b) = (a_r.as_raw_fd(), b_r.as_raw_fd());
            std::thread::spawn(move || {
                let wrong = r#"{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1,"metadata":"nope","state":{}}"#;
                send_state(&path, wrong, &[a]);
                let right = r#"{"ociVersion":"1.0.2","fds":["other","seccompFd"],"pid":1,"metadata":"t0ken","state":{}}"#;
                send_state(&path, right, &[a, b]);
            })
        };
        let fd = accept_listener(&socket, "t0ken", &stop).unwrap().unwrap();
        client.join().unwrap();
        assert_eq!(inode(fd.as_raw_fd()), inode(b_r.as_raw_fd()));
        // Told to stop with no connection: nothing, no error.
        stop.store(true, Ordering::SeqCst);
        assert!(accept_listener(&socket, "t0ken", &stop).unwrap().is_none());
    }

    #[test]
    fn the_socket_dir_is_private_and_removed() {
        let policy = EffectivePolicy::evaluate(
            &Profile::parse(br#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
                .unwrap()
                .profile,
            &crate::filter::native_context(Arch::host().unwrap()),
        );
        let (listener, agent) = Listener::start_socket(policy, Arch::host().unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let dir = agent.path.parent().unwrap().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        assert_eq!(agent.token.len(), 32);
        assert!(listener.finish().unwrap().is_empty());
        assert!(!dir.exists());
    }

    /// A killed run's directory (its pid runs nothing) is removed; a live
    /// run's and other names are not.
    #[test]
    fn stale_socket_dirs_are_removed() {
        let temp = tempfile::tempdir().unwrap();
        let stale = temp
            .path()
            .join(format!("{SOCKET_DIR_PREFIX}{}.abc", u32::MAX - 1));
        let live = temp
            .path()
            .join(format!("{SOCKET_DIR_PREFIX}{}.abc", std::process::id()));
        let other = temp.path().join("other.1");
        for dir in [&stale, &live, &other] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(stale.join("agent.sock"), b"").unwrap();
        remove_stale_socket_dirs(temp.path());
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(other.exists());
    }
}
