//! The release tarball (`cargo xtask dist`): what it holds, that its binary
//! needs nothing of the host (an empty environment, an empty
//! `LD_LIBRARY_PATH`, `ldd`'s verdict), and that it records in a foreign
//! userland: a root holding only busybox (and `/proc`, `/sys` and
//! `/dev/null` mounted), entered with `chroot` in a mount namespace of its
//! own (so no mount outlives the test, even on failure).
//!
//! `cargo xtask test` builds the tarball once and names it in
//! `SYSCALL_PROFILE_TEST_DIST_TARBALL`.
//!
//! From source: the binaries `cargo install --path profiler` and `cargo
//! install --git URL syscall-profile` gave (`xtask/src/install.rs`, roots
//! named in `SYSCALL_PROFILE_TEST_INSTALLED`) say the commit they were
//! built from, and record and enforce.

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::common::{allowed_names, require_root, stderr, stdout};

const TARBALL_VAR: &str = "SYSCALL_PROFILE_TEST_DIST_TARBALL";
const INSTALLED_VAR: &str = "SYSCALL_PROFILE_TEST_INSTALLED";

/// The visible subcommands, each with its own man page.
const SUBCOMMANDS: [&str; 9] = [
    "record", "enforce", "diff", "merge", "check", "scan", "export", "learn", "agent",
];

fn tarball() -> PathBuf {
    let path = std::env::var_os(TARBALL_VAR).unwrap_or_else(|| {
        panic!(
            "{TARBALL_VAR} is not set: these tests check the release tarball that `cargo xtask \
             test` builds with `cargo xtask dist` (run them through it: `cargo xtask test -- \
             dist::`)"
        )
    });
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{} does not exist", path.display());
    path
}

/// The tarball's name less `.tar.gz`: the directory it holds.
fn stem(tarball: &Path) -> String {
    let name = tarball.file_name().unwrap().to_string_lossy();
    name.strip_suffix(".tar.gz")
        .expect("the tarball's name ends with .tar.gz")
        .to_owned()
}

/// The tarball unpacked into a temporary directory; the directory it
/// holds is returned beside the guard.
fn unpack() -> (tempfile::TempDir, PathBuf) {
    let tarball = tarball();
    let dir = tempfile::tempdir().unwrap();
    succeeds(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(dir.path()),
    );
    let top = dir.path().join(stem(&tarball));
    assert!(top.is_dir(), "the tarball holds no {}", top.display());
    (dir, top)
}

fn succeeds(cmd: &mut Command) -> Output {
    let output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    output
}

#[test]
fn the_tarball_holds_a_static_binary_completions_man_pages_and_licences() {
    let tarball = tarball();
    let stem = stem(&tarball);
    assert!(
        stem.starts_with("syscall-profile-") && stem.ends_with("-x86_64-unknown-linux-gnu-static"),
        "{stem}"
    );
    // The checksum file checks, from the directory both are in.
    let checked = succeeds(
        Command::new("sha256sum")
            .current_dir(tarball.parent().unwrap())
            .arg("-c")
            .arg(format!("{stem}.tar.gz.sha256")),
    );
    assert!(stdout(&checked).contains(": OK"), "{}", stdout(&checked));

    let listing = stdout(&succeeds(Command::new("tar").arg("-tzf").arg(&tarball)));
    let listed = |file: &str| listing.lines().any(|l| l == format!("{stem}/{file}"));
    let mut expected: Vec<String> = [
        "syscall-profile",
        "README.md",
        "LICENSE-APACHE",
        "LICENSE-MIT",
        "completions/syscall-profile.bash",
        "completions/_syscall-profile",
        "completions/syscall-profile.fish",
        "man/man1/syscall-profile.1",
    ]
    .map(str::to_owned)
    .into();
    expected.extend(SUBCOMMANDS.map(|s| format!("man/man1/syscall-profile-{s}.1")));
    for file in &expected {
        assert!(listed(file), "the tarball lacks {file}:\n{listing}");
    }
    assert!(!listing.contains("guardian"), "{listing}");

    let (_dir, top) = unpack();
    let binary = top.join("syscall-profile");
    // The name says the version the binary says.
    let version = stdout(&succeeds(Command::new(&binary).arg("--version")));
    let version = version
        .trim()
        .strip_prefix("syscall-profile ")
        .and_then(|v| v.split_whitespace().next())
        .unwrap();
    assert!(
        stem.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')),
        "the tarball's name is not a plain file name: {stem}"
    );
    assert!(
        stem.starts_with(&format!("syscall-profile-{version}-")),
        "{stem}"
    );

    // ldd exits 1 on a static binary, and says so.
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    let said = format!("{}{}", stdout(&ldd), stderr(&ldd));
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd: {said}"
    );

    // The bash completion parses, and completes a subcommand.
    let bash = top.join("completions/syscall-profile.bash");
    succeeds(Command::new("bash").arg("-n").arg(&bash));
    // Completed as bash calls it: the function `complete -p` names, with
    // the command, the word and the one before it.
    let completed = succeeds(Command::new("bash").arg("-c").arg(format!(
        "source '{}'; fn=$(complete -p syscall-profile | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
         COMP_WORDS=(syscall-profile rec); COMP_CWORD=1; \
         \"$fn\" syscall-profile rec syscall-profile; echo \"${{COMPREPLY[@]}}\"",
        bash.display()
    )));
    assert_eq!(
        stdout(&completed).trim(),
        "record",
        "{}",
        stderr(&completed)
    );
    // zsh's and fish's parse too, each by its own shell, and fish
    // completes the subcommand.
    succeeds(
        Command::new("zsh")
            .arg("-n")
            .arg(top.join("completions/_syscall-profile")),
    );
    let fish = top.join("completions/syscall-profile.fish");
    succeeds(Command::new("fish").arg("--no-execute").arg(&fish));
    let completed = succeeds(Command::new("fish").arg("-c").arg(format!(
        "source '{}'; complete --do-complete 'syscall-profile rec'",
        fish.display()
    )));
    assert!(
        stdout(&completed).lines().any(|l| l.starts_with("record")),
        "{}{}",
        stdout(&completed),
        stderr(&completed)
    );
    for shell in [
        "syscall-profile.bash",
        "_syscall-profile",
        "syscall-profile.fish",
    ] {
        let text = fs::read_to_string(top.join("completions").join(shell)).unwrap();
        assert!(
            !text.contains("__guardian") && !text.contains("__dist-assets"),
            "{shell}"
        );
    }
    // Each man page is one, for its command.
    for sub in SUBCOMMANDS {
        let page =
            fs::read_to_string(top.join(format!("man/man1/syscall-profile-{sub}.1"))).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH"),
            "{sub}: {page}"
        );
        assert!(
            page.contains(&format!("syscall\\-profile\\-{sub}")),
            "{sub}"
        );
    }
    let readme = fs::read_to_string(top.join("README.md")).unwrap();
    assert!(readme.contains(version) && !readme.contains("{VERSION}"));
}

