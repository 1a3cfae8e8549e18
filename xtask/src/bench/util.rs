//! Helpers that the benchmarks share: the rotated order of the rounds, the
//! median, waiting for a recorder to start its command or for anything a
//! process should do, the eBPF objects a process holds (from its fdinfo)
//! and what bpftool names them, and shell quoting.

use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    process::{Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::services::BackgroundProcess;

/// How long an idle recording may take to attach and start its command.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until the recorder has attached its program and started `comm`
/// (it attaches before it starts the command).
pub fn wait_until_recording(recorder: &mut BackgroundProcess, comm: &str) -> Result<()> {
    if crate::dry::step(|| format!("wait until it runs `{comm}`")) {
        return Ok(());
    }
    let pid = recorder.id();
    let ended = |status| format!("the recorder ended before its command started ({status})");
    let late = || format!("the recorder did not start `{comm}` within {ATTACH_TIMEOUT:?}");
    let every = (Duration::from_millis(10), ATTACH_TIMEOUT);
    poll(recorder, every, || child_named(pid, comm), ended, late).map(drop)
}

/// Polls `ready` every `every` until it gives a value; fails with `ended`
/// if `process` ends first, or with `late` once `timeout` has passed.
pub fn poll<T>(
    process: &mut BackgroundProcess,
    (every, timeout): (Duration, Duration),
    mut ready: impl FnMut() -> Result<Option<T>>,
    ended: impl FnOnce(ExitStatus) -> String,
    late: impl FnOnce() -> String,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = ready()? {
            return Ok(value);
        }
        if let Some(status) = process.try_wait()? {
            bail!("{}", ended(status));
        }
        if Instant::now() > deadline {
            bail!("{}", late());
        }
        thread::sleep(every);
    }
}

/// The eBPF objects process `pid` holds: per descriptor, `map` or `prog`
/// and its fdinfo (what cannot be read, as processes come and go, is left
/// out).
pub fn bpf_fdinfo(pid: u32) -> Result<Vec<(&'static str, String)>> {
    let dir = format!("/proc/{pid}/fd");
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir)
        .with_context(|| format!("cannot list {dir}"))?
        .flatten()
    {
        let link = fs::read_link(entry.path()).unwrap_or_default();
        let kind = match link.to_string_lossy().as_ref() {
            "anon_inode:bpf-map" => "map",
            "anon_inode:bpf-prog" => "prog",
            _ => continue,
        };
        let fd = entry.file_name();
        if let Ok(info) = fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.to_string_lossy()))
        {
            found.push((kind, info));
        }
    }
    Ok(found)
}

/// The `key: value` lines of a `/proc` file (fdinfo, status) by key, the
/// values trimmed.
pub fn fields(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k, v.trim()))
        .collect()
}

/// `outer -- INNER…`: `outer` running `inner` (its program and arguments
/// after `--`, its environment set on `outer`), with no input.
pub fn wrap(mut outer: Command, inner: &Command) -> Command {
    outer
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args());
    copy_env(inner, &mut outer);
    outer.stdin(Stdio::null());
    outer
}

/// `syscall-profile ARGS [OPTION FILE]… -- INNER…` (see [`wrap`]).
pub fn tool(recorder: &Path, args: &[&str], files: &[(&str, &Path)], inner: &Command) -> Command {
    let mut cmd = Command::new(recorder);
    cmd.args(args);
    for (option, file) in files {
        cmd.arg(option).arg(file);
    }
    wrap(cmd, inner)
}

/// Sets on `to` the environment `from` sets (and removes what it removes).
pub fn copy_env(from: &Command, to: &mut Command) {
    for (key, value) in from.get_envs() {
        match value {
            Some(value) => to.env(key, value),
            None => to.env_remove(key),
        };
    }
}

/// A word quoted for `sh`.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The pid of a process whose parent is `ppid` and whose command name is
/// `comm`, if there is one.
pub fn child_named(ppid: u32, comm: &str) -> Result<Option<u32>> {
    let entries = fs::read_dir("/proc").context("cannot list /proc")?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while this reads: skip what has gone.
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let parent = stat[close + 1..].split_whitespace().nth(1);
        if &stat[open + 1..close] == comm && parent == Some(ppid.to_string().as_str()) {
            return Ok(Some(pid));
        }
    }
    Ok(None)
}

/// The configurations' indices in the order round `round` runs them: each
/// round starts one later than the one before.
pub fn round_order(round: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |k| (round + k) % count)
}

pub fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// The name and type bpftool gives map or program `id`.
pub fn bpftool_names(kind: &str, id: u64) -> Option<(String, String)> {
    let output = std::process::Command::new("bpftool")
        .args(["-j", kind, "show", "id", &id.to_string()])
        .output()
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some((
        value.get("name")?.as_str()?.to_owned(),
        value.get("type")?.as_str()?.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }

    #[test]
    fn rounds_rotate_the_order() {
        let order = |round| round_order(round, 3).collect::<Vec<_>>();
        assert_eq!(order(0), [0, 1, 2]);
        assert_eq!(order(1), [1, 2, 0]);
        assert_eq!(order(5), [2, 0, 1]);
    }
}
