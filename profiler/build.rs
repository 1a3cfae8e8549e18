//! Builds the kernel side (`profiler-ebpf`) so that `cargo build`, `cargo test`
//! and `cargo clippy` of this crate just work, and embeds the object.
//!
//! Why it is built this way, and not with `aya-build` and `-Z build-std`:
//! the machines this project runs on have no `rust-src` component, so `core`
//! cannot be built for `bpfel-unknown-none`. Instead the eBPF crate is
//! compiled by the stable compiler for the *host* target as LLVM bitcode
//! (`-C linker-plugin-lto`), and `bpf-linker`, standing in as the linker,
//! retargets that bitcode (the crate's and the prebuilt `core`'s) to BPF.
//!
//! - rustc hands its linker arguments a BPF linker does not take (`-flavor`,
//!   `-L`, `-z`, ...), so the linker is a small generated wrapper that keeps
//!   the inputs and `-o`, and passes bpf-linker the symbols to keep: the
//!   programs, maps and globals, which are exactly the undefined symbols of
//!   rustc's `symbols.o`.
//! - `--target` is given explicitly so that these flags stay off build
//!   scripts and proc-macros, which must still run on the host.
//! - `-C debuginfo=2` with `--btf` gives the object BTF, which the kernel
//!   uses to check the program and to print readable verifier logs.
//! - The nested build has its own target directory under `OUT_DIR`: sharing
//!   the outer one would deadlock on its lock.
//!
//! bpf-linker links the LLVM of the toolchain that built it, so it is found in
//! a cache keyed by the toolchain version (`cargo xtask setup` puts it there),
//! or through `BPF_LINKER`, or on `PATH`.
//!
//! Without it (`build/plan.rs` decides): `cargo clippy` never needs it, and
//! embeds an empty placeholder object; so does a dev build (`cargo check`
//! cannot be told from `cargo build`), with a warning; a release (`cargo
//! install`, `cargo xtask dist`) stops with one line naming the fix. A
//! binary holding the placeholder refuses, in one line, every command that
//! would load the eBPF program (`session::ebpf`). `SYSCALL_PROFILE_EBPF`
//! asks for either explicitly (`placeholder`, `build`).

