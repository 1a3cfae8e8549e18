//! Complain mode (`export --complain`, `record --complain`), judged by the
//! consumers and the kernel: the workload runs a call its profile would
//! refuse, under Docker, systemd (booted in nspawn) and runc, and the
//! kernel logs that call (an audit record of type 1326 with SCMP_ACT_LOG's
//! code, read from /dev/kmsg, where the kernel writes it when no auditd
//! runs, from the test's start on); the same profile exported without
//! `--complain` refuses it. The Kubernetes resource validates against the
//! operator's CRD schema.

use std::{
    fs,
    io::{ErrorKind, Read, Seek, SeekFrom},
    path::Path,
    time::Duration,
};

use serde_json::{Value, json};

use crate::common::*;
use crate::export::{
    boot_unit_with, bundle, crd_schema, hierarchies, need, only_declared_keys, run_bundle,
    verify_drop_in, write_profile,
};

/// SCMP_ACT_LOG, as the kernel's audit record gives it (`code=`).
const LOG_CODE: &str = "0x7ffc0000";

/// The last line an export in complain mode says.
const SAID: &str = "syscall-profile: complain mode: this profile refuses nothing and does not \
                    enforce: ";

/// The kernel log's records are rate-limited (printk's 10 every 5 s) for
/// the whole host: the tests that wait for one run one at a time.
static KERNEL_LOG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The kernel log (/dev/kmsg) from the moment it was opened on.
struct KernelLog {
    file: fs::File,
    records: Vec<String>,
}

impl KernelLog {
    fn from_now() -> KernelLog {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .expect("open /dev/kmsg (these tests need root)");
        // Past the last record: only what is written from now on is read.
        file.seek(SeekFrom::End(0)).expect("seek /dev/kmsg");
        KernelLog {
            file,
            records: Vec::new(),
        }
    }

    /// Reads the records written since the last read (one a read, as
    /// `PRIORITY,SEQ,USEC,-;TEXT`).
    fn read(&mut self) {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match self.file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    // Continuation lines (` KEY=value`) follow the record.
                    let first = text.lines().next().unwrap_or_default();
                    self.records.push(first.to_owned());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // A record overwritten before it was read: the next read
                // goes on from the oldest one left.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) => panic!("read /dev/kmsg: {e}"),
            }
        }
    }

    /// The SCMP_ACT_LOG record (audit type 1326) of one of the syscalls
    /// `nrs` made by a process named `comm`, waiting for it up to 3 s
    /// (kauditd writes it a moment after the call).
    fn logged(&mut self, comm: &str, nrs: &[i64]) -> Option<String> {
        let wanted = [
            "type=1326".to_owned(),
            format!("comm=\"{comm}\""),
            format!("code={LOG_CODE}"),
        ];
        let syscalls: Vec<String> = nrs.iter().map(|nr| format!("syscall={nr}")).collect();
        let mut found = None;
        wait_for(Duration::from_secs(3), || {
            self.read();
            found = self
                .records
                .iter()
                .find(|record| {
                    let words: Vec<&str> = record.split_whitespace().collect();
                    record.contains(";audit: ")
                        && wanted.iter().all(|w| words.contains(&w.as_str()))
                        && syscalls.iter().any(|s| words.contains(&s.as_str()))
                })
                .cloned();
            found.is_some()
        });
        found
    }
}

/// Runs `attempt` (a workload that makes one of the syscalls `nrs` as
/// `comm` under a complain profile; it checks its own output) until the
/// kernel has logged that call since the attempt started; the record.
/// Tried a few times, 5 s apart: the host's other records may have used up
/// printk's rate limit, which drops a record without a trace.
fn logged_by_the_kernel(comm: &str, nrs: &[i64], mut attempt: impl FnMut()) -> String {
    let mut seen = Vec::new();
    for round in 0..4 {
        if round > 0 {
            std::thread::sleep(Duration::from_secs(5));
        }
        let mut log = KernelLog::from_now();
        attempt();
        if let Some(record) = log.logged(comm, nrs) {
            return record;
        }
        seen.append(&mut log.records);
    }
    panic!(
        "the kernel logged no SCMP_ACT_LOG record of syscall {nrs:?} by {comm} in 4 runs; its \
         log meanwhile:\n{}",
        seen.join("\n")
    );
}

