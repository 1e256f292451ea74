//! How text becomes terms. Two views of every message:
//!
//! - *words*: runs of letters and digits, split at camelCase and snake_case
//!   boundaries and at punctuation, lowercased, accents folded, English
//!   stems; Chinese, Japanese and Korean text as overlapping character
//!   pairs, so its words are found without a dictionary;
//! - *exact*: whitespace-separated chunks with their outer punctuation
//!   trimmed, lowercased and folded, so `PLT-3699`, `config.toml`,
//!   `ann@example.com`, URLs, `snake_case` and version numbers are found
//!   whole (and by prefix).

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Name of the words analyzer in the index's tokenizer manager.
pub const WORDS: &str = "confab_words";
/// Name of the exact-chunk analyzer.
pub const EXACT: &str = "confab_exact";

/// The words analyzer.
pub fn words() -> TextAnalyzer {
    TextAnalyzer::builder(WordSplitter)
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The exact-chunk analyzer.
pub fn exact() -> TextAnalyzer {
    TextAnalyzer::builder(ChunkSplitter)
        .filter(RemoveLongFilter::limit(200))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The terms `analyzer` makes of `text`.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The terms `analyzer` makes of `text`, with their positions and the byte
/// ranges of `text` they come from.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Token> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().clone());
    }
    out
}

/// Tokens made up front, handed out one by one.
pub struct Tokens {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

fn token(text: &str, from: usize, to: usize, position: usize) -> Token {
    Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text[from..to].to_owned(),
        position_length: 1,
    }
}

/// Whether `c` is written without spaces between words (Han, kana, Hangul).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // CJK Extensions B and later
}

/// Splits text into words (see the module).
#[derive(Clone, Copy, Default)]
pub struct WordSplitter;

impl Tokenizer for WordSplitter {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        Tokens {
            tokens: split_words(text),
            next: 0,
        }
    }
}

fn split_words(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(at, _)| *at);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if is_cjk(c) {
            let start = i;
            while i < chars.len() && is_cjk(chars[i].1) {
                i += 1;
            }
            if i - start == 1 {
                tokens.push(token(text, chars[start].0, end_of(i), tokens.len()));
            }
            for (k, pair) in chars[start..i].windows(2).enumerate() {
                let to = end_of(start + k + 2);
                tokens.push(token(text, pair[0].0, to, tokens.len()));
            }
        } else if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].1.is_alphanumeric() && !is_cjk(chars[i].1) {
                i += 1;
            }
            let mut from = start;
            for at in start + 1..i {
                if starts_word(&chars, at, i) {
                    tokens.push(token(text, chars[from].0, chars[at].0, tokens.len()));
                    from = at;
                }
            }
            tokens.push(token(text, chars[from].0, end_of(i), tokens.len()));
        } else {
            i += 1;
        }
    }
    tokens
}

/// Whether a camelCase word starts at `at` (inside a run ending at `end`):
/// `fooBar` before `B`, `HTTPServer` before `S`.
fn starts_word(chars: &[(usize, char)], at: usize, end: usize) -> bool {
    let (before, here) = (chars[at - 1].1, chars[at].1);
    if !here.is_uppercase() {
        return false;
    }
    before.is_lowercase()
        || (before.is_uppercase() && at + 1 < end && chars[at + 1].1.is_lowercase())
}

/// Splits text into whitespace-separated chunks without their outer
/// punctuation.
#[derive(Clone, Copy, Default)]
pub struct ChunkSplitter;

impl Tokenizer for ChunkSplitter {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let mut tokens = Vec::new();
        let mut at = 0;
        for chunk in text.split_whitespace() {
            let start = text[at..].find(chunk).map_or(at, |i| at + i);
            at = start + chunk.len();
            let trimmed = chunk.trim_matches(|c: char| !c.is_alphanumeric());
            if trimmed.is_empty() {
                continue;
            }
            let from = start + chunk.find(trimmed).unwrap_or(0);
            tokens.push(token(text, from, from + trimmed.len(), tokens.len()));
        }
        Tokens { tokens, next: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(text: &str) -> Vec<String> {
        terms(&mut words(), text)
    }

    fn exact_of(text: &str) -> Vec<String> {
        terms(&mut exact(), text)
    }

    #[test]
    fn words_are_split_folded_and_stemmed() {
        assert_eq!(
            words_of("Deploying the Café's parserConfig HTTPServer snake_case PLT-3699 v1.2.3"),
            [
                "deploy", "the", "cafe", "s", "parser", "config", "http", "server", "snake",
                "case", "plt", "3699", "v1", "2", "3"
            ]
        );
    }

    #[test]
    fn cjk_text_becomes_pairs() {
        assert_eq!(words_of("東京都 ok 猫"), ["東京", "京都", "ok", "猫"]);
        assert_eq!(words_of("会議は明日"), ["会議", "議は", "は明", "明日"]);
    }

    #[test]
    fn chunks_keep_exact_tokens_whole() {
        assert_eq!(
            exact_of("See (config.toml), mail Ann@Example.com or https://x.test/a?b=1. PLT-3699! snake_case"),
            [
                "see",
                "config.toml",
                "mail",
                "ann@example.com",
                "or",
                "https://x.test/a?b=1",
                "plt-3699",
                "snake_case"
            ]
        );
    }

    #[test]
    fn offsets_point_into_the_text() {
        let text = "héllo wörld, 東京";
        let mut analyzer = words();
        let mut stream = analyzer.token_stream(text);
        let mut spans = Vec::new();
        while stream.advance() {
            let t = stream.token();
            spans.push(&text[t.offset_from..t.offset_to]);
        }
        assert_eq!(spans, ["héllo", "wörld", "東京"]);
    }
}
