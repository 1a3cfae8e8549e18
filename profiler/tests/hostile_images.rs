//! Hostile images, as an attacker would hand them to a user: device nodes
//! outside `dev/`, a FIFO where the loader's cache belongs, setuid files,
//! links out of the image (absolute, climbing, through `/proc`), a link
//! loop, a corrupt ELF and a huge one. They go through `scan --image`
//! and a container recording's coverage; hostile runtime specs go through
//! `export --bundle`.
//!
//! The oracle is the host itself: `/dev`, `/sys/block` (opening a loop
//! device's node makes the kernel create the device) and the mount table
//! are the same before and after; the tool's temporary directory is gone;
//! each run ends within seconds with one line when it refuses; the tool's
//! peak resident set (the kernel's own accounting, from `wait4`) stays
//! under 100 MiB; and SIGTERM at a random moment ends it within a second.

use std::{
    collections::BTreeSet,
    fs,
    io::Read,
    os::unix::{fs::symlink, process::ExitStatusExt},
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;

/// The image every case reads.
const IMAGE: &str = "syscall-profile-hostile:test";

/// The loop device the image's block node names (7:200): opening that node
/// makes the kernel create `/sys/block/loop200`.
const LOOP_MINOR: u32 = 200;

/// How much the huge program carries past its ELF content.
const HUGE_TAIL: u64 = 200 << 20;

/// The most memory a run may take, whatever the image holds.
const PEAK_LIMIT_KIB: i64 = 100 * 1024;

/// The block, character and FIFO nodes, links and files of the image.
fn hostile_tar(dir: &Path) -> PathBuf {
    let busybox = fs::read("/bin/busybox").expect(
        "/bin/busybox (Debian's busybox-static, which `cargo xtask setup` installs) is needed",
    );
    let mut corrupt = busybox.clone();
    // e_shnum = 0: no section headers.
    corrupt[0x3c] = 0;
    corrupt[0x3d] = 0;
    let path = dir.join("hostile.tar");
    let mut tar = tar::Builder::new(fs::File::create(&path).expect("create the archive"));
    let mut entry = |name: &str, kind: tar::EntryType, mode: u32, link: Option<&str>| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(0);
        if let Some(link) = link {
            header.set_link_name(link).expect("link name");
        }
        if matches!(kind, tar::EntryType::Block | tar::EntryType::Char) {
            header.set_device_major(7).expect("major");
            header.set_device_minor(LOOP_MINOR).expect("minor");
        }
        header.set_cksum();
        tar.append_data(&mut header, name, std::io::empty())
            .expect("append");
    };
    entry("bin/", tar::EntryType::Directory, 0o755, None);
    entry("etc/", tar::EntryType::Directory, 0o755, None);
    entry("etc/ld.so.cache", tar::EntryType::Fifo, 0o644, None);
    entry("blkloop", tar::EntryType::Block, 0o755, None);
    entry("chrloop", tar::EntryType::Char, 0o755, None);
    entry("bin/fifo", tar::EntryType::Fifo, 0o755, None);
    entry(
        "proc1",
        tar::EntryType::Symlink,
        0o777,
        Some("/proc/1/root/usr/bin/busybox"),
    );
    entry(
        "passwd",
        tar::EntryType::Symlink,
        0o777,
        Some("/etc/passwd"),
    );
    entry(
        "bin/up",
        tar::EntryType::Symlink,
        0o777,
        Some("../../../../../../bin/busybox"),
    );
    entry("bin/loop", tar::EntryType::Symlink, 0o777, Some("loop"));
    entry("bin/blk", tar::EntryType::Symlink, 0o777, Some("/blkloop"));
    let mut file = |name: &str, mode: u32, data: &mut dyn Read, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(mode);
        header.set_size(size);
        header.set_cksum();
        tar.append_data(&mut header, name, data).expect("append");
    };
    file(
        "bin/busybox",
        0o4755,
        &mut &busybox[..],
        busybox.len() as u64,
    );
    file(
        "bin/corrupt",
        0o755,
        &mut &corrupt[..],
        corrupt.len() as u64,
    );
    // A name holding a terminal's escape sequence (red text).
    file(
        "bin/\u{1b}[31mred",
        0o755,
        &mut &busybox[..],
        busybox.len() as u64,
    );
    let mut huge = (&busybox[..]).chain(std::io::repeat(0).take(HUGE_TAIL));
    file(
        "bin/huge",
        0o6755,
        &mut huge,
        busybox.len() as u64 + HUGE_TAIL,
    );
    tar.finish().expect("finish the archive");
    path
}