/// `syscall-profile export --to FORMAT [--complain] PROFILE -o OUTPUT`,
/// which must succeed; what it said.
fn export(format: &str, complain: bool, profile: &Path, output: &Path) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["export".as_ref(), "--to".as_ref(), format.as_ref()];
    if complain {
        args.push("--complain".as_ref());
    }
    args.extend([profile.as_os_str(), "-o".as_ref(), output.as_os_str()]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stderr(&out)
}

/// The last line `said`, which in complain mode says so.
fn assert_said_complain(said: &str, what: &str) {
    let last = said.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "syscall-profile: complain mode: this {what} refuses nothing and does not enforce"
        )),
        "{said}"
    );
}

/// A profile recorded with `record`'s defaults from `docker run IMAGE call
/// sysinfo` lacks getcpu. Exported `--to docker --complain`, Docker runs
/// `call sysinfo getcpu` under it: both calls succeed, and the kernel logs
/// the getcpu of the container's process with SCMP_ACT_LOG's code. The same
/// profile exported without `--complain` refuses getcpu with EPERM.
#[test]
fn docker_runs_what_the_complain_profile_would_refuse_and_the_kernel_logs_it() {
    require_root();
    let _kernel_log = one_at_a_time(&KERNEL_LOG);
    let dir = tempfile::tempdir().unwrap();
    let learned = dir.path().join("learned.json");
    let mut args = vec![
        "record".to_owned(),
        "-q".into(),
        "-o".into(),
        learned.display().to_string(),
        "--".into(),
    ];
    args.extend(docker_run(&[TEST_IMAGE, "call", "sysinfo"]));
    let recorded = run(&args);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let names = allowed_names(&fs::read_to_string(&learned).unwrap());
    assert!(
        names.contains("sysinfo") && !names.contains("getcpu"),
        "{names:?}"
    );

    let complain = dir.path().join("complain.json");
    let said = export("docker", true, &learned, &complain);
    assert_said_complain(&said, "profile");
    assert!(said.contains(SAID), "{said}");
    let written: Value = serde_json::from_str(&fs::read_to_string(&complain).unwrap()).unwrap();
    assert_eq!(written["defaultAction"], "SCMP_ACT_LOG", "{written}");
    assert!(written.get("defaultErrnoRet").is_none(), "{written}");
    let rules = written["syscalls"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .all(|r| r["action"] == "SCMP_ACT_ALLOW" || r["action"] == "SCMP_ACT_LOG"),
        "{written}"
    );
    assert!(
        rules[0]["comment"]
            .as_str()
            .unwrap()
            .starts_with("[complain mode: refuses nothing; "),
        "{written}"
    );
    let enforcing = dir.path().join("enforcing.json");
    export("docker", false, &learned, &enforcing);

    let words = docker_run(&[TEST_IMAGE, "call", "sysinfo", "getcpu"]);
    // The control: enforced, getcpu is refused by the profile.
    let refused = run_words(&under_profile(&words, &enforcing));
    assert_eq!(
        stdout(&refused).trim(),
        "sysinfo=ok getcpu=errno:1",
        "{}",
        stderr(&refused)
    );
    let record = logged_by_the_kernel("call", &[libc::SYS_getcpu], || {
        let ran = run_words(&under_profile(&words, &complain));
        assert_eq!(
            stdout(&ran).trim(),
            "sysinfo=ok getcpu=ok",
            "{}",
            stderr(&ran)
        );
    });
    // The image's program (the host has none at that path).
    assert!(record.contains(" exe=\"/bin/call\" "), "{record}");
}

