//! Hostile input profiles through every command that reads one, as a user
//! meets them: each command ends quickly (a hang fails the test instead of
//! blocking it), a refused profile gives exactly one error line and the
//! documented exit status, and `enforce` never starts its command on one.

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use crate::common::*;
use syscall_profile::profile::Profile;

/// How long a command may take before it counts as hung (and is killed).
const HANG: Duration = Duration::from_secs(60);

/// What a user sees of one run.
struct Seen {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `syscall-profile ARGS` with `stdin` as standard input, killing it
/// and failing the test if it does not end within [`HANG`].
fn run_bounded(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> Seen {
    let stdin = match stdin {
        Some(path) => Stdio::from(fs::File::open(path).expect("open the stdin file")),
        None => Stdio::null(),
    };
    let started = Instant::now();
    let output = run_within(args, stdin, HANG);
    Seen {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// How long a command may take on a valid input of a few megabytes: about
/// a second in a release build. The debug build the tests run is about ten
/// times slower, and shares the CPU with the other tests: its bound only
/// tells linear from quadratic (which took minutes).
fn time_bound() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(20)
    } else {
        Duration::from_millis(1500)
    }
}

/// A profile input: a path, or `-` with this file as standard input.
enum Input {
    Path(PathBuf),
    Stdin(PathBuf),
}

struct Case {
    name: &'static str,
    input: Input,
    /// What the one error line must say (besides the input's name).
    says: &'static str,
}

/// A valid profile, as the partner of a hostile one read from standard
/// input.
const GOOD: &str = r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#;

/// One name repeated `count` times in a rule denying it: for 300,000, a
/// valid profile of 2.7 MB, under the 4 MiB limit.
fn repeated_names(count: usize) -> String {
    let mut text = String::from(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["#);
    for i in 0..count {
        if i > 0 {
            text.push(',');
        }
        text.push_str("\"ptrace\"");
    }
    text.push_str(r#"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#);
    text
}

/// The refused inputs, made in `dir`.
fn hostile_corpus(dir: &Path) -> Vec<Case> {
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        path
    };
    let fifo = dir.join("fifo.json");
    mkfifo(&fifo);
    let zero = dir.join("zero.json");
    symlink("/dev/zero", &zero).unwrap();
    let directory = dir.join("dir.json");
    fs::create_dir(&directory).unwrap();
    let (loop_a, loop_b) = (dir.join("loop-a.json"), dir.join("loop-b.json"));
    symlink(&loop_b, &loop_a).unwrap();
    symlink(&loop_a, &loop_b).unwrap();
    let huge = dir.join("huge.json");
    // Sparse: 5 MiB without writing them.
    fs::File::create(&huge)
        .unwrap()
        .set_len(5 * 1024 * 1024)
        .unwrap();
    let errno_rule = |errno: &str| {
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["read"],
            "action": "SCMP_ACT_ERRNO", "errnoRet": {errno}}}]}}"#
        )
    };
    vec![
        Case {
            name: "a FIFO",
            input: Input::Path(fifo),
            says: "is a FIFO, not a profile file: give a regular file, or `-` to read standard input",
        },
        Case {
            name: "/dev/zero through a link",
            input: Input::Path(zero),
            says: "is a character device, not a profile file",
        },
        Case {
            name: "a directory",
            input: Input::Path(directory),
            says: "is a directory, not a profile file",
        },
        Case {
            name: "a symlink loop",
            input: Input::Path(loop_a),
            says: "Too many levels of symbolic links",
        },
        Case {
            name: "a file over 4 MiB",
            input: Input::Path(huge),
            says: "it has 5242880 bytes, more than the 4194304 a profile may have",
        },
        Case {
            name: "deep nesting",
            input: Input::Path(file("deep.json", "[".repeat(200_000).as_bytes())),
            says: "nests 6 levels deep",
        },
        Case {
            name: "errnoRet 65536",
            input: Input::Path(file("e65536.json", errno_rule("65536").as_bytes())),
            says: "65536 is not an errno: an errno is a whole number from 0 to 4095",
        },
        Case {
            name: "errnoRet 4096",
            input: Input::Path(file("e4096.json", errno_rule("4096").as_bytes())),
            says: "4096 is not an errno",
        },
        Case {
            name: "errnoRet -1",
            input: Input::Path(file("e-1.json", errno_rule("-1").as_bytes())),
            says: "-1 is not an errno",
        },
        Case {
            name: "defaultErrnoRet 65536",
            input: Input::Path(file(
                "default-e65536.json",
                br#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}"#,
            )),
            says: "65536 is not an errno: an errno is a whole number from 0 to 4095 (e.g. 1 for \
                   EPERM, 38 for ENOSYS) (at `defaultErrnoRet`",
        },
        Case {
            name: "an unknown action",
            input: Input::Path(file(
                "action.json",
                br#"{"defaultAction": "SCMP_ACT_PERMIT"}"#,
            )),
            says: "unknown action \"SCMP_ACT_PERMIT\"",
        },
        Case {
            name: "a wrong type",
            input: Input::Path(file(
                "type.json",
                br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]}"#,
            )),
            says: "syscalls[0].names",
        },
        Case {
            name: "NUL bytes",
            input: Input::Path(file("nul.json", b"{\"defaultAction\": \0\0\0}")),
            says: "not valid JSON",
        },
        Case {
            name: "invalid UTF-8",
            input: Input::Path(file(
                "utf8.json",
                b"{\"defaultAction\": \"SCMP_ACT_\xff\xfe\"}",
            )),
            says: "not valid JSON",
        },
        Case {
            name: "an empty file",
            input: Input::Path(file("empty.json", b"")),
            says: "it is empty",
        },
        Case {
            name: "endless standard input",
            input: Input::Stdin(PathBuf::from("/dev/zero")),
            says: "it goes on past the 4194304 bytes a profile may have",
        },
        Case {
            name: "NUL bytes on standard input",
            input: Input::Stdin(file("stdin-nul", &[0; 1000])),
            says: "not valid JSON",
        },
        Case {
            name: "errnoRet 65536 on standard input",
            input: Input::Stdin(file("stdin-e65536", errno_rule("65536").as_bytes())),
            says: "65536 is not an errno",
        },
    ]
}

