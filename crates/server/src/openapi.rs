//! The OpenAPI 3.1 document, generated from the route table the router is built from.

use serde_json::{json, Map, Value};

use crate::routes::{Param, Place, Route, Shape, ROUTES};

/// The whole document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(route.verb.name().to_string(), operation(route));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cao",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The CAO-compatible HTTP API of cao. Parameters go in the query \
                string as CAO sends them, or in a JSON body with the same names; the body wins.",
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "detail": { "type": "string" } },
                    "required": ["detail"],
                },
            },
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
    })
}

fn operation(route: &Route) -> Value {
    let parameters: Vec<Value> = route
        .params
        .iter()
        .filter(|param| param.place != Place::Body)
        .map(parameter)
        .collect();
    let body_fields: Vec<&Param> = route
        .params
        .iter()
        .filter(|param| param.place != Place::Path)
        .collect();
    let (code, about) = route.success;
    let mut responses = Map::new();
    responses.insert(code.to_string(), json!({ "description": about }));
    for (code, about) in [
        ("401", "Missing or wrong bearer token."),
        ("403", "Foreign Host or Origin."),
        ("4XX", "The request cannot be served; `detail` says why."),
        ("5XX", "The orchestrator failed; `detail` says why."),
    ] {
        if route.public && code == "401" {
            continue;
        }
        responses.insert(
            code.to_string(),
            json!({
                "description": about,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            }),
        );
    }
    let mut operation = json!({
        "summary": route.summary,
        "operationId": operation_id(route),
        "parameters": parameters,
        "responses": responses,
    });
    if !body_fields.is_empty() && route.verb != crate::routes::Verb::Get {
        operation["requestBody"] = request_body(&body_fields);
    }
    if route.public {
        operation["security"] = json!([]);
    }
    operation
}

fn parameter(param: &Param) -> Value {
    let (place, required, about) = match param.place {
        Place::Path => ("path", true, param.about.to_string()),
        // A required field may come from the body instead, so the query value is optional.
        _ if param.required => (
            "query",
            false,
            format!("{} Required here or in the JSON body.", param.about),
        ),
        _ => ("query", false, param.about.to_string()),
    };
    json!({
        "name": param.name,
        "in": place,
        "required": required,
        "description": about,
        "schema": schema(param.shape),
    })
}

fn request_body(fields: &[&Param]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|field| {
            let mut property = schema(field.shape);
            property["description"] = Value::String(field.about.to_string());
            (field.name.to_string(), property)
        })
        .collect();
    json!({
        "required": false,
        "content": { "application/json": { "schema": {
            "type": "object",
            "properties": properties,
        } } },
    })
}

fn schema(shape: Shape) -> Value {
    match shape {
        Shape::Text => json!({ "type": "string" }),
        Shape::TextList => json!({ "type": "array", "items": { "type": "string" } }),
        Shape::TextMap => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
    }
}

/// `get_terminals_terminal_id_output`: unique because (verb, path) is.
fn operation_id(route: &Route) -> String {
    let mut id = route.verb.name().to_string();
    for segment in route.path.split('/').filter(|segment| !segment.is_empty()) {
        id.push('_');
        id.extend(
            segment
                .chars()
                .filter(|c| !matches!(c, '{' | '}'))
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        let document = document();
        let mut ids = std::collections::BTreeSet::new();
        for route in ROUTES {
            let operation = &document["paths"][route.path][route.verb.name()];
            assert!(
                operation.is_object(),
                "{} {}",
                route.verb.name(),
                route.path
            );
            assert!(ids.insert(operation["operationId"].as_str().unwrap().to_string()));
            for param in route
                .params
                .iter()
                .filter(|param| param.place == Place::Path)
            {
                assert!(route.path.contains(&format!("{{{}}}", param.name)));
            }
        }
    }
}
