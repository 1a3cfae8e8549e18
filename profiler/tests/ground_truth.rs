//! The recorder against an independent oracle: for the same command, the set
//! of syscall names in the recorded profile equals the set `strace -f` sees
//! from the command's first execve on.

use std::{collections::BTreeSet, fs, path::Path, process::Command};

use crate::common::*;

/// Syscall names in an `strace -f -o FILE` log (each line starts with a pid).
fn strace_names(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter_map(|line| {
            let rest = line.split_once(' ')?.1.trim_start();
            if rest.starts_with("+++") || rest.starts_with("---") {
                return None;
            }
            // `<... read resumed>` continues a call already listed.
            let rest = rest.strip_prefix("<... ").unwrap_or(rest);
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// What strace sees of `cmd`.
fn strace(cmd: &[&str]) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .args(cmd)
        .status()
        .expect(
            "strace is needed as the oracle: install Debian's strace (`cargo xtask setup` does)",
        );
    assert!(status.success(), "strace {cmd:?} failed: {status}");
    strace_names(&fs::read_to_string(&log).unwrap())
}

/// What the recorder sees of `cmd`.
fn record(cmd: &[&str]) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        // What was observed only (strace sees nothing implied), by name
        // (with learned values, clone3 is answered ENOSYS and clone added).
        "--no-implied".as_ref(),
        "--args".as_ref(),
        "names".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--".as_ref(),
    ]
    .into_iter()
    .chain(cmd.iter().map(|s| s.as_ref())));
    assert!(
        output.status.success(),
        "record {cmd:?}: {}",
        stderr(&output)
    );
    allowed_names(&fs::read_to_string(&profile).unwrap())
}

/// Syscalls whose appearance depends on timing, not on the program: a
/// syscall interrupted by a signal and restarted by the kernel shows as
/// `restart_syscall` in whichever of the two runs it happened.
const TIMING_DEPENDENT: &[&str] = &["restart_syscall"];

fn assert_same_as_strace(cmd: &[&str]) {
    require_root();
    let seen_by_strace = strace(cmd);
    let recorded = record(cmd);
    let strip = |set: &BTreeSet<String>| -> BTreeSet<String> {
        set.iter()
            .filter(|n| !TIMING_DEPENDENT.contains(&n.as_str()))
            .cloned()
            .collect()
    };
    let (strace_set, recorded_set) = (strip(&seen_by_strace), strip(&recorded));
    let missed: Vec<_> = strace_set.difference(&recorded_set).collect();
    let extra: Vec<_> = recorded_set.difference(&strace_set).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{cmd:?}: recorded but not seen by strace: {extra:?}; seen by strace but not recorded: {missed:?}"
    );
    assert!(
        recorded.contains("execve"),
        "the recording starts at the execve"
    );
}

fn sample_str(name: &str) -> String {
    sample(name).to_string_lossy().into_owned()
}

#[test]
fn single_process() {
    assert_same_as_strace(&[&sample_str("getppid-loop"), "10"]);
}

#[test]
fn multi_threaded() {
    let recorded = record(&[&sample_str("threads"), "4"]);
    assert!(recorded.contains("gettid") && recorded.contains("sched_yield"));
    assert_same_as_strace(&[&sample_str("threads"), "4"]);
}

#[test]
fn fork_exec_shell_pipeline() {
    assert!(Path::new("/bin/sh").exists());
    assert_same_as_strace(&[
        "/bin/sh",
        "-c",
        "ls / | grep -c e | cat > /dev/null; echo done",
    ]);
}

/// The child lives for a few microseconds and is the only one to call sysinfo.
#[test]
fn child_that_exits_at_once() {
    let recorded = record(&[&sample_str("quick-child")]);
    assert!(
        recorded.contains("sysinfo"),
        "the short-lived child's sysinfo was missed: {recorded:?}"
    );
    assert_same_as_strace(&[&sample_str("quick-child")]);
}

#[test]
fn strace_log_parsing() {
    let log = "\
101 execve(\"/bin/true\", [\"true\"], 0x7ffd /* 3 vars */) = 0
101 wait4(-1,  <unfinished ...>
102 +++ exited with 0 +++
101 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 102
101 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---
101 exit_group(0)                     = ?
";
    let names: Vec<String> = strace_names(log).into_iter().collect();
    assert_eq!(names, ["execve", "exit_group", "wait4"]);
}

/// Syscalls made through the 32-bit entry point are named from the i386
/// table: int80's 20 and 64 are getpid and getppid there, not x86_64's
/// writev and semget.
#[cfg(target_arch = "x86_64")]
#[test]
fn compat_syscalls_are_named_from_their_own_table() {
    let recorded = record(&[&sample_str("int80")]);
    assert!(
        recorded.contains("getpid") && recorded.contains("getppid"),
        "{recorded:?}"
    );
    assert!(
        !recorded.contains("semget"),
        "the i386 number was read as x86_64's: {recorded:?}"
    );
    assert_same_as_strace(&[&sample_str("int80")]);
}
