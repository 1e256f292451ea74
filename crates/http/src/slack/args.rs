//! The arguments of a Web API call, as Slack's clients send them: the query
//! string merged with a form, JSON or multipart body. Values from forms are
//! text; structured arguments may come as JSON text or as JSON values.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

use super::SlackError;

/// The named arguments of one call.
#[derive(Debug, Default)]
pub(crate) struct Args(Map<String, Value>);

impl Args {
    /// Read the query string and the body of `request`.
    pub(crate) async fn read(request: Request) -> Result<Self, SlackError> {
        let mut args = Map::new();
        if let Some(query) = request.uri().query() {
            for (name, value) in form_urlencoded::parse(query.as_bytes()) {
                args.insert(name.into_owned(), Value::String(value.into_owned()));
            }
        }
        let content_type = content_type(request.headers());
        match content_type.as_str() {
            "application/json" => {
                let body = body_bytes(request).await?;
                if !body.iter().all(u8::is_ascii_whitespace) {
                    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&body) else {
                        return Err(SlackError::new("invalid_json"));
                    };
                    args.extend(object);
                }
            }
            "multipart/form-data" => {
                let mut form = Multipart::from_request(request, &())
                    .await
                    .map_err(|_| SlackError::new("invalid_form_data"))?;
                while let Some(field) = form
                    .next_field()
                    .await
                    .map_err(|_| SlackError::new("invalid_form_data"))?
                {
                    let Some(name) = field.name().map(str::to_owned) else {
                        continue;
                    };
                    let text = field
                        .text()
                        .await
                        .map_err(|_| SlackError::new("invalid_form_data"))?;
                    args.insert(name, Value::String(text));
                }
            }
            "" | "application/x-www-form-urlencoded" => {
                let body = body_bytes(request).await?;
                for (name, value) in form_urlencoded::parse(&body) {
                    args.insert(name.into_owned(), Value::String(value.into_owned()));
                }
            }
            _ => return Err(SlackError::new("invalid_form_data")),
        }
        Ok(Self(args))
    }

    /// Every argument, as given (what `api.test` echoes).
    pub(crate) fn all(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A text argument; numbers and booleans are read as their text. An
    /// empty text counts as absent, as Slack counts it.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A text argument that must be there.
    pub(crate) fn required(&self, name: &str) -> Result<String, SlackError> {
        self.text(name).ok_or_else(|| {
            SlackError::invalid_arguments(format!("missing required argument {name}"))
        })
    }

    /// A boolean: `true/false/1/0`; absent is `default`.
    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool, SlackError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) => Ok(n.as_i64() != Some(0)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "" => Ok(default),
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(SlackError::invalid_arguments(format!(
                    "{name} must be true, false, 1 or 0"
                ))),
            },
            Some(_) => Err(SlackError::invalid_arguments(format!(
                "{name} must be a boolean"
            ))),
        }
    }

    /// A whole number, if given.
    pub(crate) fn number(&self, name: &str) -> Result<Option<i64>, SlackError> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| {
                SlackError::invalid_arguments(format!("{name} must be a whole number"))
            }),
        }
    }

    /// A structured argument (`blocks`, `attachments`, `metadata`): a JSON
    /// value, or text holding JSON. Text that is not JSON is refused with
    /// `invalid_<name>`.
    pub(crate) fn json(&self, name: &str) -> Result<Option<Value>, SlackError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| SlackError::new(&format!("invalid_{name}"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// A list given as comma-separated text, or as a JSON array.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

async fn body_bytes(request: Request) -> Result<Bytes, SlackError> {
    Bytes::from_request(request, &())
        .await
        .map_err(|_| SlackError::new("request_too_large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> Args {
        Args(value.as_object().unwrap().clone())
    }

    #[test]
    fn booleans_numbers_and_lists_read_as_slack_sends_them() {
        let a = args(
            json!({"a": "1", "b": "false", "c": true, "d": "yes", "n": "12", "l": "x, y,,z", "e": ""}),
        );
        assert!(a.flag("a", false).unwrap());
        assert!(!a.flag("b", true).unwrap());
        assert!(a.flag("c", false).unwrap());
        assert!(a.flag("d", false).is_err());
        assert!(a.flag("missing", true).unwrap());
        assert!(a.flag("e", true).unwrap());
        assert_eq!(a.number("n").unwrap(), Some(12));
        assert_eq!(a.list("l"), ["x", "y", "z"]);
        assert_eq!(a.text("e"), None);
        assert!(a.required("e").is_err());
    }

    #[test]
    fn structured_arguments_come_as_text_or_values() {
        let a = args(
            json!({"blocks": "[{\"type\":\"divider\"}]", "attachments": [{"text": "x"}], "bad": "{nope"}),
        );
        assert_eq!(
            a.json("blocks").unwrap(),
            Some(json!([{"type": "divider"}]))
        );
        assert_eq!(a.json("attachments").unwrap(), Some(json!([{"text": "x"}])));
        assert_eq!(a.json("bad").unwrap_err().code, "invalid_bad");
        assert_eq!(a.json("none").unwrap(), None);
    }
}
