//! Recipients' opt-outs: which recipients (keyed hashes) an account may not message, until
//! they opt back in. Written by the stream processor that consumes the feedback, read whole by
//! every processor at start and after each partition assignment.

use sqlx::Row;

use super::{Store, StoreError, account_id_of};
use crate::message::AccountId;

impl Store {
    /// Records that `recipient` opted out of the account's messages at `at` (Unix ms), or,
    /// with `opted_out` false, opted back in. Repeating either changes nothing.
    pub async fn set_opt_out(
        &self,
        account_id: &AccountId,
        recipient: u64,
        opted_out: bool,
        at: i64,
    ) -> Result<(), StoreError> {
        let query = if opted_out {
            sqlx::query(
                "INSERT INTO opt_outs (account_id, recipient, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id, recipient) DO NOTHING",
            )
            .bind(account_id.as_str())
            .bind(recipient as i64)
            .bind(at)
        } else {
            sqlx::query("DELETE FROM opt_outs WHERE account_id = $1 AND recipient = $2")
                .bind(account_id.as_str())
                .bind(recipient as i64)
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Every account's opted-out recipients.
    pub async fn opt_outs(&self) -> Result<Vec<(AccountId, u64)>, StoreError> {
        sqlx::query("SELECT account_id, recipient FROM opt_outs")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let recipient: i64 = row.try_get("recipient")?;
                Ok((account_id_of(row)?, recipient as u64))
            })
            .collect()
    }
}
