//! Learned argument rules, judged by the kernel: a workload recorded
//! natively and in docker runs under its learned profile every time, while
//! the calls it never made with those values (clone(CLONE_NEWUSER),
//! clone3(CLONE_NEWUSER), personality(READ_IMPLIES_EXEC), socket(AF_VSOCK),
//! socket(AF_NETLINK), ioctl(TIOCSTI), prctl(PR_CAPBSET_DROP)) are refused
//! with the profile's errno (ENOSYS for clone3). A container's learned
//! profile never lets through what Docker's (or podman's) default refuses
//! for the same capabilities, on a grid of argument values covering the
//! default's conditions, the engine itself judging what its default
//! refuses. And a workload with more distinct ioctls than a filter can
//! hold gets a profile that loads, the widening said.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::common::*;
use serde_json::Value;
use syscall_profile::{
    baseline::Baseline,
    engine::Engine,
    profile::{Arch, table},
};

/// What `arg-probe probe` prints under a learned profile of the default
/// mode: every probe refused, with the profile's errno.
const PROBES_REFUSED: &str = "clone-newuser errno 1
clone3-newuser errno 38
personality-exec errno 1
socket-vsock errno 1
socket-netlink errno 1
ioctl-tiocsti errno 1
prctl-capbset-drop errno 1";

/// How many times a container must run under its learned profile.
const RUNS_UNDER_PROFILE: usize = 50;

/// `record --no-coverage -o DIR/profile.json --stats DIR/stats.json EXTRA
/// -- WORDS`: the output, the profile and the stats.
fn record(dir: &Path, extra: &[&str], words: &[String]) -> (Output, Value, Value) {
    let profile = dir.join("profile.json");
    let stats = dir.join("stats.json");
    let mut args: Vec<String> = vec!["record".into(), "--no-coverage".into(), "-o".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.push("--stats".into());
    args.push(stats.to_string_lossy().into_owned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--".into());
    args.extend(words.iter().cloned());
    let output = run(&args);
    assert!(output.status.success(), "record: {}", stderr(&output));
    let read = |path: &Path| -> Value {
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    };
    (output, read(&profile), read(&stats))
}

/// The rules of `name` in a profile.
fn rules_of<'a>(profile: &'a Value, name: &str) -> Vec<&'a Value> {
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
        .collect()
}

