//! What a backup records about its database, and what a restore checks
//! against: the schema version and the rows of every table, read in the
//! same snapshot as the copy itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The latest migration applied to a database (the same on both).
pub const SCHEMA_VERSION_SQL: &str = "SELECT max(version) FROM _sqlx_migrations WHERE success";

/// The schema version and row counts of a database at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// The latest migration applied.
    pub schema_version: i64,
    /// Rows in each table, by name (a partitioned table counts all of its
    /// partitions).
    pub tables: BTreeMap<String, u64>,
}

impl Census {
    /// Every row of every table.
    pub fn rows(&self) -> u64 {
        self.tables.values().sum()
    }

    /// How `restored` differs from `self`, in words; empty when they match.
    pub fn differences(&self, restored: &Census) -> Vec<String> {
        let mut found = Vec::new();
        if self.schema_version != restored.schema_version {
            found.push(format!(
                "schema version {} where the backup had {}",
                restored.schema_version, self.schema_version
            ));
        }
        for (table, expected) in &self.tables {
            match restored.tables.get(table) {
                Some(rows) if rows == expected => {}
                Some(rows) => found.push(format!(
                    "table {table} has {rows} rows where the backup had {expected}"
                )),
                None => found.push(format!("table {table} is missing")),
            }
        }
        for table in restored.tables.keys() {
            if !self.tables.contains_key(table) {
                found.push(format!("table {table} is not in the backup"));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(version: i64, tables: &[(&str, u64)]) -> Census {
        Census {
            schema_version: version,
            tables: tables.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn differences_name_each_table_that_differs() {
        let backup = census(18, &[("messages", 10), ("users", 2)]);
        assert!(backup.differences(&backup.clone()).is_empty());
        assert_eq!(backup.rows(), 12);
        let restored = census(17, &[("messages", 9), ("extra", 0)]);
        assert_eq!(
            backup.differences(&restored),
            [
                "schema version 17 where the backup had 18",
                "table messages has 9 rows where the backup had 10",
                "table users is missing",
                "table extra is not in the backup",
            ]
        );
    }
}
