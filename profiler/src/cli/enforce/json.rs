//! `enforce --json`: the report of an enforced run as JSON.

use crate::{
    enforce::{EnforceOptions, Enforcement, allow_rules},
    session::redact,
};

/// The name of the JSON report's schema (`enforce --json`).
const JSON_SCHEMA: &str = "syscall-profile/enforce/v1";

/// The report of an enforced (or complain-mode) run as JSON: each denied
/// syscall with its count, errno or kill, first caller, and for a syscall
/// whose privilege is in an argument the refused values by name; what the
/// profile allows instead; the rules that would allow what was denied. The
/// command line is redacted, as in every file the tool writes.
pub(crate) fn json_report(enforcement: &Enforcement, options: &EnforceOptions) -> String {
    let command = redact::command_line(
        &options
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    );
    let rules: Vec<serde_json::Value> = allow_rules(enforcement)
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let escapes: Vec<serde_json::Value> = enforcement
        .escapes
        .iter()
        .map(|e| serde_json::json!({"pid": e.pid, "comm": e.comm, "destination": e.destination}))
        .collect();
    let report = serde_json::json!({
        "schema": JSON_SCHEMA,
        "profile": options.profile.display().to_string(),
        "command": command,
        "complain": enforcement.complain,
        "exit_code": enforcement.exit_code,
        "denials": enforcement.denials,
        "unchecked_conditions": enforcement.conditional,
        "runtime_base_denied": enforcement.base_denied,
        "allow_rules": rules,
        "suggestion": enforcement.suggestion.as_ref().map(|p| p.display().to_string()),
        "escapes": escapes,
        "retry_loops": enforcement.retry_loops,
        "warnings": enforcement.warnings,
        "engine_default": enforcement.engine_default,
    });
    // Strings, numbers, lists and maps with string keys: it serializes.
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}
