//! A [`CheckReport`] for people (text), for CI test views (JUnit XML) and
//! for GitHub Actions (workflow commands that annotate the run).

use std::fmt::Write;

use crate::check::CheckReport;

/// The report for a terminal or a CI log.
pub(crate) fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    if let (Some(command), Some(code)) = (&report.command, report.command_exit_code) {
        let verb = if code == 0 { "succeeded" } else { "FAILED" };
        let _ = writeln!(
            out,
            "recorded `{}`: it {verb} (exit status {code})",
            command.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "checked {} observed syscall(s) against {}",
        report.observed_count, report.policy
    );
    if let Some(c) = &report.coverage {
        let verdict = if c.passed { "PASS" } else { "FAIL" };
        let shown: Vec<&str> = c.unobserved.iter().take(8).map(String::as_str).collect();
        let _ = writeln!(
            out,
            "{verdict}: the run made {} of the {} syscalls its programs can reach ({:.0} %, \
             threshold {:.0} %); not exercised, the riskiest: {}",
            c.covered,
            c.reachable,
            c.percent,
            c.threshold,
            shown.join(" ")
        );
    }
    if report.new_syscalls.is_empty() && report.new_values.is_empty() {
        out.push_str("PASS: every observed syscall is allowed by the policy\n");
    } else if report.new_syscalls.is_empty() {
        out.push_str("every observed syscall is allowed by the policy, but not every value:\n");
    } else {
        let _ = writeln!(
            out,
            "FAIL: {} syscall(s) outside the policy:",
            report.new_syscalls.len()
        );
        let _ = writeln!(out, "engine default: {}", report.baseline);
        for new in &report.new_syscalls {
            let _ = writeln!(
                out,
                "  {}: {} (the engine default: {})",
                new.name, new.risk, new.engine_default
            );
        }
        if let Some(update) = &report.update_command {
            let _ = writeln!(out, "to allow them, update the policy with:\n  {update}");
        }
    }
    if !report.new_values.is_empty() {
        let _ = writeln!(
            out,
            "FAIL: {} argument value(s) outside the policy:",
            report.new_values.len()
        );
        for new in &report.new_values {
            let _ = writeln!(
                out,
                "  {}: new {} (the policy allows {}; the engine default: {})",
                new.name, new.value, new.policy_allows, new.engine_default
            );
        }
        if report.new_syscalls.is_empty()
            && let Some(update) = &report.update_command
        {
            let _ = writeln!(out, "to allow them, update the policy with:\n  {update}");
        }
    }
    for cond in &report.conditional {
        let _ = writeln!(
            out,
            "note: {} is allowed by the policy only when {}; a recording cannot tell whether \
             the run's calls met that",
            cond.name,
            cond.policy_allows_when.join(" or ")
        );
    }
    for unused in &report.unused_values {
        let _ = writeln!(
            out,
            "info: the policy allows {} with values this run did not use (it could be \
             tightened): {}",
            unused.name, unused.values
        );
    }
    if !report.unused.is_empty() {
        let label = if report.strict {
            "FAIL (--strict)"
        } else {
            "info"
        };
        let _ = writeln!(
            out,
            "{label}: the policy allows {} syscall(s) this run did not use (it could be \
             tightened): {}",
            report.unused.len(),
            report.unused.join(" ")
        );
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit test case: its name, and for a failure its message, body and
/// kind.
struct Case {
    name: String,
    failure: Option<(String, String, &'static str)>,
}

/// JUnit XML: one test case per syscall outside the policy (and, with
/// `--strict`, per unused one), or one passing case when there is none.
pub(crate) fn junit_xml(report: &CheckReport) -> String {
    junit_document(
        "syscall-profile check",
        &[(format!("seccomp policy {}", report.policy), report)],
    )
}

/// JUnit XML of several checks, a test suite each (`learn`: one per
/// workload), under one `testsuites` named `name`.
pub(crate) fn junit_document(name: &str, suites: &[(String, &CheckReport)]) -> String {
    let suites: Vec<(&String, Vec<Case>)> = suites
        .iter()
        .map(|(suite, report)| (suite, cases(report)))
        .collect();
    let failures_of = |cases: &[Case]| cases.iter().filter(|c| c.failure.is_some()).count();
    let tests: usize = suites.iter().map(|(_, cases)| cases.len()).sum();
    let failures: usize = suites.iter().map(|(_, cases)| failures_of(cases)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">",
        xml_escape(name)
    );
    for (suite, cases) in &suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
            xml_escape(suite),
            cases.len(),
            failures_of(cases)
        );
        for case in cases {
            let name = xml_escape(&case.name);
            match &case.failure {
                None => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"syscall-profile.check\" name=\"{name}\"/>"
                    );
                }
                Some((message, body, kind)) => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"syscall-profile.check\" name=\"{name}\">\n      \
                         <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>",
                        xml_escape(message),
                        xml_escape(body)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The test cases of one check.
fn cases(report: &CheckReport) -> Vec<Case> {
    let mut cases: Vec<Case> = report
        .new_syscalls
        .iter()
        .map(|new| {
            let mut body = format!(
                "risk: {}\n{}: {}\n",
                new.risk, report.baseline, new.engine_default
            );
            if let Some(update) = &report.update_command {
                body.push_str(&format!("update the policy: {update}\n"));
            }
            Case {
                name: format!("syscall {} is allowed by the policy", new.name),
                failure: Some((
                    format!("{} is used but not allowed by {}", new.name, report.policy),
                    body,
                    "new-syscall",
                )),
            }
        })
        .collect();
    cases.extend(report.new_values.iter().map(|new| {
        let mut body = format!(
            "the policy allows: {}\n{}: {}\n",
            new.policy_allows, report.baseline, new.engine_default
        );
        if let Some(update) = &report.update_command {
            body.push_str(&format!("update the policy: {update}\n"));
        }
        Case {
            name: format!("{} {} is allowed by the policy", new.name, new.value),
            failure: Some((
                format!(
                    "{}: new {}, used but not allowed by {}",
                    new.name, new.value, report.policy
                ),
                body,
                "new-argument-value",
            )),
        }
    }));
    if report.strict {
        cases.extend(report.unused.iter().map(|name| Case {
            name: format!("syscall {name} allowed by the policy is used"),
            failure: Some((
                format!("{name} is allowed by {} but was not used", report.policy),
                "remove it from the policy, or drop --strict\n".to_owned(),
                "unused-syscall",
            )),
        }));
    }
    if cases.is_empty() {
        cases.push(Case {
            name: "every observed syscall is allowed by the policy".to_owned(),
            failure: None,
        });
    }
    cases
}

/// A workflow command's message, escaped as GitHub Actions reads it.
fn gh_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value, escaped as GitHub Actions reads it.
fn gh_property(text: &str) -> String {
    gh_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: an error per syscall outside the
/// policy, a notice (or, with `--strict`, an error) for the unused ones.
pub(crate) fn github_annotations(report: &CheckReport) -> String {
    let mut out = String::new();
    let file = gh_property(&report.policy);
    for new in &report.new_syscalls {
        let mut message = format!(
            "{} is used but not allowed by the policy. Risk: {}.",
            new.name, new.risk
        );
        if let Some(update) = &report.update_command {
            message.push_str(&format!("\nTo allow it: {update}"));
        }
        let _ = writeln!(
            out,
            "::error file={file},title={}::{}",
            gh_property(&format!("New syscall: {}", new.name)),
            gh_data(&message)
        );
    }
    for new in &report.new_values {
        let mut message = format!(
            "{}: new {} is used but not allowed by the policy (it allows {}).",
            new.name, new.value, new.policy_allows
        );
        if let Some(update) = &report.update_command {
            message.push_str(&format!("\nTo allow it: {update}"));
        }
        let _ = writeln!(
            out,
            "::error file={file},title={}::{}",
            gh_property(&format!("New argument value: {} {}", new.name, new.value)),
            gh_data(&message)
        );
    }
    if !report.unused.is_empty() {
        let level = if report.strict { "error" } else { "notice" };
        let _ = writeln!(
            out,
            "::{level} file={file},title={}::{}",
            gh_property("Unused syscalls in the policy"),
            gh_data(&format!(
                "The policy allows {} syscall(s) this run did not use: {}",
                report.unused.len(),
                report.unused.join(" ")
            ))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{NewSyscall, SCHEMA};

    fn report() -> CheckReport {
        CheckReport {
            schema: SCHEMA,
            policy: "policy.json".to_owned(),
            observed: Some("new.json".to_owned()),
            command: None,
            command_exit_code: None,
            strict: false,
            baseline: "Docker's default profile".to_owned(),
            passed: false,
            exit_code: 1,
            observed_count: 3,
            new_syscalls: vec![NewSyscall {
                name: "ptrace".to_owned(),
                risk: "reads <other> processes & more".to_owned(),
                engine_default: "allowed",
                docker_default: "allowed",
            }],
            new_values: Vec::new(),
            conditional: Vec::new(),
            unused: vec!["openat".to_owned()],
            unused_values: Vec::new(),
            update_command: Some(
                "syscall-profile merge policy.json new.json -o policy.json".to_owned(),
            ),
            coverage: None,
        }
    }

    #[test]
    fn junit_names_the_syscall_and_escapes() {
        let xml = junit_xml(&report());
        assert!(
            xml.contains("name=\"syscall ptrace is allowed by the policy\""),
            "{xml}"
        );
        assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
        assert!(xml.contains("&lt;other&gt; processes &amp; more"), "{xml}");
        assert!(xml.contains("type=\"new-syscall\""), "{xml}");
        let mut passing = report();
        passing.new_syscalls.clear();
        let xml = junit_xml(&passing);
        assert!(xml.contains("failures=\"0\""), "{xml}");
        assert!(xml.contains("<testcase classname=\"syscall-profile.check\" name=\"every observed syscall is allowed by the policy\"/>"));
    }

    #[test]
    fn annotations_are_escaped_workflow_commands() {
        let out = github_annotations(&report());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with(
                "::error file=policy.json,title=New syscall%3A ptrace::ptrace is used"
            ),
            "{out}"
        );
        assert!(
            lines[0].contains("%0ATo allow it: syscall-profile merge"),
            "{out}"
        );
        assert!(lines[1].starts_with("::notice "), "{out}");
    }
}
