//! Human review in the store: appeals, reviewers' claims, decisions, the outbox of events the
//! review API owes the pipeline, and false-positive labels.
//!
//! Every step that changes a case writes its events (`account-actions`, `notices`) and its
//! audit entry in the same transaction; `outbox::deliver` produces the events afterwards. A step
//! checks its preconditions inside the transaction, after taking the case's write lock, so two
//! reviewers racing each other cannot both win.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{
    Actor, AuditEntry, Case, CaseId, CaseStatus, Store, StoreError, account_id_of, actor_of,
    case_id_of, case_of, decoded, hex, insert_audit,
};
use crate::case::{self, Claim, Outcome, Refusal, Standing, Step};
use crate::message::AccountId;

/// An account holder's appeal against a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appeal {
    pub appeal_id: String,
    pub case_id: CaseId,
    pub account_id: AccountId,
    pub statement: String,
    pub status: AppealStatus,
    pub opened_at: i64,
    pub outcome: Option<Outcome>,
    /// The reviewer's explanation to the holder, once decided.
    pub explanation: Option<String>,
    pub decided_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppealStatus {
    Open,
    Decided,
}

impl AppealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealStatus::Open => "open",
            AppealStatus::Decided => "decided",
        }
    }
}

/// An event to produce once the step that wrote it has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_id: String,
    pub topic: OutboxTopic,
    /// The record key: the account id, as produced.
    pub key: String,
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxTopic {
    AccountActions,
    Notices,
}

impl OutboxTopic {
    fn as_str(self) -> &'static str {
        match self {
            OutboxTopic::AccountActions => "account_actions",
            OutboxTopic::Notices => "notices",
        }
    }
}

impl OutboxEvent {
    /// An event whose id derives from its content: written twice, it is stored once.
    pub fn new(topic: OutboxTopic, key: &AccountId, payload: String) -> Self {
        let digest = Sha256::digest(format!("{}|{key}|{payload}", topic.as_str()));
        Self {
            event_id: format!("EV{}", hex(&digest[..12])),
            topic,
            key: key.as_str().to_owned(),
            payload,
        }
    }
}

/// What a claim did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claiming {
    Claimed(Claim),
    HeldByOther(Claim),
    /// The reviewer took the decision under appeal (`case::recused`).
    Recused,
    NoSuchCase,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub case_id: CaseId,
    /// A reviewer, or an admin acting as one.
    pub actor: Actor,
    pub outcome: Outcome,
    pub note: String,
    pub at: i64,
}

/// What recording a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deciding {
    /// Recorded, with the step the lifecycle took (see [`crate::case::decision_step`]).
    Decided(Step),
    /// Not recorded; nothing was written.
    Refused(Refusal),
    NoSuchCase,
}

/// One entry of the reviewers' queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub case_id: CaseId,
    pub account_id: AccountId,
    pub appeal_id: Option<String>,
    /// Since when the case has waited for a human: the appeal, or the case's opening.
    pub waiting_since: i64,
    pub claim: Option<Claim>,
}

/// A case as a reviewer sees it, beyond [`Case`].
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDetail {
    pub case: Case,
    pub scores: crate::message::Scores,
    pub model_version: Option<String>,
    pub rules_version: String,
    pub updated_at: i64,
    pub claim: Option<Claim>,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub outcome: Outcome,
    /// Who decided: a reviewer, or the admin who reinstated by hand.
    pub reviewer: Actor,
    pub note: String,
    pub decided_at: i64,
}

/// The appeal id of a case: one appeal per case, so it derives from the case.
pub fn appeal_id(case_id: &CaseId) -> String {
    let digest = Sha256::digest(format!("appeal|{case_id}"));
    format!("AP{}", hex(&digest[..12]))
}

pub(super) fn appeal_of(row: &sqlx::any::AnyRow) -> Result<Appeal, StoreError> {
    let status: String = row.try_get("status")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    Ok(Appeal {
        appeal_id: row.try_get("appeal_id")?,
        case_id: case_id_of(row)?,
        account_id: account_id_of(row)?,
        statement: row.try_get("statement")?,
        status: if status == "open" {
            AppealStatus::Open
        } else {
            AppealStatus::Decided
        },
        opened_at: row.try_get("opened_at")?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        explanation: row.try_get("explanation")?,
        decided_at: row.try_get("decided_at")?,
    })
}

/// The claim the columns `claimed_by` and `claim_expires_at` of `row` hold, if it is live at
/// `now`.
pub(super) fn live_claim(row: &sqlx::any::AnyRow, now: i64) -> Result<Option<Claim>, StoreError> {
    let by: Option<String> = row.try_get("claimed_by")?;
    let until: Option<i64> = row.try_get("claim_expires_at")?;
    Ok(match (by, until) {
        (Some(reviewer), Some(expires_at)) if expires_at > now => Some(Claim {
            reviewer: decoded("claimed_by", Actor::parse(&reviewer))?,
            expires_at,
        }),
        _ => None,
    })
}

