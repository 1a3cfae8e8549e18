//! What profiler/build.rs does about the eBPF object, decided from what it
//! is told and what it found: kept apart from the build so that the lib's
//! unit tests check the decision (`build_plan` in src/lib.rs).

use std::path::PathBuf;

/// The variable that asks for the placeholder object explicitly
/// (`SYSCALL_PROFILE_EBPF=placeholder cargo check`).
pub(crate) const PLACEHOLDER_VAR: &str = "SYSCALL_PROFILE_EBPF";

/// What the build script does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Build the eBPF crate with this bpf-linker.
    Build(PathBuf),
    /// Embed an empty object, saying why in a warning (or not, for clippy,
    /// which never makes a binary). A binary made so refuses, in one line,
    /// every command that loads the eBPF program.
    Placeholder { warning: Option<String> },
    /// Stop the build with this one line.
    Fail(String),
}

/// What the build script was told and found.
pub(crate) struct Facts<'a> {
    /// [`PLACEHOLDER_VAR`]'s value.
    pub(crate) placeholder_var: Option<&'a str>,
    /// `RUSTC_WORKSPACE_WRAPPER`: clippy-driver under `cargo clippy`.
    pub(crate) workspace_wrapper: Option<&'a str>,
    /// Cargo's `PROFILE`: `debug` for the dev profile (`cargo check`,
    /// `cargo build`, `cargo test`), `release` for `cargo install` and
    /// `--release`.
    pub(crate) profile: &'a str,
    /// bpf-linker, or why it was not found.
    pub(crate) linker: Result<PathBuf, String>,
}

pub(crate) fn decide(facts: Facts<'_>) -> Plan {
    if let Some(value) = facts.placeholder_var {
        if value == "placeholder" {
            return Plan::Placeholder {
                warning: Some(format!(
                    "{PLACEHOLDER_VAR}=placeholder: built with no eBPF program; this binary \
                     refuses to record or enforce"
                )),
            };
        }
        if !value.is_empty() && value != "build" {
            return Plan::Fail(format!(
                "{PLACEHOLDER_VAR}={value:?}: expected `placeholder` or `build`"
            ));
        }
    }
    // clippy only checks the code: it makes no binary that could run.
    let clippy = facts.workspace_wrapper.is_some_and(|w| {
        w.rsplit('/')
            .next()
            .is_some_and(|name| name.starts_with("clippy-driver"))
    });
    if clippy && facts.placeholder_var != Some("build") {
        return Plan::Placeholder { warning: None };
    }
    match facts.linker {
        Ok(linker) => Plan::Build(linker),
        // A release (`cargo install`, `cargo xtask dist`) must hold the
        // program: no binary without it is ever shipped.
        Err(why) if facts.profile != "debug" => Plan::Fail(why),
        // `cargo check` cannot be told from `cargo build`: a dev build goes
        // on without the program, says so, and its binary refuses to run it.
        Err(why) => Plan::Placeholder {
            warning: Some(format!(
                "{why}; this dev build embeds no eBPF program, and its binary refuses to \
                 record or enforce"
            )),
        },
    }
}

/// The one line said when bpf-linker is not found: the command names the
/// repository's directory, `workspace`, which `cargo install --git` keeps
/// in its own checkout too.
pub(crate) fn missing_linker(toolchain: &str, workspace: &std::path::Path) -> String {
    format!(
        "bpf-linker not found (none for rustc {toolchain} in the cache, none in BPF_LINKER or \
         on PATH): run `cd {} && cargo xtask setup --bpf-linker` (as any user; it builds \
         bpf-linker against this toolchain's LLVM in about 2 minutes), then build again",
        workspace.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        placeholder_var: Option<&'a str>,
        workspace_wrapper: Option<&'a str>,
        profile: &'a str,
        linker: bool,
    ) -> Facts<'a> {
        Facts {
            placeholder_var,
            workspace_wrapper,
            profile,
            linker: match linker {
                true => Ok(PathBuf::from("/x/bpf-linker")),
                false => Err(missing_linker("1.95.0", std::path::Path::new("/src/clone"))),
            },
        }
    }

    const CLIPPY: Option<&str> = Some("/root/.rustup/toolchains/stable/bin/clippy-driver");

    #[test]
    fn a_found_linker_builds_the_program() {
        for profile in ["debug", "release"] {
            assert_eq!(
                decide(facts(None, None, profile, true)),
                Plan::Build(PathBuf::from("/x/bpf-linker"))
            );
        }
    }

    #[test]
    fn a_release_without_the_linker_fails_in_one_line_naming_the_fix() {
        let Plan::Fail(line) = decide(facts(None, None, "release", false)) else {
            panic!("a release without bpf-linker must fail");
        };
        assert!(!line.contains('\n'));
        assert!(
            line.contains("`cd /src/clone && cargo xtask setup --bpf-linker`"),
            "{line}"
        );
    }

    #[test]
    fn clippy_never_needs_the_linker() {
        for (profile, linker) in [("debug", false), ("release", false), ("debug", true)] {
            assert_eq!(
                decide(facts(None, CLIPPY, profile, linker)),
                Plan::Placeholder { warning: None }
            );
        }
        // Unless asked to build.
        assert!(matches!(
            decide(facts(Some("build"), CLIPPY, "debug", true)),
            Plan::Build(_)
        ));
        // Another wrapper is not clippy.
        assert!(matches!(
            decide(facts(None, Some("/usr/bin/sccache"), "release", false)),
            Plan::Fail(_)
        ));
    }

    #[test]
    fn a_dev_build_without_the_linker_goes_on_and_says_so() {
        let Plan::Placeholder { warning: Some(w) } = decide(facts(None, None, "debug", false))
        else {
            panic!("a dev build without bpf-linker embeds the placeholder, with a warning");
        };
        assert!(w.contains("refuses"), "{w}");
        assert!(w.contains("cargo xtask setup --bpf-linker"), "{w}");
    }

    #[test]
    fn the_variable_asks_for_the_placeholder_even_in_a_release() {
        assert!(matches!(
            decide(facts(Some("placeholder"), None, "release", true)),
            Plan::Placeholder { warning: Some(_) }
        ));
        assert!(matches!(
            decide(facts(Some("bogus"), None, "debug", true)),
            Plan::Fail(_)
        ));
    }
}
