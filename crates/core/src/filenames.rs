//! File names as clients send them are untrusted text: they may carry path
//! separators, NULs, control characters or right-to-left overrides that
//! disguise an extension. These helpers make a name safe to show and to
//! send in `Content-Disposition` (RFC 6266, with RFC 8187's `filename*`).
//! A name is never used as a path: storage keys are made by the server.

/// Longest name kept for display, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest client name recorded as sent, in characters.
pub const MAX_ORIGINAL_CHARS: usize = 500;

/// Characters that reorder or hide text: a name like `invoice` + U+202E +
/// `fdp.exe` shows as `invoiceexe.pdf`.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The name to show and to offer when downloading: its last path
/// component, without control, bidirectional or invisible characters,
/// trimmed, at most [`MAX_NAME_CHARS`] characters with the extension kept,
/// and `file` when nothing is left.
pub fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_or_bidi(*c))
        .collect();
    let trimmed = clean.trim().trim_end_matches(['.', ' ']);
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '.') {
        return "file".into();
    }
    shorten(trimmed)
}

/// The client's name as recorded (`original_filename`): as sent, but for
/// NULs (which databases refuse) and its length.
pub fn recorded_original(raw: &str) -> String {
    raw.chars()
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .take(MAX_ORIGINAL_CHARS)
        .collect()
}

fn shorten(name: &str) -> String {
    let count = name.chars().count();
    if count <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let ext = extension(name).map(|e| format!(".{e}")).unwrap_or_default();
    let ext = if ext.chars().count() > 16 {
        String::new()
    } else {
        ext
    };
    let keep = MAX_NAME_CHARS - ext.chars().count();
    name.chars().take(keep).collect::<String>() + &ext
}

/// The extension of a name, lowercased (`tar.gz` gives `gz`).
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// A `Content-Disposition` value: `disposition` is `inline` or
/// `attachment`; the name goes as an ASCII `filename` for old clients and
/// as a percent-encoded UTF-8 `filename*` for the rest.
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    format!(
        "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode_attr(name)
    )
}

/// RFC 8187 `value-chars`: `attr-char` as is, every other byte as `%XX`.
fn percent_encode_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cut_to_their_last_component() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(display_name(".."), "file");
        assert_eq!(display_name("dir/"), "file");
        assert_eq!(display_name(""), "file");
    }

    #[test]
    fn hidden_and_reordering_characters_are_removed() {
        assert_eq!(display_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(display_name("a\0b\u{7}c.txt"), "abc.txt");
        assert_eq!(display_name(" notes.txt. "), "notes.txt");
        assert_eq!(display_name("zero\u{200B}width.png"), "zerowidth.png");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.jpeg", "x".repeat(400));
        let short = display_name(&long);
        assert_eq!(short.chars().count(), MAX_NAME_CHARS);
        assert!(short.ends_with("x.jpeg"), "{short}");
    }

    #[test]
    fn originals_lose_only_nuls_and_length() {
        assert_eq!(recorded_original("../a\0b"), "../a\u{FFFD}b");
        assert_eq!(recorded_original(&"é".repeat(600)).chars().count(), 500);
    }

    #[test]
    fn dispositions_carry_both_name_forms() {
        assert_eq!(
            content_disposition("attachment", "naïve \"plan\".pdf"),
            "attachment; filename=\"na_ve _plan_.pdf\"; filename*=UTF-8''na%C3%AFve%20%22plan%22.pdf"
        );
        assert_eq!(
            content_disposition("inline", "a;b.png"),
            "inline; filename=\"a;b.png\"; filename*=UTF-8''a%3Bb.png"
        );
    }

    #[test]
    fn extensions_are_lowercased_and_need_a_stem() {
        assert_eq!(extension("Photo.JPG").as_deref(), Some("jpg"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("README"), None);
    }
}