/// A row of the queue's queries (case, account, claim, appeal id, waiting since).
pub(super) fn queue_item_of(row: &sqlx::any::AnyRow, now: i64) -> Result<QueueItem, StoreError> {
    Ok(QueueItem {
        case_id: case_id_of(row)?,
        account_id: account_id_of(row)?,
        appeal_id: row.try_get("appeal_id")?,
        waiting_since: row.try_get("waiting_since")?,
        claim: live_claim(row, now)?,
    })
}

const DECISIONS_OF_CASE: &str = "SELECT outcome, reviewer, note, decided_at FROM decisions \
                                 WHERE case_id = $1 ORDER BY decided_at";

fn decision_of(row: &sqlx::any::AnyRow) -> Result<DecisionRecord, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    Ok(DecisionRecord {
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown outcome `{outcome}`").into()))?,
        reviewer: actor_of(row, "reviewer")?,
        note: row.try_get("note")?,
        decided_at: row.try_get("decided_at")?,
    })
}

pub(super) const APPEAL_COLUMNS: &str = "appeal_id, case_id, account_id, statement, status, opened_at, \
                              outcome, explanation, decided_at";

pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &OutboxEvent,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        // `seq`: the order of writing, which is the order of delivery (migration 0015).
        "INSERT INTO outbox (event_id, topic, event_key, payload, created_at, seq) \
         SELECT $1, $2, $3, $4, $5, COALESCE(MAX(seq), 0) + 1 FROM outbox \
         WHERE true ON CONFLICT DO NOTHING",
    )
    .bind(&event.event_id)
    .bind(event.topic.as_str())
    .bind(&event.key)
    .bind(&event.payload)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the case's write lock for the rest of the transaction (SQLite: the database's), so
