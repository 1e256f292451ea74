//! Input rules shared by every entry point. Each check names the field at
//! fault so that the client can point at it.

use confab_core::{Error, Result};
use serde_json::Value;

/// Longest JSON document accepted for a settings-like field.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::invalid(field, message)
}

/// Text of at most `max` characters, without control characters; trimmed.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String> {
    let value = value.trim();
    let len = value.chars().count();
    if len < min {
        return Err(invalid(
            field,
            if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Optional text: empty means absent.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, 1, max).map(Some),
    }
}

/// An e-mail address (a pragmatic check: one `@`, a dotted domain, no spaces).
pub fn email(value: &str) -> Result<String> {
    let value = text("email", value, 3, 255)?;
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(value)
    } else {
        Err(invalid("email", "is not an e-mail address"))
    }
}

/// A username: 2 to 50 letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit. Case is kept; uniqueness ignores it.
pub fn username(value: &str) -> Result<String> {
    let value = value.trim();
    let ok_len = (2..=50).contains(&value.len());
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let ok_start = value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "username",
            "must be 2 to 50 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

/// A password: 8 to 256 characters. Kept exactly as given (no trimming).
pub fn password(field: &str, value: &str) -> Result<String> {
    let len = value.chars().count();
    if len < 8 {
        return Err(invalid(field, "must be at least 8 characters"));
    }
    if len > 256 {
        return Err(invalid(field, "must be at most 256 characters"));
    }
    Ok(value.to_owned())
}

/// An absolute http(s) URL of at most 2048 characters.
pub fn url(field: &str, value: &str) -> Result<String> {
    let value = text(field, value, 1, 2048)?;
    let lower = value.to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && !value.chars().any(char::is_whitespace)
    {
        Ok(value)
    } else {
        Err(invalid(field, "must be an http or https URL"))
    }
}

/// A JSON object of bounded size.
pub fn json_object(field: &str, value: &Value) -> Result<Value> {
    if !value.is_object() {
        return Err(invalid(field, "must be a JSON object"));
    }
    if value.to_string().len() > MAX_JSON_BYTES {
        return Err(invalid(
            field,
            format!("must be at most {MAX_JSON_BYTES} bytes"),
        ));
    }
    Ok(value.clone())
}

/// The retention keys of workspace settings or a channel's retention policy
/// (`field`): `retention_days` a whole number of days from 1 to 36,500,
/// and the flags `legal_hold` and `keep_forever` booleans.
pub fn retention_keys(field: &str, value: &Value) -> Result<()> {
    if let Some(days) = value.get("retention_days") {
        if !days.as_i64().is_some_and(|d| (1..=36_500).contains(&d)) {
            return Err(invalid(
                &format!("{field}.retention_days"),
                "must be a whole number of days between 1 and 36500",
            ));
        }
    }
    for flag in ["legal_hold", "keep_forever"] {
        if value.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(invalid(&format!("{field}.{flag}"), "must be true or false"));
        }
    }
    Ok(())
}

/// A workspace domain (its short address): 2 to 63 lowercase letters, digits
/// or inner hyphens.
pub fn domain(value: &str) -> Result<String> {
    let value = value.trim().to_ascii_lowercase();
    let ok = (2..=63).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value)
    } else {
        Err(invalid(
            "domain",
            "must be 2 to 63 lowercase letters, digits or inner hyphens",
        ))
    }
}

/// A channel name, as Slack has them: 1 to 80 lowercase letters, digits,
/// hyphens or underscores.
pub fn channel_name(value: &str) -> Result<String> {
    let value = value.trim();
    let ok = (1..=80).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "name",
            "must be 1 to 80 lowercase letters, digits, '-' or '_' (no spaces)",
        ))
    }
}

/// Validate the inner value of a field that can be cleared: absent leaves
/// it alone, `null` or empty text clears it, anything else must pass `check`.
pub fn clearable(
    value: Option<Option<String>>,
    check: impl Fn(&str) -> Result<String>,
) -> Result<Option<Option<String>>> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(v)) if v.trim().is_empty() => Ok(Some(None)),
        Some(Some(v)) => check(&v).map(|v| Some(Some(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email("a@b.co").is_ok());
        for bad in [
            "", "ab", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@.co", "a@co.",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(username(" Ann.Lee ").unwrap(), "Ann.Lee");
        for bad in ["a", "-ann", "ann lee", "ann@x", &"x".repeat(51)] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_and_passwords() {
        assert!(text("display_name", "   ", 1, 10).is_err());
        assert!(text("display_name", "bell\u{7}", 1, 10).is_err());
        assert_eq!(text("display_name", " Ann ", 1, 10).unwrap(), "Ann");
        assert!(password("password", "short").is_err());
        assert!(password("password", " spaces kept ").is_ok());
        assert!(url("avatar_url", "javascript:alert(1)").is_err());
        assert!(domain("Acme-Corp").is_ok());
        assert!(domain("-acme").is_err());
        assert!(json_object("settings", &serde_json::json!([1])).is_err());
        assert_eq!(channel_name("release-2_0").unwrap(), "release-2_0");
        for bad in ["", "Has Caps", "with space", "dot.ted", &"x".repeat(81)] {
            assert!(channel_name(bad).is_err(), "{bad}");
        }
    }
}