#[test]
fn the_binary_records_and_enforces_with_an_empty_environment() {
    require_root();
    let (_dir, top) = unpack();
    let binary = top.join("syscall-profile");
    let empty = tempfile::tempdir().unwrap();
    let profile = empty.path().join("true.json");
    let libs = empty.path().join("no-libraries");
    fs::create_dir(&libs).unwrap();
    let bare = |args: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(&binary);
        cmd.args(args)
            .env_clear()
            .env("LD_LIBRARY_PATH", &libs)
            .current_dir(empty.path());
        cmd
    };
    let recorded = succeeds(&mut bare(&[
        "record".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--".as_ref(),
        "/bin/true".as_ref(),
    ]));
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(
        names.contains("exit_group"),
        "{names:?}\n{}",
        stderr(&recorded)
    );
    succeeds(&mut bare(&[
        "enforce".as_ref(),
        "--profile".as_ref(),
        profile.as_os_str(),
        "--".as_ref(),
        "/bin/true".as_ref(),
    ]));
}

/// `words` as the `&str`s a command takes.
fn as_strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

/// The promise for the tarball alone: its binary, with only
/// `PATH` (for the engine's CLI) and the test's `DOCKER_HOST` in its
/// environment, says through `doctor` that this host can record and
/// enforce; then records, enforces and checks a native command and a
/// Docker container. The oracles: the kernel's verdict under the profile
/// (the container's `getcpu` allowed, `sysinfo`, never recorded, refused
/// with EPERM by Docker), and `check`'s exit status.
#[test]
fn the_tarball_alone_records_enforces_and_checks_native_and_docker() {
    require_root();
    let (_dir, top) = unpack();
    let binary = top.join("syscall-profile");
    let work = tempfile::tempdir().unwrap();
    let host = crate::common::docker_host();
    let tool = |args: &[&str]| {
        let mut cmd = Command::new(&binary);
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("DOCKER_HOST", &host)
            .current_dir(work.path());
        cmd.output().unwrap()
    };
    let doctor = tool(&["doctor"]);
    assert_eq!(
        doctor.status.code(),
        Some(0),
        "{}{}",
        stdout(&doctor),
        stderr(&doctor)
    );
    assert!(stdout(&doctor).contains("ready"), "{}", stdout(&doctor));
    // A native command.
    let native = ["--", "/bin/true"];
    let recorded = tool(&[&["record", "-q", "-o", "native.json"][..], &native[..]].concat());
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let enforced = tool(
        &[
            &["enforce", "-q", "--profile", "native.json"][..],
            &native[..],
        ]
        .concat(),
    );
    assert!(enforced.status.success(), "{}", stderr(&enforced));
    let checked = tool(&[&["check", "-q", "--policy", "native.json"][..], &native[..]].concat());
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    // A Docker container.
    let run = |calls: &[&str]| -> Vec<String> {
        let mut words: Vec<String> = ["--", "docker", "run", "--rm", "--network", "none"]
            .map(str::to_owned)
            .to_vec();
        words.push(crate::common::TEST_IMAGE.to_owned());
        words.push("call".to_owned());
        words.extend(calls.iter().map(|c| (*c).to_owned()));
        words
    };
    let words = |head: &[&str], calls: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = head.iter().map(|w| (*w).to_owned()).collect();
        all.extend(run(calls));
        all
    };
    let record_words = words(&["record", "-q", "-o", "container.json"], &["getcpu"]);
    let recorded = tool(&as_strs(&record_words));
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let enforce_words = words(
        &["enforce", "-q", "--profile", "container.json"],
        &["getcpu", "sysinfo"],
    );
    let enforced = tool(&as_strs(&enforce_words));
    assert_eq!(
        stdout(&enforced).trim(),
        "getcpu=ok sysinfo=errno:1",
        "{}",
        stderr(&enforced)
    );
    let check_words = words(&["check", "-q", "--policy", "container.json"], &["getcpu"]);
    let checked = tool(&as_strs(&check_words));
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
}