/// The comments of `name`'s rules, joined.
fn comments_of(profile: &Value, name: &str) -> String {
    rules_of(profile, name)
        .iter()
        .filter_map(|r| r["comment"].as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// What a learned profile of `arg-probe`'s default mode must say of its
/// argument rules, as the user reads them.
fn assert_arg_probe_rules(profile: &Value) {
    let socket = comments_of(profile, "socket");
    assert!(
        socket.contains("AF_INET") && socket.contains("AF_UNIX"),
        "{socket}"
    );
    assert!(
        comments_of(profile, "ioctl").contains("FIONREAD"),
        "{profile}"
    );
    assert!(
        comments_of(profile, "prctl").contains("PR_SET_NAME"),
        "{profile}"
    );
    // clone: no namespace flag, on Docker's mask.
    let clone = rules_of(profile, "clone");
    assert!(
        clone.iter().any(|r| r["action"] == "SCMP_ACT_ALLOW"
            && r["args"]
                == serde_json::json!([{"index": 0, "value": 0x7E02_0000u64,
                    "op": "SCMP_CMP_MASKED_EQ"}])),
        "{clone:?}"
    );
    let clone3 = rules_of(profile, "clone3");
    assert_eq!(clone3.len(), 1, "{clone3:?}");
    assert_eq!(clone3[0]["action"], "SCMP_ACT_ERRNO");
    assert_eq!(clone3[0]["errnoRet"], 38);
}

fn arg_probe(mode: &[&str]) -> Vec<String> {
    let mut words = vec![sample("arg-probe").to_string_lossy().into_owned()];
    words.extend(mode.iter().map(|s| (*s).to_owned()));
    words
}

/// `enforce -q --profile PROFILE -- WORDS`.
fn enforce(profile: &Path, words: &[String]) -> Output {
    let mut args: Vec<String> = vec!["enforce".into(), "-q".into(), "--profile".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.push("--".into());
    args.extend(words.iter().cloned());
    run(&args)
}

#[test]
fn natively_the_workload_runs_under_its_learned_values_and_every_probe_is_refused() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, profile, stats) = record(dir.path(), &[], &arg_probe(&[]));
    assert_eq!(stdout(&output), "arg-probe ok\n");
    assert_arg_probe_rules(&profile);
    let learned = &stats["learned"];
    assert_eq!(learned["granularity"], "values");
    assert!(
        learned["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("clone3 is answered with ENOSYS")),
        "the summary says what became of clone3: {learned}"
    );
    assert!(learned["instructions"].as_u64().unwrap() <= 4096);
    let path = dir.path().join("profile.json");
    for round in 0..10 {
        let output = enforce(&path, &arg_probe(&[]));
        assert!(
            output.status.success() && stdout(&output) == "arg-probe ok\n",
            "run {round} under the learned profile: {} {}",
            stdout(&output),
            stderr(&output)
        );
    }
    // Unconfined, the probes run (as root): what refuses them is the profile.
    let unconfined = Command::new(sample("arg-probe"))
        .arg("probe")
        .output()
        .unwrap();
    assert!(
        stdout(&unconfined).contains("personality-exec ok"),
        "{}",
        stdout(&unconfined)
    );
    let probed = enforce(&path, &arg_probe(&["probe"]));
    assert_eq!(
        stdout(&probed).trim(),
        PROBES_REFUSED,
        "{}",
        stderr(&probed)
    );
}

#[test]
fn names_only_is_today_s_profile() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (_, profile, stats) = record(dir.path(), &["--args", "names"], &arg_probe(&[]));
    let rules = profile["syscalls"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "one rule of names: {profile}");
    assert!(rules[0].get("args").is_none());
    assert_eq!(stats["learned"]["granularity"], "names");
    // The rules name no values, but `--stats` still lists those the run
    // passed (capture is left out only when nothing uses the values).
    assert!(
        stats["arguments"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["name"] == "socket")),
        "{stats}"
    );
    // Natively with no baseline, `baseline` keeps names, clone3 answered
    // with ENOSYS.
    let (_, profile, _) = record(dir.path(), &["--args", "baseline"], &arg_probe(&[]));
    assert!(
        rules_of(&profile, "socket")
            .iter()
            .all(|r| r.get("args").is_none())
    );
    assert_eq!(rules_of(&profile, "clone3")[0]["errnoRet"], 38);
}

