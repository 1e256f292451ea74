//! Snippets: the part of a message that shows why it was found, with the
//! words that matched marked by character offsets. One implementation for
//! every engine, so that each marks the same words the same way.

use std::collections::HashSet;
use std::ops::Range;

use confab_core::search::{SearchQuery, SearchTerm, Snippet};
use tantivy::tokenizer::TextAnalyzer;

use crate::analysis::{self, terms, tokens};

/// Longest snippet, in characters.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of text kept before the first marked word when a message is
/// longer than a snippet.
const LEAD_CHARS: usize = 40;

/// What a query marks in a message.
pub struct Marker {
    words: TextAnalyzer,
    exact: TextAnalyzer,
    /// Word terms (stemmed) of words and phrases.
    word_terms: HashSet<String>,
    /// Whole tokens typed (`plt-3699`).
    wholes: HashSet<String>,
    /// Starts of tokens (`deplo*`).
    prefixes: Vec<String>,
}

impl Marker {
    /// The marker of `query`, or `None` when it has no words to mark.
    pub fn new(query: &SearchQuery) -> Option<Self> {
        let mut marker = Marker {
            words: analysis::words(),
            exact: analysis::exact(),
            word_terms: HashSet::new(),
            wholes: HashSet::new(),
            prefixes: Vec::new(),
        };
        for term in query.must.iter().flatten() {
            match term {
                SearchTerm::Word(word) => {
                    marker.word_terms.extend(terms(&mut marker.words, word));
                    marker.wholes.extend(terms(&mut marker.exact, word));
                }
                SearchTerm::Prefix(prefix) => {
                    marker.prefixes.extend(terms(&mut marker.exact, prefix));
                }
                SearchTerm::Phrase(phrase) => {
                    marker.word_terms.extend(terms(&mut marker.words, phrase));
                }
            }
        }
        let empty =
            marker.word_terms.is_empty() && marker.wholes.is_empty() && marker.prefixes.is_empty();
        (!empty).then_some(marker)
    }

    /// The snippet of `content`, or `None` when no word of the query is in it.
    pub fn snippet(&mut self, content: &str) -> Option<Snippet> {
        let mut marked: Vec<Range<usize>> = Vec::new();
        for token in tokens(&mut self.words, content) {
            if self.word_terms.contains(&token.text) {
                marked.push(token.offset_from..token.offset_to);
            }
        }
        for token in tokens(&mut self.exact, content) {
            let whole = self.wholes.contains(&token.text);
            if whole || self.prefixes.iter().any(|p| token.text.starts_with(p)) {
                marked.push(token.offset_from..token.offset_to);
            }
        }
        if marked.is_empty() {
            return None;
        }
        Some(fragment(content, &in_chars(content, merged(marked))))
    }
}

/// Ranges sorted, overlapping ones joined.
fn merged(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match out.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => out.push(range),
        }
    }
    out
}

/// Sorted byte ranges of `text` as character ranges, in one pass.
fn in_chars(text: &str, ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut chars = text
        .char_indices()
        .map(|(byte, _)| byte)
        .enumerate()
        .peekable();
    let mut char_at = |byte: usize| {
        while let Some(&(index, at)) = chars.peek() {
            if at >= byte {
                return index;
            }
            chars.next();
        }
        text.chars().count()
    };
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let start = char_at(range.start);
        out.push(start..char_at(range.end));
    }
    out
}

/// The window of at most [`SNIPPET_CHARS`] characters holding the most marks
/// (the earliest such), starting and ending at spaces where it can.
fn fragment(text: &str, marks: &[Range<usize>]) -> Snippet {
    let chars: Vec<char> = text.chars().collect();
    let (start, end) = if chars.len() <= SNIPPET_CHARS {
        (0, chars.len())
    } else {
        window(&chars, marks)
    };
    Snippet {
        text: chars[start..end].iter().collect(),
        highlights: marks
            .iter()
            .filter(|m| m.start >= start && m.end <= end)
            .map(|m| [m.start - start, m.end - start])
            .collect(),
    }
}

