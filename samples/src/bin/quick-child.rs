//! `quick-child`: forks a child that makes one syscall the parent never
//! makes, sysinfo(2), and exits at once with _exit(2) (within a microsecond
//! or so of the fork); the parent waits for it. A recorder that misses
//! short-lived children misses sysinfo.

fn main() {
    // SAFETY: the child only makes raw syscalls before _exit: no allocation,
    // no locks, nothing that is unsafe after fork in a single-threaded parent.
    let pid = unsafe { libc::fork() };
    match pid {
        // SAFETY: in the child, plain syscalls on a zeroed struct that lives
        // on its own stack, then _exit: nothing allocates or locks.
        0 => unsafe {
            let mut info: libc::sysinfo = std::mem::zeroed();
            libc::syscall(libc::SYS_sysinfo, &mut info as *mut libc::sysinfo);
            libc::_exit(0);
        },
        -1 => {
            eprintln!("fork failed: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
        child => {
            let mut status = 0;
            // SAFETY: waiting for our own child with a valid pointer.
            unsafe { libc::waitpid(child, &mut status, 0) };
        }
    }
}
