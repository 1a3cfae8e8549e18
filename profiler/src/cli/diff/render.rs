//! A [`DiffReport`] as text for a terminal, JSON for programs, or Markdown
//! for a pull-request comment.

use crate::choice::choice;
use std::fmt::Write;

use crate::diff::DiffReport;

choice! {
    /// How a report is written.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Format {
        Text => ("text", "Plain text (coloured on a terminal)"),
        Json => ("json", "JSON, schema `syscall-profile/diff/v1`"),
        Markdown => ("markdown", "Markdown, for a pull-request comment"),
    }
}

/// `report` in `format`; `colour` only matters for text.
pub(crate) fn render(report: &DiffReport, format: Format, colour: bool) -> String {
    match format {
        Format::Text => text(report, colour),
        Format::Json => {
            // Strings, numbers, lists and maps only: serializing cannot fail.
            let mut out =
                serde_json::to_string_pretty(report).expect("a diff report always serializes");
            out.push('\n');
            out
        }
        Format::Markdown => markdown(report),
    }
}

/// ANSI styling, or none.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
    fn red(&self, text: &str) -> String {
        self.wrap("1;31", text)
    }
    fn yellow(&self, text: &str) -> String {
        self.wrap("33", text)
    }
    fn green(&self, text: &str) -> String {
        self.wrap("32", text)
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn text(report: &DiffReport, colour: bool) -> String {
    let p = Paint(colour);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} compared with {}{}",
        p.bold(&report.profile),
        p.bold(&report.baseline.name),
        reason_suffix(report)
    );
    let _ = writeln!(
        out,
        "  evaluated for {} ({}), kernel {}, capabilities: {}",
        report.context.arch,
        report.context.arches.join(", "),
        report.context.kernel,
        short_caps(&report.context.capabilities)
    );
    out.push('\n');

    if report.denied_needed.is_empty() {
        let headline = if report
            .beyond_baseline
            .iter()
            .any(|b| b.allow_with.is_some())
        {
            "Needs no syscall the baseline denies."
        } else {
            "Needs nothing the baseline denies."
        };
        let _ = writeln!(out, "{}", p.green(headline));
    } else {
        let _ = writeln!(
            out,
            "{}",
            p.red(&format!(
                "Needs {} syscall(s) the baseline denies:",
                report.denied_needed.len()
            ))
        );
        for need in &report.denied_needed {
            let _ = writeln!(out, "  {} ({})", p.bold(&need.name), need.baseline_verdict);
            let _ = writeln!(out, "      why: {}", need.why);
            let _ = writeln!(out, "      risk: {}", need.risk);
            let _ = writeln!(out, "      allowed by: {}", need.allow_with);
        }
    }
    out.push('\n');

    let (needed, unchecked): (Vec<_>, Vec<_>) = report
        .beyond_baseline
        .iter()
        .partition(|b| b.profile_checks_arguments);
    let needed_count = needed.len();
    let sections = [
        (
            needed,
            format!("Needs {needed_count} argument value(s) the baseline refuses:"),
            true,
        ),
        (
            unchecked,
            "Lets through argument values the baseline refuses, without checking the \
             arguments (record with argument rules to learn which the run uses):"
                .to_owned(),
            false,
        ),
    ];
    for (beyond, title, needs) in sections {
        if beyond.is_empty() {
            continue;
        }
        let title = if needs {
            p.red(&title)
        } else {
            p.yellow(&title)
        };
        let _ = writeln!(out, "{title}");
        for beyond in beyond {
            let _ = writeln!(
                out,
                "  {}: {} (the baseline allows {})",
                p.bold(&beyond.name),
                beyond.values,
                beyond.baseline_allows
            );
            if let Some(remedy) = &beyond.allow_with {
                let _ = writeln!(out, "      allowed by: {remedy}");
            }
        }
        out.push('\n');
    }
    if !report.falls_back.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.green("Answered by the baseline so that the C library falls back:")
        );
        for fall in &report.falls_back {
            let _ = writeln!(
                out,
                "  {} ({}; the C library calls {} instead)",
                p.bold(&fall.name),
                fall.baseline_verdict,
                fall.falls_back_to
            );
            let _ = writeln!(out, "      {}", fall.advice);
        }
        out.push('\n');
    }
    if !report.arguments.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.yellow("Argument values, the profile's and the baseline's:")
        );
        for diff in &report.arguments {
            let _ = writeln!(out, "  {}", diff.summary);
        }
        out.push('\n');
    }

    let s = &report.surface;
    let _ = writeln!(
        out,
        "Attack surface removed: {} of the {} {} syscalls the baseline allows ({}); {} kept.",
        p.green(&s.removed.to_string()),
        s.baseline_allowed,
        s.arch,
        percent(s.removed_share),
        s.kept
    );
    if !s.most_dangerous.is_empty() {
        let _ = writeln!(out, "  Most dangerous of those no longer reachable:");
        let width = s
            .most_dangerous
            .iter()
            .map(|d| d.name.len())
            .max()
            .unwrap_or(0);
        for removed in &s.most_dangerous {
            let _ = writeln!(out, "    {:width$}  {}", removed.name, removed.risk);
        }
    }
    out
}

