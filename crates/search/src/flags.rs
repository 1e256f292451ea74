//! What a document is or has (`has:`, `is:` and `type:` filters), named
//! once for every engine: as terms (Tantivy, Elasticsearch) or as bits of
//! one number (PostgreSQL, in the order of [`ALL`]).

use confab_core::search::{FileDocument, HasFilter, MessageDocument, SearchQuery};

/// Every flag, in bit order (`link` is 1, `thread` is 16): what a message
/// has, then what kind of file a file is (as [`FileKind`] names them).
const ALL: [&str; 15] = [
    "link",
    "file",
    "reaction",
    "pin",
    "thread",
    "image",
    "video",
    "audio",
    "pdf",
    "document",
    "spreadsheet",
    "presentation",
    "text",
    "archive",
    "other",
];

/// The flags `message` carries.
pub(crate) fn of_document(message: &MessageDocument) -> Vec<&'static str> {
    let set = [
        message.has_link,
        message.has_file,
        message.has_reaction,
        message.is_pinned,
        message.thread_id.is_some(),
    ];
    ALL.iter()
        .zip(set)
        .filter_map(|(name, set)| set.then_some(*name))
        .collect()
}

/// The flags `file` carries: its kind.
pub(crate) fn of_file(file: &FileDocument) -> Vec<&'static str> {
    vec![file.kind.as_str()]
}

/// The flags every message `query` finds carries (`type:` asks for a file).
pub(crate) fn required(query: &SearchQuery) -> Vec<&'static str> {
    let mut flags: Vec<&'static str> = query
        .has
        .iter()
        .map(|has| match has {
            HasFilter::Link => "link",
            HasFilter::File => "file",
            HasFilter::Reaction => "reaction",
            HasFilter::Pin => "pin",
        })
        .collect();
    if !query.types.is_empty() && !flags.contains(&"file") {
        flags.push("file");
    }
    if query.is_thread {
        flags.push("thread");
    }
    flags
}

/// `flags` as bits of one number.
pub(crate) fn bits(flags: &[&str]) -> i16 {
    ALL.iter()
        .enumerate()
        .filter(|(_, name)| flags.contains(name))
        .fold(0, |bits, (i, _)| bits | (1 << i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::search::FileKind;

    #[test]
    fn every_file_kind_has_a_bit() {
        for kind in FileKind::ALL {
            assert_ne!(bits(&[kind.as_str()]), 0, "{kind:?}");
        }
        assert_eq!(bits(&["link", "thread"]), 17);
    }
}
