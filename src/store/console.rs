//! What the reviewers' console needs beyond the JSON API: sign-in sessions (kept here so that
//! every instance knows them), the queue with filters, counts and pages, releasing a claim,
//! and the overview's counts.

use sqlx::Row;

use super::{
    Actor, AuditEntry, CaseId, Store, StoreError, StoredReason, insert_audit, review::live_claim,
    review::lock_case, review::queue_item_of,
};
use crate::case::Claim;

/// A signed-in reviewer's session, by the SHA-256 of its cookie's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub reviewer: String,
    /// `reviewer` or `admin`, as the reviewers file said at sign-in.
    pub role: String,
    /// The reviewers-file hash of the token the session was made from.
    pub token_sha256: String,
    /// The token every state-changing form of this session carries.
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// Which of the waiting cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// `Some(true)`: appeals only; `Some(false)`: cases in review only.
    pub appeals: Option<bool>,
    /// Only cases waiting since before this (Unix ms): the overdue ones.
    pub waiting_before: Option<i64>,
    /// Only cases this reviewer holds a live claim on.
    pub claimed_by: Option<Actor>,
    /// Only cases no one holds a live claim on.
    pub unclaimed: bool,
}

/// How many cases wait, by the filters' kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub all: i64,
    pub appeals: i64,
    pub in_review: i64,
    pub overdue: i64,
    pub unclaimed: i64,
    pub mine: i64,
}

/// What releasing a claim did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Releasing {
    Released,
    /// No live claim of this reviewer's was on the case: nothing changed.
    NotHeld,
    HeldByOther(Claim),
    NoSuchCase,
}

/// Open appeals and cases in review as one list, `waiting_since` being when each began to wait.
const WAITING: &str = "SELECT c.case_id, c.account_id, c.claimed_by, c.claim_expires_at, \
     a.appeal_id, a.opened_at AS waiting_since \
     FROM appeals a JOIN cases c ON c.case_id = a.case_id WHERE a.status = 'open' \
     UNION ALL \
     SELECT c.case_id, c.account_id, c.claimed_by, c.claim_expires_at, \
     CAST(NULL AS TEXT) AS appeal_id, c.opened_at AS waiting_since FROM cases c \
     WHERE c.status = 'in_review' \
     AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = c.case_id)";

