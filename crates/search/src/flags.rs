//! What a message is or has (`has:` and `is:` filters), named once for
//! every engine: as terms (Tantivy, Elasticsearch) or as bits of one number
//! (PostgreSQL, in the order of [`ALL`]).

use confab_core::search::{HasFilter, MessageDocument, MessageSearch};

/// Every flag, in bit order (`link` is 1, `thread` is 16).
const ALL: [&str; 5] = ["link", "file", "reaction", "pin", "thread"];

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

/// The flags every hit of `search` must carry.
pub(crate) fn required(search: &MessageSearch) -> Vec<&'static str> {
    let mut flags: Vec<&'static str> = search
        .query
        .has
        .iter()
        .map(|has| match has {
            HasFilter::Link => "link",
            HasFilter::File => "file",
            HasFilter::Reaction => "reaction",
            HasFilter::Pin => "pin",
        })
        .collect();
    if search.query.is_thread {
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
