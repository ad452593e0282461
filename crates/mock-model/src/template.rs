//! Reply and argument templates: `{input}`, `{first_line}`, `{rest}`, `{result}`, and `{{` /
//! `}}` for literal braces. Templates are checked when the script loads, so a typo in a
//! placeholder is a load error, not a surprise in a reply.

use thiserror::Error;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["input", "first_line", "rest", "result"];

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}}: use {{input}}, {{first_line}}, {{rest}} or {{result}}, or write {{{{ for a literal brace")]
    UnknownPlaceholder { name: String },
    #[error("a `{{` is never closed: close the placeholder with `}}`, or write {{{{ for a literal brace")]
    Unclosed,
}

/// What the placeholders stand for in one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateValues {
    /// The latest user message text.
    pub input: String,
    /// The text of the latest tool result since that message ("" when there is none).
    pub result: String,
}

impl TemplateValues {
    fn lookup(&self, name: &str) -> Option<&str> {
        match name {
            "input" => Some(&self.input),
            "first_line" => Some(self.input.split('\n').next().unwrap_or_default()),
            "rest" => Some(self.input.split_once('\n').map_or("", |(_, rest)| rest)),
            "result" => Some(&self.result),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

fn segments(template: &str) -> Result<Vec<Segment<'_>>, TemplateError> {
    let mut segments = Vec::new();
    let mut literal_start = 0;
    let mut position = 0;
    let bytes = template.as_bytes();
    while position < bytes.len() {
        match bytes[position] {
            b'{' | b'}' if bytes.get(position + 1) == Some(&bytes[position]) => {
                // A doubled brace: keep everything up to and including the first of the pair.
                segments.push(Segment::Literal(&template[literal_start..=position]));
                position += 2;
                literal_start = position;
            }
            b'{' => {
                let close = template[position..]
                    .find('}')
                    .ok_or(TemplateError::Unclosed)?;
                let name = &template[position + 1..position + close];
                if !PLACEHOLDERS.contains(&name) {
                    return Err(TemplateError::UnknownPlaceholder {
                        name: name.to_owned(),
                    });
                }
                segments.push(Segment::Literal(&template[literal_start..position]));
                segments.push(Segment::Placeholder(name));
                position += close + 1;
                literal_start = position;
            }
            _ => position += 1,
        }
    }
    segments.push(Segment::Literal(&template[literal_start..]));
    segments.retain(|segment| *segment != Segment::Literal(""));
    Ok(segments)
}

/// Checks that `template` only uses known placeholders.
pub fn validate(template: &str) -> Result<(), TemplateError> {
    segments(template).map(|_| ())
}

/// Fills in `template`. A template that does not validate is returned as it is (scripts are
/// validated when they load, so this only happens to text that never was a template).
pub fn render(template: &str, values: &TemplateValues) -> String {
    let Ok(segments) = segments(template) else {
        return template.to_owned();
    };
    let mut rendered = String::with_capacity(template.len());
    for segment in segments {
        match segment {
            Segment::Literal(text) => rendered.push_str(text),
            Segment::Placeholder(name) => rendered.push_str(values.lookup(name).unwrap_or("")),
        }
    }
    rendered
}

/// Fills in every string inside a JSON value (object keys stay as they are).
pub fn render_json(value: &serde_json::Value, values: &TemplateValues) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(render(text, values)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| render_json(item, values)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| (key.clone(), render_json(item, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Checks every string inside a JSON value.
pub fn validate_json(value: &serde_json::Value) -> Result<(), TemplateError> {
    use serde_json::Value;
    match value {
        Value::String(text) => validate(text),
        Value::Array(items) => items.iter().try_for_each(validate_json),
        Value::Object(fields) => fields.values().try_for_each(validate_json),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> TemplateValues {
        TemplateValues {
            input: "first\nsecond\nthird".into(),
            result: "42".into(),
        }
    }

    #[test]
    fn fills_every_placeholder() {
        assert_eq!(
            render("[{input}] [{first_line}] [{rest}] [{result}]", &values()),
            "[first\nsecond\nthird] [first] [second\nthird] [42]"
        );
    }

    #[test]
    fn rest_of_a_single_line_is_empty() {
        let values = TemplateValues {
            input: "only".into(),
            result: String::new(),
        };
        assert_eq!(render("<{first_line}|{rest}>", &values), "<only|>");
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(
            render("{{\"a\": \"{result}\"}} {{input}}", &values()),
            "{\"a\": \"42\"} {input}"
        );
    }

    #[test]
    fn lone_closing_brace_is_literal_and_unicode_survives() {
        assert_eq!(render("ü } ✓ {result}", &values()), "ü } ✓ 42");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_rejected() {
        assert_eq!(
            validate("hi {inptu}"),
            Err(TemplateError::UnknownPlaceholder {
                name: "inptu".into()
            })
        );
        assert_eq!(validate("hi {input"), Err(TemplateError::Unclosed));
        assert!(validate("plain text").is_ok());
    }

    #[test]
    fn json_strings_are_rendered_recursively() {
        let args = json!({"to": "x", "list": ["{first_line}", 3], "nested": {"m": "got {result}"}});
        assert_eq!(
            render_json(&args, &values()),
            json!({"to": "x", "list": ["first", 3], "nested": {"m": "got 42"}})
        );
        assert!(validate_json(&json!({"bad": ["{nope}"]})).is_err());
    }
}
