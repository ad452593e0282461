//! A value that satisfies a JSON schema, for requests that demand structured output (Gemini
//! CLI's router and next-speaker checks): objects get every property (required ones first),
//! an enum its first value, strings a short text, numbers 1 (or the nearest their bounds
//! allow), booleans false, arrays one item.
//! Both JSON Schema (`"type": "string"`) and Gemini's OpenAPI subset (`"type": "STRING"`) are
//! understood.

use serde_json::{Map, Value};

const EXAMPLE_TEXT: &str = "mock";
/// Deeper schemas are cut off with `null`; a recursive `$ref` cannot loop.
const MAX_DEPTH: usize = 16;

/// A value matching `schema`.
pub fn example_for_schema(schema: &Value) -> Value {
    example_at_depth(schema, 0)
}

fn example_at_depth(schema: &Value, depth: usize) -> Value {
    let Some(schema) = schema.as_object() else {
        // `true` or a missing schema accepts anything.
        return Value::String(EXAMPLE_TEXT.to_owned());
    };
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return first.clone();
    }
    for alternatives in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(alternatives)
            .and_then(Value::as_array)
            .and_then(|schemas| schemas.first())
        {
            return example_at_depth(first, depth + 1);
        }
    }
    match schema_type(schema).as_deref() {
        Some("object") => object_example(schema, depth),
        Some("array") => {
            let item = example_at_depth(schema.get("items").unwrap_or(&Value::Null), depth + 1);
            let count = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array((0..count).map(|_| item.clone()).collect())
        }
        Some("string") => Value::String(EXAMPLE_TEXT.to_owned()),
        Some("integer") | Some("number") => number_example(schema),
        Some("boolean") => Value::Bool(false),
        Some("null") => Value::Null,
        _ if schema.contains_key("properties") => object_example(schema, depth),
        _ => Value::String(EXAMPLE_TEXT.to_owned()),
    }
}

/// 1, or the nearest whole number the schema's bounds allow. Not 0: Gemini CLI's numerical
/// router asks for a `complexity_score` with no bounds in its schema but rejects one below 1
/// ("Complexity score from 1-100", checked after parsing) and logs a stack trace.
fn number_example(schema: &Map<String, Value>) -> Value {
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let mut example: f64 = 1.0;
    if let Some(minimum) = bound("minimum") {
        example = example.max(minimum.ceil());
    }
    if let Some(exclusive_minimum) = bound("exclusiveMinimum") {
        example = example.max(exclusive_minimum.floor() + 1.0);
    }
    if let Some(maximum) = bound("maximum") {
        example = example.min(maximum.floor());
    }
    if let Some(exclusive_maximum) = bound("exclusiveMaximum") {
        example = example.min(exclusive_maximum.ceil() - 1.0);
    }
    Value::from(example as i64)
}

/// The schema's type in lower case; the first non-null one of a list of types.
fn schema_type(schema: &Map<String, Value>) -> Option<String> {
    match schema.get("type")? {
        Value::String(name) => Some(name.to_ascii_lowercase()),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .find(|name| name != "null"),
        _ => None,
    }
}

fn object_example(schema: &Map<String, Value>, depth: usize) -> Value {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut example = Map::new();
    let required_first = required.iter().copied().chain(
        properties
            .keys()
            .map(String::as_str)
            .filter(|name| !required.contains(name)),
    );
    for name in required_first {
        let property = properties.get(name).unwrap_or(&Value::Null);
        example.insert(name.to_owned(), example_at_depth(property, depth + 1));
    }
    Value::Object(example)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gemini_router_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "reasoning": {"type": "string", "description": "why"},
                "model_choice": {"type": "string", "enum": ["flash", "pro"]}
            },
            "required": ["reasoning", "model_choice"]
        });
        assert_eq!(
            example_for_schema(&schema),
            json!({"reasoning": "mock", "model_choice": "flash"})
        );
    }

    #[test]
    fn next_speaker_check_lets_the_user_speak() {
        let schema = json!({
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "next_speaker": {"type": "string", "enum": ["user", "model"]}
            },
            "required": ["reasoning", "next_speaker"]
        });
        assert_eq!(example_for_schema(&schema)["next_speaker"], "user");
    }

    #[test]
    fn required_properties_come_first_and_optional_ones_follow() {
        let schema = json!({
            "type": "object",
            "properties": {"b": {"type": "integer"}, "a": {"type": "boolean"}},
            "required": ["a"]
        });
        let example = example_for_schema(&schema);
        let keys: Vec<&String> = example.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(example, json!({"a": false, "b": 1}));
    }

    #[test]
    fn openapi_upper_case_types_arrays_and_alternatives() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "items": {"type": "ARRAY", "items": {"type": "NUMBER"}},
                "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "maybe": {"type": ["null", "boolean"]},
                "fixed": {"const": 7}
            }
        });
        assert_eq!(
            example_for_schema(&schema),
            json!({"items": [1], "choice": "mock", "maybe": false, "fixed": 7})
        );
    }

    #[test]
    fn gemini_numerical_router_gets_a_score_it_accepts() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "complexity_reasoning": {"type": "STRING"},
                "complexity_score": {"type": "INTEGER", "description": "Complexity score from 1-100."}
            },
            "required": ["complexity_reasoning", "complexity_score"]
        });
        assert_eq!(
            example_for_schema(&schema),
            json!({"complexity_reasoning": "mock", "complexity_score": 1})
        );
    }

    #[test]
    fn numbers_respect_their_bounds() {
        assert_eq!(
            example_for_schema(&json!({"type": "integer", "minimum": 5})),
            json!(5)
        );
        assert_eq!(
            example_for_schema(&json!({"type": "number", "exclusiveMinimum": 5})),
            json!(6)
        );
        assert_eq!(
            example_for_schema(&json!({"type": "integer", "maximum": 0})),
            json!(0)
        );
        assert_eq!(
            example_for_schema(&json!({"type": "integer", "minimum": -3, "exclusiveMaximum": -1})),
            json!(-2)
        );
    }

    #[test]
    fn untyped_and_missing_schemas_get_text() {
        assert_eq!(example_for_schema(&json!({})), json!("mock"));
        assert_eq!(example_for_schema(&Value::Null), json!("mock"));
    }
}