/// The tests that use the image run one at a time: the host's state is
/// compared before and after.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Imports the hostile image into the test daemon (once per test binary).
fn import_image() {
    static IMPORTED: std::sync::Once = std::sync::Once::new();
    IMPORTED.call_once(import_image_now);
}

fn import_image_now() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = hostile_tar(dir.path());
    let out = Command::new("docker")
        .args(["-H", &docker_host(), "import", "--change"])
        .arg(r#"ENTRYPOINT ["/bin/busybox", "true"]"#)
        .arg(&archive)
        .arg(IMAGE)
        .output()
        .expect("run docker import");
    assert!(out.status.success(), "docker import: {}", stderr(&out));
}

/// What the host shows of devices and mounts.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    dev: BTreeSet<String>,
    blocks: BTreeSet<String>,
    mounts: BTreeSet<String>,
}

fn host_state() -> HostState {
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .collect();
    HostState {
        dev: dir_entries(Path::new("/dev")),
        blocks: dir_entries(Path::new("/sys/block")),
        mounts,
    }
}

/// What a user sees of one run, and the tool's peak resident set.
struct Seen {
    status: ExitStatus,
    stderr: String,
    elapsed: Duration,
    peak_kib: i64,
    /// SIGTERM was sent (the run had not ended by then).
    termed: bool,
}