/// that the checks that follow hold until commit. False if there is no such case.
pub(super) async fn lock_case(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &CaseId,
) -> Result<bool, StoreError> {
    let locked = sqlx::query("UPDATE cases SET updated_at = updated_at WHERE case_id = $1")
        .bind(case_id.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(locked == 1)
}

impl Store {
    /// Opens the holder's appeal on `case`, with its events, or returns the appeal the case
    /// already has (`false`: nothing was written).
    pub async fn open_appeal(
        &self,
        case: &Case,
        statement: &str,
        at: i64,
        events: &[OutboxEvent],
    ) -> Result<(Appeal, bool), StoreError> {
        let appeal_id = appeal_id(&case.case_id);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO appeals (appeal_id, case_id, account_id, statement, status, opened_at) \
             VALUES ($1, $2, $3, $4, 'open', $5) ON CONFLICT DO NOTHING",
        )
        .bind(&appeal_id)
        .bind(case.case_id.as_str())
        .bind(case.account_id.as_str())
        .bind(statement)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            for event in events {
                insert_event(&mut tx, event, at).await?;
            }
            let entry = AuditEntry {
                at,
                actor: Actor::Holder,
                action: "appeal".into(),
                case_id: Some(case.case_id.clone()),
                account_id: case.account_id.clone(),
                detail: appeal_id.clone(),
            };
            insert_audit(&mut tx, &entry).await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        let appeal = self
            .appeal(&appeal_id)
            .await?
            .expect("the appeal exists: inserted now or before");
        Ok((appeal, inserted))
    }

    pub async fn appeal(&self, appeal_id: &str) -> Result<Option<Appeal>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {APPEAL_COLUMNS} FROM appeals WHERE appeal_id = $1"
        ))
        .bind(appeal_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| appeal_of(&row)).transpose()
    }

    pub async fn appeal_of_case(&self, case_id: &CaseId) -> Result<Option<Appeal>, StoreError> {
        self.appeal(&appeal_id(case_id)).await
    }

    /// A case with what reviewers see beyond the holder's view.
    pub async fn case_detail(
        &self,
        case_id: &CaseId,
        now: i64,
    ) -> Result<Option<CaseDetail>, StoreError> {
        let row = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url, scores, model_version, \
             rules_version, updated_at, claimed_by, claim_expires_at FROM cases \
             WHERE case_id = $1",
        )
        .bind(case_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(CaseDetail {
            case: case_of(&row)?,
            scores: serde_json::from_str(&row.try_get::<String, _>("scores")?)?,
            model_version: row.try_get("model_version")?,
            rules_version: row.try_get("rules_version")?,
            updated_at: row.try_get("updated_at")?,
            claim: live_claim(&row, now)?,
        }))
    }

    /// The case's decisions, oldest first.
    pub async fn decisions(&self, case_id: &CaseId) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = sqlx::query(DECISIONS_OF_CASE)
            .bind(case_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decision_of).collect()
    }

    /// Reviewers' labels (`ham` for the evidence of overturned cases), with their redacted
    /// excerpts, oldest first.
    pub async fn labels(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT label, excerpt FROM labels ORDER BY at, message_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("label")?, row.try_get("excerpt")?)))
            .collect()
    }

    /// Appeals waiting for a decision.
    pub async fn open_appeals(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS open FROM appeals WHERE status = 'open'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("open")?)
    }

    /// When the oldest open appeal was opened (Unix ms), if any is open.
    pub async fn oldest_open_appeal(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT opened_at FROM appeals WHERE status = 'open' ORDER BY opened_at LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.try_get("opened_at")).transpose()?)
    }

    /// Cases waiting for a human, oldest first: open appeals, and cases in review. Each kind
    /// is read oldest first from its own index, and the two are merged.
    pub async fn review_queue(&self, now: i64, limit: i64) -> Result<Vec<QueueItem>, StoreError> {
        let appeals = sqlx::query(
            "SELECT c.case_id, c.account_id, c.claimed_by, c.claim_expires_at, a.appeal_id, \
             a.opened_at AS waiting_since \
             FROM appeals a JOIN cases c ON c.case_id = a.case_id \
             WHERE a.status = 'open' ORDER BY a.opened_at, a.appeal_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let in_review = sqlx::query(
            "SELECT c.case_id, c.account_id, c.claimed_by, c.claim_expires_at, \
             CAST(NULL AS TEXT) AS appeal_id, c.opened_at AS waiting_since FROM cases c \
             WHERE c.status = 'in_review' \
             AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = c.case_id) \
             ORDER BY c.opened_at, c.case_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut items = appeals
            .iter()
            .chain(&in_review)
            .map(|row| queue_item_of(row, now))
            .collect::<Result<Vec<_>, StoreError>>()?;
        items.sort_by(|a, b| (a.waiting_since, &a.case_id).cmp(&(b.waiting_since, &b.case_id)));
        items.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(items)
    }

    /// Claims the case for `reviewer` until `expires_at`, unless another reviewer's claim is
    /// still live. Claiming again extends one's own claim.
    pub async fn claim(
        &self,
        case_id: &CaseId,
        reviewer: &Actor,
        now: i64,
        expires_at: i64,
    ) -> Result<Claiming, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lock_case(&mut tx, case_id).await? {
            return Ok(Claiming::NoSuchCase);
        }
        let (account_id, standing) = Self::standing(&mut tx, case_id, now).await?;
        if let Some(held) = &standing.claim
            && held.reviewer != *reviewer
        {
            return Ok(Claiming::HeldByOther(held.clone()));
        }
        if case::recused(&standing, reviewer) {
            return Ok(Claiming::Recused);
        }
        sqlx::query("UPDATE cases SET claimed_by = $1, claim_expires_at = $2 WHERE case_id = $3")
            .bind(reviewer.to_string())
            .bind(expires_at)
            .bind(case_id.as_str())
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry {
            at: now,
            actor: reviewer.clone(),
            action: "claim".into(),
            case_id: Some(case_id.clone()),
            account_id,
            detail: format!("until {expires_at}"),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Claiming::Claimed(Claim {
            reviewer: reviewer.clone(),
            expires_at,
        }))
    }

    /// Records a reviewer's decision on a case, if the case's lifecycle allows it
    /// ([`crate::case::decision_step`], asked under the case's lock), in one transaction: the new
    /// status, the decision, the appeal closed, evidence labelled, the audit entry and the
    /// events `events_for` builds for the step (the outbox), so that a decision and what it
    /// owes are written together or not at all.
    pub async fn record_decision(
        &self,
        decision: &NewDecision,
        events_for: impl FnOnce(&Step) -> Vec<OutboxEvent>,
    ) -> Result<Deciding, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lock_case(&mut tx, &decision.case_id).await? {
            return Ok(Deciding::NoSuchCase);
        }
        let (account_id, standing) =
            Self::standing(&mut tx, &decision.case_id, decision.at).await?;
        let step = match case::decision_step(&standing, decision.outcome, &decision.actor) {
            Ok(step) => step,
            Err(refusal) => return Ok(Deciding::Refused(refusal)),
        };
        sqlx::query(
            "UPDATE cases SET status = $1, updated_at = $2, claimed_by = NULL, \
             claim_expires_at = NULL WHERE case_id = $3",
        )
        .bind(step.status.as_str())
        .bind(decision.at)
        .bind(decision.case_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO decisions (case_id, outcome, reviewer, note, decided_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(decision.case_id.as_str())
        .bind(decision.outcome.as_str())
        .bind(decision.actor.to_string())
        .bind(&decision.note)
        .bind(decision.at)
        .execute(&mut *tx)
        .await?;
        if step.closes_appeal {
            sqlx::query(
                "UPDATE appeals SET status = 'decided', outcome = $1, explanation = $2, \
                 decided_at = $3 WHERE case_id = $4",
            )
            .bind(decision.outcome.as_str())
            .bind(&decision.note)
            .bind(decision.at)
            .bind(decision.case_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        if step.labels_evidence_ham {
            sqlx::query(
                "INSERT INTO labels (message_id, case_id, label, excerpt, at) \
                 SELECT message_id, case_id, 'ham', excerpt, $1 FROM evidence \
                 WHERE case_id = $2 ON CONFLICT DO NOTHING",
            )
            .bind(decision.at)
            .bind(decision.case_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for event in &events_for(&step) {
            insert_event(&mut tx, event, decision.at).await?;
        }
        let entry = AuditEntry {
            at: decision.at,
            actor: decision.actor.clone(),
            action: step.audit_action.into(),
            case_id: Some(decision.case_id.clone()),
            account_id,
            detail: decision.note.clone(),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Deciding::Decided(step))
    }

    /// The case's account and how it stands at `now`, read under its lock.
    async fn standing(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        case_id: &CaseId,
        now: i64,
    ) -> Result<(AccountId, Standing), StoreError> {
        let row = sqlx::query(
            "SELECT c.account_id, c.status, c.claimed_by, c.claim_expires_at, \
             a.status AS appeal_status FROM cases c \
             LEFT JOIN appeals a ON a.case_id = c.case_id WHERE c.case_id = $1",
        )
        .bind(case_id.as_str())
        .fetch_one(&mut **tx)
        .await?;
        let status: String = row.try_get("status")?;
        let appeal_status: Option<String> = row.try_get("appeal_status")?;
        let earlier = Self::decisions_in(tx, case_id).await?;
        let standing = Standing {
            status: CaseStatus::parse(&status).ok_or_else(|| {
                StoreError::Database(sqlx::Error::Decode(
                    format!("unknown case status {status:?}").into(),
                ))
            })?,
            appeal_open: appeal_status.as_deref() == Some("open"),
            claim: live_claim(&row, now)?,
            decided: earlier.last().map(|last| last.outcome),
            decided_by: Self::opened_by(tx, case_id)
                .await?
                .into_iter()
                .chain(earlier.into_iter().map(|d| d.reviewer))
                .filter_map(|actor| actor.person().map(str::to_owned))
                .collect(),
        };
        Ok((account_id_of(&row)?, standing))
    }

    /// Who opened the case: `automated`, or the admin who suspended the account by hand.
    async fn opened_by(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        case_id: &CaseId,
    ) -> Result<Option<Actor>, StoreError> {
        let actor: Option<String> = sqlx::query_scalar(
            "SELECT actor FROM audit_log WHERE case_id = $1 ORDER BY at, entry_id LIMIT 1",
        )
        .bind(case_id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        actor
            .map(|actor| {
                Actor::parse(&actor).map_err(|error| {
                    StoreError::Database(sqlx::Error::Decode(
                        format!("audit actor {actor:?}: {error}").into(),
                    ))
                })
            })
            .transpose()
    }

    async fn decisions_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        case_id: &CaseId,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = sqlx::query(DECISIONS_OF_CASE)
            .bind(case_id.as_str())
            .fetch_all(&mut **tx)
            .await?;
        rows.iter().map(decision_of).collect()
    }

    /// Events not yet acknowledged by the broker, in the order they were written.
    pub async fn unsent_events(&self, limit: i64) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, topic, event_key, payload FROM outbox WHERE sent_at IS NULL \
             ORDER BY seq, created_at, event_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let topic: String = row.try_get("topic")?;
                Ok(OutboxEvent {
                    event_id: row.try_get("event_id")?,
                    topic: match topic.as_str() {
                        "account_actions" => OutboxTopic::AccountActions,
                        _ => OutboxTopic::Notices,
                    },
                    key: row.try_get("event_key")?,
                    payload: row.try_get("payload")?,
                })
            })
            .collect()
    }

    pub async fn mark_events_sent(&self, event_ids: &[&str], at: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for id in event_ids {
            sqlx::query("UPDATE outbox SET sent_at = $1 WHERE event_id = $2")
                .bind(at)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Accounts whose cases changed at or after `since` (Unix ms), with each case's status,
    /// oldest change first: what a running enforcer must follow (reinstatements, suspensions
    /// by reviewers and admins).
    pub async fn case_changes_since(
        &self,
        since: i64,
    ) -> Result<Vec<(AccountId, CaseStatus)>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases \
             WHERE updated_at >= $1 ORDER BY updated_at, case_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| case_of(row).map(|case| (case.account_id, case.status)))
            .collect()
    }
}
