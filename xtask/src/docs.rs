//! The documentation the project publishes, checked: the book (`docs/`,
//! mdBook) is built, and every relative link of its pages, of the README,
//! CONTRIBUTING.md and deploy/README.md must lead to a file that exists
//! (a book page's, inside the book), its `#anchor` to a heading of that
//! page. Links to other sites are not followed (no network).

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::workspace::{self, Workspace};

/// Builds the book with `mdbook` into `target/book`, then checks the links.
pub fn check(ws: &Workspace, mdbook: &Path) -> Result<()> {
    workspace::run(
        Command::new(mdbook)
            .arg("build")
            .arg(ws.root.join("docs"))
            .stdin(Stdio::null())
            .stdout(std::io::stderr()),
    )
    .context("the book does not build")?;
    let book = ws.root.join("docs/src");
    let mut pages: Vec<(PathBuf, Option<&Path>)> =
        ["README.md", "CONTRIBUTING.md", "deploy/README.md"]
            .iter()
            .map(|p| (ws.root.join(p), None))
            .collect();
    for entry in fs::read_dir(&book).with_context(|| format!("cannot read {}", book.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push((path, Some(book.as_path())));
        }
    }
    let mut broken = Vec::new();
    for (page, within) in &pages {
        let text =
            fs::read_to_string(page).with_context(|| format!("cannot read {}", page.display()))?;
        for link in links(&text) {
            if let Err(why) = resolve(page, &link, *within) {
                broken.push(format!("{}: ({link}): {why}", page.display()));
            }
        }
    }
    if !broken.is_empty() {
        bail!("{} broken link(s):\n{}", broken.len(), broken.join("\n"));
    }
    eprintln!(
        "xtask test: the book is built ({}), and the links of {} pages lead somewhere",
        ws.target_dir.join("book").display(),
        pages.len()
    );
    Ok(())
}

/// Whether `link`, on `page`, leads to a file (inside `within`, if given)
/// and, with an anchor, to one of its headings.
fn resolve(page: &Path, link: &str, within: Option<&Path>) -> Result<(), String> {
    if link.contains("://") || link.starts_with("mailto:") {
        return Ok(());
    }
    let (path, anchor) = match link.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (link, None),
    };
    let target = match path {
        "" => page.to_owned(),
        path => page.parent().unwrap_or(Path::new(".")).join(path),
    };
    let Ok(resolved) = target.canonicalize() else {
        return Err("no such file".to_owned());
    };
    if let Some(within) = within
        && !within
            .canonicalize()
            .is_ok_and(|book| resolved.starts_with(book))
    {
        return Err("outside the book (link to the repository's page by its URL)".to_owned());
    }
    let Some(anchor) = anchor else {
        return Ok(());
    };
    let text = fs::read_to_string(&resolved).map_err(|e| e.to_string())?;
    match anchors(&text).contains(anchor) {
        true => Ok(()),
        false => Err(format!("no heading #{anchor} there")),
    }
}

/// The targets of the inline links `[text](target)` of a Markdown text,
/// outside fenced code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans left out: every other backtick-delimited run.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else {
                break;
            };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            if !target.is_empty() {
                out.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    out
}

/// The anchors of a page's headings, as mdBook and GitHub make them:
/// lowercase, letters, digits, `-` and `_` kept, spaces made `-`, the rest
/// dropped; a heading repeated gets `-1`, `-2`, ….
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(heading) = line
            .strip_prefix('#')
            .map(|h| h.trim_start_matches('#'))
            .filter(|h| !fenced && h.starts_with(' '))
        else {
            continue;
        };
        let slug: String = heading
            .trim()
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() => Some(c.to_lowercase().next().unwrap_or(c)),
                '-' | '_' => Some(c),
                ' ' => Some('-'),
                _ => None,
            })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while out.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        out.insert(unique);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_outside_code_are_found() {
        let text =
            "See [a](a.md#x) and `[no](b.md)`.\n```\n[no](c.md)\n```\n[w](https://e.org) [s](#y)";
        assert_eq!(links(text), ["a.md#x", "https://e.org", "#y"]);
    }

    #[test]
    fn anchors_are_made_as_mdbook_makes_them() {
        let text = "# Compared with Docker's default (`diff`)\n## A\n## A\n```\n# not\n```";
        let made = anchors(text);
        assert!(
            made.contains("compared-with-dockers-default-diff"),
            "{made:?}"
        );
        assert!(made.contains("a") && made.contains("a-1"), "{made:?}");
        assert!(!made.contains("not"));
    }

    #[test]
    fn a_link_must_lead_to_a_file_and_a_heading_inside_the_book() {
        let dir = tempfile::tempdir().unwrap();
        let book = dir.path().join("book");
        fs::create_dir(&book).unwrap();
        fs::write(book.join("a.md"), "# Title\n").unwrap();
        fs::write(dir.path().join("out.md"), "").unwrap();
        let page = book.join("b.md");
        fs::write(&page, "").unwrap();
        assert_eq!(resolve(&page, "a.md#title", Some(&book)), Ok(()));
        assert!(resolve(&page, "a.md#nope", Some(&book)).is_err());
        assert!(resolve(&page, "missing.md", Some(&book)).is_err());
        assert!(resolve(&page, "../out.md", Some(&book)).is_err());
        assert_eq!(resolve(&page, "../out.md", None), Ok(()));
    }
}
