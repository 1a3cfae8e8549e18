//! How the tool words what it was given in the lines it says: text a file
//! or a command line chose, made safe to show (escaped) or to paste back
//! into a shell (quoted).

use std::{borrow::Cow, path::Path};

/// `text` with its control characters escaped (`\n`, `\u{1b}`): for text a
/// file chose (a key, a name, a tar header's bytes) that goes into a line
/// the tool says. Said as it is, a newline would break the one line a
/// message is, and an escape sequence would act on the user's terminal.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c.is_control() {
                true => c.escape_default().to_string(),
                false => c.to_string(),
            })
            .collect(),
    )
}

/// `path` as a message shows it: lossily decoded, its control characters
/// escaped (a path an image, an archive or an ELF object chose may hold
/// any byte but `/`).
pub(crate) fn path(path: &Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

/// `word` as a POSIX shell reads it back: bare when it is plainly safe,
/// else single-quoted.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+-,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
