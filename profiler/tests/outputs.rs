//! How results are written, as a user (and an attacker) sees it: a device
//! or FIFO given as an output is written to and stays what it is; a file is
//! replaced whole, with the mode the umask gives; the owner of the output's
//! directory cannot turn the write against another file; and two outputs
//! naming one file are refused before anything runs.
//!
//! Device nodes are only ever touched inside a private mount namespace with
//! its own tmpfs on /dev: a failure here cannot replace the host's
//! /dev/null.

use std::{
    fs,
    io::Read,
    os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use crate::common::*;

/// A valid profile that allows everything.
const ALLOW_ALL: &str = r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#;

/// Runs `script` with sh in a private mount namespace whose /dev is a fresh
/// tmpfs holding null, zero and the stdio links, with `SP` set to the
/// binary under test.
fn in_private_dev(script: &str) -> Output {
    let setup = "set -e
        mount -t tmpfs tmpfs /dev
        mknod -m 666 /dev/null c 1 3
        mknod -m 666 /dev/zero c 1 5
        ln -s /proc/self/fd /dev/fd
        ln -s /proc/self/fd/0 /dev/stdin
        ln -s /proc/self/fd/1 /dev/stdout
        ln -s /proc/self/fd/2 /dev/stderr
        set +e
        ";
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup}{script}"))
        .env("SP", profiler())
        .stdin(Stdio::null())
        .output()
        .expect("unshare (util-linux) runs the namespace tests: install it")
}

#[test]
fn device_outputs_are_written_to_not_replaced() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    fs::write(&policy, ALLOW_ALL).unwrap();
    let deny_uname = dir.path().join("deny-uname.json");
    fs::write(
        &deny_uname,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    // After each command: its exit status and what /dev/null is now.
    let script = format!(
        r#"
        T={dir}; P={policy}; D={deny}
        after() {{ echo "$1: status $2, $(stat -c %F /dev/null), $(stat -c %t:%T /dev/null)"; }}
        $SP record -q -o /dev/null -- /bin/true; after "record -o" $?
        $SP record -q -o $T/p.json --stats /dev/null -- /bin/true; after "record --stats" $?
        $SP merge -o /dev/null $P $P; after "merge -o" $?
        $SP check -q --policy $P --observed $P --junit /dev/null --json /dev/zero; after "check --junit" $?
        $SP check -q --policy $P --observed $P --json /dev/null; after "check --json" $?
        $SP check -q --policy $P --save-observed /dev/null -- /bin/true; after "check --save-observed" $?
        $SP enforce -q --suggest /dev/null --profile $D -- uname 2>$T/enforce.err; after "enforce --suggest" $?
        "#,
        dir = dir.path().display(),
        policy = policy.display(),
        deny = deny_uname.display(),
    );
    let output = in_private_dev(&script);
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = [
        ("record -o", 0),
        ("record --stats", 0),
        ("merge -o", 0),
        ("check --junit", 0),
        ("check --json", 0),
        ("check --save-observed", 0),
        // uname fails under the profile, which denies its syscall.
        ("enforce --suggest", 1),
    ]
    .map(|(what, status)| format!("{what}: status {status}, character special file, 1:3"));
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        expected,
        "{}",
        stderr(&output)
    );
    // The suggestion really was made (and went to /dev/null).
    let enforce_err = fs::read_to_string(dir.path().join("enforce.err")).unwrap();
    assert!(
        enforce_err.contains("a profile allowing them is in /dev/null"),
        "{enforce_err}"
    );
    assert!(dir.path().join("p.json").is_file());
    // Nothing else was left in the directory.
    assert_eq!(
        dir_entries(dir.path()),
        ["deny-uname.json", "enforce.err", "p.json", "policy.json"]
            .map(String::from)
            .into()
    );
}

#[test]
fn dev_stdout_is_standard_output_whatever_it_is() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"
        T={dir}
        $SP record -q -o /dev/stdout -- /bin/true | cat > $T/piped.json; echo "pipe: $?"
        $SP record -q -o /dev/stdout -- /bin/true > $T/redirected.json; echo "file: $?"
        $SP record -q -o $T/p.json --stats /dev/stdout -- /bin/true > $T/stats.json; echo "stats: $?"
        echo "/dev/stdout: $(stat -c %F /dev/stdout) to $(readlink /dev/stdout)"
        "#,
        dir = dir.path().display()
    );
    let output = in_private_dev(&script);
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        [
            "pipe: 0",
            "file: 0",
            "stats: 0",
            "/dev/stdout: symbolic link to /proc/self/fd/1"
        ],
        "{}",
        stderr(&output)
    );
    for name in ["piped.json", "redirected.json"] {
        let text = fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(allowed_names(&text).contains("execve"), "{name}: {text}");
    }
    let stats: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("stats.json")).unwrap()).unwrap();
    assert!(stats.is_object(), "{stats}");
}

