//! The tool never leaves the host worse than it found it, and never leaves a
//! workload unwatched: runs killed at any moment leave no process, cgroup or
//! temporary file behind (the guardian or the next run cleans, and says so);
//! deadlines end in SIGKILL after a grace period; secrets stay out of the
//! files users commit; `--user` records only the command; a profile that
//! refuses execve is refused before anything runs.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;

/// The tests of this file run one at a time: a run cleans up after earlier
/// runs that died, and one test kills runs on purpose.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    one_at_a_time(&SERIAL)
}

/// Pids of the processes whose command line holds `token`.
fn processes_with(token: &str) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(token))
        })
        .collect()
}

/// Cgroups a run of pid `pid` made (`rec-PID-…`, `enf-PID-…`) and left.
fn cgroups_of(pid: u32) -> Vec<String> {
    let parent = cgroup2_mount().join("syscall-profile");
    fs::read_dir(parent)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.split('-').nth(1).is_some_and(|p| p == pid.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// What the processes in the cgroups of the run of pid `pid` run (their
/// comm), the cgroups below them included.
fn commands_in_run(pid: u32) -> Vec<String> {
    processes_in_run(pid)
        .into_iter()
        .filter_map(command_of)
        .collect()
}

/// A small deterministic generator, seeded from the clock (the seed is
/// printed, so a failure can be replayed by setting FAULT_SEED).
struct Lcg(u64);

impl Lcg {
    fn new() -> Lcg {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("fault injection seed: FAULT_SEED={seed}");
        Lcg(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Starts `syscall-profile ARGS` with piped output.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(profiler())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start syscall-profile")
}

/// After a run of pid `pid` ended: within `patience`, nothing of it is left
/// (no process holding `token`, no cgroup), and `out_dir` holds only
/// complete profiles.
fn assert_nothing_left(pid: u32, token: &str, out_dir: &Path, what: &str) {
    let clean = wait_for(Duration::from_secs(15), || {
        processes_with(token).is_empty() && cgroups_of(pid).is_empty()
    });
    assert!(
        clean,
        "{what}: left processes {:?} and cgroups {:?}",
        processes_with(token),
        cgroups_of(pid)
    );
    for entry in fs::read_dir(out_dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with('.'),
            "{what}: a temporary file was left: {name}"
        );
        let text = fs::read_to_string(entry.path()).unwrap();
        let complete = if name.ends_with(".xml") {
            text.ends_with("</testsuites>\n")
        } else {
            serde_json::from_str::<serde_json::Value>(&text).is_ok()
        };
        assert!(complete, "{what}: {name} is partial: {text:?}");
    }
}

/// SIGKILL of the recorder while its command runs: the guardian kills the
/// command's whole tree, removes the cgroup, and says so.
#[test]
fn sigkill_of_the_recorder_kills_its_command_and_says_so() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let token = format!("sp-kill-{}", std::process::id());
    let out = dir.path().join("p.json");
    // The marker says the background sleep was forked: on a loaded machine
    // the shell may not have got that far when its process shows.
    let marks = tempfile::tempdir().unwrap();
    let started = marks.path().join("started");
    let script = format!("sleep 60 & : > {}; sleep 61; : {token}", started.display());
    let mut child = spawn(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let pid = child.id();
    // Both sleeps executed: the guardian names them by what they run.
    assert!(
        wait_for(Duration::from_secs(60), || started.exists()
            && commands_in_run(pid)
                .iter()
                .filter(|c| *c == "sleep")
                .count()
                == 2),
        "the command's two sleeps never ran: {:?}",
        commands_in_run(pid)
    );
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_nothing_left(pid, &token, dir.path(), "record");
    let err = stderr(&output);
    assert!(
        err.contains("ended without cleaning up") && err.contains("sleep (pid"),
        "the guardian says what it did: {err}"
    );
}

/// record, enforce and `check -- CMD` killed with SIGKILL or SIGTERM at
/// random moments (before the cgroup exists, while the command runs, while
/// writing), many times: afterwards no process of the run, no cgroup, no
/// temporary file remains, and no output file is partial.
#[test]
fn fault_injection_native() {
    require_root();
    let _serial = serial();
    let mut rng = Lcg::new();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    let record = run(["record", "-q", "-o", policy.to_str().unwrap(), "--", "true"]);
    assert!(record.status.success(), "{}", stderr(&record));
    let mut hit_running = 0;
    for round in 0..18 {
        let out_dir = tempfile::tempdir().unwrap();
        let token = format!("sp-fault-{}-{round}", std::process::id());
        let script = format!("sleep 30 & sleep 31; : {token}");
        let out = out_dir.path().join("out.json");
        let junit = out_dir.path().join("junit.xml");
        let (tool, mut args): (&str, Vec<String>) = match round % 3 {
            0 => ("record", vec!["record".into(), "-q".into(), "-o".into()]),
            1 => (
                "enforce",
                vec!["enforce".into(), "-q".into(), "--suggest".into()],
            ),
            _ => ("check", vec!["check".into(), "-q".into(), "--junit".into()]),
        };
        match tool {
            "check" => {
                args.push(junit.to_string_lossy().into_owned());
                args.push("--policy".into());
                args.push(policy.to_string_lossy().into_owned());
            }
            "enforce" => {
                args.push(out.to_string_lossy().into_owned());
                args.push("--profile".into());
                // Everything allowed, so that the script runs on.
                fs::write(
                    out_dir.path().join("allow.json"),
                    r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#,
                )
                .unwrap();
                args.push(
                    out_dir
                        .path()
                        .join("allow.json")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            _ => args.push(out.to_string_lossy().into_owned()),
        }
        args.extend(["--".into(), "sh".into(), "-c".into(), script]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = spawn(&argv);
        let pid = child.id();
        let delay = rng.below(700);
        let signal = if rng.below(3) == 0 {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        };
        // Every other round of each tool is killed a random while after its
        // command's two sleeps run (waited for), the others a random while
        // after the start, whatever the run is doing then.
        let running = || {
            commands_in_run(pid)
                .iter()
                .filter(|c| *c == "sleep")
                .count()
                == 2
        };
        if (round / 3) % 2 == 1 {
            assert!(
                wait_for(Duration::from_secs(60), running),
                "{tool} round {round}: the command never ran"
            );
        }
        std::thread::sleep(Duration::from_millis(delay));
        let was_running = running();
        hit_running += usize::from(was_running);
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid as i32, signal) };
        let started = Instant::now();
        let output = child.wait_with_output().unwrap();
        let what = format!(
            "{tool} round {round}, signal {signal} after {delay} ms (command running: {was_running})"
        );
        let err = stderr(&output);
        if signal == libc::SIGTERM {
            // SIGTERM is passed on to the command, which ends; the tool
            // then ends by itself, in good order.
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{what}: did not end after SIGTERM"
            );
        }
        // What the user is told: a SIGTERM passed on to what the command
        // still runs; after a SIGKILL, the guardian's account of what it
        // killed.
        if was_running {
            let told = if signal == libc::SIGTERM {
                err.contains("passed SIGTERM on to sleep (pid ")
            } else {
                err.contains(
                    "ended without cleaning up; its guardian killed what the command still ran:",
                ) && err.contains("sleep (pid ")
            };
            assert!(told, "{what}: not announced: {err}");
        }
        // The allow-all profile of an enforce run is an input: not checked.
        let _ = fs::remove_file(out_dir.path().join("allow.json"));
        assert_nothing_left(pid, &token, out_dir.path(), &what);
    }
    // At least the rounds that waited for it killed a running command.
    assert!(
        hit_running >= 9,
        "{hit_running} rounds hit a running command"
    );
    // A later run finds nothing left to clean of these.
    let later = run(["record", "-q", "-o", "-", "--", "true"]);
    assert!(later.status.success());
}

/// When the guardian is killed along with the tool (a kill of the whole
/// process group by SIGKILL can do that), the next run kills what is left,
/// removes the stale cgroup, and says so.
#[test]
fn the_next_run_cleans_what_a_killed_run_left() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let token = format!("sp-stale-{}", std::process::id());
    let script = format!("sleep 60 & sleep 61; : {token}");
    let out = dir.path().join("p.json");
    let mut child = spawn(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let pid = child.id();
    // The tool's own command line holds the token too: wait for its
    // guardian and for the command in the cgroup.
    let guardian_of_tool = || {
        processes_with("__guardian").into_iter().find(|&g| {
            fs::read_to_string(format!("/proc/{g}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(pid)
        })
    };
    assert!(wait_for(Duration::from_secs(10), || {
        guardian_of_tool().is_some() && processes_with(&token).len() > 1
    }));
    // Kill the guardian first.
    let guardian = guardian_of_tool().expect("the tool's guardian");
    // SAFETY: kill(2) of a process this test started (indirectly).
    unsafe { libc::kill(guardian as i32, libc::SIGKILL) };
    // Dead (a zombie until the tool reaps it, or gone) before the tool is
    // killed, so that it cannot clean up.
    assert!(
        wait_for(Duration::from_secs(60), || {
            fs::read_to_string(format!("/proc/{guardian}/stat")).map_or(true, |s| {
                s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z'))
            })
        }),
        "the guardian {guardian} did not die"
    );
    child.kill().unwrap();
    let _ = child.wait();
    // The command's direct child died with its parent (parent-death
    // signal); the background sleep is still there, in the stale cgroup.
    let stale = cgroups_of(pid);
    assert!(!stale.is_empty(), "the stale cgroup is there");
    let later = run(["record", "-o", "-", "--", "true"]);
    let err = stderr(&later);
    assert!(later.status.success(), "{err}");
    for name in &stale {
        assert!(
            err.contains(&format!(
                "removed the cgroup {name} of an earlier run that ended without cleaning up"
            )),
            "the later run says what it cleaned: {err}"
        );
    }
    assert_nothing_left(pid, &token, dir.path(), "after the later run");
}

/// The start time of `pid` (field 22 of /proc/PID/stat).
fn start_time_of(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}

/// A stale-looking run cgroup named after a live process: when the name's
/// start time is not that process's, the pid was reused (the run that made
/// it is gone) and the next run removes the cgroup, killing what it held;
/// when it is that process's own, the run is taken as alive and left alone.
/// Neither name's guardian is a guardian.
#[test]
fn a_reused_pid_does_not_keep_a_stale_cgroup_alive() {
    require_root();
    let _serial = serial();
    // The parent cgroup exists once a run has been.
    assert!(
        run(["record", "-q", "-o", "-", "--", "true"])
            .status
            .success()
    );
    let parent = cgroup2_mount().join("syscall-profile");
    // A live process whose pid the names use, never put in either cgroup.
    let mut owner = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = owner.id();
    let start = start_time_of(pid);
    // pid 1 runs no guardian.
    let reused = format!("rec-{pid}-{}-1-000000001", start + 1);
    let alive = format!("rec-{pid}-{start}-1-000000002");
    for name in [&reused, &alive] {
        fs::create_dir(parent.join(name)).unwrap();
    }
    // What the reused name's run "left running".
    let mut leftover = Command::new("sleep").arg("61").spawn().unwrap();
    fs::write(
        parent.join(&reused).join("cgroup.procs"),
        leftover.id().to_string(),
    )
    .unwrap();
    let later = run(["record", "-q", "-o", "-", "--", "true"]);
    let err = stderr(&later);
    let alive_left = parent.join(&alive).exists();
    let reused_left = parent.join(&reused).exists();
    // Cleaned up before anything is asserted.
    let _ = fs::remove_dir(parent.join(&alive));
    let _ = owner.kill();
    let _ = owner.wait();
    if reused_left {
        let _ = leftover.kill();
        let _ = fs::remove_dir(parent.join(&reused));
    }
    assert!(later.status.success(), "{err}");
    assert!(!reused_left, "the cgroup of a reused pid was kept: {err}");
    // Killed: its status is a signal's (the wait reaps it).
    let status = leftover.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "{err}"
    );
    // Said by this run, unless another run on the host cleaned it first.
    if err.contains("earlier run") {
        assert!(err.contains(&reused), "{err}");
    }
    assert!(alive_left, "the cgroup of a live run was removed: {err}");
    assert!(!err.contains(&alive), "{err}");
}

/// The command gets the parent-death signal: with the guardian stopped
/// (SIGSTOP, so that it cannot be what kills it), SIGKILL of the recorder
/// ends the command at once; the guardian, let go again, cleans up.
#[test]
fn the_command_dies_with_the_recorder_without_its_guardian() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let token = format!("sp-pdeath-{}", std::process::id());
    let out = dir.path().join("p.json");
    // sh execs sleep: the recorder's own child (the token is sh's $0).
    let mut child = spawn(&[
        "record",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "exec sleep 60",
        &token,
    ]);
    let pid = child.id();
    let sleeper = || {
        cgroups_of(pid).iter().find_map(|name| {
            fs::read_to_string(
                cgroup2_mount()
                    .join("syscall-profile")
                    .join(name)
                    .join("cgroup.procs"),
            )
            .unwrap_or_default()
            .lines()
            .filter_map(|p| p.parse::<u32>().ok())
            .find(|p| fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c == "sleep\n"))
        })
    };
    assert!(
        wait_for(Duration::from_secs(30), || sleeper().is_some()),
        "the command never started"
    );
    let command = sleeper().unwrap();
    // The guardian's pid is in the run cgroup's name (rec-PID-START-GUARDIAN-N).
    let cgroups = cgroups_of(pid);
    assert_eq!(cgroups.len(), 1, "{cgroups:?}");
    let guardian: i32 = cgroups[0].split('-').nth(3).unwrap().parse().unwrap();
    let is_guardian = fs::read(format!("/proc/{guardian}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("__guardian"));
    assert!(is_guardian, "{guardian} is not the run's guardian");
    // SAFETY: signals to processes this test started (indirectly).
    unsafe { libc::kill(guardian, libc::SIGSTOP) };
    child.kill().unwrap();
    let _ = child.wait();
    let gone = wait_for(Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{command}/stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
    });
    // SAFETY: as above.
    unsafe { libc::kill(guardian, libc::SIGCONT) };
    assert!(
        gone,
        "the command outlived the recorder with its guardian stopped"
    );
    assert_nothing_left(pid, &token, dir.path(), "after the guardian went on");
}

/// `--duration` with a command that ignores SIGTERM: SIGKILL after the
/// grace period, each step said once, and the recorder does not spin.
#[test]
fn duration_escalates_to_sigkill_once() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = run([
        "record",
        "-q",
        "--duration",
        "1",
        "-o",
        dir.path().join("p.json").to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "trap '' TERM; sleep 40",
    ]);
    let elapsed = started.elapsed();
    let err = stderr(&output);
    assert!(elapsed < Duration::from_secs(25), "took {elapsed:?}: {err}");
    assert_eq!(err.matches("sent SIGTERM").count(), 1, "{err}");
    assert_eq!(err.matches("(SIGKILL)").count(), 1, "{err}");
    assert_eq!(output.status.code(), Some(137), "{err}");
    assert!(dir.path().join("p.json").is_file());
}

/// A duration past the clock's range is refused when parsing, before the
/// command runs.
#[test]
fn huge_duration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let output = run([
        "record",
        "--duration",
        "18446744073709551615",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("too long"), "{}", stderr(&output));
    assert!(!marker.exists());
}

/// Environment values and secret options never reach the profile or the
/// stats; `--comment` sets the comment (tagged with where it was learned).
#[test]
fn secrets_stay_out_of_written_files() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let stats = dir.path().join("s.json");
    let output = run([
        "record",
        "-q",
        "-o",
        profile.to_str().unwrap(),
        "--stats",
        stats.to_str().unwrap(),
        "--",
        "env",
        "DB_PASSWORD=hunter2",
        "sh",
        "-c",
        "true",
        "--token=hunter2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for file in [&profile, &stats] {
        let text = fs::read_to_string(file).unwrap();
        assert!(!text.contains("hunter2"), "{}: {text}", file.display());
        assert!(text.contains("DB_PASSWORD="), "the key stays: {text}");
    }
    let output = run([
        "record",
        "-q",
        "--comment",
        "web frontend, release 7",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert!(output.status.success());
    let text = fs::read_to_string(&profile).unwrap();
    // Followed by the tag of where it was learned, which exports read.
    assert!(
        text.contains("\"comment\": \"web frontend, release 7 [learned natively]\""),
        "{text}"
    );
}

/// A command line holding a secret of each kind the README names: an
/// environment value, a `--token=` value, a `--password` value, a URL
/// password. `sh` runs `ls`; the words after the script are its $0, $1…
const SECRET_COMMAND: &[&str] = &[
    "env",
    "DB_PASSWORD=hunter2",
    "sh",
    "-c",
    "ls >/dev/null",
    "x",
    "--token=hunter2",
    "--password",
    "hunter2",
    "https://user:hunter2@example.com/",
];

/// [`SECRET_COMMAND`] as the README says every written file names it.
const SECRET_COMMAND_REDACTED: &[&str] = &[
    "env",
    "DB_PASSWORD=…",
    "sh",
    "-c",
    "ls >/dev/null",
    "x",
    "--token=…",
    "--password",
    "…",
    "https://user:…@example.com/",
];

/// A policy that allows only what `true` makes, so that the secret
/// command's `ls` is outside it: every report has something to say.
fn narrow_policy(dir: &Path) -> PathBuf {
    let policy = dir.join("policy.json");
    let output = run(["record", "-q", "-o", policy.to_str().unwrap(), "--", "true"]);
    assert!(output.status.success(), "{}", stderr(&output));
    policy
}

/// Fails when `file` holds the secret, or (`names_command`) does not name
/// the command redacted.
fn assert_redacted(file: &Path, names_command: bool) {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(!text.contains("hunter2"), "{}: {text}", file.display());
    if names_command {
        for word in ["DB_PASSWORD=…", "--token=…", "https://user:…@example.com/"] {
            assert!(text.contains(word), "{}: no {word}: {text}", file.display());
        }
    }
}

/// `enforce`'s `--suggest` profile and `--json` report, and its output,
/// name the command with its secrets taken out (complain mode, and
/// enforcing).
#[test]
fn secrets_stay_out_of_enforce_s_suggestions_and_report() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let policy = narrow_policy(dir.path());
    for mode in ["--complain", "--enforce"] {
        let suggest = dir.path().join(format!("suggest{mode}.json"));
        let json = dir.path().join(format!("report{mode}.json"));
        let mut args = vec!["enforce"];
        if mode == "--complain" {
            args.push(mode);
        }
        args.extend([
            "--suggest",
            suggest.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--profile",
            policy.to_str().unwrap(),
            "--",
        ]);
        args.extend(SECRET_COMMAND);
        let output = run(&args);
        let said = format!("{}{}", stdout(&output), stderr(&output));
        assert!(!said.contains("hunter2"), "{mode}: {said}");
        assert!(said.contains("denied"), "{mode}: {said}");
        // The suggestion's comment names the command; the report holds it.
        assert_redacted(&suggest, true);
        assert_redacted(&json, false);
        let report: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(
            report["command"],
            serde_json::json!(SECRET_COMMAND_REDACTED),
            "{mode}"
        );
    }
}

/// `check`'s JSON and JUnit reports, the observed profile it keeps and its
/// text report name the command with its secrets taken out.
#[test]
fn secrets_stay_out_of_check_s_reports() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let policy = narrow_policy(dir.path());
    let (junit, json, observed) = (
        dir.path().join("check.xml"),
        dir.path().join("check.json"),
        dir.path().join("observed.json"),
    );
    let mut args = vec![
        "check",
        "--policy",
        policy.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--save-observed",
        observed.to_str().unwrap(),
        "--",
    ];
    args.extend(SECRET_COMMAND);
    let output = run(&args);
    // 1: the run used syscalls outside the policy.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!said.contains("hunter2"), "{said}");
    assert_redacted(&json, false);
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["command"],
        serde_json::json!(SECRET_COMMAND_REDACTED)
    );
    assert_redacted(&observed, true);
    // The JUnit report names no command today; it must not start holding
    // the secret.
    assert_redacted(&junit, false);
    let xml = fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\""), "{xml}");
}