/// The CPU time `pid` and the children it reaped have used so far.
fn cpu_used(pid: libc::pid_t) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name in parentheses: fields 14-17 (utime, stime,
    // cutime, cstime) are the 12th to 15th.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// The CPU time a reaped child and the children it reaped used.
fn cpu_of(usage: &libc::rusage) -> Duration {
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// Reaps `pid` (our child) if it has ended: its status and resource use.
fn reaped(pid: libc::pid_t) -> Option<(ExitStatus, libc::rusage)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers.
    let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
    (done == pid).then(|| (ExitStatus::from_raw(status), usage))
}

/// What the tool did after SIGTERM, given the CPU time it had used when
/// the signal was sent: it stopped within a second of its own work. The
/// promise is the tool's reaction, so it is measured in the CPU time the
/// tool spent, which a loaded machine does not stretch; the wall time only
/// bounds a hang ([`TERM_HANG`]), an idle wait included.
fn stopped_promptly(what: &str, cpu_at_term: Duration, usage: &libc::rusage) {
    let spent = cpu_of(usage).saturating_sub(cpu_at_term);
    assert!(
        spent < Duration::from_secs(1),
        "{what}: {spent:?} of CPU time after SIGTERM"
    );
}

/// How long after SIGTERM a run counts as hung, whatever the machine's
/// load.
const TERM_HANG: Duration = Duration::from_secs(30);

/// Runs the tool with `args` and `TMPDIR=tmp`; with `term_after`, sends it
/// SIGTERM then and fails unless it ends within a second of its own work
/// ([`stopped_promptly`]). Fails if it runs over `HANG`, or `TERM_HANG`
/// after SIGTERM (killing it first).
// The child is reaped with wait4 (for its resource usage), not `wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[String], tmp: &Path, term_after: Option<Duration>) -> Seen {
    const HANG: Duration = Duration::from_secs(120);
    let started = Instant::now();
    let cache = tmp.parent().unwrap_or(tmp).join("cache");
    let mut child = Command::new(profiler())
        .args(args)
        .env("TMPDIR", tmp)
        .env("XDG_CACHE_HOME", &cache)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run syscall-profile");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut termed: Option<(Instant, Duration)> = None;
    let (status, usage) = loop {
        if let Some(done) = reaped(pid) {
            break done;
        }
        if let (Some(after), None) = (term_after, termed)
            && started.elapsed() >= after
        {
            let cpu = cpu_used(pid);
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            termed = Some((Instant::now(), cpu));
        }
        let overdue = termed.is_some_and(|(at, _)| at.elapsed() > TERM_HANG);
        if overdue || started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?}: hung (killed; SIGTERM sent: {termed:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    if let Some((at, cpu)) = termed {
        stopped_promptly(
            &format!(
                "{args:?}, ended {:?} after SIGTERM (sent {term_after:?} in)",
                at.elapsed()
            ),
            cpu,
            &usage,
        );
    }
    Seen {
        status,
        stderr: reader.join().expect("stderr reader"),
        elapsed,
        peak_kib: usage.ru_maxrss,
        termed: termed.is_some(),
    }
}

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn scan_words(program: &str) -> Vec<String> {
    words(&["scan", "--json", "--image", IMAGE, program])
}

/// Labelled helper containers of the scans, left by a run.
fn helpers() -> String {
    let out = Command::new("docker")
        .args(["-H", &docker_host(), "ps", "-aq", "--filter"])
        .arg("label=io.syscall-profile.scan")
        .output()
        .expect("docker ps");
    stdout(&out).trim().to_owned()
}

/// Checks what every run must leave: its temporary directory empty, no
/// helper container, the peak under the limit.
fn left_clean(what: &str, seen: &Seen, tmp: &Path) {
    assert!(
        wait_for(Duration::from_secs(10), || dir_entries(tmp).is_empty()
            && helpers().is_empty()),
        "{what}: left {:?} in its temporary directory, helpers {:?}; {}",
        dir_entries(tmp),
        helpers(),
        seen.stderr
    );
    assert!(
        seen.peak_kib < PEAK_LIMIT_KIB,
        "{what}: peak resident set {} KiB",
        seen.peak_kib
    );
}

#[test]
fn hostile_images_are_read_as_data() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let before = host_state();
    assert!(
        !before.blocks.contains(&format!("loop{LOOP_MINOR}")),
        "loop{LOOP_MINOR} exists before the test: the check cannot tell"
    );
    import_image();
    let work = tempfile::tempdir().expect("tempdir");
    let tmp = work.path().join("tmp");
    fs::create_dir(&tmp).expect("mkdir");

    // The program as named, what the run must say, and whether it scans.
    let refusals = [
        ("/blkloop", "is a block device"),
        ("/chrloop", "is a character device"),
        ("/bin/fifo", "is a FIFO"),
        ("/bin/blk", "is a block device"),
        ("/etc/ld.so.cache", "is a FIFO"),
        ("/proc1", "No such file"),
        ("/passwd", "No such file"),
        ("/bin/loop", "No such file"),
        ("/bin/corrupt", "no section headers"),
    ];
    for (program, says) in refusals {
        let seen = run_measured(&scan_words(program), &tmp, None);
        let lines: Vec<&str> = seen.stderr.lines().collect();
        assert_eq!(seen.status.code(), Some(2), "{program}: {}", seen.stderr);
        assert_eq!(lines.len(), 1, "{program}: not one line: {}", seen.stderr);
        assert!(lines[0].contains(says), "{program}: {}", seen.stderr);
        // Nothing is said of the host's files.
        assert!(
            !lines[0].contains("Permission denied"),
            "{program}: {}",
            seen.stderr
        );
        assert!(
            seen.elapsed < Duration::from_secs(30),
            "{program}: {:?}",
            seen.elapsed
        );
        left_clean(program, &seen, &tmp);
    }
    // Scanned: busybox (setuid in the image), through a climbing link, and
    // with 200 MiB past its ELF content, all in spite of the FIFO at
    // /etc/ld.so.cache.
    for program in ["/bin/busybox", "/bin/up", "/bin/huge"] {
        let seen = run_measured(&scan_words(program), &tmp, None);
        assert!(seen.status.success(), "{program}: {}", seen.stderr);
        left_clean(program, &seen, &tmp);
    }

    // The report names the program as the image named it, escaped: the
    // image's names never reach the terminal as control characters.
    let named = Command::new(profiler())
        .args(["scan", "--no-cache", "--image", IMAGE, "/bin/\u{1b}[31mred"])
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output()
        .expect("run scan");
    let report = stdout(&named);
    assert!(named.status.success(), "{}", stderr(&named));
    assert!(
        report.starts_with("/bin/\\u{1b}[31mred: ") && !report.contains('\u{1b}'),
        "{report}"
    );

    // A container recording of the image: its coverage reads the image.
    let profile = work.path().join("p.json");
    let mut record = words(&["record", "-q", "-o"]);
    record.push(profile.to_string_lossy().into_owned());
    record.push("--".to_owned());
    record.extend(docker_run(&[IMAGE]));
    let seen = run_measured(&record, &tmp, None);
    assert!(seen.status.success(), "record: {}", seen.stderr);
    assert!(
        allowed_names(&fs::read_to_string(&profile).expect("the profile")).contains("execve"),
        "record: {}",
        seen.stderr
    );
    left_clean("record", &seen, &tmp);

    // The host saw nothing of it.
    let after = host_state();
    assert_eq!(before.dev, after.dev, "/dev changed");
    assert_eq!(before.blocks, after.blocks, "/sys/block changed");
    let settled = wait_for(Duration::from_secs(10), || {
        host_state().mounts == before.mounts
    });
    assert!(
        settled,
        "mounts changed: {:?}",
        host_state()
            .mounts
            .symmetric_difference(&before.mounts)
            .collect::<Vec<_>>()
    );
}

/// A random moment within `within`, named in failures.
fn random_moment(within: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("urandom");
    let millis = u64::from_ne_bytes(bytes) % within.as_millis().max(1) as u64;
    Duration::from_millis(millis)
}

#[test]
// The recording is reaped with wait4 (for its resource usage), not `wait`.
#[allow(clippy::zombie_processes)]
fn sigterm_ends_an_images_scan_and_a_recordings_coverage_within_a_second() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    import_image();
    let work = tempfile::tempdir().expect("tempdir");
    let tmp = work.path().join("tmp");
    fs::create_dir(&tmp).expect("mkdir");
    // How long the scan takes (uncached: it hashes 200 MiB and analyses
    // busybox), then SIGTERM at random moments within that.
    let whole = run_measured(&scan_words("/bin/huge"), &tmp, None);
    assert!(whole.status.success(), "{}", whole.stderr);
    let mut signalled = 0;
    for round in 0..4 {
        let cache = work.path().join("cache");
        let _ = fs::remove_dir_all(&cache);
        let at = random_moment(whole.elapsed);
        let seen = run_measured(&scan_words("/bin/huge"), &tmp, Some(at));
        eprintln!(
            "round {round}: SIGTERM {at:?} in (the whole scan took {:?}): {:?}, {}",
            whole.elapsed,
            seen.status,
            seen.stderr.trim()
        );
        if seen.termed {
            signalled += 1;
            // Stopped in one line; or done already (the signal came after
            // the scan's last look); or, before the tool caught signals at
            // all, ended by the signal itself with nothing begun.
            match (seen.status.code(), seen.status.signal()) {
                (Some(2), _) => {
                    assert_eq!(seen.stderr.lines().count(), 1, "{}", seen.stderr);
                    assert!(seen.stderr.contains("interrupted"), "{}", seen.stderr);
                }
                (Some(0), _) | (None, Some(libc::SIGTERM)) => {}
                other => panic!("round {round}: ended {other:?}: {}", seen.stderr),
            }
        }
        left_clean(&format!("scan, SIGTERM {at:?} in"), &seen, &tmp);
    }
    assert!(signalled > 0, "no round was still running at its SIGTERM");

    // In a recording, once the coverage step exports the image: the
    // profile is written, and the coverage said to be incomplete.
    let profile = work.path().join("p.json");
    let mut record = words(&["record", "-o"]);
    record.push(profile.to_string_lossy().into_owned());
    record.push("--".to_owned());
    record.extend(docker_run(&[IMAGE]));
    let mut child = Command::new(profiler())
        .args(&record)
        .env("TMPDIR", &tmp)
        .env("XDG_CACHE_HOME", work.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run syscall-profile");
    let exporting = || {
        fs::read_dir(&tmp).is_ok_and(|d| {
            d.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("syscall-profile-image-")
            })
        })
    };
    assert!(
        wait_for(Duration::from_secs(60), exporting),
        "the coverage step's export never began"
    );
    let pid = child.id() as libc::pid_t;
    let cpu = cpu_used(pid);
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let termed = Instant::now();
    let mut ended = None;
    let ended_in_time = wait_for(TERM_HANG, || {
        ended = reaped(pid);
        ended.is_some()
    });
    if !ended_in_time {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let (status, usage) = ended
        .unwrap_or_else(|| panic!("record: not ended {TERM_HANG:?} after SIGTERM (killed): {err}"));
    stopped_promptly(
        &format!("record, ended {:?} after SIGTERM: {err}", termed.elapsed()),
        cpu,
        &usage,
    );
    assert!(status.success(), "record: {err}");
    assert!(
        allowed_names(&fs::read_to_string(&profile).expect("the profile written"))
            .contains("execve"),
        "{err}"
    );
    assert!(err.contains("the coverage is incomplete"), "{err}");
    assert!(
        wait_for(Duration::from_secs(10), || dir_entries(&tmp).is_empty()
            && helpers().is_empty()),
        "record: left {:?}, helpers {:?}",
        dir_entries(&tmp),
        helpers()
    );
}