/// Opens `fifo` for reading on a thread (a writer's open waits for it) and
/// returns what was written.
fn read_fifo(fifo: PathBuf) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        fs::File::open(&fifo)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .expect("read the FIFO");
        bytes
    })
}

#[test]
fn a_fifo_gets_the_bytes_and_stays_a_fifo() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (profile, stats) = (
        dir.path().join("profile.fifo"),
        dir.path().join("stats.fifo"),
    );
    mkfifo(&profile);
    mkfifo(&stats);
    let readers = (read_fifo(profile.clone()), read_fifo(stats.clone()));
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--stats".as_ref(),
        stats.as_os_str(),
        "--".as_ref(),
        "/bin/true".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let profile_text = String::from_utf8(readers.0.join().unwrap()).unwrap();
    assert!(
        allowed_names(&profile_text).contains("execve"),
        "{profile_text}"
    );
    let stats_text = String::from_utf8(readers.1.join().unwrap()).unwrap();
    serde_json::from_str::<serde_json::Value>(&stats_text).unwrap();
    for fifo in [&profile, &stats] {
        assert!(fs::symlink_metadata(fifo).unwrap().file_type().is_fifo());
    }
    // merge (no recording) writes to a FIFO the same way.
    let input = dir.path().join("in.json");
    fs::write(&input, ALLOW_ALL).unwrap();
    let reader = read_fifo(profile.clone());
    let output = run([
        "merge".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        input.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let merged = String::from_utf8(reader.join().unwrap()).unwrap();
    assert!(merged.contains("SCMP_ACT_ALLOW"), "{merged}");
    assert!(
        fs::symlink_metadata(&profile)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

/// The owner of the output's directory swaps every temporary name it sees
/// for a link to a root-only file, and plants links at the final names, all
/// through a 2-second recording: the root-only file is untouched, and the
/// profile and stats are regular files with the recording in them.
#[test]
fn the_directory_owner_cannot_redirect_the_write() {
    require_root();
    let base = tempfile::tempdir().unwrap();
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let secret = base.path().join("secret");
    fs::write(&secret, "root only\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let shared = base.path().join("nobodys");
    fs::create_dir(&shared).unwrap();
    let status = Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(&shared)
        .status()
        .unwrap();
    assert!(status.success(), "chown to nobody");
    let attack = r#"
        ln -s ../secret profile.json; ln -s ../secret stats.json
        while :; do
            for f in .syscall-profile-*; do
                [ -L "$f" ] && continue
                [ -e "$f" ] || continue
                rm -f -- "$f" && ln -s ../secret "$f" && echo "$f" >> swapped.log
            done
        done"#;
    // Killed when this test ends, however it ends.
    struct Attacker(std::process::Child);
    impl Drop for Attacker {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let attacker = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            attack,
        ])
        .current_dir(&shared)
        .spawn()
        .expect("setpriv (util-linux) runs the attacker as nobody");
    let attacker = Attacker(attacker);
    assert!(
        wait_for(Duration::from_secs(5), || shared
            .join("stats.json")
            .is_symlink()),
        "the attacker started"
    );
    let (profile, stats) = (shared.join("profile.json"), shared.join("stats.json"));
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--stats".as_ref(),
        stats.as_os_str(),
        "--".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        "sleep 2".as_ref(),
    ]);
    drop(attacker);
    assert!(output.status.success(), "{}", stderr(&output));
    let meta = fs::metadata(&secret).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o600,
        "the secret's mode"
    );
    assert_eq!(meta.uid(), 0);
    assert_eq!(fs::read_to_string(&secret).unwrap(), "root only\n");
    for path in [&profile, &stats] {
        let meta = fs::symlink_metadata(path).unwrap();
        assert!(
            meta.is_file(),
            "{} is a {:?}",
            path.display(),
            meta.file_type()
        );
    }
    let text = fs::read_to_string(&profile).unwrap();
    assert!(allowed_names(&text).contains("execve"), "{text}");
    // How often the attacker got at a name (the window is microseconds
    // wide: usually never).
    let swaps = fs::read_to_string(shared.join("swapped.log")).unwrap_or_default();
    eprintln!("names swapped by the attacker: {}", swaps.lines().count());
}

fn mode_under_umask(umask: &str, args: &[&std::ffi::OsStr], file: &Path) -> u32 {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(profiler())
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    fs::metadata(file).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_mode_follows_the_umask() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (profile, stats) = (dir.path().join("p.json"), dir.path().join("s.json"));
    let merged = dir.path().join("m.json");
    let input = dir.path().join("in.json");
    fs::write(&input, ALLOW_ALL).unwrap();
    for (umask, mode) in [("077", 0o600), ("022", 0o644), ("027", 0o640)] {
        let record = [
            "record".as_ref(),
            "-q".as_ref(),
            "-o".as_ref(),
            profile.as_os_str(),
            "--stats".as_ref(),
            stats.as_os_str(),
            "--".as_ref(),
            "/bin/true".as_ref(),
        ];
        assert_eq!(
            mode_under_umask(umask, &record, &profile),
            mode,
            "umask {umask}"
        );
        assert_eq!(
            fs::metadata(&stats).unwrap().permissions().mode() & 0o777,
            mode
        );
        let merge = [
            "merge".as_ref(),
            "-o".as_ref(),
            merged.as_os_str(),
            input.as_os_str(),
        ];
        assert_eq!(
            mode_under_umask(umask, &merge, &merged),
            mode,
            "umask {umask}"
        );
    }
}