fn short_caps(caps: &[String]) -> String {
    if caps.is_empty() {
        return "none".to_owned();
    }
    caps.iter()
        .map(|c| c.trim_start_matches("CAP_"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// ", WHY IT WAS CHOSEN" after the baseline's name, when there is a reason.
fn reason_suffix(report: &DiffReport) -> String {
    if report.baseline.reason.is_empty() {
        String::new()
    } else {
        format!(", {}", report.baseline.reason)
    }
}

/// Escapes `|` so a cell cannot split a table row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Seccomp: `{}` compared with {}{}\n",
        report.profile,
        report.baseline.name,
        reason_suffix(report)
    );
    let _ = writeln!(
        out,
        "Evaluated for {} ({}), kernel {}, capabilities: {}.\n",
        report.context.arch,
        report.context.arches.join(", "),
        report.context.kernel,
        short_caps(&report.context.capabilities)
    );
    if report.denied_needed.is_empty() {
        if report
            .beyond_baseline
            .iter()
            .any(|b| b.allow_with.is_some())
        {
            out.push_str("**Needs no syscall the baseline denies.**\n\n");
        } else {
            out.push_str("**Needs nothing the baseline denies.**\n\n");
        }
    } else {
        let _ = writeln!(
            out,
            "**Needs {} syscall(s) the baseline denies:**\n",
            report.denied_needed.len()
        );
        out.push_str("| syscall | baseline | why | risk | allowed by |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        for need in &report.denied_needed {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                need.name,
                cell(&need.baseline_verdict),
                cell(&need.why),
                cell(need.risk),
                cell(&need.allow_with.to_string())
            );
        }
        out.push('\n');
    }
    if !report.beyond_baseline.is_empty() {
        out.push_str("**Argument values the baseline refuses:**\n\n");
        out.push_str("| syscall | values | the baseline allows | allowed by |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for beyond in &report.beyond_baseline {
            let remedy = match &beyond.allow_with {
                Some(remedy) => remedy.to_string(),
                None => "the profile does not check the arguments".to_owned(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                beyond.name,
                cell(&beyond.values),
                cell(&beyond.baseline_allows),
                cell(&remedy)
            );
        }
        out.push('\n');
    }
    for fall in &report.falls_back {
        let _ = writeln!(
            out,
            "**`{}`**: {}; the C library calls `{}` instead: {}\n",
            fall.name, fall.baseline_verdict, fall.falls_back_to, fall.advice
        );
    }
    if !report.arguments.is_empty() {
        out.push_str("**Argument values:**\n\n");
        out.push_str("| syscall | the profile allows | the baseline allows |\n");
        out.push_str("| --- | --- | --- |\n");
        for diff in &report.arguments {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                diff.name,
                cell(&diff.profile_allows.to_string()),
                cell(&diff.baseline_allows.to_string())
            );
        }
        out.push('\n');
    }
    let s = &report.surface;
    let _ = writeln!(
        out,
        "**Attack surface removed:** {} of the {} {} syscalls the baseline allows ({}); {} kept.\n",
        s.removed,
        s.baseline_allowed,
        s.arch,
        percent(s.removed_share),
        s.kept
    );
    if !s.most_dangerous.is_empty() {
        out.push_str("| no longer reachable | risk |\n| --- | --- |\n");
        for removed in &s.most_dangerous {
            let _ = writeln!(out, "| `{}` | {} |", removed.name, cell(removed.risk));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        baseline::{Baseline, DockerContext, docker_capabilities},
        profile::{Arch, KernelVersion, Profile, SyscallSet},
    };

    fn report() -> DiffReport {
        let set: SyscallSet = ["read", "mount", "socket"].into_iter().collect();
        crate::diff::diff(
            &Baseline::docker_default(),
            &Profile::allow_list(Arch::X86_64, &set, None),
            "app.json",
            &DockerContext {
                native: Arch::X86_64,
                caps: docker_capabilities(&[], &[]).unwrap(),
                kernel: KernelVersion { major: 6, minor: 1 },
            },
        )
    }

    #[test]
    fn text_has_colour_only_when_asked() {
        let plain = render(&report(), Format::Text, false);
        assert!(!plain.contains('\x1b'));
        assert!(plain.contains("mount (denied with EPERM (1))"), "{plain}");
        assert!(plain.contains("allowed by: --cap-add SYS_ADMIN"), "{plain}");
        assert!(
            plain.contains("socket: any (the profile does not check the arguments) — the default allows all but AF_ALG, AF_VSOCK"),
            "{plain}"
        );
        assert!(
            plain.contains(
                "  socket: AF_ALG, AF_VSOCK (the baseline allows all but AF_ALG, AF_VSOCK)"
            ),
            "{plain}"
        );
        let coloured = render(&report(), Format::Text, true);
        assert!(coloured.contains("\x1b[1;31m"));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let json: serde_json::Value =
            serde_json::from_str(&render(&report(), Format::Json, true)).unwrap();
        assert_eq!(json["schema"], "syscall-profile/diff/v1");
        assert_eq!(json["denied_needed"][0]["name"], "mount");
        assert_eq!(json["denied_needed"][0]["allow_with"]["kind"], "cap_add");
        assert_eq!(
            json["denied_needed"][0]["allow_with"]["caps"][0],
            "CAP_SYS_ADMIN"
        );
        assert_eq!(json["conditional"][0]["name"], "socket");
        assert_eq!(json["arguments"][0]["profile_allows"]["kind"], "any");
        assert_eq!(json["arguments"][0]["baseline_allows"]["kind"], "all_but");
        assert_eq!(
            json["arguments"][0]["baseline_allows"]["values"][1]["args"][0]["symbol"],
            "AF_VSOCK"
        );
        assert_eq!(
            json["beyond_baseline"][0]["allow_with"],
            serde_json::Value::Null
        );
        assert!(json["surface"]["removed_share"].as_f64().unwrap() > 0.9);
        assert_eq!(json["context"]["arch"], "x86_64");
    }

    #[test]
    fn markdown_is_tables() {
        let md = render(&report(), Format::Markdown, true);
        assert!(!md.contains('\x1b'));
        assert!(md.contains("| `mount` | denied with EPERM (1) |"), "{md}");
        assert!(md.contains("| no longer reachable | risk |"), "{md}");
        assert!(
            md.contains(
                "| `socket` | AF_ALG, AF_VSOCK | all but AF_ALG, AF_VSOCK | the profile does not \
                 check the arguments |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| `socket` | any | all but AF_ALG, AF_VSOCK |"),
            "{md}"
        );
    }
}
