//! `scan` against an independent oracle: real programs not written here run
//! a small realistic workload under `strace -f`, and every syscall strace
//! saw their code make must be in the set `scan` says they can reach.
//!
//! strace's lines are attributed to the program whose code made them: a
//! process runs its parent's program until its own successful execve, so
//! what a child does after exec'ing another program (git's helpers, a
//! shell) is not counted against the program under test. Objects the
//! program opened at run time with dlopen (a documented limit of the
//! static analysis) are found in the same trace and passed to `scan
//! --dlopen`, and the test prints them.
//!
//! Each test also prints the precision: observed, reachable, and Docker's
//! default allow-list (292 syscalls on x86-64). These tests need strace and
//! the programs; they fail naming whichever is missing.

use crate::common;
use crate::common::reachable;
use std::{
    collections::{BTreeSet, HashMap},
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{stdout, wait_for};

const DOCKER_DEFAULT_X86_64: usize = 292;

fn require(path: &str, package: &str) -> PathBuf {
    let p = Path::new(path);
    assert!(
        p.exists(),
        "{path} is missing: install Debian's {package} package (apt-get install {package})"
    );
    // Not canonicalised: redis-server is a link to redis-check-rdb, and
    // picks its mode from argv[0].
    p.to_owned()
}

fn strace_bin() -> PathBuf {
    for p in ["/usr/bin/strace", "/bin/strace"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("strace is missing: install Debian's strace package (apt-get install strace)");
}

/// What one strace log says `program`'s code did, and the shared objects
/// opened by processes running it.
#[derive(Default)]
struct Observed {
    syscalls: BTreeSet<String>,
    opened_objects: BTreeSet<PathBuf>,
}

fn parse_trace(log: &str, program: &Path, observed: &mut Observed) {
    let program = fs::canonicalize(program).unwrap_or_else(|_| program.to_owned());
    let mut parent: HashMap<u32, u32> = HashMap::new();
    // Pass 1: who forked whom.
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(' ').map(|(p, r)| (p, r.trim_start())) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let name = call_name(rest);
        if matches!(name.as_deref(), Some("clone" | "clone3" | "fork" | "vfork"))
            && let Some((_, ret)) = rest.rsplit_once(") = ")
            && let Ok(child) = ret.split_whitespace().next().unwrap_or("").parse::<u32>()
        {
            parent.insert(child, pid);
        }
    }
    // Pass 2: attribute each call to the program its process runs.
    let mut running: HashMap<u32, Option<PathBuf>> = HashMap::new();
    let mut pending_exec: HashMap<u32, PathBuf> = HashMap::new();
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(' ').map(|(p, r)| (p, r.trim_start())) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let Some(name) = call_name(rest) else {
            continue;
        };
        if !running.contains_key(&pid) {
            let inherited = parent
                .get(&pid)
                .and_then(|p| running.get(p).cloned())
                .flatten();
            running.insert(pid, inherited);
        }
        let current = running.get(&pid).cloned().flatten();
        if current.as_deref() == Some(program.as_path()) {
            observed.syscalls.insert(name.clone());
            if matches!(name.as_str(), "openat" | "open")
                && let Some(path) = rest.split('"').nth(1)
                && is_shared_object(path)
                && !rest.contains("= -1")
            {
                observed.opened_objects.insert(PathBuf::from(path));
            }
        }
        if name == "execve" {
            if let Some(path) = rest
                .split('"')
                .nth(1)
                .filter(|_| rest.starts_with("execve("))
            {
                pending_exec.insert(pid, PathBuf::from(path));
            }
            if (rest.contains(") = 0") || rest.ends_with("= 0"))
                && let Some(path) = pending_exec.remove(&pid)
            {
                let real = fs::canonicalize(&path).unwrap_or(path);
                running.insert(pid, Some(real));
            }
        }
    }
}

/// Whether `path` names a shared object (an ELF file called `*.so*`).
fn is_shared_object(path: &str) -> bool {
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    name.is_some_and(|n| n.ends_with(".so") || n.contains(".so."))
        && fs::read(path).is_ok_and(|b| b.starts_with(b"\x7fELF"))
}

