//! The enforcement ladder's state, which lives in the cases: each automated case holds the
//! strikes its violation added (live for `strike_days`, unless the case was overturned), and a
//! restriction holds its end, at which it is lifted once, by whichever instance looks first.

use sqlx::Row;

use super::{
    AuditEntry, Case, OutboxEvent, Store, StoreError, account_id_of, case_of, insert_audit, review,
};
use crate::case::{Actor, CaseId, CaseStatus};
use crate::message::AccountId;

impl Store {
    /// The strikes of cases opened since `since` (Unix ms) and not overturned, of one account
    /// or of all: (account, when, how many).
    pub async fn strikes_since(
        &self,
        since: i64,
        account_id: Option<&AccountId>,
    ) -> Result<Vec<(AccountId, i64, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id, opened_at, strikes FROM cases \
             WHERE strikes > 0 AND opened_at >= $1 AND status <> 'overturned' \
             AND ($2 IS NULL OR account_id = $2) ORDER BY opened_at",
        )
        .bind(since)
        .bind(account_id.map(AccountId::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let strikes: i64 = row.try_get("strikes")?;
                Ok((
                    account_id_of(row)?,
                    row.try_get("opened_at")?,
                    u32::try_from(strikes).unwrap_or(u32::MAX),
                ))
            })
            .collect()
    }

    /// Restrictions whose end is at or before `now` (Unix ms) and that still hold.
    pub async fn due_restrictions(&self, now: i64) -> Result<Vec<Case>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases \
             WHERE ends_at IS NOT NULL AND ends_at <= $1 AND status = 'suspended' \
             ORDER BY ends_at",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_of).collect()
    }

    /// Lifts a restriction that is due at `now`: the case ends, with its audit entry (by
    /// `automated:expiry`) and the events the ending owes, in one transaction. False, and
    /// nothing written, if it is not due or was lifted already (by another instance, or a
    /// person).
    pub async fn end_restriction(
        &self,
        case_id: &CaseId,
        events: &[OutboxEvent],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE cases SET status = $1, updated_at = $2, claimed_by = NULL, \
             claim_expires_at = NULL \
             WHERE case_id = $3 AND status = 'suspended' AND ends_at IS NOT NULL AND ends_at <= $2 \
             RETURNING account_id",
        )
        .bind(CaseStatus::Ended.as_str())
        .bind(now)
        .bind(case_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let entry = AuditEntry {
            at: now,
            actor: Actor::Expiry,
            action: "restriction_ended".into(),
            case_id: Some(case_id.clone()),
            account_id: account_id_of(&row)?,
            detail: String::new(),
        };
        insert_audit(&mut tx, &entry).await?;
        for event in events {
            review::insert_event(&mut tx, event, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
