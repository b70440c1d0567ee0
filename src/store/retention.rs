//! Retention, enforced by code: what the privacy notice promises to keep only for a while is
//! deleted or emptied on schedule (`warden purge`, and hourly inside `warden run`). Accounts under
//! a legal hold are skipped. Every limit is measured against the `now` the caller passes, so
//! tests control the clock.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// The `[retention]` settings, in days.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Evidence excerpts, labels and appeal statements of closed (overturned, warned, ended) cases are
    /// deleted this long after the case closed. Default 30.
    pub evidence_days: i64,
    /// Processed messages' recorded verdicts are kept for the replay window: a message
    /// redelivered after it is decided again. Default 7.
    pub processed_days: i64,
    /// Audit entries are kept, but their free-text detail (reasons, notes) is emptied after
    /// this long. Default 365.
    pub audit_detail_days: i64,
    /// Events the outbox has sent are deleted after this long. Default 7.
    pub outbox_days: i64,
    /// How often `warden run` purges, in minutes. Default 60.
    pub purge_every_minutes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            evidence_days: 30,
            processed_days: 7,
            audit_detail_days: 365,
            outbox_days: 7,
            purge_every_minutes: 60,
        }
    }
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub evidence: u64,
    pub labels: u64,
    pub statements: u64,
    pub processed: u64,
    pub audit_details: u64,
    pub outbox: u64,
}

const DAY_MS: i64 = 86_400_000;

/// Cases closed before `$1` whose account is not under a legal hold.
const CLOSED_CASES: &str = "SELECT case_id FROM cases WHERE status IN ('overturned', 'warned', 'ended') \
     AND updated_at < $1 AND account_id NOT IN (SELECT account_id FROM legal_holds)";

impl Store {
    /// Applies `retention` as of `now` (Unix ms), in one transaction.
    pub async fn purge(&self, retention: &Retention, now: i64) -> Result<Purged, StoreError> {
        let evidence_before = now - retention.evidence_days * DAY_MS;
        let mut tx = self.pool.begin().await?;
        let mut run = async |sql: String, before: i64| -> Result<u64, StoreError> {
            Ok(sqlx::query(&sql)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected())
        };
        let purged = Purged {
            evidence: run(
                format!("DELETE FROM evidence WHERE case_id IN ({CLOSED_CASES})"),
                evidence_before,
            )
            .await?,
            labels: run(
                format!("DELETE FROM labels WHERE case_id IN ({CLOSED_CASES})"),
                evidence_before,
            )
            .await?,
            statements: run(
                format!(
                    "UPDATE appeals SET statement = '' WHERE statement <> '' \
                     AND case_id IN ({CLOSED_CASES})"
                ),
                evidence_before,
            )
            .await?,
            processed: run(
                "DELETE FROM processed_messages WHERE processed_at < $1".into(),
                now - retention.processed_days * DAY_MS,
            )
            .await?,
            audit_details: run(
                "UPDATE audit_log SET detail = '' WHERE detail <> '' AND at < $1 \
                 AND account_id NOT IN (SELECT account_id FROM legal_holds)"
                    .into(),
                now - retention.audit_detail_days * DAY_MS,
            )
            .await?,
            outbox: run(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1".into(),
                now - retention.outbox_days * DAY_MS,
            )
            .await?,
        };
        tx.commit().await?;
        Ok(purged)
    }
}
