//! Request parameters from the query string (as CAO sends them) or a JSON body with the same
//! field names; a field given in both takes the body's value.

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request};
use axum::http::StatusCode;
use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// The route's parameters, merged from query string and JSON body, deserialized into `T`.
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Params<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let mut fields = query_fields(request.uri())?;
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: state.body_limit(),
                    }
                } else {
                    ApiError::Unprocessable(format!("cannot read the request body: {rejection}"))
                }
            })?;
        merge_body(&mut fields, &body)?;
        serde_json::from_value(Value::Object(fields))
            .map(Params)
            .map_err(|error| {
                ApiError::Unprocessable(format!(
                    "invalid request parameters: {error} (pass them in the query string or a JSON body)"
                ))
            })
    }
}

/// Query pairs as JSON strings; a key given more than once becomes an array.
fn query_fields(uri: &axum::http::Uri) -> Result<Map<String, Value>, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|error| ApiError::Unprocessable(format!("invalid query string: {error}")))?;
    let mut fields = Map::new();
    for (key, value) in pairs {
        match fields.get_mut(&key) {
            None => {
                fields.insert(key, Value::String(value));
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
        }
    }
    Ok(fields)
}

/// Lays the body's fields over the query's. `null` counts as absent.
fn merge_body(fields: &mut Map<String, Value>, body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let object: Map<String, Value> = serde_json::from_slice(body).map_err(|error| {
        ApiError::Unprocessable(format!("the request body must be a JSON object: {error}"))
    })?;
    for (key, value) in object {
        if !value.is_null() {
            fields.insert(key, value);
        }
    }
    Ok(())
}

/// A list given as CAO does (`"a,b"` in one query value), as repeated query keys, or as a
/// JSON array.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match Option::<OneOrMany>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(OneOrMany::One(text)) => vec![text],
        Some(OneOrMany::Many(items)) => items,
    };
    Ok(Some(
        items
            .iter()
            .flat_map(|item| item.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

/// A whole number given as a JSON number or as text (query strings carry only text).
pub(crate) fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Text(String),
    }
    match Option::<NumberOrText>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrText::Number(number)) => Ok(Some(number)),
        Some(NumberOrText::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a whole number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        agent_profile: String,
        provider: Option<String>,
        #[serde(default, deserialize_with = "string_list")]
        allowed_tools: Option<Vec<String>>,
    }

    fn parse(uri: &str, body: &str) -> Result<Sample, String> {
        let uri: axum::http::Uri = uri.parse().map_err(|error| format!("{error}"))?;
        let mut fields = query_fields(&uri).map_err(|error| error.to_string())?;
        merge_body(&mut fields, body.as_bytes()).map_err(|error| error.to_string())?;
        serde_json::from_value(Value::Object(fields)).map_err(|error| error.to_string())
    }

    #[test]
    fn body_wins_and_lists_take_every_form() {
        let sample = parse(
            "/s?agent_profile=dev&provider=codex&allowed_tools=a,b",
            r#"{"provider": "claude_code", "agent_profile": null}"#,
        )
        .unwrap();
        assert_eq!(sample.agent_profile, "dev");
        assert_eq!(sample.provider.as_deref(), Some("claude_code"));
        assert_eq!(sample.allowed_tools, Some(vec!["a".into(), "b".into()]));
        let repeated = parse("/s?agent_profile=x&allowed_tools=a&allowed_tools=b", "").unwrap();
        assert_eq!(repeated.allowed_tools, Some(vec!["a".into(), "b".into()]));
        let body = parse("/s", r#"{"agent_profile":"x","allowed_tools":["a","b"]}"#).unwrap();
        assert_eq!(body.allowed_tools, Some(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert!(parse("/s", "").unwrap_err().contains("agent_profile"));
        assert!(parse("/s?agent_profile=x", "[1]")
            .unwrap_err()
            .contains("JSON object"));
    }
}
