//! The report's prose, kept as Markdown beside the code (`report/*.md`):
//! snippets, each under a line `<!-- NAME -->`, with `{{key}}` where a
//! value goes, or `{{key:SPEC}}` for a number (`.1`, `+.0`: as `format!`
//! has them). [`fill!`] fills a snippet from variables of the same names.

use anyhow::{Context, Result, bail};

/// A file of snippets.
pub struct Template(pub &'static str);

/// What a `{{key}}` is replaced by.
pub enum Value {
    Text(String),
    Number(f64),
}

impl Template {
    /// Snippet `name`: its lines up to the next snippet's marker.
    pub fn snippet(&self, name: &str) -> Result<&'static str> {
        let marker = format!("<!-- {name} -->\n");
        let start = self.0.find(&marker).context(marker.clone())? + marker.len();
        let text = &self.0[start..];
        Ok(&text[..text.find("\n<!-- ").map_or(text.len(), |end| end + 1)])
    }

    /// Snippet `name`, each `{{key}}` replaced by the value of `key`.
    pub fn fill(&self, name: &str, values: Vec<(&str, Value)>) -> Result<String> {
        fill_text(self.snippet(name)?, &values).with_context(|| format!("snippet {name}"))
    }

    /// A one-line snippet filled with `values`, without its line's end;
    /// "" without values.
    pub fn maybe(&self, name: &str, values: Option<Vec<(&str, Value)>>) -> Result<String> {
        let Some(values) = values else {
            return Ok(String::new());
        };
        Ok(self.fill(name, values)?.trim_end_matches('\n').to_owned())
    }
}

/// `text`, each `{{key}}` replaced by the value of `key`.
pub fn fill_text(text: &str, values: &[(&str, Value)]) -> Result<String> {
    let (mut out, mut rest) = (String::new(), text);
    while let Some(open) = rest.find("{{") {
        let close = rest[open..].find("}}").context("an open {{")? + open;
        let inside = &rest[open + 2..close];
        let (key, spec) = inside.split_once(':').unwrap_or((inside, ""));
        let value = values.iter().find(|(k, _)| *k == key);
        out += &rest[..open];
        out += &value
            .with_context(|| format!("no value for {key}"))?
            .1
            .show(spec)?;
        rest = &rest[close + 2..];
    }
    Ok(out + rest)
}

impl Value {
    fn show(&self, spec: &str) -> Result<String> {
        let (sign, digits) = spec
            .strip_prefix('+')
            .map_or((false, spec), |rest| (true, rest));
        let digits: Option<usize> = match digits.strip_prefix('.') {
            Some(n) => Some(n.parse().with_context(|| format!("spec {spec:?}"))?),
            None if digits.is_empty() => None,
            None => bail!("spec {spec:?}"),
        };
        Ok(match (self, sign, digits) {
            (Value::Text(text), false, None) => text.clone(),
            (Value::Number(x), false, None) => format!("{x}"),
            (Value::Number(x), false, Some(n)) => format!("{x:.n$}"),
            (Value::Number(x), true, None) => format!("{x:+}"),
            (Value::Number(x), true, Some(n)) => format!("{x:+.n$}"),
            _ => bail!("spec {spec:?} of a value it does not fit"),
        })
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Number(x)
    }
}

macro_rules! text_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Self {
                Value::Text(x.to_string())
            }
        }
    )*};
}
text_values!(u32, u64, usize, String, &String, &str);

/// `values![a, b = expr]`: the values of `{{a}}` (the variable `a`) and
/// `{{b}}`.
macro_rules! values {
    (@value $key:ident) => { $key };
    (@value $key:ident $value:expr) => { $value };
    ($($key:ident $(= $value:expr)?),* $(,)?) => {
        vec![$((stringify!($key), $crate::bench::template::Value::from(values!(@value $key $($value)?)))),*]
    };
}

/// `fill!(TEMPLATE, "snippet", a, b = expr)`: the snippet filled with
/// `values![a, b = expr]`; `fill!(line TEMPLATE, …)`: without its line's end.
macro_rules! fill {
    (line $template:expr, $name:expr $(, $($values:tt)*)?) => {
        $template.maybe($name, Some($crate::bench::template::values![$($($values)*)?]))
    };
    ($template:expr, $name:expr $(, $($values:tt)*)?) => {
        $template.fill($name, $crate::bench::template::values![$($($values)*)?])
    };
}
pub(crate) use {fill, values};
