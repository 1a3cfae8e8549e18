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
//!
//! Some programs take a password in a short option written against its
//! value, which is no secret for others (`ssh -p2222` is a port): after a
//! word naming one of [`SHORT_SECRET_OPTIONS`]' programs (its path's last
//! part, anywhere on the line: `sudo mysql`, `docker exec db mysql`, `sh -c
//! 'mysql …'`), that option's value is taken out. The MySQL and MariaDB
//! clients read `-pPASS` as the password and a separate `-p` as "ask for
//! it" (the next word is then the database), so only the attached form goes
//! there; `sshpass -p PASS` and `redis-cli -a PASS` take it either way. An
//! option of this kind after another program's name that follows (`mysql
//! … ; nc -p1234`) is taken out too: more goes, never less.

/// What stands where a secret was.
pub(crate) const REDACTED: &str = "…";

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

/// Programs whose short option holds a password: the program's name (the
/// last part of its path), the option's letter, and whether a separate
/// word after the bare option is the password too (else only `-oVALUE`).
const SHORT_SECRET_OPTIONS: &[(&str, char, bool)] = &[
    ("mysql", 'p', false),
    ("mysqldump", 'p', false),
    ("mysqladmin", 'p', false),
    ("mysqlimport", 'p', false),
    ("mysqlcheck", 'p', false),
    ("mysqlshow", 'p', false),
    ("mysqlslap", 'p', false),
    ("mysqlbinlog", 'p', false),
    ("mysqlpump", 'p', false),
    ("mysql_upgrade", 'p', false),
    ("mariadb", 'p', false),
    ("mariadb-dump", 'p', false),
    ("mariadb-admin", 'p', false),
    ("mariadb-import", 'p', false),
    ("mariadb-check", 'p', false),
    ("mariadb-show", 'p', false),
    ("mariadb-slap", 'p', false),
    ("mariadb-binlog", 'p', false),
    ("mariadb-upgrade", 'p', false),
    ("sshpass", 'p', true),
    ("redis-cli", 'a', true),
];

/// The short options that hold a password after the programs named so far.
#[derive(Default)]
struct ShortSecrets(Vec<(char, bool)>);

impl ShortSecrets {
    /// Notes the program `word` names, if it is one of
    /// [`SHORT_SECRET_OPTIONS`].
    fn see_program(&mut self, word: &str) {
        let name = word.rsplit('/').next().unwrap_or(word);
        for &(program, letter, separate) in SHORT_SECRET_OPTIONS {
            if program == name && !self.0.contains(&(letter, separate)) {
                self.0.push((letter, separate));
            }
        }
    }

    /// `-pVALUE` with `p` a secret option: the word without its value.
    fn attached(&self, word: &str) -> Option<String> {
        let rest = word.strip_prefix('-')?;
        let letter = rest.chars().next()?;
        let value = &rest[letter.len_utf8()..];
        (!value.is_empty() && self.0.iter().any(|&(l, _)| l == letter))
            .then(|| format!("-{letter}{REDACTED}"))
    }

    /// Whether the word after `word` is a password (`sshpass -p PASS`).
    fn takes_next(&self, word: &str) -> bool {
        let mut chars = word.chars();
        chars.next() == Some('-')
            && chars.next().is_some_and(|letter| {
                chars.next().is_none() && self.0.iter().any(|&(l, sep)| l == letter && sep)
            })
    }
}

/// A shell script given as one word (`sh -c 'mysql -pPASS db'`): its
/// whitespace-separated tokens redacted as [`ShortSecrets`] says, the rest
/// of the text kept as it was.
fn redact_script(word: &str, secrets: &mut ShortSecrets) -> Option<String> {
    if !word.contains(char::is_whitespace) {
        return None;
    }
    let mut out = String::with_capacity(word.len());
    let mut changed = false;
    let mut next_is_secret = false;
    let mut rest = word;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..space]);
        rest = &rest[space..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..end];
        rest = &rest[end..];
        if token.is_empty() {
            break;
        }
        if next_is_secret {
            out.push_str(REDACTED);
            changed = true;
            next_is_secret = false;
            continue;
        }
        match secrets.attached(token) {
            Some(redacted) => {
                out.push_str(&redacted);
                changed = true;
            }
            None => {
                next_is_secret = secrets.takes_next(token);
                secrets.see_program(token);
                out.push_str(token);
            }
        }
    }
    changed.then_some(out)
}

/// The command line with secrets replaced by [`REDACTED`].
pub(crate) fn command_line<S: AsRef<str>>(words: &[S]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    // Whether the previous word was an option whose value is the next word
    // and is secret (`-e`, `--env`, `--password`).
    let mut next_is_secret = false;
    let mut next_is_env = false;
    let mut short_secrets = ShortSecrets::default();
    for word in words.iter().map(AsRef::as_ref) {
        let script = redact_script(word, &mut short_secrets);
        let word = script.as_deref().unwrap_or(word);
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
        if let Some(redacted) = short_secrets.attached(word) {
            out.push(redacted);
            continue;
        }
        if short_secrets.takes_next(word) {
            next_is_secret = true;
            out.push(word.to_owned());
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
        short_secrets.see_program(word);
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

    /// The MySQL and MariaDB clients' `-pPASS`, wherever the client is
    /// named; their `-p` alone asks for the password (the next word is the
    /// database), and other programs' `-p2222` is no secret.
    #[test]
    fn attached_passwords_of_database_clients_go() {
        assert_eq!(redact("mysql -uroot -phunter2 db"), "mysql -uroot -p… db");
        assert_eq!(
            redact("/usr/bin/mariadb-dump -h db -phunter2 --all-databases"),
            "/usr/bin/mariadb-dump -h db -p… --all-databases"
        );
        assert_eq!(
            redact("docker exec -i db mysqladmin -phunter2 status"),
            "docker exec -i db mysqladmin -p… status"
        );
        assert_eq!(redact("mysql -p appdb"), "mysql -p appdb");
        assert_eq!(
            redact("sshpass -p hunter2 ssh -p2222 host"),
            "sshpass -p … ssh -p… host"
        );
        assert_eq!(redact("redis-cli -a hunter2 ping"), "redis-cli -a … ping");
        assert_eq!(
            redact("ssh -p2222 host nc -p1234"),
            "ssh -p2222 host nc -p1234"
        );
        assert_eq!(redact("mysqld -p80"), "mysqld -p80");
    }

    /// A script given as one word (`sh -c '…'`) is read token by token.
    #[test]
    fn attached_passwords_in_a_script_go() {
        let words = [
            "sh",
            "-c",
            "mysql -uroot  -phunter2 db < dump.sql && ssh -p22 h",
        ];
        assert_eq!(
            command_line(&words),
            ["sh", "-c", "mysql -uroot  -p… db < dump.sql && ssh -p… h"]
        );
        let words = ["sh", "-c", "DB_PASS=x mysql -phunter2"];
        assert_eq!(command_line(&words), ["sh", "-c", "DB_PASS=…"]);
        let words = ["bash", "-c", "echo -phunter2 is kept"];
        assert_eq!(command_line(&words), words);
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
