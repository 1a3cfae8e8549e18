//! A dry run of the bench's cases, for its tests only: while one is on (on
//! the test's thread), each step that would start, wait for, signal or
//! read a process is noted instead of taken. Outside tests [`step`] is
//! always false, so the real run takes every step.

use std::process::Command;

#[cfg(test)]
thread_local! {
    static STEPS: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Whether this is a dry run; if it is, notes `step`.
#[cfg(test)]
pub fn step(step: impl FnOnce() -> String) -> bool {
    STEPS.with(|steps| match &mut *steps.borrow_mut() {
        Some(steps) => {
            steps.push(step());
            true
        }
        None => false,
    })
}

#[cfg(not(test))]
pub fn step(_: impl FnOnce() -> String) -> bool {
    false
}

/// Runs `f` dry and returns the steps it noted.
#[cfg(test)]
pub fn run(f: impl FnOnce()) -> Vec<String> {
    STEPS.with(|steps| *steps.borrow_mut() = Some(Vec::new()));
    f();
    STEPS.with(|steps| steps.borrow_mut().take().unwrap_or_default())
}

/// A command with its environment and directory, for the steps.
pub fn describe(cmd: &Command) -> String {
    let mut words: Vec<String> = cmd
        .get_envs()
        .map(|(k, v)| match v {
            Some(v) => format!("{}={}", k.to_string_lossy(), v.to_string_lossy()),
            None => format!("-u {}", k.to_string_lossy()),
        })
        .collect();
    if let Some(dir) = cmd.get_current_dir() {
        words.push(format!("(in {})", dir.display()));
    }
    words.push(crate::workspace::display(cmd));
    words.join(" ")
}