/// A native recording is set against the default a container would get
/// (Docker's, unless --baseline names another), by syscall name:
/// `keyctl` (with zero arguments, KEYCTL_GET_KEYRING_ID of no keyring:
/// EINVAL, nothing touched), which Docker's default refuses, is named in a
/// warning even with -q and in `--stats` as a name; exactly the names
/// `diff` (the oracle) finds the profile needs beyond the same default.
/// `--accept-beyond-default` leaves the warning out and keeps the stats;
/// a baseline that allows everything finds nothing beyond it; --baseline
/// with a container is refused in one line.
#[test]
fn natively_the_syscalls_the_default_refuses_are_named() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = [
        sample("syscall-verdicts").to_string_lossy().into_owned(),
        libc::SYS_keyctl.to_string(),
        libc::SYS_getppid.to_string(),
    ];
    let (output, profile, stats) = record(dir.path(), &["-q"], &words);
    let err = stderr(&output);
    assert!(
        stdout(&output).contains(&format!("{} errno {}", libc::SYS_keyctl, libc::EINVAL)),
        "keyctl ran: {}",
        stdout(&output)
    );
    let names = |stats: &Value| -> Vec<String> {
        stats["learned"]["beyond_default"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["kind"] == "name" && b.get("values").is_none())
            .map(|b| b["syscall"].as_str().unwrap().to_owned())
            .collect()
    };
    let beyond = names(&stats);
    assert!(beyond.contains(&"keyctl".to_owned()), "{stats}");
    assert!(!beyond.contains(&"getppid".to_owned()), "{stats}");
    assert!(allowed_names(&profile.to_string()).contains("keyctl"));
    // diff, against the same default, finds the same names.
    let path = dir.path().join("profile.json");
    let diff = run(["diff", "--format", "json", path.to_str().unwrap()]);
    let diff: Value = serde_json::from_str(&stdout(&diff)).unwrap();
    let mut needed: Vec<String> = diff["denied_needed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    needed.sort();
    let mut sorted = beyond.clone();
    sorted.sort();
    assert_eq!(sorted, needed, "record names what diff finds");
    assert!(
        err.contains("warning: beyond the engine's default: the run used, and the profile allows")
            && err.contains("keyctl (denied with EPERM (1) there)")
            && err.contains("Docker's default profile"),
        "{err}"
    );
    let (output, _, stats) = record(dir.path(), &["-q", "--accept-beyond-default"], &words);
    assert!(!stderr(&output).contains("beyond"), "{}", stderr(&output));
    assert_eq!(names(&stats), beyond, "the stats keep them");
    // A baseline that refuses nothing: nothing is beyond it.
    let allow_all = dir.path().join("allow-all.json");
    fs::write(
        &allow_all,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#,
    )
    .unwrap();
    let (output, _, stats) = record(
        dir.path(),
        &["-q", "--baseline", allow_all.to_str().unwrap()],
        &words,
    );
    assert!(!stderr(&output).contains("beyond"), "{}", stderr(&output));
    assert_eq!(stats["learned"]["beyond_default"], serde_json::json!([]));
    // A container has its engine's default: --baseline is refused, in one
    // line, before anything runs.
    let output = run([
        "record",
        "--baseline",
        "podman",
        "--",
        "docker",
        "run",
        "--rm",
        "alpine",
        "true",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--baseline applies to native commands"),
        "{err}"
    );
}

#[test]
fn more_distinct_ioctls_than_a_filter_holds_are_widened_and_the_profile_loads() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let flood = arg_probe(&["ioctl-flood", "4000"]);
    let (output, _, stats) = record(dir.path(), &[], &flood);
    let learned = &stats["learned"];
    assert_eq!(
        learned["widened"],
        serde_json::json!([{"syscall": "ioctl", "rules": 4000, "to": "any value"}]),
        "{learned}"
    );
    assert!(learned["instructions"].as_u64().unwrap() <= 4096);
    let err = stderr(&output);
    assert!(
        err.contains("ioctl's 4000 learned rule(s) were widened to any value"),
        "{err}"
    );
    let path = dir.path().join("profile.json");
    let output = enforce(&path, &flood);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "ioctl-flood 4000\n");
    // 2000 distinct requests fit: each is a rule of its own, allowing
    // exactly the request the probe made (0x12340000 + i), and no other.
    let (_, profile, stats) = record(dir.path(), &[], &arg_probe(&["ioctl-flood", "2000"]));
    assert_eq!(stats["learned"]["widened"], serde_json::json!([]));
    let requests: Vec<u64> = rules_of(&profile, "ioctl")
        .iter()
        .map(|rule| {
            let args = rule["args"].as_array().expect("a rule with conditions");
            assert_eq!(args.len(), 1, "{rule}");
            assert_eq!(args[0]["index"], 1, "{rule}");
            assert_eq!(args[0]["op"], "SCMP_CMP_EQ", "{rule}");
            args[0]["value"].as_u64().unwrap()
        })
        .collect();
    let made: Vec<u64> = (0..2000).map(|i| 0x1234_0000 + i).collect();
    let mut sorted = requests.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, made, "{} ioctl rule(s)", requests.len());
}

/// `docker run --rm --network none [EXTRA] IMAGE ARGS...` (the test image).
fn docker_with(extra: &[&str], args: &[&str]) -> Vec<String> {
    docker_run(&[extra, &[TEST_IMAGE], args].concat())
}

/// The same with podman.
fn podman_with(extra: &[&str], args: &[&str]) -> Vec<String> {
    podman_run(&[extra, &[TEST_IMAGE], args].concat())
}

/// `--security-opt seccomp=PROFILE` as options of `docker run`.
fn seccomp(profile: &Path) -> [String; 2] {
    [
        "--security-opt".to_owned(),
        format!("seccomp={}", profile.display()),
    ]
}

