//! Whole-store dumps and loads in SQLite.

use rusqlite::types::ValueRef;

use super::SqliteStore;
use crate::StoreError;
use crate::transfer::{LoadRow, RowVisitor, TABLES, TableDump, Transfer, Value};

/// A table's columns, and the ORDER BY that lists its rows in key order.
fn layout(conn: &rusqlite::Connection, table: &str) -> Result<(Vec<String>, String), StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT name, pk FROM pragma_table_info('{table}') ORDER BY cid"))?;
    let mut columns = Vec::new();
    let mut keys: Vec<(i64, String)> = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let pk: i64 = r.get(1)?;
        if pk > 0 {
            keys.push((pk, name.clone()));
        }
        columns.push(name);
    }
    if columns.is_empty() {
        return Err(StoreError::Corrupt(format!("table {table} is missing")));
    }
    keys.sort();
    let key = keys.into_iter().map(|(_, k)| k).collect::<Vec<_>>().join(", ");
    match crate::transfer::key_of(table) {
        Some(listed) if listed == key => Ok((columns, key)),
        listed => Err(StoreError::Corrupt(format!("table {table}'s key is ({key}), the copy expects {listed:?}"))),
    }
}

fn value(v: ValueRef<'_>) -> Result<Value, StoreError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|e| StoreError::Corrupt(format!("text that is not UTF-8: {e}")))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as R};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => R::Null,
            Value::Int(i) => R::Integer(*i),
            Value::Real(f) => R::Real(*f),
            Value::Text(t) => R::Text(t.as_bytes()),
            Value::Blob(b) => R::Blob(b),
        }))
    }
}

impl Transfer for SqliteStore {
    fn dump(&self, visit: &mut RowVisitor<'_>) -> Result<(), StoreError> {
        let mut conn = self.read();
        // One read transaction: every table as of the same commit.
        let tx = conn.transaction()?;
        for table in TABLES {
            let (columns, order) = layout(&tx, table)?;
            let mut stmt = tx.prepare(&format!("SELECT {} FROM {table} ORDER BY {order}", columns.join(", ")))?;
            let mut rows = stmt.query([])?;
            let dump = TableDump { table, columns: &columns };
            let mut row = Vec::with_capacity(columns.len());
            while let Some(r) = rows.next()? {
                row.clear();
                for i in 0..columns.len() {
                    row.push(value(r.get_ref(i)?)?);
                }
                visit(&dump, &row)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn load(&self, rows: &mut dyn Iterator<Item = LoadRow>) -> Result<u64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let used: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit)
                  + (SELECT count(*) FROM orgs WHERE isac = 0)",
            [],
            |r| r.get(0),
        )?;
        if used > 0 {
            return Err(StoreError::Invalid(
                "the target store is in use (it has tokens, users, members or audit records): copy into a new, empty store"
                    .into(),
            ));
        }
        for table in TABLES.iter().rev() {
            if *table != "audit" {
                tx.execute(&format!("DELETE FROM {table}"), [])?;
            }
        }
        let mut n = 0u64;
        for row in rows {
            let (table, columns, values) = row?;
            if !TABLES.contains(&table.as_str()) {
                return Err(StoreError::Invalid(format!("unknown table {table:?} in the copy")));
            }
            if columns.is_empty()
                || columns.len() != values.len()
                || columns.iter().any(|c| c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            {
                return Err(StoreError::Invalid(format!("a malformed row of table {table} in the copy")));
            }
            let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                marks.join(", ")
            ))?;
            stmt.execute(rusqlite::params_from_iter(values.iter()))?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_list_is_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.read();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap();
        let mut found: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
        found.sort();
        listed.sort();
        assert_eq!(found, listed, "every table is copied, and only tables are listed");
    }
}
