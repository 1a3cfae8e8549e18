//! Reading a profile defensively: a size limit checked before the file is
//! read, a nesting limit checked before any of it is deserialized, and
//! errors that say where in the file the problem is.
//!
//! Profiles come from users, CI artifacts and other tools; a hostile or
//! broken one must fail fast with a message, never exhaust memory or the
//! stack.

use std::{
    fmt, io,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
};

use super::{Profile, ProfileError};
use crate::input::{self, InputError, Limit};

/// The largest profile read: 4 MiB. Docker's default profile is 13 KiB; a
/// profile listing every syscall of every architecture with conditions is
/// well under 1 MiB.
pub(crate) const MAX_PROFILE_BYTES: u64 = 4 * 1024 * 1024;

/// The deepest nesting of objects and lists the schema has: the profile,
/// its `syscalls`, a rule, its `args`, an argument check.
pub(crate) const MAX_NESTING: usize = 5;

/// Why a profile's text is not a valid profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "it has {size} bytes, more than the {limit} a profile may have (a seccomp profile is a \
         few kilobytes: is this the right file?)",
        limit = MAX_PROFILE_BYTES
    )]
    TooLarge { size: u64 },
    #[error(
        "it goes on past the {limit} bytes a profile may have (a seccomp profile is a few \
         kilobytes: is this the right input?)",
        limit = MAX_PROFILE_BYTES
    )]
    TooLong,
    #[error(
        "it is empty: a profile is a JSON object, e.g. {{\"defaultAction\": \"SCMP_ACT_ERRNO\"}}"
    )]
    Empty,
    #[error(
        "it nests {depth} levels deep at line {line} column {column}, deeper than the \
         {limit} levels a Docker profile has (profile, syscalls, rule, args, condition)",
        limit = MAX_NESTING
    )]
    TooDeep {
        depth: usize,
        line: usize,
        column: usize,
    },
    #[error("{}", Located(self))]
    Invalid {
        /// Where in the profile, e.g. `syscalls[3].args[0].op`; empty for
        /// the profile as a whole.
        at: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Formats [`ParseError::Invalid`]: the message, then where.
struct Located<'a>(&'a ParseError);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ParseError::Invalid {
            at,
            line,
            column,
            message,
        } = self.0
        else {
            return Ok(());
        };
        // serde_json has no position (line 0) for what a check of the whole
        // profile refused after reading it: the message says where.
        match (at.is_empty(), *line == 0) {
            (true, true) => write!(f, "{message}"),
            (true, false) => write!(f, "{message} (line {line} column {column})"),
            (false, true) => write!(f, "{message} (at `{at}`)"),
            (false, false) => write!(f, "{message} (at `{at}`, line {line} column {column})"),
        }
    }
}

/// Whether a profile was read from standard input already: it can be read
/// only once.
static STDIN_READ: AtomicBool = AtomicBool::new(false);

/// How standard input (`-`) is named in messages.
pub(super) const STDIN_NAME: &str = "standard input";

/// Reads the profile at `path` whole (`-`: standard input, once). A path
/// must lead to a regular file: anything else (a FIFO, a device, a
/// directory, a socket) is refused before it is opened for reading, so that
/// nothing blocks and no device acts on being opened. A file over the limit
/// is refused before it is read, and standard input, or a file that grows,
/// as soon as the limit is passed.
pub(super) fn read_limited(path: &Path) -> Result<Vec<u8>, ProfileError> {
    let result = if path == Path::new("-") {
        if STDIN_READ.swap(true, Ordering::SeqCst) {
            return Err(ProfileError::StdinTwice);
        }
        input::read_capped(Path::new(STDIN_NAME), io::stdin().lock(), PROFILE_LIMIT)
    } else {
        input::read(path, PROFILE_LIMIT)
    };
    result.map_err(|e| match e {
        InputError::Open { path, source } => ProfileError::Read { path, source },
        InputError::NotAFile { path, kind } => ProfileError::NotAFile { path, kind },
        InputError::TooLarge { path, size, .. } => ProfileError::Invalid {
            path,
            source: ParseError::TooLarge { size },
        },
        InputError::TooLong { path, .. } => ProfileError::Invalid {
            path,
            source: ParseError::TooLong,
        },
    })
}

