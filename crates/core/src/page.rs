//! Keyset pagination.

use serde::{Deserialize, Serialize};

/// Largest page any list returns.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Clamp a requested page size to `1..=MAX_PAGE_SIZE`, with `default` when absent.
pub fn page_size(requested: Option<u32>, default: u32) -> u32 {
    requested.unwrap_or(default).clamp(1, MAX_PAGE_SIZE)
}

/// One page of a list ordered by a unique key. `next` is the key of the last
/// item when more items may follow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T, K> {
    pub items: Vec<T>,
    pub next: Option<K>,
}

impl<T, K> Page<T, K> {
    /// Build a page from up to `limit + 1` fetched rows: the extra row, if
    /// present, only signals that another page exists.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if has_more { rows.last().map(key) } else { None };
        Self { items: rows, next }
    }
}