fn window(chars: &[char], marks: &[Range<usize>]) -> (usize, usize) {
    // Marks are sorted and apart: slide a window over them.
    let (mut best, mut most, mut end) = (0, 0, 0);
    for (first, mark) in marks.iter().enumerate() {
        end = end.max(first);
        while end < marks.len() && marks[end].end <= mark.start + SNIPPET_CHARS {
            end += 1;
        }
        if end - first > most {
            (best, most) = (mark.start, end - first);
        }
    }
    let mut start = best.saturating_sub(LEAD_CHARS);
    if start > 0 {
        if let Some(space) = chars[start..best].iter().position(|c| c.is_whitespace()) {
            start += space + 1;
        }
    }
    let mut end = (start + SNIPPET_CHARS).min(chars.len());
    if end < chars.len() {
        let last_mark = marks
            .iter()
            .filter(|m| m.start >= start && m.end <= end)
            .map(|m| m.end)
            .max()
            .unwrap_or(start);
        if let Some(space) = chars[last_mark..end]
            .iter()
            .rposition(|c| c.is_whitespace())
        {
            end = last_mark + space;
        }
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::search::parse_query;

    fn marked(query: &str, text: &str) -> Option<(String, Vec<String>)> {
        let snippet = Marker::new(&parse_query(query))?.snippet(text)?;
        let chars: Vec<char> = snippet.text.chars().collect();
        let marks = snippet
            .highlights
            .iter()
            .map(|[a, b]| chars[*a..*b].iter().collect())
            .collect();
        Some((snippet.text, marks))
    }

    #[test]
    fn words_phrases_tokens_and_prefixes_are_marked() {
        let (text, marks) = marked(
            "deploy \"rolling restart\" PLT-3699 conf*",
            "Deploying: rolling restart of PLT-3699, see config.toml",
        )
        .unwrap();
        assert_eq!(
            text,
            "Deploying: rolling restart of PLT-3699, see config.toml"
        );
        assert_eq!(
            marks,
            ["Deploying", "rolling", "restart", "PLT-3699", "config.toml"]
        );
        assert_eq!(marked("café", "Le Café ouvre").unwrap().1, ["Café"]);
        assert_eq!(marked("会議", "明日の会議です").unwrap().1, ["会議"]);
    }

    #[test]
    fn nothing_is_marked_for_filters_exclusions_or_absent_words() {
        assert!(Marker::new(&parse_query("from:@ann has:link -deploy")).is_none());
        assert!(marked("absent", "nothing here").is_none());
    }

    #[test]
    fn a_long_message_is_cut_around_its_marks() {
        let text = format!(
            "{} needle here {}",
            "word ".repeat(100),
            "tail ".repeat(100)
        );
        let (snippet, marks) = marked("needle", &text).unwrap();
        assert!(snippet.chars().count() <= SNIPPET_CHARS, "{snippet}");
        assert!(snippet.starts_with("word "), "{snippet}");
        assert!(!snippet.ends_with(' '), "{snippet:?}");
        assert_eq!(marks, ["needle"]);
        let lead = snippet.find("needle").unwrap();
        assert!((30..=LEAD_CHARS).contains(&lead), "{lead}");
    }

    #[test]
    fn many_marks_are_cut_in_linear_time() {
        let text = "a ".repeat(20_000);
        let snippet = Marker::new(&parse_query("a"))
            .unwrap()
            .snippet(&text)
            .unwrap();
        assert_eq!(snippet.highlights.len(), 100);
        assert_eq!(snippet.highlights[99], [198, 199]);
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let snippet = Marker::new(&parse_query("wörld"))
            .unwrap()
            .snippet("héllo wörld")
            .unwrap();
        assert_eq!(snippet.highlights, [[6, 11]]);
    }
}
