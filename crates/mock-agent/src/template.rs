//! Placeholders in a script's `reply` and in the string arguments of its tool calls.
//!
//! | placeholder        | becomes                                                           |
//! |--------------------|-------------------------------------------------------------------|
//! | `{input}`          | the whole submitted input                                         |
//! | `{first_line}`     | its first line                                                    |
//! | `{rest}`           | the input after its first line, leading line breaks removed       |
//! | `{result.N}`       | the text of call `N`'s result (calls count from 0); the error text when the call failed |
//! | `{result.N.field}` | `field` of that text read as a JSON object: strings raw, other values as JSON; the whole text when it is not an object with that field |
//!
//! A placeholder is `{`, a name made of letters, digits, `_` and `.`-separated parts, and `}`;
//! other braces (`{"a": 1}`, `{ x }`) are plain text, so JSON can be written as is. A name
//! that is not one of the above is an error when the script is loaded. There is no escaping
//! and no other syntax: this is a test double, not a template language.

use serde_json::Value;

use crate::agent::ToolResult;

/// Text with placeholders, checked when the script is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Input,
    FirstLine,
    Rest,
    Result { index: usize, field: Option<String> },
}

/// What placeholders are filled with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The submitted input.
    pub input: &'a str,
    /// The results of the calls made so far in this turn, in order.
    pub results: &'a [ToolResult],
}

impl Template {
    /// Parses `text`; the error names the first unknown placeholder.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}').filter(|&close| is_name(&after[..close])) {
                Some(close) => {
                    let part = placeholder(&after[..close])?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(part);
                    rest = &after[close + 1..];
                }
                None => {
                    literal.push('{');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The largest `N` of the `{result.N…}` placeholders, if any.
    pub fn highest_result(&self) -> Option<usize> {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Result { index, .. } => Some(*index),
                _ => None,
            })
            .max()
    }

    /// The text with every placeholder filled in. A result that does not exist (which a
    /// loaded script never asks for) is empty.
    pub fn render(&self, context: &Context<'_>) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(literal) => text.push_str(literal),
                Part::Input => text.push_str(context.input),
                Part::FirstLine => text.push_str(first_line(context.input)),
                Part::Rest => text.push_str(after_first_line(context.input)),
                Part::Result { index, field } => {
                    if let Some(result) = context.results.get(*index) {
                        match field.as_deref().and_then(|name| result_field(result, name)) {
                            Some(value) => text.push_str(&value),
                            None => text.push_str(&result.text),
                        }
                    }
                }
            }
        }
        text
    }
}

impl From<&str> for Template {
    /// A template of plain text, without placeholders.
    fn from(text: &str) -> Self {
        Self {
            parts: vec![Part::Text(text.to_owned())],
        }
    }
}