impl Store {
    pub async fn create_console_session(
        &self,
        session_sha256: &str,
        session: &ConsoleSession,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_sessions (session_sha256, reviewer, role, token_sha256, csrf, \
             created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session_sha256)
        .bind(&session.reviewer)
        .bind(&session.role)
        .bind(&session.token_sha256)
        .bind(&session.csrf)
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn console_session(
        &self,
        session_sha256: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(
            "SELECT reviewer, role, token_sha256, csrf, created_at, last_seen_at, expires_at \
             FROM console_sessions WHERE session_sha256 = $1",
        )
        .bind(session_sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ConsoleSession {
            reviewer: row.try_get("reviewer")?,
            role: row.try_get("role")?,
            token_sha256: row.try_get("token_sha256")?,
            csrf: row.try_get("csrf")?,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Marks the session used at `now` (its idle timeout starts again).
    pub async fn touch_console_session(
        &self,
        session_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE session_sha256 = $2")
            .bind(now)
            .bind(session_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends one session (sign-out, or found expired or its token rotated).
    pub async fn end_console_session(&self, session_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE session_sha256 = $1")
            .bind(session_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes sessions past their expiry or idle since before `idle_since`; how many.
    pub async fn end_stale_console_sessions(
        &self,
        now: i64,
        idle_since: i64,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at < $2")
                .bind(now)
                .bind(idle_since)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    /// One page of the waiting cases that pass `filter`, oldest first.
    pub async fn queue_page(
        &self,
        now: i64,
        filter: &QueueFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<super::QueueItem>, StoreError> {
        let mut conditions = Vec::new();
        let mut next = 1;
        let mut placeholder = || {
            next += 1;
            format!("${}", next - 1)
        };
        if let Some(appeals) = filter.appeals {
            conditions.push(if appeals {
                "appeal_id IS NOT NULL".to_owned()
            } else {
                "appeal_id IS NULL".to_owned()
            });
        }
        let before = filter
            .waiting_before
            .map(|_| format!("waiting_since < {}", placeholder()));
        conditions.extend(before);
        let mine = filter.claimed_by.as_ref().map(|_| {
            format!(
                "claimed_by = {} AND claim_expires_at > {}",
                placeholder(),
                placeholder()
            )
        });
        conditions.extend(mine);
        if filter.unclaimed {
            conditions.push(format!(
                "(claimed_by IS NULL OR claim_expires_at <= {})",
                placeholder()
            ));
        }
        let limit_at = placeholder();
        let offset_at = placeholder();
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT * FROM ({WAITING}) waiting {filter_sql} \
             ORDER BY waiting_since, case_id LIMIT {limit_at} OFFSET {offset_at}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(before) = filter.waiting_before {
            query = query.bind(before);
        }
        if let Some(reviewer) = &filter.claimed_by {
            query = query.bind(reviewer.to_string()).bind(now);
        }
        if filter.unclaimed {
            query = query.bind(now);
        }
        let rows = query.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter().map(|row| queue_item_of(row, now)).collect()
    }

    /// How many cases wait, by kind, overdue (waiting since before `overdue_before`), unclaimed
    /// and claimed by `me`.
    pub async fn queue_counts(
        &self,
        now: i64,
        overdue_before: i64,
        me: &Actor,
    ) -> Result<QueueCounts, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS all_cases, \
             COALESCE(SUM(CASE WHEN appeal_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS appeals, \
             COALESCE(SUM(CASE WHEN waiting_since < $1 THEN 1 ELSE 0 END), 0) AS overdue, \
             COALESCE(SUM(CASE WHEN claimed_by IS NULL OR claim_expires_at <= $2 \
                 THEN 1 ELSE 0 END), 0) AS unclaimed, \
             COALESCE(SUM(CASE WHEN claimed_by = $3 AND claim_expires_at > $2 \
                 THEN 1 ELSE 0 END), 0) AS mine \
             FROM ({WAITING}) waiting"
        ))
        .bind(overdue_before)
        .bind(now)
        .bind(me.to_string())
        .fetch_one(&self.pool)
        .await?;
        let all: i64 = row.try_get("all_cases")?;
        let appeals: i64 = row.try_get("appeals")?;
        Ok(QueueCounts {
            all,
            appeals,
            in_review: all - appeals,
            overdue: row.try_get("overdue")?,
            unclaimed: row.try_get("unclaimed")?,
            mine: row.try_get("mine")?,
        })
    }

    /// Gives up `reviewer`'s live claim on a case, audited.
    pub async fn release_claim(
        &self,
        case_id: &CaseId,
        reviewer: &Actor,
        now: i64,
    ) -> Result<Releasing, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lock_case(&mut tx, case_id).await? {
            return Ok(Releasing::NoSuchCase);
        }
        let row = sqlx::query(
            "SELECT account_id, claimed_by, claim_expires_at FROM cases WHERE case_id = $1",
        )
        .bind(case_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        match live_claim(&row, now)? {
            None => return Ok(Releasing::NotHeld),
            Some(claim) if claim.reviewer != *reviewer => {
                return Ok(Releasing::HeldByOther(claim));
            }
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE cases SET claimed_by = NULL, claim_expires_at = NULL WHERE case_id = $1",
        )
        .bind(case_id.as_str())
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry {
            at: now,
            actor: reviewer.clone(),
            action: "release".into(),
            case_id: Some(case_id.clone()),
            account_id: super::account_id_of(&row)?,
            detail: String::new(),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Releasing::Released)
    }

    /// The reasons of the suspensions the account policy took on its own since `since` (Unix
    /// ms), one list per suspension.
    pub async fn automated_suspension_reasons(
        &self,
        since: i64,
    ) -> Result<Vec<Vec<StoredReason>>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.reasons FROM audit_log l JOIN cases c ON c.case_id = l.case_id \
             WHERE l.action = 'suspend' AND l.actor = $1 AND l.at >= $2",
        )
        .bind(Actor::Automated.to_string())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(serde_json::from_str(&row.try_get::<String, _>("reasons")?)?))
            .collect()
    }
}
