//! The files a release ships beside the binary, generated from the very
//! command line the binary parses: shell completions (bash, zsh, fish) and
//! man pages (the command's and each subcommand's). `cargo xtask dist` runs
//! the release binary with the hidden subcommand [`SUBCOMMAND`], so what is
//! shipped always describes the binary shipped with it.

use std::{fs, io, path::Path};

use clap::{Command as ClapCommand, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// The hidden subcommand that writes the assets.
pub(crate) const SUBCOMMAND: &str = "__dist-assets";

/// Writes `DIR/completions/` (`syscall-profile.bash`, `_syscall-profile`,
/// `syscall-profile.fish`) and `DIR/man/man1/*.1`.
pub(crate) fn write(dir: &Path) -> io::Result<()> {
    let completions = dir.join("completions");
    let man = dir.join("man/man1");
    fs::create_dir_all(&completions)?;
    fs::create_dir_all(&man)?;
    let mut command = public_command();
    let name = command.get_name().to_owned();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, &name, &completions)?;
    }
    // A command not yet built by the completions' generators, so that
    // clap_mangen can leave out clap's `help` subcommand.
    clap_mangen::generate_to(public_command(), &man)
}

/// The command a user sees: the tool's own, without its hidden
/// subcommands (the guardian, this one), which clap_complete would
/// otherwise offer. Everything else is the parser's: its name, version,
/// texts, settings and every visible subcommand as they are.
fn public_command() -> ClapCommand {
    let full = Cli::command();
    // The parser's name (`#[command(name = ...)]`; the test checks they agree).
    let mut public = ClapCommand::new("syscall-profile")
        .version(super::VERSION)
        .subcommand_required(full.is_subcommand_required_set())
        .arg_required_else_help(full.is_arg_required_else_help_set())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        public = public.about(about.clone());
    }
    if let Some(after) = full.get_after_help() {
        public = public.after_help(after.clone());
    }
    public
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_command_is_the_parser_s_less_its_hidden_subcommands() {
        let mut full = Cli::command();
        let mut public = public_command();
        full.build();
        public.build();
        let names = |c: &ClapCommand, hidden: bool| {
            c.get_subcommands()
                .filter(|s| s.is_hide_set() == hidden)
                .map(|s| s.get_name().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&public, false), names(&full, false));
        assert!(names(&public, true).is_empty());
        assert!(names(&full, false).iter().any(|n| n == "record"));
        assert!(names(&full, true).iter().any(|n| n == SUBCOMMAND));
        let args = |c: &ClapCommand| {
            c.get_arguments()
                .map(|a| a.get_id().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(args(&public), args(&full));
        assert_eq!(public.get_version(), full.get_version());
        assert_eq!(public.get_name(), full.get_name());
        assert_eq!(
            public.get_about().map(ToString::to_string),
            full.get_about().map(ToString::to_string)
        );
    }

    #[test]
    fn completions_and_man_pages_are_written() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path()).unwrap();
        for file in [
            "completions/syscall-profile.bash",
            "completions/_syscall-profile",
            "completions/syscall-profile.fish",
            "man/man1/syscall-profile.1",
            "man/man1/syscall-profile-record.1",
            "man/man1/syscall-profile-enforce.1",
        ] {
            let text = fs::read_to_string(dir.path().join(file)).unwrap();
            assert!(text.contains("record"), "{file}");
            assert!(!text.contains("__guardian"), "{file}");
            assert!(!text.contains(SUBCOMMAND), "{file}");
        }
        // No page for clap's `help` subcommand.
        let pages = fs::read_dir(dir.path().join("man/man1")).unwrap().count();
        assert_eq!(pages, 1 + public_command().get_subcommands().count());
    }
}
