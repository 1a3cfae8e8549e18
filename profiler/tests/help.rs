//! The help follows the conventions: `-h` is one line per option, every
//! line under 100 columns; `--help` keeps the long text and ends with
//! examples and the exit statuses; a subcommand that runs a command shows
//! it after `--` in its usage; `--version` names the commit and the eBPF
//! object the binary embeds, by its SHA-256.

use std::process::Output;

use sha2::{Digest, Sha256};

use crate::common::{profiler, run, stderr, stdout};

/// Every subcommand a user is shown (the guardian is internal).
const SUBCOMMANDS: [&str; 10] = [
    "record", "enforce", "diff", "merge", "check", "scan", "export", "learn", "agent", "doctor",
];

fn help(subcommand: Option<&str>, flag: &str) -> String {
    let output: Output = run(subcommand.into_iter().chain([flag]));
    assert!(output.status.success(), "{flag}: {}", stderr(&output));
    stdout(&output)
}

#[test]
fn short_help_is_a_line_per_option_under_100_columns() {
    for subcommand in std::iter::once(None).chain(SUBCOMMANDS.map(Some)) {
        let text = help(subcommand, "-h");
        for line in text.lines() {
            assert!(
                line.chars().count() < 100,
                "{subcommand:?} -h: a line of {} columns: {line:?}",
                line.chars().count()
            );
        }
        // Under `Options:` (and `Commands:`), every line is an entry of its
        // own: none is continued on the next line.
        for section in ["\nOptions:\n", "\nCommands:\n"] {
            let Some(entries) = text.split(section).nth(1) else {
                continue;
            };
            for line in entries.lines().take_while(|l| !l.is_empty()) {
                assert!(
                    line.starts_with("  -")
                        || line.starts_with("      --")
                        || (section.contains("Commands")
                            && line.starts_with("  ")
                            && !line.starts_with("   ")),
                    "{subcommand:?} -h: {line:?} continues an entry:\n{text}"
                );
            }
        }
    }
}

#[test]
fn long_help_ends_with_examples_and_the_exit_status() {
    for subcommand in SUBCOMMANDS {
        let text = help(Some(subcommand), "--help");
        let paragraphs: Vec<&str> = text.trim_end().split("\n\n").collect();
        let last = paragraphs.last().expect("a paragraph");
        assert!(
            last.starts_with("Exit status"),
            "{subcommand} --help ends with {last:?}"
        );
        let examples = paragraphs[paragraphs.len() - 2];
        assert!(
            examples.starts_with("Examples:\n  syscall-profile "),
            "{subcommand} --help: {examples:?} before the exit status"
        );
        assert!(
            examples
                .lines()
                .skip(1)
                .all(|l| l.starts_with(&format!("  syscall-profile {subcommand}"))),
            "{subcommand}'s examples run it: {examples}"
        );
    }
    // The long text stays in --help: the paragraphs after each first line.
    assert!(help(Some("record"), "--help").contains("the kernel logs each call outside"));
}

#[test]
fn usage_shows_the_command_after_a_double_dash() {
    let usage = |subcommand: &str| {
        help(Some(subcommand), "-h")
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    // Required for enforce; optional where --attach or --observed stands
    // in for it.
    assert!(
        usage("enforce").ends_with(" -- <CMD>..."),
        "{}",
        usage("enforce")
    );
    for optional in ["record", "check"] {
        assert!(
            usage(optional).ends_with(" [-- <CMD>...]"),
            "{}",
            usage(optional)
        );
    }
    // A command given without `--` is refused, naming the usage.
    let output = run(["enforce", "--profile", "p.json", "/bin/true"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("-- <CMD>..."),
        "{}",
        stderr(&output)
    );
}

/// `syscall-profile X.Y.Z (commit C, eBPF object sha256 H)`: H is the
/// digest of the object build.rs built, and that object is in the binary.
#[test]
fn version_names_the_commit_and_the_embedded_ebpf_object() {
    let output = run(["--version"]);
    assert!(output.status.success());
    let line = stdout(&output);
    let line = line.trim();
    let rest = line
        .strip_prefix(&format!(
            "syscall-profile {} (commit ",
            env!("CARGO_PKG_VERSION")
        ))
        .unwrap_or_else(|| panic!("{line:?}"));
    let (commit, rest) = rest.split_once(", eBPF object sha256 ").expect(line);
    let digest = rest.strip_suffix(')').expect(line);
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    let object = std::fs::read(concat!(env!("OUT_DIR"), "/profiler.bpf.o"))
        .expect("the eBPF object build.rs built");
    let expected: String = Sha256::digest(&object)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, expected, "{line}");
    let binary = std::fs::read(profiler()).expect("read the binary");
    let head = &object[..64];
    let embedded = binary
        .windows(head.len())
        .enumerate()
        .filter(|(_, w)| *w == head)
        .any(|(at, _)| binary.get(at..at + object.len()) == Some(&object[..]));
    assert!(
        embedded,
        "the object of that digest is the one in the binary"
    );
    // Where git is here, the commit is the tree's (the suite builds first).
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(git) = git
        && git.status.success()
    {
        assert_eq!(
            commit,
            String::from_utf8_lossy(&git.stdout).trim(),
            "{line}"
        );
    }
}