/// The drop-in `export --to systemd --complain` writes: systemd booted in
/// nspawn runs a unit under it that makes a call its profile lacks (getcpu),
/// which succeeds and is logged by the kernel (`SystemCallLog=`); the
/// enforcing drop-in of the same profile refuses it. systemd-analyze reads
/// the drop-in without a complaint.
#[test]
fn systemd_runs_what_the_complain_drop_in_would_refuse_and_the_kernel_logs_it() {
    require_root();
    let _kernel_log = one_at_a_time(&KERNEL_LOG);
    let _hierarchies = hierarchies();
    need("systemd-nspawn", "systemd-container");
    let dir = tempfile::tempdir().unwrap();
    let (units, out) = (dir.path().join("units"), dir.path().join("out"));
    fs::create_dir_all(units.join("spx-export.service.d")).unwrap();
    fs::create_dir_all(&out).unwrap();
    // The container's root is a tmpfs with the host's /usr: the program
    // runs from /out.
    let program = out.join("call");
    fs::copy(sample("call"), &program).unwrap();
    fs::write(
        units.join("spx-export.service"),
        "[Unit]\nDescription=complain test\nDefaultDependencies=no\nSuccessAction=exit-force\n\
         FailureAction=exit-force\n[Service]\nType=oneshot\nStandardOutput=file:/out/verdicts\n\
         StandardError=file:/out/err\nExecStart=/out/call sysinfo getcpu\n",
    )
    .unwrap();
    let learned = dir.path().join("learned.json");
    let recorded = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        program.as_os_str(),
        "sysinfo".as_ref(),
    ]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let names = allowed_names(&fs::read_to_string(&learned).unwrap());
    assert!(!names.contains("getcpu"), "{names:?}");

    let drop_in_path = units.join("spx-export.service.d/seccomp.conf");
    let said = export("systemd", true, &learned, &drop_in_path);
    assert_said_complain(&said, "drop-in");
    let drop_in = fs::read_to_string(&drop_in_path).unwrap();
    let settings: Vec<&str> = drop_in.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        settings[..2],
        ["[Service]", "SystemCallLog=~@default"],
        "{drop_in}"
    );
    assert!(
        settings[2..]
            .iter()
            .all(|l| l.starts_with("SystemCallLog=~"))
            && settings
                .iter()
                .any(|l| l.split(' ').any(|w| w.ends_with("sysinfo")))
            && !drop_in.contains("getcpu"),
        "{drop_in}"
    );
    assert!(
        drop_in.starts_with("# A complain-mode seccomp drop-in"),
        "{drop_in}"
    );
    assert_eq!(verify_drop_in(&dir.path().join("verify"), &drop_in), "");

    let verdicts = out.join("verdicts");
    let boot = |expected: &str| {
        let _ = fs::remove_file(&verdicts);
        let booted = boot_unit_with(dir.path(), &units, &out, &[]);
        assert_eq!(
            fs::read_to_string(&verdicts).unwrap_or_default().trim(),
            expected,
            "{}{}{}",
            stdout(&booted),
            stderr(&booted),
            fs::read_to_string(out.join("err")).unwrap_or_default()
        );
    };
    let record = logged_by_the_kernel("call", &[libc::SYS_getcpu], || {
        boot("sysinfo=ok getcpu=ok");
    });
    assert!(record.contains(" exe=\"/out/call\" "), "{record}");

    // The control: the enforcing drop-in of the same profile.
    export("systemd", false, &learned, &drop_in_path);
    boot("sysinfo=ok getcpu=errno:1");
}