/// Every command that reads a profile, with `input` where a profile goes
/// (`partner` where a second one goes) and, for `enforce`, a command that
/// leaves `marker` behind if it ever runs. With the exit status a refused
/// profile gives.
fn commands(input: &Path, partner: &Path, marker: &Path) -> Vec<(Vec<PathBuf>, i32)> {
    let p = |s: &str| PathBuf::from(s);
    vec![
        (vec![p("diff"), input.into()], 2),
        (vec![p("diff"), input.into(), partner.into()], 2),
        (vec![p("merge"), input.into(), partner.into()], 2),
        (
            vec![
                p("check"),
                p("--policy"),
                input.into(),
                p("--observed"),
                partner.into(),
            ],
            2,
        ),
        (
            vec![
                p("check"),
                p("--policy"),
                partner.into(),
                p("--observed"),
                input.into(),
            ],
            2,
        ),
        (
            vec![
                p("enforce"),
                p("--profile"),
                input.into(),
                p("--"),
                p("sh"),
                p("-c"),
                PathBuf::from(format!("echo ran > {}", marker.display())),
            ],
            125,
        ),
    ]
}

#[test]
fn hostile_profiles_are_refused_quickly_with_one_line() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    fs::write(&good, GOOD).unwrap();
    let marker = dir.path().join("command-ran");
    let mut failures = Vec::new();
    for case in hostile_corpus(dir.path()) {
        let (input, partner, stdin, shown) = match &case.input {
            // The same file twice where a command takes two.
            Input::Path(path) => (path.clone(), path.clone(), None, path.display().to_string()),
            Input::Stdin(feed) => (
                PathBuf::from("-"),
                good.clone(),
                Some(feed.clone()),
                "standard input".to_owned(),
            ),
        };
        for (args, code) in commands(&input, &partner, &marker) {
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            let seen = run_bounded(&args, stdin.as_deref());
            let lines: Vec<&str> = seen.stderr.lines().collect();
            let what = format!("{} through `{:?}`", case.name, args);
            if seen.code != Some(code) {
                failures.push(format!(
                    "{what}: exit status {:?}, not {code}: {}",
                    seen.code, seen.stderr
                ));
            }
            if lines.len() != 1
                || !lines[0].starts_with("syscall-profile: error: ")
                || !lines[0].contains(case.says)
                || !lines[0].contains(&shown)
            {
                failures.push(format!(
                    "{what}: not one error line naming {shown} and saying {:?}: {:?}",
                    case.says, seen.stderr
                ));
            }
            if !seen.stdout.is_empty() {
                failures.push(format!("{what}: wrote to stdout: {:?}", seen.stdout));
            }
            if seen.elapsed > Duration::from_secs(2) {
                failures.push(format!("{what}: took {:?}", seen.elapsed));
            }
            if marker.exists() {
                failures.push(format!(
                    "{what}: enforce ran the command on a refused profile"
                ));
                fs::remove_file(&marker).unwrap();
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn standard_input_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    fs::write(&good, GOOD).unwrap();
    let seen = run_bounded(&["diff".as_ref(), "-".as_ref(), "-".as_ref()], Some(&good));
    assert_eq!(seen.code, Some(2), "{}", seen.stderr);
    assert_eq!(
        seen.stderr.trim_end(),
        "syscall-profile: error: standard input (`-`) is given for two profiles: it can be read \
         once; give the other profile as a file"
    );
    // Once is fine: the same report as from the file, but for the name.
    let from_stdin = run_bounded(&["diff".as_ref(), "-".as_ref()], Some(&good));
    let from_file = run_bounded(&["diff".as_ref(), good.as_os_str()], None);
    assert_eq!(from_stdin.code, Some(0), "{}", from_stdin.stderr);
    let body = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        from_file.stdout.lines().count() > 10,
        "{}",
        from_file.stdout
    );
    assert_eq!(body(&from_stdin.stdout), body(&from_file.stdout));
}

/// 300,000 repetitions of one name: a valid profile under the size limit,
/// handled by every command in about a second (it took minutes in enforce).
#[test]
fn repeated_names_are_handled_quickly() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("repeated.json");
    let text = repeated_names(300_000);
    assert!(text.len() > 2_000_000 && text.len() < 4 * 1024 * 1024);
    fs::write(&big, &text).unwrap();
    let marker = dir.path().join("command-ran");
    let bound = time_bound();
    let mut failures = Vec::new();
    for (args, _) in commands(&big, &big, &marker) {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let seen = run_bounded(&args, None);
        if seen.code != Some(0) {
            failures.push(format!(
                "`{args:?}`: exit status {:?}: {}",
                seen.code, seen.stderr
            ));
        }
        if seen.elapsed > bound {
            failures.push(format!("`{args:?}` took {:?}", seen.elapsed));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The command ran (under a filter that denies ptrace).
    assert_eq!(fs::read_to_string(&marker).unwrap(), "ran\n");
    // The same through standard input.
    let seen = run_bounded(&["diff".as_ref(), "-".as_ref()], Some(&big));
    assert_eq!(seen.code, Some(0), "{}", seen.stderr);
}

/// 40,000 argument-conditioned rules (4 MB): a valid profile that the
/// other commands handle, and that `enforce` refuses at once (no seccomp
/// filter holds it) instead of compiling it for minutes.
#[test]
fn a_profile_too_large_for_a_filter_is_refused_quickly() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conditions.json");
    let rules: Vec<String> = (0..40_000)
        .map(|i| {
            format!(
                r#"{{"names":["socket"],"action":"SCMP_ACT_ERRNO","args":[{{"index":0,"value":{i},"op":"SCMP_CMP_EQ"}}]}}"#
            )
        })
        .collect();
    let text = format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{}]}}"#,
        rules.join(",")
    );
    assert!(text.len() < 4 * 1024 * 1024);
    fs::write(&path, text).unwrap();
    let marker = dir.path().join("command-ran");
    let bound = time_bound();
    for (args, code) in commands(&path, &path, &marker) {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let seen = run_bounded(&args, None);
        assert!(seen.elapsed < bound, "{args:?} took {:?}", seen.elapsed);
        if code == 125 {
            assert_eq!(seen.code, Some(125), "{}", seen.stderr);
            let lines: Vec<&str> = seen.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{}", seen.stderr);
            assert!(
                lines[0].contains("more than the 4096 a seccomp filter may have"),
                "{}",
                seen.stderr
            );
            assert!(!marker.exists(), "the command ran");
        } else {
            assert_eq!(seen.code, Some(0), "{args:?}: {}", seen.stderr);
        }
    }
}