/// The MySQL client's password written against its option (`-pPASS`)
/// stays out of the profile and the stats, in an argument and in a script;
/// the user name, and another program's `-p` (a port), stay.
#[test]
fn attached_mysql_passwords_stay_out_of_written_files() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let stats = dir.path().join("s.json");
    // sh runs `true`; the words after it are only its $0, $1, …
    let output = run([
        "record",
        "-q",
        "-o",
        profile.to_str().unwrap(),
        "--stats",
        stats.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "true",
        "nc -p2222 host; mysqldump -uadmin -ps3cr3t app",
        "/usr/bin/mysql",
        "-uroot",
        "-phunter2",
        "appdb",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let redacted = [
        "sh",
        "-c",
        "true",
        "nc -p2222 host; mysqldump -uadmin -p… app",
        "/usr/bin/mysql",
        "-uroot",
        "-p…",
        "appdb",
    ];
    for file in [&profile, &stats] {
        let text = fs::read_to_string(file).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{}: {text}",
            file.display()
        );
    }
    let stats: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["command"], serde_json::json!(redacted));
    let text = fs::read_to_string(&profile).unwrap();
    assert!(text.contains(&redacted.join(" ")), "{text}");
}

/// `--user` runs the command as that user from its first instruction, and
/// the switch is not recorded; `runuser`, the oracle, shows what a wrapper
/// would have added.
#[test]
fn user_runs_the_command_as_that_user_and_records_only_it() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids");
    fs::write(&ids, "").unwrap();
    fs::set_permissions(&ids, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let script = format!("id -u > {0}; id -G >> {0}", ids.display());
    let profile = dir.path().join("p.json");
    let output = run([
        "record",
        "-q",
        "--user",
        "nobody",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = fs::read_to_string(&ids).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("65534"), "{text}");
    assert_eq!(lines.next(), Some("65534"), "groups: {text}");
    let with_user = allowed_names(&fs::read_to_string(&profile).unwrap());
    let wrapped = dir.path().join("w.json");
    let output = run([
        "record",
        "-q",
        "-o",
        wrapped.to_str().unwrap(),
        "--",
        "runuser",
        "-u",
        "nobody",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let with_wrapper = allowed_names(&fs::read_to_string(&wrapped).unwrap());
    for switch in ["setgroups", "setresuid", "setuid", "setresgid", "setgid"] {
        assert!(!with_user.contains(switch), "{switch} in {with_user:?}");
    }
    assert!(
        ["setgroups", "setresuid", "setuid"]
            .iter()
            .any(|s| with_wrapper.contains(*s)),
        "the oracle: runuser's own switch is recorded: {with_wrapper:?}"
    );
}

/// The PostgreSQL server of this host's packages, run as `postgres` under
/// `record --user`: loaded by pgbench, stopped by `pg_ctl stop`; the profile
/// holds no privilege switch and no PAM syscall (keyctl), and the server
/// then runs the same load under it with nothing denied. (PostgreSQL refuses
/// to run as root, so its start proves the switch.)
#[test]
fn postgres_recorded_as_its_own_user() {
    require_root();
    let _serial = serial();
    let bin = fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| versions.flatten().map(|v| v.path().join("bin")).max())
        .filter(|bin| bin.join("postgres").is_file())
        .expect("PostgreSQL is needed: install Debian's postgresql (`cargo xtask setup` does)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sock = dir.path().join("sock");
    fs::create_dir(&sock).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "postgres"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(chown.success());
    let as_postgres = |program: &Path, args: &[&str]| {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program:?} {args:?}: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    as_postgres(
        &bin.join("initdb"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
    );
    let port = (5400 + std::process::id() % 500).to_string();
    let server = |tool: &str, profile: &Path| {
        let mut args: Vec<String> = vec![tool.into()];
        if tool == "record" {
            args.extend(["-o".into(), profile.to_string_lossy().into_owned()]);
        } else {
            args.extend(["--profile".into(), profile.to_string_lossy().into_owned()]);
        }
        args.extend(["--user".into(), "postgres".into(), "--".into()]);
        args.push(bin.join("postgres").to_string_lossy().into_owned());
        args.extend(
            ["-D", data.to_str().unwrap(), "-k", sock.to_str().unwrap()].map(str::to_owned),
        );
        args.extend(["-c", "listen_addresses=", "-p", &port].map(str::to_owned));
        Command::new(profiler())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let load = |init: bool| {
        assert!(
            postgres_accepts(&bin, &sock, &port, Duration::from_secs(30)),
            "the server did not start accepting connections"
        );
        let sock = sock.to_str().unwrap();
        if init {
            as_postgres(
                Path::new("pgbench"),
                &["-h", sock, "-p", &port, "-i", "-s", "1", "postgres"],
            );
        }
        let out = as_postgres(
            Path::new("pgbench"),
            &["-h", sock, "-p", &port, "-n", "-t", "100", "postgres"],
        );
        assert!(out.contains("number of failed transactions: 0"), "{out}");
        as_postgres(
            &bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "stop", "-m", "fast"],
        );
    };
    let profile = dir.path().join("postgres.json");
    let recorder = server("record", &profile);
    load(true);
    let output = recorder.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    for absent in ["keyctl", "setuid", "setresuid", "setgroups", "setresgid"] {
        assert!(!names.contains(absent), "{absent} in {names:?}");
    }
    let enforcer = server("enforce", &profile);
    load(false);
    let output = enforcer.wait_with_output().unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("no syscall was denied"), "{err}");
}

/// An unknown user is one line, before anything runs.
#[test]
fn unknown_user_is_refused() {
    let output = run(["record", "--user", "no-such-user-4711", "--", "true"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no such user"),
        "{}",
        stderr(&output)
    );
}

/// A profile that refuses execve: the command never starts, the message
/// says why, and the suggestion is exactly execve.
#[test]
fn a_profile_refusing_execve_is_refused_before_the_run() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("deny.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}"#,
    )
    .unwrap();
    let suggestion = dir.path().join("s.json");
    let marker = dir.path().join("m");
    let output = run([
        "enforce",
        "--profile",
        profile.to_str().unwrap(),
        "--suggest",
        suggestion.to_str().unwrap(),
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(126), "{err}");
    assert!(err.contains("refuses execve"), "{err}");
    assert!(!marker.exists());
    let names = allowed_names(&fs::read_to_string(&suggestion).unwrap());
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["execve"]);
}

/// Leftover processes (`--until command`: killed when the command exits)
/// are named, as `ps` would; enforce says so too; the denial report gives
/// the rule to add without a second run.
#[test]
fn leftovers_and_denials_are_named() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let output = run([
        "record",
        "--until",
        "command",
        "-o",
        dir.path().join("p.json").to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "sleep 30 & until read c </proc/$!/comm && [ \"$c\" = sleep ]; do :; done",
    ]);
    let err = stderr(&output);
    assert!(err.contains("were killed: sleep (pid "), "{err}");
    let allow = dir.path().join("allow.json");
    fs::write(
        &allow,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
    )
    .unwrap();
    let output = run([
        "enforce",
        "--until",
        "command",
        "--profile",
        allow.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "sleep 30 & until read c </proc/$!/comm && [ \"$c\" = sleep ]; do :; done; exit 0",
    ]);
    let err = stderr(&output);
    assert!(err.contains("were killed: sleep (pid "), "{err}");
    let sample = sample("call");
    let output = run([
        "enforce",
        "--profile",
        allow.to_str().unwrap(),
        "--",
        sample.to_str().unwrap(),
        "getppid",
    ]);
    let err = stderr(&output);
    assert!(
        err.contains(r#"{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}"#),
        "{err}"
    );
    assert!(!err.contains("run again"), "{err}");
}

/// `enforce --help` says it runs native programs too.
#[test]
fn enforce_help_names_native_programs() {
    let output = run(["enforce", "--help"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        text.contains("Usage: syscall-profile enforce "),
        "not enforce's help: {text}"
    );
    assert!(
        text.contains("The command: a native program, or an engine's run"),
        "{text}"
    );
}