/// The syscall a strace line is about (`name(` or `<... name resumed>`).
/// strace writes `<... ??? resumed>` for a call whose entry it did not see
/// (a thread it attached to mid-call): that names no syscall.
fn call_name(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let name = if let Some(r) = rest.strip_prefix("<... ") {
        r.split_whitespace().next()?
    } else if rest.starts_with("---") || rest.starts_with("+++") {
        return None;
    } else {
        &rest[..rest.find('(')?]
    };
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

/// Runs `args` under strace in `dir`, and adds what `program` did.
fn trace(dir: &Path, program: &Path, args: &[&str], observed: &mut Observed) {
    let log = dir.join(format!(
        "strace-{}.log",
        observed.syscalls.len() + 1000 * args.len()
    ));
    let status = Command::new(strace_bin())
        .args(["-f", "-qq", "-e", "trace=all", "-o"])
        .arg(&log)
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_PAGER", "cat")
        .env("PAGER", "cat")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("strace runs");
    let text = fs::read_to_string(&log).expect("strace wrote its log");
    assert!(
        text.lines().count() > 5,
        "strace logged almost nothing for {} {args:?} (status {status})",
        program.display()
    );
    parse_trace(&text, program, observed);
}

/// `scan --json` of `program`, with the objects it dlopen'ed.
fn scan(program: &Path, observed: &Observed) -> serde_json::Value {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan-cache");
    let mut command = Command::new(common::profiler());
    command
        .env("XDG_CACHE_HOME", &cache)
        .args(["scan", "--json"]);
    let started = Instant::now();
    // The objects a first scan loads are not plugins; the others are.
    let first = run_scan(command.arg(program));
    let loaded: BTreeSet<PathBuf> = objects(&first)
        .into_iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect();
    let plugins: Vec<PathBuf> = observed
        .opened_objects
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .filter(|p| !loaded.contains(p))
        .collect();
    if plugins.is_empty() {
        eprintln!("{}: scanned in {:?}", program.display(), started.elapsed());
        return first;
    }
    eprintln!(
        "{}: loads with dlopen (passed to scan --dlopen): {plugins:?}",
        program.display()
    );
    let mut command = Command::new(common::profiler());
    command
        .env("XDG_CACHE_HOME", &cache)
        .args(["scan", "--json"]);
    for p in &plugins {
        command.arg("--dlopen").arg(p);
    }
    run_scan(command.arg(program))
}

fn run_scan(command: &mut Command) -> serde_json::Value {
    let out = command.output().expect("syscall-profile runs");
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("scan --json prints JSON")
}

fn objects(result: &serde_json::Value) -> Vec<String> {
    result["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The oracle's check, and the precision line: the reachable set.
fn check(program: &Path, observed: &Observed) -> BTreeSet<String> {
    let result = scan(program, observed);
    let reachable: BTreeSet<String> = result["syscalls"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let unresolved = result["unresolved"].as_array().map_or(0, Vec::len);
    let missed: Vec<&String> = observed.syscalls.difference(&reachable).collect();
    eprintln!(
        "precision {}: observed {}, reachable {}, Docker's default {}; {} unresolved sites; \
         {} objects; scan {} ms",
        program.display(),
        observed.syscalls.len(),
        reachable.len(),
        DOCKER_DEFAULT_X86_64,
        unresolved,
        objects(&result).len(),
        result["elapsed_ms"]
    );
    assert!(
        observed.syscalls.len() >= 10,
        "the workload of {} made only {:?}: the trace attribution is broken",
        program.display(),
        observed.syscalls
    );
    assert!(
        missed.is_empty(),
        "{} made {missed:?} (seen by strace) that scan does not count as reachable",
        program.display()
    );
    reachable
}

/// [`check`], for small programs that make fewer syscalls.
fn check_at_least(program: &Path, observed: &Observed, floor: usize) {
    let result = scan(program, observed);
    let reachable: BTreeSet<String> = result["syscalls"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert!(observed.syscalls.len() >= floor, "{:?}", observed.syscalls);
    let missed: Vec<&String> = observed.syscalls.difference(&reachable).collect();
    assert!(
        missed.is_empty(),
        "{} made {missed:?} (seen by strace) that scan does not count as reachable",
        program.display()
    );
}

fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The oracle's parse: a call, a resumed call, and what names no syscall.
#[test]
fn strace_lines_name_their_syscall_or_none() {
    assert_eq!(
        call_name("openat(AT_FDCWD, \"x\", O_RDONLY) = 3").as_deref(),
        Some("openat")
    );
    assert_eq!(
        call_name("<... futex resumed>) = 0").as_deref(),
        Some("futex")
    );
    assert_eq!(call_name("<... ??? resumed>) = 0"), None);
    assert_eq!(call_name("--- SIGCHLD {si_signo=SIGCHLD} ---"), None);
    assert_eq!(call_name("+++ exited with 0 +++"), None);
}

#[test]
fn ls_coreutils() {
    let program = require("/bin/ls", "coreutils");
    let dir = workdir();
    fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
    fs::write(dir.path().join("a/b/f"), "x").expect("write");
    let mut observed = Observed::default();
    trace(
        dir.path(),
        &program,
        &["-laR", "--color=always", "."],
        &mut observed,
    );
    trace(
        dir.path(),
        &program,
        &["-l", "/usr/bin", "/nonexistent"],
        &mut observed,
    );
    let reachable = check(&program, &observed);
    reachable::assert_within(
        "/bin/ls",
        reachable.iter().map(String::as_str),
        reachable::LS,
        reachable::TOLERANCE,
    );
}

#[test]
fn more_coreutils() {
    let dir = workdir();
    fs::write(dir.path().join("in"), "b\na\nc\n").expect("write");
    for (program, args) in [
        ("/bin/cat", vec!["in"]),
        ("/bin/cp", vec!["-a", "in", "out"]),
        ("/usr/bin/sort", vec!["-r", "in"]),
        ("/usr/bin/stat", vec!["in", "/"]),
        ("/bin/date", vec!["-u", "+%s"]),
        ("/bin/mkdir", vec!["-p", "x/y/z"]),
    ] {
        let program = require(program, "coreutils");
        let mut observed = Observed::default();
        trace(dir.path(), &program, &args, &mut observed);
        check_at_least(&program, &observed, 5);
    }
}

/// The pids of the processes whose parent is `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|child| {
                    fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                        stat.rsplit_once(") ")
                            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                            .is_some_and(|ppid| ppid == pid.to_string())
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn nginx_server() {
    let program = require("/usr/sbin/nginx", "nginx");
    let dir = workdir();
    let prefix = dir.path();
    fs::create_dir_all(prefix.join("logs")).expect("mkdir logs");
    fs::create_dir_all(prefix.join("html")).expect("mkdir html");
    fs::write(prefix.join("html/index.html"), "hello\n").expect("write page");
    // A loopback port of its own (0 is not allowed in `listen`).
    let port = 20000 + std::process::id() % 20000;
    let conf = prefix.join("nginx.conf");
    fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\n\
             error_log {0}/logs/error.log;\npid {0}/nginx.pid;\n\
             events {{ worker_connections 16; }}\n\
             http {{ access_log {0}/logs/access.log;\n\
             client_body_temp_path {0}/tmp; proxy_temp_path {0}/tmp;\n\
             fastcgi_temp_path {0}/tmp; uwsgi_temp_path {0}/tmp; scgi_temp_path {0}/tmp;\n\
             server {{ listen 127.0.0.1:{1}; root {0}/html; }} }}\n",
            prefix.display(),
            port
        ),
    )
    .expect("write nginx.conf");
    let log = prefix.join("strace-nginx.log");
    let mut server = Command::new(strace_bin())
        .args(["-f", "-qq", "-e", "trace=all", "-o"])
        .arg(&log)
        .arg(&program)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace nginx starts");
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let fetch = |path: &str| -> Option<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        Some(reply)
    };
    while fetch("/").is_none() {
        assert!(
            Instant::now() < deadline,
            "nginx did not answer on {address}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for path in ["/", "/index.html", "/missing"] {
        assert!(fetch(path).is_some(), "GET {path}");
    }
    let master: u32 = fs::read_to_string(prefix.join("nginx.pid"))
        .expect("nginx's pid file")
        .trim()
        .parse()
        .expect("a pid in nginx's pid file");
    let workers = children(master);
    assert!(!workers.is_empty(), "nginx's master {master} has no worker");
    // A reload, then a graceful stop, as an operator does.
    let reload = Command::new(&program)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .args(["-s", "reload"])
        .status()
        .expect("nginx -s reload runs");
    assert!(reload.success());
    // The reload is done once the master's workers are all new ones.
    assert!(
        wait_for(Duration::from_secs(60), || {
            let now = children(master);
            !now.is_empty() && now.iter().all(|w| !workers.contains(w))
        }),
        "nginx did not replace its workers {workers:?} after the reload: {:?}",
        children(master)
    );
    assert!(fetch("/").is_some(), "GET / after the reload");
    let quit = Command::new(&program)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .args(["-s", "quit"])
        .status()
        .expect("nginx -s quit runs");
    assert!(quit.success());
    let status = server.wait().expect("nginx ends");
    assert!(status.success(), "strace nginx: {status}");
    let mut observed = Observed::default();
    parse_trace(
        &fs::read_to_string(&log).expect("strace log"),
        &program,
        &mut observed,
    );
    check(&program, &observed);
}

#[test]
fn git() {
    let program = require("/usr/bin/git", "git");
    let dir = workdir();
    let mut observed = Observed::default();
    let id = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"];
    trace(dir.path(), &program, &["init", "-q", "repo"], &mut observed);
    fs::write(dir.path().join("repo/file"), "hello\n").expect("write");
    trace(
        dir.path(),
        &program,
        &["-C", "repo", "add", "file"],
        &mut observed,
    );
    let mut commit: Vec<&str> = vec!["-C", "repo"];
    commit.extend(id);
    commit.extend(["commit", "-q", "-m", "first"]);
    trace(dir.path(), &program, &commit, &mut observed);
    trace(
        dir.path(),
        &program,
        &["-C", "repo", "--no-pager", "log", "--stat"],
        &mut observed,
    );
    trace(
        dir.path(),
        &program,
        &["-C", "repo", "status", "--short"],
        &mut observed,
    );
    check(&program, &observed);
}

#[test]
fn python3() {
    let program = require("/usr/bin/python3", "python3");
    let dir = workdir();
    let mut observed = Observed::default();
    let code = "import os, json, hashlib, tempfile, subprocess\n\
                p = os.path.join(os.getcwd(), 'data.json')\n\
                json.dump({'a': [1, 2, 3]}, open(p, 'w'))\n\
                print(json.load(open(p)), hashlib.sha256(b'x').hexdigest())\n\
                print(sorted(os.listdir('.')), os.getpid())\n\
                with tempfile.TemporaryDirectory() as d: print(d)\n";
    trace(dir.path(), &program, &["-c", code], &mut observed);
    check(&program, &observed);
}

#[test]
fn perl() {
    let program = require("/usr/bin/perl", "perl");
    let dir = workdir();
    let mut observed = Observed::default();
    let code = "open(my $f, '>', 'out.txt') or die; print $f \"hello\\n\" x 3; close $f; \
                open($f, '<', 'out.txt') or die; my @l = <$f>; close $f; \
                opendir(my $d, '.') or die; my @e = readdir $d; closedir $d; \
                my @s = stat('out.txt'); rename('out.txt', 'o2.txt'); unlink 'o2.txt'; \
                my %h = map { $_ => length } @l; print scalar(@e), ' ', time, \"\\n\";";
    trace(dir.path(), &program, &["-e", code], &mut observed);
    check(&program, &observed);
}

#[test]
fn busybox_static() {
    let program = require("/bin/busybox", "busybox-static");
    let dir = workdir();
    let mut observed = Observed::default();
    trace(dir.path(), &program, &["ls", "-la", "/usr"], &mut observed);
    trace(
        dir.path(),
        &program,
        &[
            "sh",
            "-c",
            "echo hi > f; cat f; wc -l f; mkdir d; mv f d/g; rm -r d; date; sleep 0.1",
        ],
        &mut observed,
    );
    let reachable = check(&program, &observed);
    reachable::assert_within(
        "/bin/busybox",
        reachable.iter().map(String::as_str),
        reachable::BUSYBOX,
        reachable::TOLERANCE,
    );
}

#[test]
fn redis_server() {
    let program = require("/usr/bin/redis-server", "redis-server");
    let cli = require("/usr/bin/redis-cli", "redis-tools");
    let dir = workdir();
    let socket = dir.path().join("redis.sock");
    let log = dir.path().join("strace-redis.log");
    let mut server = Command::new(strace_bin())
        .args(["-f", "-qq", "-e", "trace=all", "-o"])
        .arg(&log)
        .arg(&program)
        .args([
            "--port",
            "0",
            "--save",
            "",
            "--appendonly",
            "no",
            "--unixsocket",
        ])
        .arg(&socket)
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for args in [
        vec!["ping"],
        vec!["set", "k", "v"],
        vec!["get", "k"],
        vec!["lpush", "l", "a", "b"],
        vec!["bgsave"],
        vec!["info"],
    ] {
        let out = Command::new(&cli)
            .arg("-s")
            .arg(&socket)
            .args(&args)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success(), "redis-cli {args:?} failed");
    }
    // The BGSAVE's child has written the snapshot and been reaped.
    let info = || {
        Command::new(&cli)
            .arg("-s")
            .arg(&socket)
            .args(["info", "persistence"])
            .output()
            .map(|o| stdout(&o))
            .unwrap_or_default()
    };
    assert!(
        wait_for(Duration::from_secs(60), || {
            let info = info();
            info.contains("rdb_bgsave_in_progress:0") && info.contains("rdb_last_bgsave_status:ok")
        }),
        "the BGSAVE did not finish: {}",
        info()
    );
    let _ = Command::new(&cli)
        .arg("-s")
        .arg(&socket)
        .args(["shutdown", "nosave"])
        .output();
    let status = server.wait().expect("redis-server ends");
    // SHUTDOWN ends the server with status 0 (strace returns its status).
    assert_eq!(status.code(), Some(0), "strace redis-server: {status}");
    let mut observed = Observed::default();
    parse_trace(
        &fs::read_to_string(&log).expect("strace log"),
        &program,
        &mut observed,
    );
    check(&program, &observed);
}

#[test]
fn runc_go() {
    let program = if Path::new("/usr/sbin/runc").exists() {
        require("/usr/sbin/runc", "runc")
    } else {
        require("/usr/bin/runc", "runc")
    };
    let dir = workdir();
    let mut observed = Observed::default();
    trace(dir.path(), &program, &["--version"], &mut observed);
    trace(dir.path(), &program, &["spec"], &mut observed);
    trace(
        dir.path(),
        &program,
        &["--root", "state", "list"],
        &mut observed,
    );
    trace(
        dir.path(),
        &program,
        &["--root", "state", "state", "none"],
        &mut observed,
    );
    check(&program, &observed);
}

/// A C program built here: `syscall(3)` with a constant number is resolved
/// at its call site (kcmp, which nothing in libc makes by itself), and with
/// a number computed at run time is named as an unresolved site of the
/// program; a static build finds the same through the inlined wrapper.
#[test]
fn syscall_wrapper_resolved_at_the_call_site() {
    let dir = workdir();
    let source = dir.path().join("w.c");
    fs::write(
        &source,
        "#define _GNU_SOURCE\n#include <unistd.h>\n#include <stdlib.h>\n#include <sys/syscall.h>\n\
         int main(int argc, char **argv) {\n\
           long r = syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0);\n\
           if (argc > 1) r += syscall(atol(argv[1]));\n\
           return r < -1000;\n}\n",
    )
    .expect("write the C source");
    for (name, flags) in [("dynamic", vec!["-O2"]), ("static", vec!["-O2", "-static"])] {
        let program = dir.path().join(name);
        let status = Command::new("cc")
            .args(&flags)
            .arg("-o")
            .arg(&program)
            .arg(&source)
            .status()
            .expect("cc is needed: install Debian's gcc package");
        assert!(status.success(), "cc {flags:?} failed");
        let mut observed = Observed::default();
        trace(dir.path(), &program, &["39"], &mut observed);
        assert!(
            observed.syscalls.contains("kcmp"),
            "strace saw {:?}",
            observed.syscalls
        );
        let result = scan(&program, &observed);
        let kcmp = &result["syscalls"]["kcmp"];
        assert!(kcmp.is_array(), "{name}: kcmp is not reachable");
        let unresolved = result["unresolved"].as_array().cloned().unwrap_or_default();
        let in_main = unresolved.iter().any(|s| {
            s["object"].as_str().is_some_and(|o| o.ends_with(name))
                && s["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("not a constant"))
        });
        assert!(
            in_main,
            "{name}: the call syscall(atol(argv[1])) is not reported: {unresolved:#?}"
        );
        check(&program, &observed);
    }
}

/// Compiles `source` (C) in `dir` with `cc FLAGS`, as `name`.
fn compile(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let file = dir.join(format!("{name}.c"));
    fs::write(&file, source).expect("write the C source");
    let program = dir.join(name);
    let out = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&program)
        .arg(&file)
        .output()
        .expect("cc is needed: install Debian's gcc and libc6-dev packages");
    assert!(
        out.status.success(),
        "cc {flags:?} {name}.c failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    program
}

/// The names of `scan --json`'s reachable syscalls.
fn reachable_names(result: &serde_json::Value) -> BTreeSet<String> {
    result["syscalls"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The syscalls of the two programs below: none of them is made by glibc's
/// startup, and each returns at once given zero arguments.
const OWN_SYSCALLS: &[&str] = &["kcmp", "getcpu", "setns", "getpgid"];

/// A static program with no libc (`-nostdlib`), whose `_start` makes a fixed
/// list of raw syscalls with the `syscall` instruction: the reachable set
/// is exactly that list, and strace sees the program make each of them.
#[test]
fn a_program_without_libc_reaches_exactly_its_own_syscalls() {
    let dir = workdir();
    let own: Vec<&str> = OWN_SYSCALLS
        .iter()
        .copied()
        .chain(["write", "getppid", "uname", "exit_group"])
        .collect();
    let calls: String = own
        .iter()
        .map(|name| {
            let nr = syscall_profile::profile::table::number_of(
                syscall_profile::profile::Arch::X86_64,
                name,
            )
            .expect("a syscall of x86-64");
            format!("    raw({nr}); /* {name} */\n")
        })
        .collect();
    let source = format!(
        "static long raw(long n) {{\n\
         \x20   long r;\n\
         \x20   __asm__ volatile (\"syscall\" : \"=a\"(r) : \"a\"(n), \"D\"(0L), \"S\"(0L), \
         \"d\"(0L) : \"rcx\", \"r11\", \"memory\");\n\
         \x20   return r;\n}}\n\
         void _start(void) {{\n{calls}    for (;;) {{}}\n}}\n"
    );
    let program = compile(
        dir.path(),
        "raw",
        &source,
        &["-O2", "-static", "-nostdlib", "-fno-stack-protector"],
    );
    let mut observed = Observed::default();
    trace(dir.path(), &program, &[], &mut observed);
    let made: BTreeSet<String> = own.iter().map(|s| (*s).to_owned()).collect();
    assert!(
        made.is_subset(&observed.syscalls),
        "strace saw {:?}",
        observed.syscalls
    );
    let result = scan(&program, &observed);
    assert_eq!(reachable_names(&result), made, "{result:#}");
    assert_eq!(result["unresolved"], serde_json::json!([]), "{result:#}");
}

/// A static glibc program whose `main` makes only raw `syscall()` calls of
/// a fixed list: it reaches that list (strace sees each) and at most what
/// the startup and exit of any static glibc program reach (the committed
/// list, which the scan of an empty `main` stays within), nothing more.
#[test]
fn a_static_glibc_program_reaches_its_own_syscalls_and_libc_s_startup_only() {
    let dir = workdir();
    let calls: String = OWN_SYSCALLS
        .iter()
        .map(|name| format!("    r += syscall(SYS_{name}, 0, 0, 0, 0, 0);\n"))
        .collect();
    let source = format!(
        "#define _GNU_SOURCE\n#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(void) {{\n    long r = 0;\n{calls}    return r == 12345;\n}}\n"
    );
    let program = compile(dir.path(), "listed", &source, &["-O2", "-static"]);
    let empty = compile(
        dir.path(),
        "empty",
        "int main(void) { return 0; }\n",
        &["-O2", "-static"],
    );
    let startup = reachable_names(&scan(&empty, &Observed::default()));
    reachable::assert_within(
        "an empty static glibc program",
        startup.iter().map(String::as_str),
        reachable::GLIBC_STATIC_STARTUP,
        reachable::TOLERANCE,
    );
    for name in OWN_SYSCALLS {
        assert!(!startup.contains(*name), "glibc's startup reaches {name}");
    }
    let mut observed = Observed::default();
    trace(dir.path(), &program, &[], &mut observed);
    let reachable = check(&program, &observed);
    for name in OWN_SYSCALLS {
        assert!(
            observed.syscalls.contains(*name),
            "strace saw {:?}",
            observed.syscalls
        );
    }
    let bound: Vec<&str> = reachable::GLIBC_STATIC_STARTUP
        .iter()
        .chain(OWN_SYSCALLS)
        .copied()
        .collect();
    reachable::assert_within(
        "a static glibc program of raw syscall() calls",
        reachable.iter().map(String::as_str),
        &bound,
        reachable::TOLERANCE,
    );
}

/// `scan --image`: a podman image (in a private store) holding this host's
/// `ls` with its libraries at other paths than the host's: the scan finds
/// the image's files, not the host's, and agrees with the host's scan of
/// the same bytes; a library missing from the image is named.
#[test]
fn image_filesystem() {
    let podman = require("/usr/bin/podman", "podman");
    let dir = workdir();
    let rootfs = dir.path().join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).expect("mkdir");
    fs::copy("/bin/ls", rootfs.join("bin/ls")).expect("copy ls");
    let ldd = Command::new("ldd")
        .arg("/bin/ls")
        .output()
        .expect("ldd runs");
    let libs: Vec<PathBuf> = String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect();
    assert!(libs.len() >= 2, "ldd /bin/ls: {libs:?}");
    // The libraries all in /lib64 (a default directory; the image has no
    // ld.so.cache), where the host has them in /lib/x86_64-linux-gnu;
    // libpcre2 left out.
    fs::create_dir_all(rootfs.join("lib64")).expect("mkdir");
    for lib in &libs {
        let name = lib.file_name().expect("a file name");
        if name.to_string_lossy().starts_with("libpcre2") {
            continue;
        }
        fs::copy(lib, rootfs.join("lib64").join(name)).expect("copy a library");
    }
    let store = dir.path().join("store");
    let conf = dir.path().join("storage.conf");
    fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}/graph\"\nrunroot = \"{}/run\"\n",
            store.display(),
            store.display()
        ),
    )
    .expect("write storage.conf");
    let archive = dir.path().join("rootfs.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&archive)
        .arg(".")
        .status()
        .expect("tar runs");
    assert!(tar.success());
    let import = Command::new(&podman)
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .args(["import", "-c", "ENV PATH=/bin", "-c", "ENTRYPOINT [\"ls\"]"])
        .arg(&archive)
        .arg("scan-test:1")
        .output()
        .expect("podman runs");
    assert!(
        import.status.success(),
        "podman import: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan-cache");
    let out = Command::new(common::profiler())
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .env("XDG_CACHE_HOME", &cache)
        .args([
            "scan",
            "--json",
            "--engine",
            "podman",
            "--image",
            "scan-test:1",
        ])
        .output()
        .expect("syscall-profile runs");
    let _ = Command::new(&podman)
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .args(["rmi", "-f", "scan-test:1"])
        .output();
    assert!(
        out.status.success(),
        "scan --image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inside: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let paths = objects(&inside);
    assert!(paths.contains(&"/bin/ls".to_owned()), "{paths:?}");
    assert!(
        paths.iter().skip(1).all(|p| p.starts_with("/lib64/")),
        "libraries not taken from the image: {paths:?}"
    );
    let missing = inside["missing_libraries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        missing
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.starts_with("libpcre2"))),
        "the missing libpcre2 is not named: {missing:?}"
    );
    // With libpcre2 left out the image's ls reaches a subset of the host's.
    let host = scan(Path::new("/bin/ls"), &Observed::default());
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v["syscalls"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (inside, host) = (keys(&inside), keys(&host));
    assert!(inside.is_subset(&host), "{inside:?} vs {host:?}");
    // Both sides bounded: at least what `ls /` is seen to make (strace),
    // at most what ls is known to reach.
    let mut observed = Observed::default();
    trace(dir.path(), Path::new("/bin/ls"), &["/"], &mut observed);
    assert!(observed.syscalls.len() >= 10, "{:?}", observed.syscalls);
    let missed: Vec<&String> = observed.syscalls.difference(&inside).collect();
    assert!(missed.is_empty(), "the image's ls misses {missed:?}");
    reachable::assert_within(
        "the image's /bin/ls",
        inside.iter().map(String::as_str),
        reachable::LS,
        reachable::TOLERANCE,
    );
}

/// PostgreSQL from Debian's packages, as its own user (it refuses root),
/// under pgbench's load, then a VACUUM and a fast shutdown.
#[test]
fn postgres_server() {
    let bin = fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| versions.flatten().map(|v| v.path().join("bin")).max())
        .filter(|bin| bin.join("postgres").is_file())
        .expect("PostgreSQL is needed: install Debian's postgresql (`cargo xtask setup` does)");
    let program = bin.join("postgres");
    let dir = workdir();
    let data = dir.path().join("data");
    let sock = dir.path().join("sock");
    fs::create_dir(&sock).expect("mkdir");
    let chown = Command::new("chown")
        .args(["-R", "postgres"])
        .arg(dir.path())
        .status()
        .expect("chown runs");
    assert!(chown.success());
    let as_postgres = |program: &Path, args: &[&str]| {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .output()
            .expect("runuser runs");
        assert!(
            out.status.success(),
            "{program:?} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let data_arg = data.to_string_lossy().into_owned();
    as_postgres(
        &bin.join("initdb"),
        &["-D", &data_arg, "-A", "trust", "-U", "postgres"],
    );
    let port = (5900 + std::process::id() % 500).to_string();
    let log = dir.path().join("strace-postgres.log");
    let mut server = Command::new(strace_bin())
        .args(["-f", "-qq", "-e", "trace=all", "-u", "postgres", "-o"])
        .arg(&log)
        .arg(&program)
        .args(["-D", &data_arg, "-k"])
        .arg(&sock)
        .args(["-c", "listen_addresses=", "-p", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace postgres starts");
    assert!(
        common::postgres_accepts(&bin, &sock, &port, Duration::from_secs(30)),
        "postgres did not start accepting connections"
    );
    let sock_arg = sock.to_string_lossy().into_owned();
    as_postgres(
        Path::new("pgbench"),
        &["-h", &sock_arg, "-p", &port, "-i", "-s", "1", "postgres"],
    );
    as_postgres(
        Path::new("pgbench"),
        &["-h", &sock_arg, "-p", &port, "-n", "-t", "50", "postgres"],
    );
    as_postgres(
        Path::new("psql"),
        &[
            "-h",
            &sock_arg,
            "-p",
            &port,
            "-c",
            "VACUUM VERBOSE",
            "postgres",
        ],
    );
    as_postgres(
        &bin.join("pg_ctl"),
        &["-D", &data_arg, "stop", "-m", "fast"],
    );
    let status = server.wait().expect("postgres ends");
    assert!(status.success(), "strace postgres: {status}");
    let mut observed = Observed::default();
    parse_trace(
        &fs::read_to_string(&log).expect("strace log"),
        &program,
        &mut observed,
    );
    check(&program, &observed);
}
