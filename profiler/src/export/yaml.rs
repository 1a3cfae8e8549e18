//! YAML that every reader types alike: YAML 1.1 readers (kubectl's Go
//! library, PyYAML) take a plain `yes`, `on`, `0755`, `1:20` or
//! `2001-12-14` for a boolean, a number or a date, where a YAML 1.2 reader
//! (and serde_norway, which quotes only what its own reader would retype)
//! sees a string. Here a string is written plain only when it cannot be
//! anything else in either version: it starts with a letter, `_` or `/`,
//! holds only letters, digits, `_`, `.`, `/` and `-`, and is none of YAML
//! 1.1's boolean and null words in any case. Every other string is
//! double-quoted, with everything outside printable ASCII escaped, so a
//! line break, a `#` or a Unicode line separator cannot change it either.

use std::fmt::Write as _;

use serde::Serialize;
use serde_norway::{Mapping, Value};

/// The words a YAML 1.1 reader takes for a boolean or null when plain
/// (the 1.1 type repository's `bool` and `null`); compared in any case.
const RESERVED_WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];

/// `value` as block-style YAML: mappings in their order, sequences with
/// `- ` at their key's indentation (as serde_norway writes them), strings
/// plain or double-quoted as said above.
pub(crate) fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    let value = serde_norway::to_value(value).map_err(|e| e.to_string())?;
    let mut out = String::new();
    match &value {
        Value::Mapping(map) if !map.is_empty() => mapping(&mut out, map, 0)?,
        other => {
            out.push_str(&scalar(other)?);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Whether `text` reads back as the same string, plain, in YAML 1.1 and
/// 1.2 alike.
pub(crate) fn plain_is_safe(text: &str) -> bool {
    let mut chars = text.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    starts_well
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !RESERVED_WORDS
            .iter()
            .any(|word| word.eq_ignore_ascii_case(text))
}

/// A double-quoted scalar holding `text`: printable ASCII as it is, `"`
/// and `\` escaped, every other character as `\xXX`, `\uXXXX` or
/// `\UXXXXXXXX` (escapes YAML 1.1 and 1.2 both read).
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let code = u32::from(c);
                // Writing to a String cannot fail.
                let _ = match code {
                    0..=0xff => write!(out, "\\x{code:02x}"),
                    0x100..=0xffff => write!(out, "\\u{code:04x}"),
                    _ => write!(out, "\\U{code:08x}"),
                };
            }
        }
    }
    out.push('"');
    out
}

fn string(text: &str) -> String {
    if plain_is_safe(text) {
        text.to_owned()
    } else {
        quoted(text)
    }
}

/// A scalar, or an empty collection in flow style.
fn scalar(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.to_string(),
            (None, Some(i)) => i.to_string(),
            _ => return Err(format!("{n} is not a whole number")),
        },
        Value::String(text) => string(text),
        Value::Sequence(items) if items.is_empty() => "[]".to_owned(),
        Value::Mapping(map) if map.is_empty() => "{}".to_owned(),
        Value::Sequence(_) | Value::Mapping(_) => {
            return Err("a collection where a scalar belongs".to_owned());
        }
        Value::Tagged(_) => return Err("a tagged value".to_owned()),
    })
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Sequence(items) => !items.is_empty(),
        Value::Mapping(map) => !map.is_empty(),
        _ => false,
    }
}

fn mapping(out: &mut String, map: &Mapping, indent: usize) -> Result<(), String> {
    for (key, value) in map {
        let key = match key {
            Value::String(text) => string(text),
            other => scalar(other)?,
        };
        out.push_str(&" ".repeat(indent));
        out.push_str(&key);
        out.push(':');
        match value {
            Value::Mapping(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(out, inner, indent + 2)?;
            }
            Value::Sequence(items) if !items.is_empty() => {
                out.push('\n');
                sequence(out, items, indent)?;
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other)?);
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn sequence(out: &mut String, items: &[Value], indent: usize) -> Result<(), String> {
    for item in items {
        if !is_block(item) {
            out.push_str(&" ".repeat(indent));
            out.push_str("- ");
            out.push_str(&scalar(item)?);
            out.push('\n');
            continue;
        }
        // The item's block, one level in, with its first indentation
        // replaced by the dash.
        let mut block = String::new();
        match item {
            Value::Mapping(map) => mapping(&mut block, map, indent + 2)?,
            Value::Sequence(inner) => sequence(&mut block, inner, indent + 2)?,
            _ => {}
        }
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        out.push_str(&block[indent + 2..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strings_nothing_can_retype_are_plain() {
        for plain in [
            "SCMP_ACT_ALLOW",
            "read",
            "learned",
            "web-frontend.v2",
            "/var/run/security-profiles-operator/agent.sock",
            "security-profiles-operator.x-k8s.io/v1",
            "_x",
            "yesterday",
            "nan",
            "inf",
        ] {
            assert!(plain_is_safe(plain), "{plain}");
        }
        for retyped in [
            "y",
            "Y",
            "yes",
            "Yes",
            "YES",
            "yEs",
            "n",
            "N",
            "no",
            "NO",
            "true",
            "False",
            "on",
            "On",
            "OFF",
            "off",
            "null",
            "Null",
            "~",
            "",
            "0755",
            "1e3",
            "12:30",
            "1:20",
            "2001-12-14",
            ".inf",
            "-.inf",
            ".NaN",
            "0x1f",
            "0b101",
            "1_000",
            "+1",
            "-1",
            "1.5",
            "=",
            "<<",
            "a b",
            "a: b",
            "a #b",
            "#c",
            "%x",
            "@x",
            "`x",
            "!x",
            "&a",
            "*a",
            "'q'",
            "\"d\"",
            "- a",
            "? a",
            "a\nb",
            "é",
            "---",
            "...",
        ] {
            assert!(!plain_is_safe(retyped), "{retyped:?}");
        }
    }

    #[test]
    fn quoting_escapes_everything_but_printable_ascii() {
        assert_eq!(quoted("yes"), r#""yes""#);
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            quoted("a\nb\u{85}\u{2028}é\u{1f600}"),
            r#""a\x0ab\x85\u2028\xe9\U0001f600""#
        );
    }

    #[test]
    fn blocks_are_laid_out_as_serde_norway_lays_them_out() {
        #[derive(Serialize)]
        struct Arg {
            index: u32,
            value: u64,
        }
        #[derive(Serialize)]
        struct Rule {
            names: Vec<&'static str>,
            args: Vec<Arg>,
            none: Vec<u32>,
        }
        #[derive(Serialize)]
        struct Doc {
            name: &'static str,
            rules: Vec<Rule>,
        }
        let doc = Doc {
            name: "on",
            rules: vec![Rule {
                names: vec!["read", "0755"],
                args: vec![Arg { index: 1, value: 8 }],
                none: Vec::new(),
            }],
        };
        let text = to_string(&doc).unwrap();
        assert_eq!(
            text,
            "name: \"on\"\nrules:\n- names:\n  - read\n  - \"0755\"\n  args:\n  - index: 1\n    \
             value: 8\n  none: []\n"
        );
        // serde_norway reads it back as it writes the same structure.
        let ours: Value = serde_norway::from_str(&text).unwrap();
        let theirs: Value =
            serde_norway::from_str(&serde_norway::to_string(&doc).unwrap()).unwrap();
        assert_eq!(ours, theirs);
    }
}