#[test]
fn in_docker_the_workload_runs_50_times_and_every_probe_is_refused() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, profile, stats) = record(dir.path(), &[], &docker_with(&[], &["arg-probe"]));
    assert_eq!(stdout(&output), "arg-probe ok\n", "{}", stderr(&output));
    // The summary, for the record of what was learned (`--nocapture`).
    eprintln!("{}", stderr(&output));
    assert_arg_probe_rules(&profile);
    assert_eq!(
        stats["learned"]["beyond_default"],
        serde_json::json!([]),
        "the workload stays inside Docker's default"
    );
    let path = dir.path().join("profile.json");
    let opts = seccomp(&path);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let confined = docker_with(&opts, &["arg-probe"]);
    let mut failures = Vec::new();
    for round in 0..RUNS_UNDER_PROFILE {
        let output = run_words(&confined);
        if !output.status.success() || stdout(&output) != "arg-probe ok\n" {
            failures.push(format!(
                "run {round}: {} {:?} {:?}",
                output.status,
                stdout(&output),
                stderr(&output)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {RUNS_UNDER_PROFILE} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // runc drops the capabilities Docker does not give after it installs
    // the filter (without no-new-privileges, the filter must go on while
    // runc still has them): PR_CAPBSET_DROP is allowed for it, and so to
    // the workload, which the summary says.
    let probed = run_words(&docker_with(&opts, &["arg-probe", "probe"]));
    assert_eq!(
        stdout(&probed).trim(),
        PROBES_REFUSED.replace("prctl-capbset-drop errno 1", "prctl-capbset-drop ok"),
        "{}",
        stderr(&probed)
    );
    let notes = stats["learned"]["notes"].to_string();
    assert!(
        notes.contains(
            "prctl: PR_SET_KEEPCAPS; PR_CAPBSET_DROP; PR_CAP_AMBIENT allowed for the runtime (runc)"
        ),
        "{notes}"
    );
}

/// What a call the learned profile refuses gets, once its default action is
/// made `SCMP_ACT_TRAP` (so that a refusal by the filter is told from one by
/// the kernel): SIGSYS.
const REFUSED: &str = "signal 31";

/// The grid: (name, arguments) of every clone namespace bit, every
/// personality value Docker's default names (and two it does not), and
/// socket families 0 to 45.
fn grid() -> Vec<(&'static str, [u64; 6])> {
    const SIGCHLD: u64 = 17;
    let mut grid = vec![("clone", [SIGCHLD, 0, 0, 0, 0, 0])];
    for bit in [
        0x0002_0000u64, // CLONE_NEWNS
        0x0200_0000,    // CLONE_NEWCGROUP
        0x0400_0000,    // CLONE_NEWUTS
        0x0800_0000,    // CLONE_NEWIPC
        0x1000_0000,    // CLONE_NEWUSER
        0x2000_0000,    // CLONE_NEWPID
        0x4000_0000,    // CLONE_NEWNET
    ] {
        grid.push(("clone", [bit | SIGCHLD, 0, 0, 0, 0, 0]));
    }
    for persona in [
        0u64,
        8,
        0x2_0000,
        0x2_0008,
        0xffff_ffff,
        0x40_0000,
        0x4_0000,
    ] {
        grid.push(("personality", [persona, 0, 0, 0, 0, 0]));
    }
    for family in 0..=45u64 {
        grid.push(("socket", [family, 1, 0, 0, 0, 0]));
    }
    grid.push(("clone3", [0; 6]));
    grid
}

/// The tool's own model of the engine's default as it applies to a
/// container of `cap_add` (Docker's by the test daemon's version): a second
/// opinion beside the engine's verdict.
fn engine_default_model(
    engine: Engine,
    cap_add: &[String],
) -> syscall_profile::baseline::EffectivePolicy {
    let version = match engine {
        Engine::Docker => Some(docker_version()),
        Engine::Podman | Engine::Containerd => None,
    };
    let baseline = Baseline::for_engine(engine, version.as_deref());
    baseline.evaluate(&baseline.context(cap_add, &[]).unwrap())
}

/// `syscall-verdicts PROBES` in the test image with `options`, run by
/// `engine_run`: each probe's outcome, by probe.
fn verdicts(
    engine_run: fn(&[&str], &[&str]) -> Vec<String>,
    options: &[&str],
    probes: &[String],
) -> BTreeMap<String, String> {
    let mut args = vec!["syscall-verdicts"];
    args.extend(probes.iter().map(String::as_str));
    let output = run_words(&engine_run(options, &args));
    assert!(
        output.status.success(),
        "{options:?}: {}{}",
        output.status,
        stderr(&output)
    );
    let printed = stdout(&output);
    let lines: BTreeMap<String, String> = printed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, v)| (p.to_owned(), v.to_owned()))
        .collect();
    for probe in probes {
        assert!(
            lines.contains_key(probe),
            "{options:?}: no result for {probe}: {printed}{}",
            stderr(&output)
        );
    }
    lines
}

/// The probes the engine's own default refuses for a container of
/// `cap_add`: those whose outcome under the engine's default profile (no
/// `--security-opt seccomp`) is an errno where, with the same capabilities
/// and no filter, it is something else. The engine is the judge, not the
/// tool's model of it.
fn refused_by_the_engine(
    engine_run: fn(&[&str], &[&str]) -> Vec<String>,
    cap_options: &[&str],
    probes: &[String],
) -> BTreeMap<String, (String, String)> {
    let filtered = verdicts(engine_run, cap_options, probes);
    let mut unconfined_options = cap_options.to_vec();
    unconfined_options.extend(["--security-opt", "seccomp=unconfined"]);
    let unconfined = verdicts(engine_run, &unconfined_options, probes);
    probes
        .iter()
        .filter_map(|p| {
            let (f, u) = (&filtered[p], &unconfined[p]);
            (f != u && f.starts_with("errno ")).then(|| (p.clone(), (f.clone(), u.clone())))
        })
        .collect()
}

/// Records a container that makes the prober's own calls and `arg-probe`'s,
/// with `cap_add`, then runs the grid three times in the same engine: under
/// the learned profile (its default action made a trap, see [`REFUSED`]),
/// under the engine's own default profile, and with no filter. Every value
/// the engine's default refuses (an errno where unfiltered it is not), the
/// learned profile refuses too. The tool's model of the default, which the
/// recording itself uses, is checked beside it: it knows every refusal the
/// engine made.
fn learned_never_allows_what_the_default_refuses(
    engine: Engine,
    cap_add: &[&str],
    refused_by_both_at_least: usize,
) {
    let engine_run = match engine {
        Engine::Docker => docker_with,
        Engine::Podman => podman_with,
        Engine::Containerd => unreachable!("the grid runs with docker and podman"),
    };
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mut extra = Vec::new();
    for cap in cap_add {
        extra.extend(["--cap-add", cap]);
    }
    let (output, _, _) = record(
        dir.path(),
        &[],
        &engine_run(
            &extra,
            // getpid, and pause (ended by its alarm): the prober then
            // waits for its child as it does for any probe that takes
            // time, which a loaded machine makes of any probe.
            &["sh", "-c", "arg-probe && syscall-verdicts 39 34 >/dev/null"],
        ),
    );
    assert_eq!(stdout(&output), "arg-probe ok\n", "{}", stderr(&output));
    let mut profile: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("profile.json")).unwrap())
            .unwrap();
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    profile["defaultAction"] = "SCMP_ACT_TRAP".into();
    profile.as_object_mut().unwrap().remove("defaultErrnoRet");
    let marked: PathBuf = dir.path().join("marked.json");
    fs::write(&marked, profile.to_string()).unwrap();

    let grid = grid();
    let probes: Vec<String> = grid
        .iter()
        .map(|(name, args)| {
            let nr = table::number_of(Arch::X86_64, name).unwrap();
            let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
            format!("{nr}:{}", args.join(","))
        })
        .collect();
    let opts = seccomp(&marked);
    let mut words: Vec<&str> = opts.iter().map(String::as_str).collect();
    words.extend(&extra);
    let learned = verdicts(engine_run, &words, &probes);
    let engine_refuses = refused_by_the_engine(engine_run, &extra, &probes);
    let owned: Vec<String> = cap_add.iter().map(|c| (*c).to_owned()).collect();
    let model = engine_default_model(engine, &owned);
    let (mut refused_by_both, mut tighter) = (0, 0);
    for ((name, args), probe) in grid.iter().zip(&probes) {
        let result = &learned[probe];
        let learned_refuses = result == REFUSED || (*name == "clone3" && result == "errno 38");
        let default_refuses = engine_refuses.contains_key(probe);
        assert!(
            learned_refuses || !default_refuses,
            "{name}{args:x?} ({probe}): the engine's default refuses it ({:?}, filtered against \
             unfiltered), the learned profile let it through ({result})",
            engine_refuses[probe]
        );
        assert!(
            !default_refuses || !model.verdict(name, args).runs(),
            "{name}{args:x?} ({probe}): the engine's default refuses it ({:?}), the tool's \
             model of that default allows it",
            engine_refuses[probe]
        );
        refused_by_both += usize::from(learned_refuses && default_refuses);
        tighter += usize::from(learned_refuses && !default_refuses);
    }
    // Both sides judged something: the engine refuses READ_IMPLIES_EXEC
    // and ADDR_NO_RANDOMIZE (and CLONE_NEWUSER without CAP_SYS_ADMIN, where
    // no filter lets it through; the other namespace bits the kernel
    // refuses as well without the capability); the learned profile also
    // refuses the families the workload never opened.
    eprintln!("refused by the engine's default: {engine_refuses:?}");
    assert!(
        refused_by_both >= refused_by_both_at_least,
        "{refused_by_both}: {engine_refuses:?}"
    );
    assert!(tighter >= 30, "{tighter}");
}