/// `cargo install --path profiler` and `cargo install --git URL
/// syscall-profile` (this clone at its HEAD) each give a binary that names
/// the commit, holds a real eBPF object, and records and enforces a native
/// command: the kernel's verdict under the recorded profile allows the
/// call that was made and refuses, with EPERM, the one that was not.
#[test]
fn cargo_install_from_the_path_and_from_git_records_and_enforces() {
    require_root();
    let roots = PathBuf::from(std::env::var_os(INSTALLED_VAR).unwrap_or_else(|| {
        panic!(
            "{INSTALLED_VAR} is not set: this test runs the binaries `cargo xtask test` installs \
             with cargo install (run it through it: `cargo xtask test -- dist::`)"
        )
    }));
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = stdout(&head).trim().to_owned();
    assert!(!head.is_empty(), "no commit in this clone");
    let call = crate::common::sample("call");
    for how in ["path", "git"] {
        let binary = roots.join(how).join("bin/syscall-profile");
        assert!(binary.is_file(), "{how}: no {}", binary.display());
        let version = stdout(&succeeds(Command::new(&binary).arg("--version")));
        assert!(
            version.starts_with(&format!(
                "syscall-profile {} (commit {head}, eBPF object sha256 ",
                env!("CARGO_PKG_VERSION")
            )),
            "{how}: {version}"
        );
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("call.json");
        let recorded = succeeds(
            Command::new(&binary)
                .args(["record", "-q", "-o"])
                .arg(&profile)
                .arg("--")
                .arg(&call)
                .arg("getcpu"),
        );
        let names = allowed_names(&fs::read_to_string(&profile).unwrap());
        assert!(
            names.contains("getcpu") && !names.contains("sysinfo"),
            "{how}: {names:?}\n{}",
            stderr(&recorded)
        );
        let enforced = Command::new(&binary)
            .args(["enforce", "-q", "--profile"])
            .arg(&profile)
            .arg("--")
            .arg(&call)
            .args(["getcpu", "sysinfo"])
            .output()
            .unwrap();
        assert_eq!(
            stdout(&enforced).trim(),
            "getcpu=ok sysinfo=errno:1",
            "{how}: {}",
            stderr(&enforced)
        );
    }
}

#[test]
fn the_binary_records_in_a_busybox_only_root() {
    require_root();
    let (_dir, top) = unpack();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for dir in ["bin", "proc", "sys", "tmp", "dev"] {
        fs::create_dir(r.join(dir)).unwrap();
    }
    // The one device the tool needs: its helpers' standard streams.
    fs::write(r.join("dev/null"), "").unwrap();
    fs::copy("/bin/busybox", r.join("bin/busybox"))
        .expect("/bin/busybox (Debian's busybox-static; `cargo xtask setup` installs it)");
    let applets = stdout(&succeeds(Command::new("/bin/busybox").arg("--list")));
    for applet in applets.lines().filter(|a| *a != "busybox") {
        symlink("busybox", r.join("bin").join(applet)).unwrap();
    }
    fs::copy(top.join("syscall-profile"), r.join("bin/syscall-profile")).unwrap();
    // Nothing of the host's userland: no libc, no loader, no /etc.
    assert!(!r.join("lib").exists() && !r.join("etc").exists());

    // The mounts live in the namespace unshare makes; it ends with its
    // last process, whatever the test does next.
    let output = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-euc",
        ])
        .arg(
            "mount -t proc proc \"$1/proc\"; mount --rbind /sys \"$1/sys\"; \
             mount --bind /dev/null \"$1/dev/null\"; \
             exec chroot \"$1\" /bin/syscall-profile record -o /tmp/out.json -- /bin/busybox ls /",
        )
        .arg("sh")
        .arg(r)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let mounted = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounted.contains(&*r.to_string_lossy()),
        "a mount of the test's root is left in the host's namespace:\n{mounted}"
    );
    assert!(
        output.status.success(),
        "record in the busybox root failed ({}):\n{}{}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    // busybox ls listed the root's own entries.
    assert!(stdout(&output).contains("bin"), "{}", stdout(&output));
    let profile = fs::read_to_string(r.join("tmp/out.json")).unwrap();
    let names = allowed_names(&profile);
    assert!(names.contains("getdents64"), "{names:?}");
}
