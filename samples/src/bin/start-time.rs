//! `start-time`: prints `realtime_ns=<ns since the epoch>` on stdout, read
//! from CLOCK_REALTIME as the first thing it does, and exits 0. A benchmark
//! that notes the time right before it spawns a recorder of this program
//! learns how long the recorder took to set up (cgroup, eBPF program loaded
//! and attached) before the program it records could run.

fn main() {
    let now = std::time::SystemTime::now();
    match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => println!("realtime_ns={}", since.as_nanos()),
        Err(_) => {
            eprintln!("start-time: the clock is before 1970");
            std::process::exit(1);
        }
    }
}