/// The inputs that once broke the profile parser, kept as fuzz regressions
/// (`fuzz/regressions/parse_profile/`, see the README beside it): each goes
/// through the parser as the fuzz target feeds it (no panic, and a profile
/// it accepts reads back the same once written) and through `diff`, which
/// answers (0 or 2) without a panic. The directory must be there and hold
/// an input: a replay with nothing to replay fails instead of passing.
#[test]
fn fuzz_regressions_of_the_profile_parser_replay_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/parse_profile");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the profile parser's fuzz regression inputs belong there",
            dir.display()
        )
    });
    let inputs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    assert!(!inputs.is_empty(), "{}: nothing to replay", dir.display());
    for input in &inputs {
        let bytes = fs::read(input).unwrap();
        let replayed = std::panic::catch_unwind(|| {
            if let Ok(parsed) = Profile::parse(&bytes) {
                let written = parsed.profile.to_json();
                let again = Profile::parse(written.as_bytes())
                    .unwrap_or_else(|e| panic!("its own output does not parse: {e}"));
                assert_eq!(again.profile, parsed.profile, "written and read back");
            }
        });
        assert!(
            replayed.is_ok(),
            "{}: the parser panicked (above)",
            input.display()
        );
        let seen = run_bounded(&["diff".as_ref(), input.as_os_str()], None);
        assert!(
            matches!(seen.code, Some(0 | 2)) && !seen.stderr.contains("panicked"),
            "{}: {:?} {}",
            input.display(),
            seen.code,
            seen.stderr
        );
        // Refused: one line, and nothing the profile chose acts on a
        // terminal or starts a line of its own.
        if seen.code == Some(2) {
            let said = seen.stderr.trim_end();
            assert!(
                !said.chars().any(char::is_control),
                "{}: the refusal is not one plain line: {said:?}",
                input.display()
            );
        }
    }
}