/// Runs `args` and checks it was refused with one line containing `says`,
/// with `code`, before its command could leave `marker`.
fn assert_refused(args: &[&std::ffi::OsStr], code: i32, says: &str, marker: &Path) {
    let output = run(args);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {text}");
    assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
    assert!(
        text.starts_with("syscall-profile: error: ") && text.contains(says),
        "{args:?}: {text}"
    );
    assert!(!marker.exists(), "{args:?} ran its command");
}

#[test]
fn one_file_for_two_outputs_is_refused_before_anything_runs() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let leave_marker = format!("echo ran > {}", marker.display());
    let x = dir.path().join("x.json");
    let same_x = dir.path().join(".").join("x.json");
    let policy = dir.path().join("policy.json");
    fs::write(&policy, ALLOW_ALL).unwrap();
    let record = |o: &Path, stats: &Path| {
        [
            "record".into(),
            "-q".into(),
            "-o".into(),
            o.as_os_str().to_owned(),
            "--stats".into(),
            stats.as_os_str().to_owned(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            leave_marker.clone().into(),
        ]
    };
    let says = format!("-o and --stats both write to {}", x.display());
    for stats in [&x, &same_x] {
        let args = record(&x, stats);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        assert_refused(&args, 125, &says, &marker);
        assert!(!x.exists(), "nothing written");
    }
    // Two names of one existing file.
    fs::write(&x, "old\n").unwrap();
    let link = dir.path().join("link.json");
    fs::hard_link(&x, &link).unwrap();
    let args = record(&x, &link);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    assert_refused(&args, 125, &says, &marker);
    assert_eq!(fs::read_to_string(&x).unwrap(), "old\n");
    // The stats on standard output, where the profile goes without -o.
    let output = run(["record", "-q", "--stats", "-", "--", "true"]);
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("-o and --stats both write to -"),
        "{}",
        stderr(&output)
    );

    // check: its report files and the saved observation.
    let y = dir.path().join("y.json");
    for (first, second) in [
        ("--junit", "--json"),
        ("--json", "--save-observed"),
        ("--junit", "--save-observed"),
    ] {
        let args: Vec<&std::ffi::OsStr> = vec![
            "check".as_ref(),
            "--policy".as_ref(),
            policy.as_os_str(),
            first.as_ref(),
            y.as_os_str(),
            second.as_ref(),
            y.as_os_str(),
            "--".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            leave_marker.as_ref(),
        ];
        let says = format!("{first} and {second} both write to {}", y.display());
        assert_refused(&args, 2, &says, &marker);
        assert!(!y.exists());
    }
}

#[test]
fn unwritable_outputs_are_refused_before_anything_runs() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let leave_marker = format!("echo ran > {}", marker.display());
    let record_to = |o: &Path| {
        [
            "record".into(),
            "-q".into(),
            "-o".into(),
            o.as_os_str().to_owned(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            std::ffi::OsString::from(&leave_marker),
        ]
    };
    let missing = dir.path().join("missing/p.json");
    let cases = [
        (
            missing.clone(),
            format!(
                "directory {} does not exist",
                dir.path().join("missing").display()
            ),
        ),
        (
            dir.path().to_owned(),
            "it is a directory; give a file name".to_owned(),
        ),
    ];
    for (path, says) in cases {
        let args = record_to(&path);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        assert_refused(&args, 125, &says, &marker);
    }

    // A read-only filesystem, mounted in a private namespace only.
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    let script = format!(
        "mount -t tmpfs -o ro tmpfs {ro} && $SP record -q -o {ro}/p.json -- sh -c '{leave}'; echo \"status $?\"",
        ro = ro.display(),
        leave = leave_marker
    );
    let output = in_private_dev(&script);
    assert_eq!(stdout(&output).trim(), "status 125", "{}", stderr(&output));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(&format!("{} is on a read-only filesystem", ro.display())),
        "{text}"
    );
    assert!(!marker.exists());

    // A directory the user cannot write to (merge, which needs no root,
    // run as nobody).
    let closed = dir.path().join("closed");
    fs::create_dir(&closed).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let input = dir.path().join("in.json");
    fs::write(&input, ALLOW_ALL).unwrap();
    fs::set_permissions(&input, fs::Permissions::from_mode(0o644)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(profiler())
        .args(["merge", "-o"])
        .arg(closed.join("m.json"))
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).trim_end(),
        format!(
            "syscall-profile: error: cannot write {}: directory {} is not writable (permission \
             denied)",
            closed.join("m.json").display(),
            closed.display()
        )
    );
}