use std::{
    env,
    ffi::OsString,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use sha2::{Digest, Sha256};

#[path = "build/plan.rs"]
mod plan;

use plan::{Facts, Plan};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("profiler/ has a parent");
    let ebpf_dir = root.join("profiler-ebpf");
    let common_dir = root.join("profiler-common");
    for path in [
        ebpf_dir.join("src"),
        ebpf_dir.join("Cargo.toml"),
        ebpf_dir.join("Cargo.lock"),
        common_dir.join("src"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed=build/plan.rs");
    for var in [
        "BPF_LINKER",
        plan::PLACEHOLDER_VAR,
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let placeholder_var = env::var(plan::PLACEHOLDER_VAR).ok();
    let workspace_wrapper = env::var("RUSTC_WORKSPACE_WRAPPER").ok();
    let profile = env::var("PROFILE").expect("set by cargo");
    let plan = plan::decide(Facts {
        placeholder_var: placeholder_var.as_deref(),
        workspace_wrapper: workspace_wrapper.as_deref(),
        profile: &profile,
        linker: find_bpf_linker(root),
    });
    let linker = match plan {
        Plan::Build(linker) => linker,
        Plan::Placeholder { warning } => {
            if let Some(warning) = warning {
                println!("cargo:warning={warning}");
            }
            let embedded = out_dir.join("profiler.bpf.o");
            fs::write(&embedded, b"").expect("write the placeholder object");
            version_facts(root, &embedded);
            return;
        }
        Plan::Fail(line) => {
            println!("cargo:warning={line}");
            eprintln!("{line}");
            std::process::exit(1);
        }
    };
    let wrapper = write_linker_wrapper(&out_dir, &linker);

    let host = env::var("HOST").expect("set by cargo");
    let target_dir = out_dir.join("ebpf-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let rustflags = [
        "-C",
        "linker-plugin-lto",
        "-C",
        "linker-flavor=ld",
        "-C",
        &format!("linker={}", wrapper.display()),
        "-C",
        "force-unwind-tables=no",
        "-C",
        "debuginfo=2",
        // The object's BTF names its source files by these prefixes, not
        // by the clone's directory or CARGO_HOME (rustc applies the last
        // prefix that matches: the clone's, also where it is cargo's
        // checkout under CARGO_HOME). Builds of one commit from two
        // directories can still differ: cargo's symbol hashes of the path
        // dependency profiler-common follow where it is.
        "--remap-path-prefix",
        &format!("{}=/cargo", cargo_home().display()),
        "--remap-path-prefix",
        &format!("{}=/syscall-profile", root.display()),
    ]
    .join("\x1f");

    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ebpf_dir)
        .args(["build", "--release", "--target", &host, "--target-dir"])
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    // The verifier's self-test program goes into debug builds (the tests')
    // only, never into a release's object.
    if env::var("PROFILE").as_deref() == Ok("debug") {
        cmd.args(["--features", "verifier-selftest"]);
    }
    // Settings of the outer build that must not leak into the nested one:
    // clippy's driver, coverage or sanitizer flags, another target.
    for var in [
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // The outer build's profile (`CARGO_PROFILE_RELEASE_LTO=...` and the
    // like) is not the eBPF crate's: its own manifest says how BPF code is
    // built, and LTO or another opt-level here drops the maps' symbols.
    for (var, _) in env::vars_os() {
        if var.to_string_lossy().starts_with("CARGO_PROFILE_") {
            cmd.env_remove(var);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo for profiler-ebpf: {e}"));
    assert!(
        status.success(),
        "building profiler-ebpf failed ({status}); see the output above"
    );

    let object = target_dir.join(&host).join("release").join("profiler");
    let embedded = out_dir.join("profiler.bpf.o");
    fs::copy(&object, &embedded)
        .unwrap_or_else(|e| panic!("could not copy {}: {e}", object.display()));

    version_facts(root, &embedded);
}

/// What `--version` says besides the version: the embedded object's digest
/// (the empty placeholder's too) and the commit built.
fn version_facts(root: &Path, embedded: &Path) {
    let bytes = fs::read(embedded).expect("read the eBPF object back");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=SYSCALL_PROFILE_EBPF_SHA256={digest}");
    println!(
        "cargo:rustc-env=SYSCALL_PROFILE_GIT_COMMIT={}",
        git_commit(root)
    );
}

/// `git rev-parse --short HEAD` of the tree at `root`, or `unknown` where
/// there is no git or no repository; the files that name the commit are
/// watched, so that a new commit is said after the next build.
fn git_commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    commit
}

/// The release of the toolchain (`rustc -vV`), for messages.
fn toolchain_release() -> String {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    Command::new(rustc)
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("release:"))
                .map(|r| r.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// The cache directory `cargo xtask setup` installs bpf-linker into, keyed by
/// the toolchain (release and commit) whose LLVM it links.
fn cached_bpf_linker() -> Option<PathBuf> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .map(str::to_owned)
    };
    let release = field("release:")?;
    let commit = field("commit-hash:")?;
    let key = format!("{release}-{}", commit.get(..12).unwrap_or(&commit));
    let cache = match env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env::var_os("HOME")?).join(".cache"),
    };
    Some(
        cache
            .join("syscall-profile/bpf-linker")
            .join(key)
            .join("bin/bpf-linker"),
    )
}

/// `CARGO_HOME`, else `~/.cargo`: where the eBPF crate's dependencies'
/// sources are.
fn cargo_home() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"))
}

fn find_bpf_linker(workspace: &Path) -> Result<PathBuf, String> {
    if let Some(path) = env::var_os("BPF_LINKER") {
        return Ok(PathBuf::from(path));
    }
    let cached = cached_bpf_linker();
    if let Some(path) = cached.clone().filter(|p| p.is_file()) {
        return Ok(path);
    }
    // Not there yet: built again once `cargo xtask setup` puts it there (a
    // path that does not exist makes cargo run this script on every build,
    // which only a build without bpf-linker pays).
    if let Some(path) = &cached {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let on_path = env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .map(|dir| dir.join("bpf-linker"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| plan::missing_linker(&toolchain_release(), workspace))
}

fn write_linker_wrapper(out_dir: &Path, linker: &Path) -> PathBuf {
    let script = format!(
        r#"#!/bin/sh
# Generated by profiler/build.rs: stands in as rustc's linker for the eBPF crate.
set -eu
out=""
exports=""
set -- "$@" --end-of-args
while [ "$1" != --end-of-args ]; do
    arg=$1; shift
    case "$arg" in
        -o) out=$1; shift ;;
        *symbols.o)
            exports=$(nm -u "$arg" | awk '{{print $2}}' | paste -sd, -)
            set -- "$@" "$arg" ;;
        *.o|*.rlib|*.a) set -- "$@" "$arg" ;;
        *) ;;
    esac
done
shift
exec '{linker}' --target=bpfel --btf --export="$exports" -o "$out" "$@"
"#,
        linker = linker.display()
    );
    let path = out_dir.join("bpf-link.sh");
    fs::write(&path, script).expect("write linker wrapper");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod linker wrapper");
    path
}
