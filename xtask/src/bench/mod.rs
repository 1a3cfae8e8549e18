//! The benchmarks: `cargo xtask bench` (what recording and enforcing
//! cost, written to BENCHMARKS.md and benchmarks.svg) and `cargo xtask
//! bench-hooks` (what each hook type costs per syscall).
//!
//! The figures flow one way: [`suite`] runs the cases and returns their
//! figures as a [`measure::Outcome`]; [`report`] turns an outcome into
//! BENCHMARKS.md and, through [`chart`], benchmarks.svg. [`measure`] is
//! the vocabulary both sides share and depends on neither; the report never
//! runs a case, and the suite never writes a report.

mod agent;
mod bpf_stats;
mod chart;
pub mod child;
mod empty_hook;
#[cfg(test)]
mod golden;
mod hooks;
mod image;
mod measure;
mod report;
mod soak;
mod suite;
mod template;
mod util;

use std::{fs, path::PathBuf};

use anyhow::Result;
use clap::ValueEnum;

pub use self::hooks::Options as HooksOptions;
use self::{
    measure::Sizes,
    report::{Machine, Report},
    suite::{Part, Plan},
};
use crate::workspace::Workspace;

#[derive(clap::Args)]
pub struct Options {
    /// Rounds; each runs every configuration once (default 5, or 2 with
    /// --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// A shorter run (about 2 minutes): 2 rounds, smaller workloads.
    #[arg(long)]
    quick: bool,
    /// Only these parts, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Where BENCHMARKS.md and benchmarks.svg are written (default: the
    /// workspace root).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

impl Options {
    /// The command line that reproduces a run with these options.
    fn command_line(&self) -> String {
        let mut words = vec!["cargo xtask bench".to_owned()];
        if self.quick {
            words.push("--quick".to_owned());
        }
        if let Some(rounds) = self.rounds {
            words.push(format!("--rounds {rounds}"));
        }
        if !self.only.is_empty() {
            let parts: Vec<String> = self.only.iter().map(|p| p.to_string()).collect();
            words.push(format!("--only {}", parts.join(",")));
        }
        words.join(" ")
    }
}

/// `cargo xtask bench`: runs the suite, then writes its report.
pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    let parts: Vec<Part> = if options.only.is_empty() {
        Part::value_variants().to_vec()
    } else {
        options.only.clone()
    };
    let plan = Plan {
        parts,
        rounds: options.rounds.unwrap_or(if options.quick { 2 } else { 5 }),
        sizes: Sizes::new(options.quick),
        command_line: options.command_line(),
    };
    let out_dir = options.out.clone().unwrap_or_else(|| ws.root.clone());
    let (outcome, session) = suite::run(ws, &plan)?;
    let report = Report::new(&outcome, &Machine::read())?;
    fs::create_dir_all(&out_dir)?;
    report.write(&out_dir)?;
    println!("{}", report.summary());
    session.end();
    Ok(())
}

/// `cargo xtask bench-hooks`.
pub fn run_hooks(ws: &Workspace, options: &HooksOptions) -> Result<()> {
    hooks::run(ws, options)
}