#[test]
fn hostile_runtime_specs_are_refused_in_a_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p.json");
    fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).expect("write");
    let bundle = dir.path().join("bundle");
    fs::create_dir(&bundle).expect("mkdir");
    let config = bundle.join("config.json");
    let cases: [(&str, &dyn Fn()); 4] = [
        ("is a character device", &|| {
            symlink("/dev/zero", &config).expect("symlink")
        }),
        ("is a FIFO", &|| mkfifo(&config)),
        ("more than the 16777216 a runtime spec may have", &|| {
            fs::File::create(&config)
                .and_then(|f| f.set_len(1 << 40))
                .expect("a sparse terabyte")
        }),
        ("is a directory", &|| {
            fs::create_dir(&config).expect("mkdir")
        }),
    ];
    for (says, make) in cases {
        let _ = fs::remove_file(&config);
        let _ = fs::remove_dir(&config);
        make();
        let seen = run_measured(
            &[
                "export".to_owned(),
                "--to".to_owned(),
                "oci".to_owned(),
                "--bundle".to_owned(),
                bundle.to_string_lossy().into_owned(),
                profile.to_string_lossy().into_owned(),
            ],
            dir.path(),
            None,
        );
        assert_eq!(seen.status.code(), Some(2), "{says}: {}", seen.stderr);
        assert_eq!(seen.stderr.lines().count(), 1, "{says}: {}", seen.stderr);
        assert!(seen.stderr.contains(says), "{}", seen.stderr);
        assert!(
            seen.elapsed < Duration::from_secs(5),
            "{says}: {:?}",
            seen.elapsed
        );
        assert!(
            seen.peak_kib < PEAK_LIMIT_KIB,
            "{says}: {} KiB",
            seen.peak_kib
        );
    }
}