#[test]
fn a_container_s_learned_profile_never_allows_what_docker_s_default_refuses() {
    learned_never_allows_what_the_default_refuses(Engine::Docker, &[], 4);
}

#[test]
fn the_same_with_cap_sys_admin() {
    learned_never_allows_what_the_default_refuses(Engine::Docker, &["SYS_ADMIN"], 2);
}

/// The three levels of `--args` on the same container: names only; the
/// default's own conditions for the syscalls used; the learned values.
/// Each profile runs the workload (the summary lines are printed, for the
/// numbers in the README: `--nocapture`).
#[test]
fn in_docker_each_level_of_args_runs_the_workload() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    for level in ["names", "baseline", "values"] {
        let (output, profile, stats) = record(
            dir.path(),
            &["--args", level],
            &docker_with(&[], &["arg-probe"]),
        );
        let err = stderr(&output);
        let summary: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("argument rules:"))
            .collect();
        eprintln!("--args {level}: {summary:?}");
        assert_eq!(stats["learned"]["granularity"], level);
        match level {
            // Today's profile, with clone3's ENOSYS (the recording took
            // clone).
            "names" => {
                assert!(rules_of(&profile, "socket")[0].get("args").is_none());
                assert_eq!(rules_of(&profile, "clone3")[0]["errnoRet"], 38);
            }
            // Docker's own rules for personality and clone.
            "baseline" => {
                assert_eq!(rules_of(&profile, "personality").len(), 5, "{profile}");
                assert_eq!(
                    rules_of(&profile, "clone")[0]["args"][0]["value"],
                    0x7E02_0000u64
                );
            }
            _ => assert_arg_probe_rules(&profile),
        }
        let path = dir.path().join("profile.json");
        let opts = seccomp(&path);
        let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
        let output = run_words(&docker_with(&opts, &["arg-probe"]));
        assert_eq!(
            stdout(&output),
            "arg-probe ok\n",
            "{level}: {}",
            stderr(&output)
        );
    }
}

