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
    /// Only cases after this one in the queue's order (waiting since, case id): the next page
    /// starts after the last case of this one.
    pub after: Option<(i64, CaseId)>,
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

/// The waiting cases of one kind, each read in order from its own index: open appeals by
/// `appeals_by_status`, cases in review (without an appeal) by `cases_by_status`.
const APPEALS_WAITING: &str = "SELECT c.case_id, c.account_id, c.claimed_by, c.claim_expires_at, \
     a.appeal_id, a.opened_at AS waiting_since \
     FROM appeals a JOIN cases c ON c.case_id = a.case_id WHERE a.status = 'open'";
const IN_REVIEW_WAITING: &str = "SELECT c.case_id, c.account_id, c.claimed_by, \
     c.claim_expires_at, CAST(NULL AS TEXT) AS appeal_id, c.opened_at AS waiting_since \
     FROM cases c WHERE c.status = 'in_review' \
     AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = c.case_id)";

/// A filter as SQL conditions on a kind's query (`since` names its waiting column), with the
/// values to bind, in order, from `$1`.
fn conditions(filter: &QueueFilter, now: i64, since: &str) -> (String, Vec<Bound>) {
    let mut sql = String::new();
    let mut values = Vec::new();
    let next = |value: Bound, values: &mut Vec<Bound>| {
        values.push(value);
        format!("${}", values.len())
    };
    if let Some(before) = filter.waiting_before {
        let at = next(Bound::Int(before), &mut values);
        sql.push_str(&format!(" AND {since} < {at}"));
    }
    if let Some(reviewer) = &filter.claimed_by {
        let who = next(Bound::Text(reviewer.to_string()), &mut values);
        let at = next(Bound::Int(now), &mut values);
        sql.push_str(&format!(
            " AND c.claimed_by = {who} AND c.claim_expires_at > {at}"
        ));
    }
    if filter.unclaimed {
        let at = next(Bound::Int(now), &mut values);
        sql.push_str(&format!(
            " AND (c.claimed_by IS NULL OR c.claim_expires_at <= {at})"
        ));
    }
    if let Some((waiting_since, case_id)) = &filter.after {
        let at = next(Bound::Int(*waiting_since), &mut values);
        let again = next(Bound::Int(*waiting_since), &mut values);
        let id = next(Bound::Text(case_id.to_string()), &mut values);
        sql.push_str(&format!(
            " AND ({since} > {at} OR ({since} = {again} AND c.case_id > {id}))"
        ));
    }
    (sql, values)
}

enum Bound {
    Int(i64),
    Text(String),
}

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

    /// The first `limit` waiting cases that pass `filter`, oldest first. Each kind is read in
    /// order from its own index, from the filter's cursor on, and the two are merged: a page
    /// costs the same at any depth of the queue.
    pub async fn queue_page(
        &self,
        now: i64,
        filter: &QueueFilter,
        limit: i64,
    ) -> Result<Vec<super::QueueItem>, StoreError> {
        let mut items = Vec::new();
        for (kind, since, wanted) in [
            (
                APPEALS_WAITING,
                "a.opened_at",
                filter.appeals != Some(false),
            ),
            (
                IN_REVIEW_WAITING,
                "c.opened_at",
                filter.appeals != Some(true),
            ),
        ] {
            if !wanted {
                continue;
            }
            let (conditions, values) = conditions(filter, now, since);
            let sql = format!(
                "{kind}{conditions} ORDER BY {since}, c.case_id LIMIT ${}",
                values.len() + 1
            );
            let mut query = sqlx::query(&sql);
            for value in values {
                query = match value {
                    Bound::Int(value) => query.bind(value),
                    Bound::Text(value) => query.bind(value),
                };
            }
            for row in query.bind(limit).fetch_all(&self.pool).await? {
                items.push(queue_item_of(&row, now)?);
            }
        }
        items.sort_by(|a, b| (a.waiting_since, &a.case_id).cmp(&(b.waiting_since, &b.case_id)));
        items.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(items)
    }

    /// How many cases wait, by kind, overdue (waiting since before `overdue_before`), unclaimed
    /// and claimed by `me`. Each count is read from an index: the open appeals and the cases
    /// in review by status and age, the claims from the live claims (few at any time).
    pub async fn queue_counts(
        &self,
        now: i64,
        overdue_before: i64,
        me: &Actor,
    ) -> Result<QueueCounts, StoreError> {
        let count = |sql: String, values: Vec<Bound>| async move {
            let mut query = sqlx::query_scalar::<_, i64>(&sql);
            for value in values {
                query = match value {
                    Bound::Int(value) => query.bind(value),
                    Bound::Text(value) => query.bind(value),
                };
            }
            query.fetch_one(&self.pool).await
        };
        // Every appeal has its case (a foreign key): open appeals are counted on their own index.
        let open_appeals = "SELECT COUNT(*) FROM appeals a WHERE a.status = 'open'";
        let of = |kind: &str| format!("SELECT COUNT(*) FROM ({kind}) waiting");
        let appeals = count(open_appeals.to_owned(), vec![]).await?;
        let in_review = count(of(IN_REVIEW_WAITING), vec![]).await?;
        let overdue_appeals = count(
            format!("{open_appeals} AND a.opened_at < $1"),
            vec![Bound::Int(overdue_before)],
        )
        .await?;
        let overdue_in_review = count(
            of(&format!("{IN_REVIEW_WAITING} AND c.opened_at < $1")),
            vec![Bound::Int(overdue_before)],
        )
        .await?;
        // Live claims on waiting cases, by whom.
        let claims = sqlx::query(
            "SELECT c.claimed_by FROM cases c \
             WHERE c.claimed_by IS NOT NULL AND c.claim_expires_at > $1 \
             AND ((c.status = 'in_review' \
                   AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = c.case_id)) \
                 OR EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = c.case_id AND a.status = 'open'))",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let me = me.to_string();
        let mut mine = 0;
        for row in &claims {
            mine += i64::from(row.try_get::<String, _>("claimed_by")? == me);
        }
        let all = appeals + in_review;
        Ok(QueueCounts {
            all,
            appeals,
            in_review,
            overdue: overdue_appeals + overdue_in_review,
            unclaimed: all - claims.len() as i64,
            mine,
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
