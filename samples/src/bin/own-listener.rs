//! `own-listener`: installs a seccomp filter of its own that allows every
//! syscall, asking the kernel for a notification listener with it
//! (SECCOMP_FILTER_FLAG_NEW_LISTENER), as sandboxes and container
//! runtimes do. Prints `listener ok` and exits 0 if it got a descriptor,
//! else `listener errno:N` (EBUSY, 16, where a filter of the chain already
//! has a listener: the kernel allows one) and exits 1.

/// seccomp(2)'s operation and flag (linux/seccomp.h).
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
/// BPF_RET | BPF_K, and SECCOMP_RET_ALLOW.
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

fn main() {
    let mut program = [libc::sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: SECCOMP_RET_ALLOW,
    }];
    let fprog = libc::sock_fprog {
        len: 1,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments; seccomp with a pointer to a
    // filter program that lives on this stack for the call.
    let fd = unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            eprintln!(
                "own-listener: PR_SET_NO_NEW_PRIVS failed: {}",
                std::io::Error::last_os_error()
            );
            std::process::exit(2);
        }
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const libc::sock_fprog,
        )
    };
    if fd >= 0 {
        println!("listener ok");
    } else {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        println!("listener errno:{errno}");
        std::process::exit(1);
    }
}