/// A run that needs what Docker's default refuses (the probes, made while
/// recording, where everything but clone3 is allowed): the profile holds
/// it, so the same run works under it, and it is named as beyond the
/// default, as a warning even with -q, unless --accept-beyond-default.
#[test]
fn in_docker_what_the_default_refuses_is_kept_and_named() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = docker_with(&[], &["arg-probe", "probe"]);
    let (output, _, stats) = record(dir.path(), &["-q"], &words);
    let beyond: Vec<String> = stats["learned"]["beyond_default"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| format!("{} {}", b["syscall"], b["values"]))
        .collect();
    let expected = [
        "\"clone\" \"CLONE_NEWUSER|0x11\"",
        "\"personality\" \"PER_LINUX|READ_IMPLIES_EXEC\"",
    ];
    for value in expected {
        assert!(beyond.iter().any(|b| b == value), "{value}: {beyond:?}");
    }
    let err = stderr(&output);
    assert!(
        err.contains("warning: beyond the engine's default: the run used, and the profile allows")
            && err.contains(
                "personality with PER_LINUX|READ_IMPLIES_EXEC (denied with EPERM (1) there)"
            ),
        "{err}"
    );
    // Under the learned profile, what the run needed still runs.
    let path = dir.path().join("profile.json");
    let opts = seccomp(&path);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let probed = run_words(&docker_with(&opts, &["arg-probe", "probe"]));
    assert!(
        stdout(&probed).contains("personality-exec ok"),
        "{}",
        stdout(&probed)
    );
    assert_eq!(
        stdout(&probed).lines().find(|l| l.starts_with("clone3")),
        Some("clone3-newuser errno 38")
    );
    let (output, _, _) = record(dir.path(), &["-q", "--accept-beyond-default"], &words);
    assert!(!stderr(&output).contains("beyond"), "{}", stderr(&output));
}

/// The same grid with podman (runc), against podman's default.
#[test]
fn a_podman_container_s_learned_profile_never_allows_what_podman_s_default_refuses() {
    learned_never_allows_what_the_default_refuses(Engine::Podman, &[], 2);
}
