//! `app-release N`: a stand-in for release N of an application, for the
//! CI-gate tests. Release 1 reads a file and prints a line; release 2 does
//! the same and also asks which CPU it runs on (`getcpu`, a syscall release
//! 1 never makes), as a new feature would bring in a new syscall.

use std::io::Write;

fn main() {
    let release: u32 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n @ (1 | 2))) => n,
        _ => {
            eprintln!("usage: app-release 1|2");
            std::process::exit(2);
        }
    };
    let text = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    let mut line = format!("release {release}: {}", text.trim());
    if release >= 2 {
        let (mut cpu, mut node) = (0u32, 0u32);
        // SAFETY: getcpu writes two u32s through valid pointers; the third
        // argument is unused since Linux 2.6.24 and may be null.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_getcpu,
                &mut cpu as *mut u32,
                &mut node as *mut u32,
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        if ret == 0 {
            line.push_str(&format!(" on cpu {cpu}"));
        }
    }
    let _ = writeln!(std::io::stdout(), "{line}");
}
