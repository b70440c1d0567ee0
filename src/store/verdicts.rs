//! Processed messages' verdicts: each message's verdict is recorded before it is produced, so
//! that a redelivered message is re-emitted as recorded instead of being decided again (and a
//! feedback record, under its own key, is not counted twice).

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// What is recorded for those of `keys` already decided (a redelivery): key to verdict
    /// JSON as produced. Keys are message ids and the ingest's feedback keys, whose rows hold
    /// a placeholder. One query for a batch, its keys in one JSON parameter.
    pub async fn recorded_verdicts(
        &self,
        keys: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let ids = serde_json::to_string(keys)?;
        Self::fetch_recorded(&self.pool, self.sqlite, &ids).await
    }

    /// Records each message's verdict (message id, JSON as it is to be produced), and each
    /// feedback record (its key, a placeholder), at `at` (Unix ms), in one statement; a key
    /// recorded before keeps its first row. When any was
    /// (another instance deciding the same redelivery, or one message id twice in a batch),
    /// returns what is recorded now for those rows, which is what must be produced; otherwise
    /// nothing.
    ///
    /// The batch travels as one JSON parameter that the database unpacks: binding three
    /// parameters a row cost more than the rows themselves (`warden bench`, SQLite: 25k
    /// messages/s with a statement per batch, 48k with statements of fixed sizes, against 77k
    /// without recording).
    pub async fn record_verdicts(
        &self,
        verdicts: &[(&str, &str)],
        at: i64,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows = serde_json::to_string(verdicts)?;
        let insert = if self.sqlite {
            "INSERT INTO processed_messages (message_id, processed_at, verdict) \
             SELECT json_extract(value, '$[0]'), $1, json_extract(value, '$[1]') \
             FROM json_each($2) WHERE true ON CONFLICT DO NOTHING"
        } else {
            "INSERT INTO processed_messages (message_id, processed_at, verdict) \
             SELECT row ->> 0, $1, row ->> 1 FROM json_array_elements($2::json) AS row \
             ON CONFLICT DO NOTHING"
        };
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(insert)
            .bind(at)
            .bind(&rows)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let recorded = if inserted == verdicts.len() as u64 {
            HashMap::new()
        } else {
            let ids: Vec<&str> = verdicts.iter().map(|(id, _)| *id).collect();
            Self::fetch_recorded(&mut *tx, self.sqlite, &serde_json::to_string(&ids)?).await?
        };
        tx.commit().await?;
        Ok(recorded)
    }

    /// Recorded verdicts of the message ids in the JSON array `ids`.
    async fn fetch_recorded<'c>(
        executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
        sqlite: bool,
        ids: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let select = if sqlite {
            "SELECT message_id, verdict FROM processed_messages \
             WHERE message_id IN (SELECT value FROM json_each($1))"
        } else {
            "SELECT message_id, verdict FROM processed_messages \
             WHERE message_id IN (SELECT json_array_elements_text($1::json))"
        };
        let mut recorded = HashMap::new();
        for row in sqlx::query(select).bind(ids).fetch_all(executor).await? {
            recorded.insert(row.try_get("message_id")?, row.try_get("verdict")?);
        }
        Ok(recorded)
    }
}
