//! People in the embedded index: one document per active membership, its
//! words and address as whole terms, found by their start and ordered by
//! display name.

use std::cmp::Reverse;
use std::path::Path;
use std::sync::Mutex;

use confab_core::id::UserId;
use confab_core::search::{PeopleSearch, PersonDocument};
use confab_core::{Error, Result};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, Value, FAST, STORED, STRING};
use tantivy::{doc, DocId, IndexReader, IndexWriter, SegmentReader, TantivyDocument, Term};

use crate::query::regex_escape;
use crate::{index_err, open_index};

#[derive(Clone, Copy)]
struct Fields {
    user: Field,
    workspace: Field,
    words: Field,
    email: Field,
    /// The first eight bytes of the lowercased display name, big-endian:
    /// the order of results (ties are put in order by the caller).
    name_key: Field,
}

/// The people index of a [`crate::TantivyIndex`].
pub(crate) struct PeopleIndex {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        user: builder.add_text_field("user", STRING | STORED),
        workspace: builder.add_text_field("workspace", STRING),
        words: builder.add_text_field("words", STRING),
        email: builder.add_text_field("email", STRING),
        name_key: builder.add_u64_field("name_key", FAST),
    };
    (builder.build(), fields)
}

/// The order key of `name`.
pub(crate) fn name_key(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(name.bytes()) {
        *slot = byte;
    }
    u64::from_be_bytes(bytes)
}

impl crate::slot::Opened for PeopleIndex {
    fn open(dir: &Path) -> Result<Self> {
        let (schema, fields) = schema();
        let (reader, writer) = open_index(dir, schema)?;
        Ok(Self {
            fields,
            reader,
            writer: Mutex::new(writer),
        })
    }

    fn writer(&self) -> &Mutex<IndexWriter> {
        &self.writer
    }
}

impl PeopleIndex {
    pub(crate) fn apply(
        &self,
        writer: &mut IndexWriter,
        users: &[UserId],
        documents: &[PersonDocument],
    ) -> Result<()> {
        let f = self.fields;
        for user in users {
            writer.delete_term(Term::from_field_text(f.user, &user.to_string()));
        }
        for person in documents {
            let mut document = doc!(
                f.user => person.user_id.to_string(),
                f.workspace => person.workspace_id.to_string(),
                f.email => person.email.clone(),
                f.name_key => name_key(&person.name_key()),
            );
            for word in person.words() {
                document.add_text(f.words, word);
            }
            writer.add_document(document).map_err(index_err)?;
        }
        writer.commit().map_err(index_err)?;
        self.reader.reload().map_err(index_err)
    }

    pub(crate) fn search(&self, search: &PeopleSearch) -> Result<Vec<UserId>> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.workspace, &search.workspace_id.to_string()),
                IndexRecordOption::Basic,
            )),
        )];
        for word in &search.words {
            let pattern = format!("{}.*", regex_escape(word));
            let mut starts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            let fields = if search.by_email {
                vec![f.words, f.email]
            } else {
                vec![f.words]
            };
            for field in fields {
                let query = RegexQuery::from_pattern(&pattern, field).map_err(index_err)?;
                starts.push((Occur::Should, Box::new(query)));
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(starts))));
        }
        let searcher = self.reader.searcher();
        let collector =
            TopDocs::with_limit(search.limit.max(1)).tweak_score(|segment: &SegmentReader| {
                let keys = segment
                    .fast_fields()
                    .u64("name_key")
                    .map(|c| c.first_or_default_col(u64::MAX));
                move |doc: DocId, _score| match &keys {
                    Ok(keys) => Reverse(keys.get_val(doc)),
                    Err(_) => Reverse(u64::MAX),
                }
            });
        let top = searcher
            .search(&BooleanQuery::new(clauses), &collector)
            .map_err(index_err)?;
        let mut found = Vec::with_capacity(top.len());
        for (_, address) in top {
            let stored: TantivyDocument = searcher.doc(address).map_err(index_err)?;
            let id = stored
                .get_first(f.user)
                .and_then(|v| v.as_str())
                .ok_or_else(|| index_err("a document without its user"))?
                .parse()
                .map_err(Error::internal)?;
            found.push(id);
        }
        Ok(found)
    }
}
