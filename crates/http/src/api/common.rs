//! Answers every operation can give because of the layers in front of its
//! handler, added to the document in one place so that it lists them all:
//! the session check (401), the JSON body extractor (400, 408, 413), the
//! query extractor (400), path ids (404), the header limit (431) and the
//! database being unreachable (503).

use serde_json::{json, Value};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// The served document: the handlers' own, with the shared layers' answers
/// and the links between operations added.
pub(crate) fn complete_document(mut document: OpenApi) -> Value {
    add_common_responses(&mut document);
    let mut document = serde_json::to_value(&document).expect("the API document serialises");
    add_links(&mut document);
    document
}

/// Add the answers of the shared layers to every operation of `document`.
fn add_common_responses(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let path_params = item
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Path);
        for operation in operations_mut(item) {
            complete(operation, path_params);
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn complete(operation: &mut Operation, path_params_of_item: bool) {
    let has_in = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let has_path = path_params_of_item || has_in(ParameterIn::Path);
    let has_query = has_in(ParameterIn::Query);
    let mut add = Vec::new();
    if needs_session(operation) {
        add.push(("401", "No live session (or the session has ended)"));
    }
    if operation.request_body.is_some() {
        add.push(("400", "The body is not the JSON this operation takes"));
        add.push(("408", "The body did not arrive in time"));
        add.push(("413", "The body is larger than 256 KiB"));
    }
    if has_query {
        add.push(("400", "A query parameter is malformed"));
    }
    if has_path {
        add.push(("404", "No such resource, or the caller may not see it"));
    }
    add.push(("431", "The request headers are too large"));
    add.push(("503", "The database cannot be reached; retry later"));
    for (status, description) in add {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    }
}

/// Whether the operation needs a session: it does unless it declares an
/// empty security requirement (`security(())`).
fn needs_session(operation: &Operation) -> bool {
    match &operation.security {
        None => true,
        Some(requirements) => !requirements.iter().any(|r| {
            serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
        }),
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// An operation that creates something, and where its answer names it.
struct Producer {
    method: &'static str,
    path: &'static str,
    status: &'static str,
    /// The path parameter the created thing fills.
    param: &'static str,
    /// A JSON pointer into the answer.
    pointer: &'static str,
}

const PRODUCERS: &[Producer] = &[
    Producer {
        method: "post",
        path: "/workspaces",
        status: "201",
        param: "workspace",
        pointer: "/workspace/id",
    },
    Producer {
        method: "post",
        path: "/workspaces/{workspace}/channels",
        status: "201",
        param: "channel",
        pointer: "/id",
    },
    Producer {
        method: "post",
        path: "/workspaces/{workspace}/conversations",
        status: "200",
        param: "channel",
        pointer: "/id",
    },
    Producer {
        method: "post",
        path: "/channels/{channel}/messages",
        status: "201",
        param: "message",
        pointer: "/id",
    },
    Producer {
        method: "post",
        path: "/workspaces/{workspace}/invitations",
        status: "201",
        param: "invitation",
        pointer: "/invitation/id",
    },
];

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// Link each creating operation's answer to every operation that takes
/// what it created (and otherwise only ids the creating call was given),
/// so clients and stateful fuzzers can follow one into the next. Works on
/// the serialised document: utoipa writes a link's `operationId` in snake
/// case.
fn add_links(document: &mut Value) {
    let mut targets = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(id) = operation["operationId"].as_str() {
                targets.push((id.to_owned(), path.clone()));
            }
        }
    }
    for producer in PRODUCERS {
        let given = path_params(producer.path);
        let links: serde_json::Map<String, Value> = targets
            .iter()
            .filter_map(|(id, path)| {
                let wanted = path_params(path);
                let fits = wanted.contains(&producer.param)
                    && wanted
                        .iter()
                        .all(|p| *p == producer.param || given.contains(p));
                fits.then(|| (id.clone(), link_to(id, &wanted, producer)))
            })
            .collect();
        let response = document
            .pointer_mut(&format!(
                "/paths/{}/{}/responses/{}",
                producer.path.replace('~', "~0").replace('/', "~1"),
                producer.method,
                producer.status
            ))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| {
                panic!(
                    "no {} {} answer {}",
                    producer.method, producer.path, producer.status
                )
            });
        response.insert("links".into(), Value::Object(links));
    }
}

fn link_to(operation_id: &str, params: &[&str], producer: &Producer) -> Value {
    let parameters: serde_json::Map<String, Value> = params
        .iter()
        .map(|param| {
            let value = if *param == producer.param {
                format!("$response.body#{}", producer.pointer)
            } else {
                format!("$request.path.{param}")
            };
            ((*param).to_owned(), Value::String(value))
        })
        .collect();
    json!({"operationId": operation_id, "parameters": parameters})
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn document() -> Value {
        let (_, document) = super::super::routes().split_for_parts();
        complete_document(document)
    }

    fn operations(document: &Value) -> Vec<(String, String, &Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                found.push((method.clone(), path.clone(), operation));
            }
        }
        found
    }

    #[test]
    fn operation_ids_are_unique() {
        let document = document();
        let mut seen = HashSet::new();
        for (method, path, operation) in operations(&document) {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(
                seen.insert(id.clone()),
                "{method} {path}: {id} is used twice"
            );
        }
    }

    #[test]
    fn every_operation_documents_the_shared_answers() {
        let document = document();
        for (method, path, operation) in operations(&document) {
            let responses = operation["responses"].as_object().unwrap();
            let public = operation["security"] == json!([{}]);
            for status in ["431", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            if !public {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "408", "413"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
        }
    }

    #[test]
    fn closed_value_sets_are_enums() {
        let document = document();
        let role = &document["components"]["schemas"]["WorkspaceRole"];
        assert_eq!(role["enum"], json!(["owner", "admin", "member", "guest"]));
        let level = &document["components"]["schemas"]["NotificationLevel"];
        assert_eq!(level["enum"], json!(["all", "mentions", "none"]));
        let presence = &document["components"]["schemas"]["PresenceStatus"];
        assert_eq!(presence["enum"], json!(["online", "away", "offline"]));
    }

    #[test]
    fn links_name_real_operations_and_their_parameters() {
        let document = document();
        let by_id: std::collections::HashMap<String, String> = operations(&document)
            .into_iter()
            .map(|(_, path, op)| (op["operationId"].as_str().unwrap().to_owned(), path))
            .collect();
        let mut links = 0;
        for (method, path, operation) in operations(&document) {
            for response in operation["responses"].as_object().unwrap().values() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    links += 1;
                    let target = &by_id[link["operationId"].as_str().unwrap()];
                    let params: Vec<&str> = path_params(target);
                    let given: Vec<&str> = link["parameters"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(String::as_str)
                        .collect();
                    assert_eq!(given.len(), params.len(), "{method} {path} -> {name}");
                    assert!(
                        given.iter().all(|p| params.contains(p)),
                        "{method} {path} -> {name}"
                    );
                }
            }
        }
        assert!(links >= 30, "only {links} links");
    }
}
