//! `handoff-loop [N]`: two threads hand a byte back and forth through two
//! pipes N times (default 1000), each waiting in read(2) for the other:
//! two context switches a round trip, what a refused call costs at least
//! under a seccomp listener (the caller waits while the listener's thread
//! runs, then the other way round), whatever the listener does. Exits 0.
//!
//! With `SAMPLES_REPORT_NS` set it also prints `ns_per_call=<f64>`: the
//! time of one round trip.

use std::{
    fs::File,
    io::{Read, Write},
    os::fd::FromRawFd,
    time::Instant,
};

fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        eprintln!("handoff-loop: pipe: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    // SAFETY: two fresh descriptors owned by nobody else.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

fn main() {
    let n = samples::count_arg(1000);
    let (mut to_peer_r, mut to_peer_w) = pipe();
    let (mut back_r, mut back_w) = pipe();
    let peer = std::thread::spawn(move || {
        let mut byte = [0u8];
        for _ in 0..n {
            if to_peer_r.read_exact(&mut byte).is_err() || back_w.write_all(&byte).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let mut byte = [0u8];
    for _ in 0..n {
        if to_peer_w.write_all(&byte).is_err() || back_r.read_exact(&mut byte).is_err() {
            eprintln!("handoff-loop: the other thread stopped");
            std::process::exit(1);
        }
    }
    let elapsed = started.elapsed();
    let _ = peer.join();
    if std::env::var_os("SAMPLES_REPORT_NS").is_some() {
        let ns = elapsed.as_nanos() as f64 / n.max(1) as f64;
        eprintln!("ns_per_call={ns}");
    }
}