/// Whether `inner` (between braces) looks like a placeholder name rather than plain text.
fn is_name(inner: &str) -> bool {
    let mut characters = inner.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn placeholder(name: &str) -> Result<Part, String> {
    let unknown = || {
        format!(
            "`{{{name}}}` is not a placeholder (there are {{input}}, {{first_line}}, {{rest}}, \
             {{result.N}} and {{result.N.field}})"
        )
    };
    match name {
        "input" => return Ok(Part::Input),
        "first_line" => return Ok(Part::FirstLine),
        "rest" => return Ok(Part::Rest),
        _ => {}
    }
    let mut pieces = name.split('.');
    if pieces.next() != Some("result") {
        return Err(unknown());
    }
    let index = pieces
        .next()
        .filter(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|number| number.parse::<usize>().ok())
        .ok_or_else(unknown)?;
    let field = match (pieces.next(), pieces.next()) {
        (None, _) => None,
        (Some(field), None) if !field.is_empty() => Some(field.to_owned()),
        _ => {
            return Err(format!(
                "`{{{name}}}`: a result placeholder is {{result.N}} or {{result.N.field}}, one field deep"
            ))
        }
    };
    Ok(Part::Result { index, field })
}

/// The input's first line.
pub fn first_line(input: &str) -> &str {
    let end = input.find(['\r', '\n']).unwrap_or(input.len());
    &input[..end]
}

/// The input after its first line, without the line breaks that follow it.
pub fn after_first_line(input: &str) -> &str {
    match input.find(['\r', '\n']) {
        Some(end) => input[end..].trim_start_matches(['\r', '\n']),
        None => "",
    }
}

/// `field` of a successful result whose text is a JSON object: strings raw, other values as
/// JSON.
fn result_field(result: &ToolResult, field: &str) -> Option<String> {
    if result.is_error {
        return None;
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&result.text) else {
        return None;
    };
    match object.get(field)? {
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// A call's `args`: a JSON-like tree whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgsTemplate {
    /// A string, with placeholders.
    Text(Template),
    /// A number, boolean or date, sent as is.
    Value(Value),
    /// An array.
    List(Vec<ArgsTemplate>),
    /// A table, keys in order.
    Table(Vec<(String, ArgsTemplate)>),
}

impl ArgsTemplate {
    /// Converts a TOML table; the error names the argument (`args.message`).
    pub fn from_table(table: toml::Table) -> Result<Self, String> {
        Self::from_toml(toml::Value::Table(table), "args")
    }

    fn from_toml(value: toml::Value, path: &str) -> Result<Self, String> {
        Ok(match value {
            toml::Value::String(text) => {
                Self::Text(Template::parse(&text).map_err(|problem| format!("{path}: {problem}"))?)
            }
            toml::Value::Integer(number) => Self::Value(number.into()),
            toml::Value::Float(number) => Self::Value(number.into()),
            toml::Value::Boolean(flag) => Self::Value(flag.into()),
            toml::Value::Datetime(datetime) => Self::Value(datetime.to_string().into()),
            toml::Value::Array(items) => Self::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| Self::from_toml(item, &format!("{path}[{index}]")))
                    .collect::<Result<_, _>>()?,
            ),
            toml::Value::Table(table) => Self::Table(
                table
                    .into_iter()
                    .map(|(key, item)| {
                        let inner = format!("{path}.{key}");
                        Self::from_toml(item, &inner).map(|item| (key, item))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// The largest `N` of the `{result.N…}` placeholders anywhere inside, if any.
    pub fn highest_result(&self) -> Option<usize> {
        match self {
            Self::Text(template) => template.highest_result(),
            Self::Value(_) => None,
            Self::List(items) => items.iter().filter_map(Self::highest_result).max(),
            Self::Table(entries) => entries
                .iter()
                .filter_map(|(_, item)| item.highest_result())
                .max(),
        }
    }

    /// The JSON value with every string rendered.
    pub fn render(&self, context: &Context<'_>) -> Value {
        match self {
            Self::Text(template) => Value::String(template.render(context)),
            Self::Value(value) => value.clone(),
            Self::List(items) => {
                Value::Array(items.iter().map(|item| item.render(context)).collect())
            }
            Self::Table(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), item.render(context)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, is_error: bool) -> ToolResult {
        ToolResult {
            text: text.to_owned(),
            is_error,
        }
    }

    fn render(template: &str, input: &str, results: &[ToolResult]) -> String {
        Template::parse(template)
            .unwrap()
            .render(&Context { input, results })
    }

    #[test]
    fn input_placeholders() {
        let input = "first\r\n\nsecond\nthird";
        assert_eq!(render("[{input}]", input, &[]), format!("[{input}]"));
        assert_eq!(render("{first_line}!", input, &[]), "first!");
        assert_eq!(render("{rest}", input, &[]), "second\nthird");
        assert_eq!(render("{first_line}|{rest}", "one line", &[]), "one line|");
        assert_eq!(render("{rest}", "a\rb", &[]), "b");
    }

    #[test]
    fn braces_that_are_not_names_are_text() {
        let text = r#"{"a": {input}} { x } {} {1x} {"#;
        assert_eq!(render(text, "v", &[]), r#"{"a": v} { x } {} {1x} {"#);
    }

    #[test]
    fn results_and_their_fields() {
        let results = [
            ok(
                r#"{"success":true,"output":"it works","terminal_id":"1a2b","n":42,"o":{"k":[1]}}"#,
                false,
            ),
            ok("plain text", false),
            ok(r#"{"output":"not used"}"#, true),
        ];
        assert_eq!(render("{result.0.output}", "", &results), "it works");
        assert_eq!(
            render("{result.0.n} {result.0.success}", "", &results),
            "42 true"
        );
        assert_eq!(render("{result.0.o}", "", &results), r#"{"k":[1]}"#);
        assert_eq!(render("{result.1}", "", &results), "plain text");
        // No such field, text that is no object, a failed call: the whole text.
        assert_eq!(render("{result.0.missing}", "", &results), results[0].text);
        assert_eq!(render("{result.1.output}", "", &results), "plain text");
        assert_eq!(render("{result.2.output}", "", &results), results[2].text);
    }

    #[test]
    fn unknown_names_are_errors() {
        for bad in [
            "{inptu}",
            "{result}",
            "{result.x}",
            "{result.0.a.b}",
            "{result.}",
            "{result.0.}",
        ] {
            let error = Template::parse(bad).unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{bad}: {error}");
        }
    }

    #[test]
    fn highest_result_looks_everywhere() {
        let template = Template::parse("{result.1} {result.4.x} {input}").unwrap();
        assert_eq!(template.highest_result(), Some(4));
        assert_eq!(Template::parse("{input}").unwrap().highest_result(), None);
        let args: toml::Table =
            toml::from_str("a = 1\nb = [\"x\", { c = \"{result.2}\" }]\nd = \"{result.0}\"\n")
                .unwrap();
        assert_eq!(
            ArgsTemplate::from_table(args).unwrap().highest_result(),
            Some(2)
        );
    }

    #[test]
    fn args_render_to_json_with_nested_templates() {
        let args: toml::Table = toml::from_str(
            "agent_profile = \"developer\"\nmessage = \"Implement: {input}\"\ntimeout = 30\n\
             nested = { list = [\"{first_line}\", true, 1.5] }\n",
        )
        .unwrap();
        let args = ArgsTemplate::from_table(args).unwrap();
        let value = args.render(&Context {
            input: "do it\nnow",
            results: &[],
        });
        assert_eq!(
            value,
            serde_json::json!({
                "agent_profile": "developer",
                "message": "Implement: do it\nnow",
                "timeout": 30,
                "nested": {"list": ["do it", true, 1.5]},
            })
        );
        let bad: toml::Table = toml::from_str("outer = { inner = [\"{nope}\"] }").unwrap();
        let error = ArgsTemplate::from_table(bad).unwrap_err();
        assert!(
            error.starts_with("args.outer.inner[0]: `{nope}`"),
            "{error}"
        );
    }
}
