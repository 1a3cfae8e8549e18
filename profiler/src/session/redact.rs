//! The command line as it may be written into files that users commit (a
//! profile's comment, `--stats`, a check report): with secrets taken out.
//!
//! Taken out: the value of every environment assignment (`-e KEY=VALUE`,
//! `--env KEY=VALUE`, `--env=KEY=VALUE` of an engine's run, and `KEY=VALUE`
//! words such as `env` takes), the value of any option whose name says it
//! holds a secret (`--password=…`, `--token …`, `--api-key=…`), and the
//! password of a URL (`postgres://user:…@host`). Files named by options
//! (`--env-file`) are never read. The key stays, so the reader still sees
//! what was set.

/// What stands where a secret was.
pub const REDACTED: &str = "…";

/// Words in an option's name that mark its value as a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "cookie",
    "private",
];

/// The command line with secrets replaced by [`REDACTED`].
pub fn command_line<S: AsRef<str>>(words: &[S]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    // Whether the previous word was an option whose value is the next word
    // and is secret (`-e`, `--env`, `--password`).
    let mut next_is_secret = false;
    let mut next_is_env = false;
    for word in words.iter().map(AsRef::as_ref) {
        if next_is_env {
            out.push(redact_assignment(word));
            next_is_env = false;
            continue;
        }
        if next_is_secret {
            out.push(REDACTED.to_owned());
            next_is_secret = false;
            continue;
        }
        if word == "-e" || word == "--env" {
            next_is_env = true;
            out.push(word.to_owned());
            continue;
        }
        if let Some(rest) = word.strip_prefix("--env=") {
            out.push(format!("--env={}", redact_assignment(rest)));
            continue;
        }
        if let Some(rest) = word.strip_prefix("-e").filter(|r| r.contains('=')) {
            out.push(format!("-e{}", redact_assignment(rest)));
            continue;
        }
        if let Some(option) = word.strip_prefix('-') {
            let option = option.trim_start_matches('-');
            match option.split_once('=') {
                Some((name, _)) if is_secret_name(name) => {
                    out.push(format!(
                        "{}={REDACTED}",
                        &word[..word.len() - option.len() + name.len()]
                    ));
                }
                Some(_) => out.push(redact_url(word)),
                None => {
                    next_is_secret = is_secret_name(option) && option.len() > 1;
                    out.push(word.to_owned());
                }
            }
            continue;
        }
        if is_assignment(word) {
            out.push(redact_assignment(word));
            continue;
        }
        out.push(redact_url(word));
    }
    out
}

/// `KEY=VALUE` → `KEY=…`; a bare `KEY` (taken from the environment) stays.
fn redact_assignment(word: &str) -> String {
    match word.split_once('=') {
        Some((key, _)) => format!("{key}={REDACTED}"),
        None => word.to_owned(),
    }
}

/// A shell-style environment assignment: `NAME=...` with NAME an identifier.
fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| {
        name.split(['-', '_', '.'])
            .any(|part| part == *w || (w.len() > 4 && part.contains(w)))
    })
}

/// `scheme://user:password@host/...` → `scheme://user:…@host/...`.
fn redact_url(word: &str) -> String {
    let Some(scheme_end) = word.find("://") else {
        return word.to_owned();
    };
    let rest = &word[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return word.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return word.to_owned();
    };
    format!(
        "{}{}{REDACTED}{}",
        &word[..scheme_end + 3],
        &authority[..=colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(line: &str) -> String {
        command_line(&line.split(' ').collect::<Vec<_>>()).join(" ")
    }

    #[test]
    fn engine_environment_values_go() {
        assert_eq!(
            redact("docker run -e DB_PASSWORD=hunter2 --env TOKEN=abc --env=X=1 -eY=2 -e HOME app"),
            "docker run -e DB_PASSWORD=… --env TOKEN=… --env=X=… -eY=… -e HOME app"
        );
    }

    #[test]
    fn env_assignments_go() {
        assert_eq!(
            redact("env API_KEY=s3cr3t PATH=/bin ./app --port=8080"),
            "env API_KEY=… PATH=… ./app --port=8080"
        );
    }

    #[test]
    fn secret_options_go_in_both_spellings() {
        assert_eq!(
            redact("app --password hunter2 --db-password=x --api-key k -p 80 --name web"),
            "app --password … --db-password=… --api-key … -p 80 --name web"
        );
    }

    #[test]
    fn url_passwords_go() {
        assert_eq!(
            redact("psql postgres://me:hunter2@db:5432/app http://host/a:b@c"),
            "psql postgres://me:…@db:5432/app http://host/a:b@c"
        );
    }

    #[test]
    fn env_file_is_kept_by_name() {
        assert_eq!(
            redact("docker run --env-file ./secrets.env app"),
            "docker run --env-file ./secrets.env app"
        );
    }
}