/// `export --to oci --bundle DIR --complain`: runc runs the bundle's
/// mkdir, which the profile never saw, and the kernel logs it; the bundle's
/// `config.json` carries the complain annotation, which an export without
/// `--complain` removes, and its mkdir is refused again.
#[test]
fn runc_runs_a_complain_bundle_and_the_kernel_logs_what_it_would_refuse() {
    require_root();
    let _kernel_log = one_at_a_time(&KERNEL_LOG);
    let _hierarchies = hierarchies();
    need("runc", "runc");
    let dir = tempfile::tempdir().unwrap();
    let learned = dir.path().join("learned.json");
    let recorded = run([
        "record",
        "-q",
        "-o",
        learned.to_str().unwrap(),
        "--",
        "/usr/bin/busybox",
        "sh",
        "-c",
        "echo allowed",
    ]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let names = allowed_names(&fs::read_to_string(&learned).unwrap());
    assert!(!names.contains("mkdir") && !names.contains("mkdirat"));
    let bundle = bundle(dir.path());
    let into_bundle = |complain: bool| {
        let mut args = vec!["export", "--to", "oci", "--bundle"];
        args.push(bundle.to_str().unwrap());
        if complain {
            args.push("--complain");
        }
        args.push(learned.to_str().unwrap());
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let config: Value =
            serde_json::from_str(&fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
        (stderr(&out), config)
    };
    let (said, config) = into_bundle(true);
    assert_said_complain(&said, "profile");
    assert_eq!(
        config["annotations"],
        json!({"io.syscall-profile.mode": "complain"})
    );
    assert_eq!(config["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_LOG");

    let made = bundle.join("rootfs/made");
    // mkdir(2) or mkdirat(2), whichever the C library makes, by busybox's
    // mkdir (a process of that name).
    let mut round = 0;
    logged_by_the_kernel("mkdir", &[libc::SYS_mkdir, libc::SYS_mkdirat], || {
        let _ = fs::remove_dir(&made);
        round += 1;
        let id = format!("spx-complain-{round}-{}", std::process::id());
        let out = run_bundle("runc", dir.path(), &bundle, &id);
        assert_eq!(stdout(&out).trim(), "allowed", "{}", stderr(&out));
        assert!(made.is_dir(), "{}", stderr(&out));
    });

    // Exported again without --complain: the mark goes, mkdir is refused.
    fs::remove_dir(&made).unwrap();
    let (said, config) = into_bundle(false);
    assert!(!said.contains("complain"), "{said}");
    assert!(config.get("annotations").is_none(), "{config}");
    assert_eq!(
        config["linux"]["seccomp"]["defaultAction"],
        "SCMP_ACT_ERRNO"
    );
    let id = format!("spx-complain-control-{}", std::process::id());
    let out = run_bundle("runc", dir.path(), &bundle, &id);
    assert!(
        stderr(&out).contains("can't create directory '/made': Operation not permitted"),
        "{}",
        stderr(&out)
    );
    assert!(!made.exists());
}

/// `export --to kubernetes --complain` of a profile refusing with every
/// action: a resource the CRD schema accepts, whose every refusal is
/// SCMP_ACT_LOG, annotated and commented as complain mode.
#[test]
fn kubernetes_complain_resource_validates_against_the_crd_schema() {
    let schema = crd_schema();
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    let dir = tempfile::tempdir().unwrap();
    let refusals = [
        json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}),
        json!({"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"}),
        json!({"names": ["kexec_load"], "action": "SCMP_ACT_KILL_THREAD"}),
        json!({"names": ["acct"], "action": "SCMP_ACT_KILL"}),
        json!({"names": ["swapon"], "action": "SCMP_ACT_TRAP"}),
        json!({"names": ["reboot"], "action": "SCMP_ACT_TRACE", "errnoRet": 1}),
    ];
    let mut rules = vec![json!({"names": ["read", "write", "exit_group"],
        "action": "SCMP_ACT_ALLOW", "comment": "[learned in a container]"})];
    rules.push(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}));
    rules.extend(refusals.iter().cloned());
    let profile = write_profile(
        dir.path(),
        "p.json",
        &json!({"defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": rules}),
    );
    let yaml = dir.path().join("p.yaml");
    let said = export("kubernetes", true, &profile, &yaml);
    assert_said_complain(&said, "profile");
    let text = fs::read_to_string(&yaml).unwrap();
    assert!(text.starts_with("# Complain mode "), "{text}");
    let resource: Value = serde_norway::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&resource)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    only_declared_keys(&resource, &schema, "");
    assert_eq!(
        resource["metadata"]["annotations"],
        json!({"syscall-profile.io/mode": "complain"})
    );
    let spec = &resource["spec"];
    assert_eq!(spec["defaultAction"], "SCMP_ACT_LOG");
    let written = spec["syscalls"].as_array().unwrap();
    assert_eq!(written.len(), 2 + refusals.len(), "{text}");
    assert_eq!(written[1]["args"][0]["value"], 1, "{text}");
    for rule in &written[2..] {
        assert_eq!(rule["action"], "SCMP_ACT_LOG", "{text}");
        assert!(rule.get("errnoRet").is_none(), "{text}");
    }
    // Without --complain: the profile's own actions, no mark.
    let said = export("kubernetes", false, &profile, &yaml);
    assert!(!said.contains("complain"), "{said}");
    let text = fs::read_to_string(&yaml).unwrap();
    let resource: Value = serde_norway::from_str(&text).unwrap();
    assert!(!text.contains("omplain"), "{text}");
    assert_eq!(resource["spec"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(resource["spec"]["syscalls"][2]["errnoRet"], 13);
}

/// `record --complain` writes Docker's JSON in complain mode (without
/// `--to`), and `record --to systemd --complain` the complain drop-in; the
/// summary says so. `check` and `diff` of a complain profile still work,
/// and warn that it enforces nothing.
#[test]
fn record_complain_and_what_reads_a_complain_profile() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let call = sample("call");
    let record = |extra: &[&str], output: &Path| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["record".as_ref(), "-o".as_ref()];
        args.push(output.as_os_str());
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        args.extend(["--".as_ref(), call.as_os_str(), "sysinfo".as_ref()]);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let profile = dir.path().join("complain.json");
    let said = record(&["--complain"], &profile);
    let summary = said.lines().last().unwrap_or_default();
    assert!(
        summary.ends_with(&format!(
            "; complain-mode profile (it refuses nothing, it logs) written to {}",
            profile.display()
        )),
        "{said}"
    );
    assert!(said.contains(SAID), "{said}");
    let written: Value = serde_json::from_str(&fs::read_to_string(&profile).unwrap()).unwrap();
    assert_eq!(written["defaultAction"], "SCMP_ACT_LOG");
    assert!(
        written["syscalls"][0]["comment"]
            .as_str()
            .unwrap()
            .starts_with("[complain mode: "),
        "{written}"
    );
    // Nothing added for a container: the JSON `record` writes, in
    // complain mode.
    assert!(!said.contains("runc and crun"), "{said}");

    let drop_in = dir.path().join("seccomp.conf");
    let said = record(&["--to", "systemd", "--complain"], &drop_in);
    assert!(
        said.contains("complain-mode profile (it refuses nothing"),
        "{said}"
    );
    let text = fs::read_to_string(&drop_in).unwrap();
    assert!(
        text.contains("\nSystemCallLog=~@default\n") && !text.contains("SystemCallFilter="),
        "{text}"
    );

    let warned = "defaultAction is SCMP_ACT_LOG: every call outside the profile's rules runs \
                  and is only logged (complain mode); the profile enforces nothing";
    let observed = dir.path().join("observed.json");
    record(&[], &observed);
    let checked = run([
        "check".as_ref(),
        "--policy".as_ref(),
        profile.as_os_str(),
        "--observed".as_ref(),
        observed.as_os_str(),
    ]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    assert!(stderr(&checked).contains(warned), "{}", stderr(&checked));
    let diffed = run(["diff".as_ref(), observed.as_os_str(), profile.as_os_str()]);
    assert_eq!(diffed.status.code(), Some(0), "{}", stderr(&diffed));
    assert!(stderr(&diffed).contains(warned), "{}", stderr(&diffed));
}
