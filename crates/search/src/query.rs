//! A search ([`Scope`]) as a Tantivy query: the caller's rights and the
//! filters as clauses of their own, and the words the person typed, each
//! made into terms by the analyzers the index was written with (never
//! parsed as query syntax).

use std::ops::Bound;

use confab_core::search::SearchTerm;
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

use crate::analysis::{self, terms};
use crate::scope::Scope;
use crate::Fields;

pub(crate) fn build(fields: &Fields, search: &Scope<'_>) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut words = analysis::words();
    let mut exact = analysis::exact();
    for group in &search.query.must {
        let alternatives: Vec<(Occur, Box<dyn Query>)> = group
            .iter()
            .filter_map(|t| term_query(fields, &mut words, &mut exact, t))
            .map(|q| (Occur::Should, q))
            .collect();
        if alternatives.is_empty() {
            continue;
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
    }
    for term in &search.query.must_not {
        if let Some(q) = term_query(fields, &mut words, &mut exact, term) {
            clauses.push((Occur::MustNot, q));
        }
    }
    if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
        // Filters alone (or only exclusions): every message, filtered.
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    clauses.extend(
        filters(fields, search)
            .into_iter()
            .map(|q| (Occur::Must, q)),
    );
    Box::new(BooleanQuery::new(clauses))
}

/// The rights and the filters: each a clause every hit must satisfy.
fn filters(fields: &Fields, search: &Scope<'_>) -> Vec<Box<dyn Query>> {
    let text = |field, value: String| Term::from_field_text(field, &value);
    let in_channels: Box<dyn Query> = Box::new(TermSetQuery::new(
        search
            .channels
            .iter()
            .map(|c| text(fields.channel, c.to_string())),
    ));
    let readable: Box<dyn Query> = match search.or_author {
        Some(author) => Box::new(BooleanQuery::new(vec![
            (Occur::Should, in_channels),
            (
                Occur::Should,
                Box::new(TermQuery::new(
                    text(fields.author, author.to_string()),
                    IndexRecordOption::Basic,
                )),
            ),
        ])),
        None => in_channels,
    };
    let mut out: Vec<Box<dyn Query>> = vec![
        Box::new(TermQuery::new(
            text(fields.workspace, search.workspace.to_string()),
            IndexRecordOption::Basic,
        )),
        readable,
    ];
    if !search.authors.is_empty() {
        out.push(Box::new(TermSetQuery::new(
            search
                .authors
                .iter()
                .map(|u| text(fields.author, u.to_string())),
        )));
    }
    let since = search.since.map(|at| at.timestamp_micros());
    let until = search.until.map(|at| at.timestamp_micros());
    if since.is_some() || until.is_some() {
        let lower = since.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_i64(fields.created, v))
        });
        let upper = until.map_or(Bound::Unbounded, |v| {
            Bound::Excluded(Term::from_field_i64(fields.created, v))
        });
        out.push(Box::new(RangeQuery::new(lower, upper)));
    }
    for flag in &search.all_flags {
        out.push(Box::new(TermQuery::new(
            text(fields.flags, (*flag).to_owned()),
            IndexRecordOption::Basic,
        )));
    }
    if !search.any_flags.is_empty() {
        out.push(Box::new(TermSetQuery::new(
            search
                .any_flags
                .iter()
                .map(|flag| text(fields.flags, (*flag).to_owned())),
        )));
    }
    out
}

/// The query for one typed term, or `None` when it holds no searchable text.
fn term_query(
    fields: &Fields,
    words: &mut tantivy::tokenizer::TextAnalyzer,
    exact: &mut tantivy::tokenizer::TextAnalyzer,
    term: &SearchTerm,
) -> Option<Box<dyn Query>> {
    match term {
        SearchTerm::Word(word) => {
            let parts = terms(words, word);
            let whole = terms(exact, word).into_iter().next()?;
            // The whole token (`PLT-3699`, `PARSERCONFIG` as typed), or its
            // words (stemmed) in a row.
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = vec![(
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(fields.exact, &whole),
                    IndexRecordOption::WithFreqs,
                )),
            )];
            if !parts.is_empty() {
                alternatives.push((Occur::Should, words_query(fields, &parts)));
            }
            Some(Box::new(BooleanQuery::new(alternatives)))
        }
        SearchTerm::Prefix(prefix) => {
            let whole = terms(exact, prefix).into_iter().next()?;
            let pattern = format!("{}.*", regex_escape(&whole));
            RegexQuery::from_pattern(&pattern, fields.exact)
                .ok()
                .map(|q| Box::new(q) as Box<dyn Query>)
        }
        SearchTerm::Phrase(phrase) => {
            let parts = terms(words, phrase);
            (!parts.is_empty()).then(|| words_query(fields, &parts))
        }
    }
}

/// One term, or several in a row.
fn words_query(fields: &Fields, parts: &[String]) -> Box<dyn Query> {
    let terms: Vec<Term> = parts
        .iter()
        .map(|p| Term::from_field_text(fields.content, p))
        .collect();
    if terms.len() == 1 {
        Box::new(TermQuery::new(
            terms.into_iter().next().expect("one term"),
            IndexRecordOption::WithFreqs,
        ))
    } else {
        Box::new(PhraseQuery::new(terms))
    }
}

/// `text` matched literally by Tantivy's regular expressions.
pub(crate) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~\"<>@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