/// The limit of [`MAX_PROFILE_BYTES`], for [`input`].
const PROFILE_LIMIT: Limit = Limit {
    bytes: MAX_PROFILE_BYTES,
    what: "a profile",
};

/// Size and nesting checks, then strict deserialization with the path of
/// whatever fails.
pub(super) fn parse_strict(bytes: &[u8]) -> Result<Profile, ParseError> {
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(ParseError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    check_nesting(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let profile: Profile = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let at = e.path().to_string();
        let at = if at == "." { String::new() } else { at };
        invalid(at, e.into_inner())
    })?;
    deserializer.end().map_err(|e| invalid(String::new(), e))?;
    Ok(profile)
}

fn invalid(at: String, error: serde_json::Error) -> ParseError {
    let text = error.to_string();
    // serde_json appends " at line L column C"; the position is given apart.
    let message = match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    };
    let message = match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {message}")
        }
        serde_json::error::Category::Io | serde_json::error::Category::Data => message,
    };
    // The message quotes the profile (an unknown key, a bad value) and the
    // path names its keys: the profile chose those characters.
    ParseError::Invalid {
        at: crate::text::printable(&at).into_owned(),
        line: error.line(),
        column: error.column(),
        message: crate::text::printable(&message).into_owned(),
    }
}

/// Refuses nesting deeper than [`MAX_NESTING`] with one pass over the
/// bytes, before anything recursive looks at them.
fn check_nesting(bytes: &[u8]) -> Result<(), ParseError> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        column += 1;
        if byte == b'\n' {
            line += 1;
            column = 0;
        }
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                (false, _) => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ParseError::TooDeep {
                        depth,
                        line,
                        column,
                    });
                }
            }
            // Unbalanced closers are the JSON parser's to report.
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse_strict(deep.as_bytes()).unwrap_err();
        assert!(matches!(err, ParseError::TooDeep { depth: 6, .. }), "{err}");
        assert!(
            err.to_string().contains("deeper than the 5 levels"),
            "{err}"
        );
        // Brackets inside strings do not count.
        let ok = r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "[[[[[[[[\"{{{{{{"}"#;
        parse_strict(ok.as_bytes()).unwrap();
        // An unknown field holding nested lists fails on depth, not recursion.
        let hidden = r#"{"defaultAction": "SCMP_ACT_ALLOW", "x": [[[[[[1]]]]]]}"#;
        assert!(matches!(
            parse_strict(hidden.as_bytes()),
            Err(ParseError::TooDeep { .. })
        ));
    }

    #[test]
    fn the_deepest_legitimate_profile_passes() {
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"],
            "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
            "includes": {"caps": ["CAP_NET_RAW"]}}]}"#;
        parse_strict(text.as_bytes()).unwrap();
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = vec![b' '; MAX_PROFILE_BYTES as usize + 1];
        assert_eq!(
            parse_strict(&big),
            Err(ParseError::TooLarge {
                size: MAX_PROFILE_BYTES + 1
            })
        );
    }

    #[test]
    fn oversized_file_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.json");
        // Sparse: the size is known without writing 5 MiB.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(5 * 1024 * 1024).unwrap();
        let err = read_limited(&path).unwrap_err().to_string();
        assert!(err.contains("5242880 bytes"), "{err}");
        assert!(err.contains("huge.json"), "{err}");
    }

    #[test]
    fn syntax_errors_say_so_with_a_position() {
        let err = parse_strict(b"{\"defaultAction\": \"SCMP_ACT_ALLOW\",,}").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("not valid JSON"), "{text}");
        assert!(text.contains("line 1 column"), "{text}");
        let err = parse_strict(b"\xff\xfe").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
}