/// The scan's syscalls of `program` with the cache in `cache` (`None`: no
/// cache), or its one-line error.
fn scan_on_host(program: &Path, cache: Option<&Path>) -> Result<BTreeSet<String>, String> {
    let mut command = Command::new(profiler());
    command.args(["scan", "--json"]);
    match cache {
        Some(dir) => command.env("XDG_CACHE_HOME", dir),
        None => command.arg("--no-cache"),
    };
    let out = command
        .arg(program)
        .stdin(Stdio::null())
        .output()
        .expect("run scan");
    if !out.status.success() {
        return Err(stderr(&out));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    Ok(json["syscalls"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default())
}

/// A corrupt file carrying busybox's build id (no section headers) once
/// made the cache hold "0 syscalls" for busybox: it is now an error, and
/// the real busybox scans the same with the cache as without.
#[test]
fn a_corrupt_file_cannot_poison_the_scan_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let mut corrupt = fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    corrupt[0x3c] = 0;
    corrupt[0x3d] = 0;
    let path = dir.path().join("corrupt");
    fs::write(&path, &corrupt).expect("write");
    let err = scan_on_host(&path, Some(&cache)).expect_err("a corrupt file is refused");
    assert!(err.contains("no section headers"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let cached = scan_on_host(Path::new("/bin/busybox"), Some(&cache)).expect("scan");
    let again = scan_on_host(Path::new("/bin/busybox"), Some(&cache)).expect("scan");
    let fresh = scan_on_host(Path::new("/bin/busybox"), None).expect("scan");
    assert!(fresh.len() > 100, "{fresh:?}");
    assert_eq!(cached, fresh);
    assert_eq!(again, fresh);
}

/// A cache entry that reads as a summary but whose indices do not hold (an
/// export naming a function past the last, functions out of order: a
/// damaged disk, or an entry planted by whoever can write the cache) is
/// not used: the object is analysed again and the scan answers as without
/// a cache. The first made the scan panic (`index out of bounds`); the
/// second would have been taken, to name the wrong functions.
#[test]
fn a_cache_entry_whose_indices_do_not_hold_is_not_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let busybox = Path::new("/bin/busybox");
    let fresh = scan_on_host(busybox, None).expect("scan");
    scan_on_host(busybox, Some(&cache)).expect("scan, filling the cache");
    let entries: Vec<PathBuf> = fs::read_dir(cache.join("syscall-profile/scan"))
        .expect("the cache directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "static busybox is one object: {entries:?}"
    );
    let entry = &entries[0];
    let good: serde_json::Value =
        serde_json::from_slice(&fs::read(entry).expect("read the entry")).expect("JSON");
    let count = good["functions"].as_array().expect("functions").len();
    let start = good["entry"].as_u64().expect("an entry function") as usize;

    let mut past = good.clone();
    past["exports"]["planted"] = serde_json::json!([count + 5]);
    let site = past["functions"][start]["start"].clone();
    past["functions"][start]["imports"] = serde_json::json!([{"name": "planted", "site": site}]);
    let mut reversed = good.clone();
    reversed["functions"]
        .as_array_mut()
        .expect("functions")
        .reverse();
    for (what, damaged) in [
        ("an export past the functions", past),
        ("functions out of order", reversed),
    ] {
        fs::write(entry, serde_json::to_vec(&damaged).expect("JSON")).expect("plant the entry");
        let seen = scan_on_host(busybox, Some(&cache)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            seen, fresh,
            "{what}: the scan differs from one without a cache"
        );
        let rewritten: serde_json::Value =
            serde_json::from_slice(&fs::read(entry).expect("read the entry")).expect("JSON");
        assert_eq!(
            rewritten, good,
            "{what}: the entry was not analysed again and stored"
        );
    }
}

/// `scan` of what is not a regular file ends at once with one line.
#[test]
fn scanning_a_fifo_or_a_device_ends_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for (path, says) in [
        (fifo.as_path(), "is a FIFO"),
        (Path::new("/dev/zero"), "is a character device"),
    ] {
        let seen = run_measured(
            &["scan".to_owned(), path.to_string_lossy().into_owned()],
            dir.path(),
            None,
        );
        assert_eq!(seen.status.code(), Some(2), "{}", seen.stderr);
        assert_eq!(seen.stderr.lines().count(), 1, "{}", seen.stderr);
        assert!(seen.stderr.contains(says), "{}", seen.stderr);
        assert!(seen.elapsed < Duration::from_secs(5), "{:?}", seen.elapsed);
    }
}

/// What a crafted object holds.
struct Crafted {
    /// The code: this unit, repeated.
    unit: &'static [u8],
    code_len: usize,
    /// Data words that are each an address of the code.
    pointer_words: usize,
    /// Function symbols, with names of `name_len` bytes.
    symbols: usize,
    name_len: usize,
}

/// Writes an x86-64 ELF file of one code section (at 0x401000), one data
/// section after it and a symbol table: what a crafted object needs to
/// declare millions of things in a few MiB. A data section makes it a
/// non-PIE executable, whose data words are read as code addresses. It is
/// written as it is made: the test's own memory stays small (a child forked
/// from it would count the test's peak as its own).
fn write_crafted_elf(path: &Path, c: &Crafted) {
    use std::io::{Seek, SeekFrom, Write};
    const TEXT: u64 = 0x40_1000;
    let shstrtab = b"\0.text\0.data\0.shstrtab\0.symtab\0.strtab\0";
    let code_len = c.code_len / c.unit.len() * c.unit.len();
    let data_len = 8 * c.pointer_words;
    let name = |i: usize| {
        let mut name = format!("f{i:08}").into_bytes();
        name.resize(9 + c.name_len, b'x');
        name
    };
    let off_text = 0x1000usize;
    let off_data = (off_text + code_len + 15) & !15;
    let data_addr = TEXT + (off_data - off_text) as u64;
    let off_sym = (off_data + data_len + 7) & !7;
    let sym_len = 24 * (c.symbols + 1);
    let off_str = off_sym + sym_len;
    let str_len = 1 + c.symbols * (10 + c.name_len);
    let off_shstr = off_str + str_len;
    let off_sh = (off_shstr + shstrtab.len() + 7) & !7;

    let file = fs::File::create(path).expect("create the crafted object");
    let mut out = std::io::BufWriter::new(file);
    let mut w = |bytes: &[u8]| out.write_all(bytes).expect("write the crafted object");
    let mut header = Vec::new();
    header.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    let e_type: u16 = if c.pointer_words > 0 { 2 } else { 3 };
    header.extend_from_slice(&e_type.to_le_bytes());
    header.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&TEXT.to_le_bytes()); // e_entry
    header.extend_from_slice(&0u64.to_le_bytes()); // e_phoff
    header.extend_from_slice(&(off_sh as u64).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    for half in [64u16, 56, 0, 64, 6, 3] {
        header.extend_from_slice(&half.to_le_bytes());
    }
    header.resize(off_text, 0);
    w(&header);
    let chunk = c.unit.repeat((1 << 20) / c.unit.len());
    let mut left = code_len;
    while left > 0 {
        let n = left.min(chunk.len());
        w(&chunk[..n]);
        left -= n;
    }
    w(&vec![0; off_data - off_text - code_len]);
    for i in 0..c.pointer_words as u64 {
        w(&(TEXT + (i * 4) % code_len as u64).to_le_bytes());
    }
    w(&vec![0; off_sym - off_data - data_len]);
    w(&[0; 24]);
    let mut at = 1u32;
    for i in 0..c.symbols {
        w(&at.to_le_bytes());
        w(&[0x12, 0]); // STB_GLOBAL, STT_FUNC
        w(&1u16.to_le_bytes()); // in .text
        w(&(TEXT + (i % code_len.max(1)) as u64).to_le_bytes());
        w(&1u64.to_le_bytes());
        at += 10 + c.name_len as u32;
    }
    w(&[0]);
    for i in 0..c.symbols {
        w(&name(i));
        w(&[0]);
    }
    w(shstrtab);
    w(&vec![0; off_sh - off_shstr - shstrtab.len()]);
    // (name, type, flags, address, offset, size, link, entry size)
    type SectionHeader = (u32, u32, u64, u64, usize, usize, u32, u64);
    let sections: [SectionHeader; 6] = [
        (0, 0, 0, 0, 0, 0, 0, 0),
        (1, 1, 6, TEXT, off_text, code_len, 0, 0),
        (7, 1, 3, data_addr, off_data, data_len, 0, 0),
        (13, 3, 0, 0, off_shstr, shstrtab.len(), 0, 0),
        (23, 2, 0, 0, off_sym, sym_len, 5, 24),
        (31, 3, 0, 0, off_str, str_len, 0, 0),
    ];
    for (name, kind, flags, addr, off, size, link, entsize) in sections {
        w(&name.to_le_bytes());
        w(&kind.to_le_bytes());
        w(&flags.to_le_bytes());
        w(&addr.to_le_bytes());
        w(&(off as u64).to_le_bytes());
        w(&(size as u64).to_le_bytes());
        w(&link.to_le_bytes());
        w(&u32::from(kind == 2).to_le_bytes()); // sh_info: the first global
        w(&8u64.to_le_bytes());
        w(&entsize.to_le_bytes());
    }
    out.flush().expect("write the crafted object");
    let mut file = out.into_inner().expect("write the crafted object");
    let end = file.seek(SeekFrom::End(0)).expect("seek");
    assert_eq!(end as usize, off_sh + 6 * 64, "the crafted layout");
}

/// What a crafted object declares in a few MiB (a function at every
/// instruction, a branch at every instruction, a code address in every
/// data word, a million long symbol names) is refused in one line naming
/// what overflowed, within seconds, and the scan's peak resident set (the
/// kernel's accounting, from `wait4`) stays under 100 MiB. The largest
/// real program of this host, dockerd (27 MiB of code), is analysed whole
/// within the same bound: before the analysis kept every instruction
/// decoded, it peaked at 473 MiB, and the jump-filled object at gigabytes.
#[test]
fn crafted_objects_and_a_large_program_stay_within_the_memory_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    const CODE: usize = 64 << 20;
    let crafted = |unit, code_len, pointer_words, symbols, name_len| Crafted {
        unit,
        code_len,
        pointer_words,
        symbols,
        name_len,
    };
    let cases = [
        (
            "calls",
            crafted(&[0xe8, 0, 0, 0, 0], CODE, 0, 0, 0),
            "its functions would take more than",
        ),
        (
            "jumps",
            crafted(&[0xeb, 0], CODE, 0, 0, 0),
            "its branches would take more than",
        ),
        (
            "pointers",
            crafted(&[0x90], CODE, (32 << 20) / 8, 0, 0),
            "its functions would take more than",
        ),
        (
            "symbols",
            crafted(&[0xc3], 8 << 20, 0, 1_000_000, 100),
            "its function symbols would take more than",
        ),
    ];
    for (name, object, says) in cases {
        let path = dir.path().join(name);
        write_crafted_elf(&path, &object);
        let seen = run_measured(
            &words(&["scan", "--no-cache", &path.to_string_lossy()]),
            dir.path(),
            None,
        );
        assert_eq!(seen.status.code(), Some(2), "{name}: {}", seen.stderr);
        assert_eq!(seen.stderr.lines().count(), 1, "{name}: {}", seen.stderr);
        assert!(
            seen.stderr.contains(&*path.to_string_lossy()) && seen.stderr.contains(says),
            "{name}: {}",
            seen.stderr
        );
        assert!(
            seen.elapsed < Duration::from_secs(30),
            "{name}: {:?}",
            seen.elapsed
        );
        assert!(
            seen.peak_kib < PEAK_LIMIT_KIB,
            "{name}: peak {} KiB",
            seen.peak_kib
        );
        fs::remove_file(&path).expect("remove the crafted object");
    }
    let dockerd = Path::new("/usr/sbin/dockerd");
    assert!(
        dockerd.exists(),
        "/usr/sbin/dockerd (Debian's docker.io, which `cargo xtask setup` installs) is needed"
    );
    let seen = run_measured(
        &words(&["scan", "--no-cache", "/usr/sbin/dockerd"]),
        dir.path(),
        None,
    );
    assert!(seen.status.success(), "dockerd: {}", seen.stderr);
    assert!(
        seen.peak_kib < PEAK_LIMIT_KIB,
        "dockerd: peak {} KiB",
        seen.peak_kib
    );
}
