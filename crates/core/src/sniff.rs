//! The MIME type of a file, from its first bytes. The client's claim is
//! recorded but never trusted: what the bytes are decides how a file is
//! served, previewed and filtered.

use crate::filenames::extension;

/// Bytes read before deciding a type.
pub const SNIFF_BYTES: usize = 8192;

/// The MIME type of content starting with `head` (up to [`SNIFF_BYTES`]).
/// The name only chooses among text types once the bytes are known to be
/// text; binary formats are recognised by their signatures.
pub fn sniff(head: &[u8], name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if !is_text(head) {
        return "application/octet-stream".into();
    }
    text_type(head, name).to_owned()
}

/// UTF-8 without NULs; a character cut by the end of `head` still counts.
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fn text_type(head: &[u8], name: &str) -> &'static str {
    let start = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
    let start = start.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with("<svg") || (start.starts_with("<?xml") && start.contains("<svg")) {
        return "image/svg+xml";
    }
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        return "text/html";
    }
    if start.starts_with("<?xml") {
        return "application/xml";
    }
    match extension(name).as_deref() {
        Some("md" | "markdown") => "text/markdown",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("html" | "htm" | "xhtml") => "text/html",
        Some("svg") => "image/svg+xml",
        Some("xml") => "application/xml",
        _ => "text/plain",
    }
}

/// Types shown inline in a browser without risk: raster images, audio,
/// video and plain text. Every other type (HTML, SVG, XML, PDF, ...) is
/// downloaded as an attachment.
pub fn is_inline_safe(mime: &str) -> bool {
    let raster = mime.starts_with("image/") && mime != "image/svg+xml";
    raster
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || matches!(
            mime,
            "text/plain" | "text/markdown" | "text/csv" | "application/json"
        )
}

/// Whether `mime` matches a policy entry: `type/subtype`, `type/*` or `*/*`.
pub fn matches_type(mime: &str, pattern: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    match pattern.strip_suffix("/*") {
        Some("*") => true,
        Some(kind) => mime.split('/').next() == Some(kind),
        None => mime == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn signatures_beat_names() {
        assert_eq!(sniff(PNG, "notes.txt"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n", "x.png"), "application/pdf");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF", "a"), "image/jpeg");
    }

    #[test]
    fn text_is_refined_by_name_only_among_text_types() {
        assert_eq!(sniff(b"# Title\n", "README.md"), "text/markdown");
        assert_eq!(sniff(b"a,b\n1,2\n", "data.csv"), "text/csv");
        assert_eq!(sniff(b"fn main() {}", "main.rs"), "text/plain");
        assert_eq!(
            sniff(b"\x01\x02\x00\x03", "README.md"),
            "application/octet-stream"
        );
    }

    #[test]
    fn active_content_is_recognised_whatever_the_name() {
        assert_eq!(
            sniff(b"  <svg xmlns='x'><script/></svg>", "cat.png"),
            "image/svg+xml"
        );
        assert_eq!(sniff(b"<!DOCTYPE html><p>", "a.txt"), "text/html");
        assert!(!is_inline_safe("text/html"));
        assert!(!is_inline_safe("image/svg+xml"));
        assert!(!is_inline_safe("application/pdf"));
        assert!(is_inline_safe("image/png"));
        assert!(is_inline_safe("text/plain"));
    }

    #[test]
    fn a_cut_character_at_the_end_is_still_text() {
        let head = "héllo".as_bytes();
        assert_eq!(sniff(&head[..2], "a"), "text/plain");
    }

    #[test]
    fn policy_patterns() {
        assert!(matches_type("image/png", "image/*"));
        assert!(matches_type("image/png", "IMAGE/PNG"));
        assert!(matches_type("text/html", "*/*"));
        assert!(!matches_type("image/png", "text/*"));
        assert!(!matches_type("image/png", "image/jpeg"));
    }
}
