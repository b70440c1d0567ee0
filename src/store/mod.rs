//! The store: cases, redacted evidence, review decisions, the audit log and processed messages'
//! verdicts, in SQLite (default, `sqlite://FILE`) or PostgreSQL (`postgres://…`, for several
//! instances), through one code path and the same migrations (`migrations/`).
//!
//! Idempotence lives in the schema, not in callers' care: a case id is derived from the account
//! and the message that triggered it, a partial unique index allows one active case per account,
//! audit entries are keyed by their content, and every insert is `ON CONFLICT DO NOTHING`. A
//! replayed decision therefore finds its work already done. Each message's verdict is recorded
//! (`processed_messages`) before it is produced, so a redelivered message is re-emitted as
//! recorded instead of being decided again; each feedback record is recorded there too, under
//! its own key, so a redelivered one is not counted again.

mod admin;
mod console;
mod ladder;
mod opt_outs;
mod report;
mod retention;
mod review;
mod signals;
mod verdicts;
mod versions;

pub use admin::{AccountExport, Erasure};
pub use console::{ConsoleSession, QueueCounts, QueueFilter, Releasing};
pub use retention::{Purged, Retention};
pub use review::{
    Appeal, AppealStatus, CaseDetail, Claiming, Deciding, DecisionRecord, NewDecision, OutboxEvent,
    OutboxTopic, QueueItem, appeal_id,
};
pub use versions::RulesLoad;

pub use crate::case::{Actor, CaseId, CaseStatus, Claim, Outcome};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};

use crate::message::{AccountId, Action, MessageId, RuleId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (use sqlite://FILE or postgres://...)")]
    UnsupportedUrl,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("back up PostgreSQL with pg_dump (see README); `warden backup` copies SQLite stores")]
    BackupUnsupported,
}

impl StoreError {
    /// Whether trying again may succeed: the database unreachable, restarting, busy or out of
    /// room, the pool out of connections, a transaction that lost a race. Everything else (a
    /// constraint, a row that does not decode, stored JSON that does not parse, a schema the
    /// migrations refuse) fails the same way every time, and retrying it would only hide it.
    pub fn is_transient(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(database) => {
                let code = database.code().unwrap_or_default();
                if database
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    // SQLSTATE: connection exceptions, insufficient resources, serialization
                    // failures and deadlocks, lock timeouts, a server shutting down.
                    code.starts_with("08")
                        || code.starts_with("53")
                        || ["40001", "40P01", "55P03", "57P01", "57P02", "57P03"]
                            .contains(&code.as_ref())
                } else {
                    // SQLite's extended result code; its low byte is the primary code: BUSY,
                    // LOCKED, IOERR, FULL, CANTOPEN.
                    code.parse::<i32>()
                        .is_ok_and(|code| [5, 6, 10, 13, 14].contains(&(code & 0xff)))
                }
            }
            _ => false,
        }
    }
}

/// A reason as stored and shown to the account holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReason {
    pub code: String,
    pub description: String,
}

/// One message's evidence: a redacted excerpt (see `privacy::excerpt`), never the raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub message_id: MessageId,
    pub excerpt: String,
    pub rule_hits: Vec<RuleId>,
    pub action: Action,
    /// Unix milliseconds.
    pub sent_at: i64,
}

/// A case to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    pub account_id: AccountId,
    /// The message whose decision opened the case; with the account, it names the case. Not a
    /// `MessageId`: feedback and admins open cases under triggers of their own
    /// (`feedback:<kind>:<message id>`, `manual:<actor>:<at>`).
    pub trigger_message_id: String,
    pub status: CaseStatus,
    pub reasons: Vec<StoredReason>,
    pub scores: crate::message::Scores,
    pub model_version: Option<String>,
    pub rules_version: String,
    pub evidence: Vec<Evidence>,
    /// The automated policy, or the admin who suspended by hand.
    pub actor: Actor,
    /// Unix milliseconds.
    pub at: i64,
    /// The strikes the violation adds to the account (`suspension::Ladder`); 0 for a case
    /// opened by hand.
    pub strikes: u32,
    /// When a restriction ends (Unix ms); `None` for a warning or an indefinite suspension.
    pub ends_at: Option<i64>,
    /// The clause of the terms its notices link (its rules' policy tag's URL); `None`: the
    /// general policy URL.
    pub policy_url: Option<String>,
}

impl NewCase {
    /// The case id: the same account and trigger always give the same id.
    pub fn case_id(&self) -> CaseId {
        CaseId::derive(&self.account_id, &self.trigger_message_id)
    }

    /// The case as it will be stored, for the events its opening owes.
    pub fn as_case(&self) -> Case {
        Case {
            case_id: self.case_id(),
            account_id: self.account_id.clone(),
            status: self.status,
            reasons: self.reasons.clone(),
            opened_at: self.at,
            ends_at: self.ends_at,
            policy_url: self.policy_url.clone(),
        }
    }
}

/// What opening a case did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// A new case, with its audit entry and evidence, is durable.
    Opened { case_id: CaseId },
    /// The account already has an active case; nothing was written.
    AlreadyActive { case_id: CaseId },
}

/// A stored case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub case_id: CaseId,
    pub account_id: AccountId,
    pub status: CaseStatus,
    pub reasons: Vec<StoredReason>,
    pub opened_at: i64,
    /// When a restriction ends (Unix ms): a suspension with an end is a restriction.
    pub ends_at: Option<i64>,
    /// The clause of the terms its notices link; `None`: the general policy URL.
    pub policy_url: Option<String>,
}

/// An audit log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: Actor,
    pub action: String,
    pub case_id: Option<CaseId>,
    pub account_id: AccountId,
    pub detail: String,
}

/// A trip or a reset of the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerEvent {
    /// Unix milliseconds, wall clock.
    pub at: i64,
    pub tripped: bool,
    /// `Automated` for a trip, an admin for a reset.
    pub actor: Actor,
    pub detail: String,
}

/// The database behind Warden's decisions.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Which SQL dialect the few backend-specific statements use.
    sqlite: bool,
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            // Create the file on first use.
            let separator = if path.contains('?') { '&' } else { '?' };
            format!("sqlite://{path}{separator}mode=rwc")
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.to_owned()
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let sqlite = url.starts_with("sqlite://");
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            // A ping before each use finds a server that dropped the connection; a SQLite file
            // drops nothing, and the ping was a round trip to its worker thread per batch.
            .test_before_acquire(!sqlite)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // SQLite: a write-ahead log, synced at checkpoints rather than at every
                    // commit. A committed case survives a crash of Warden (the log is written
                    // before commit returns); only a power cut may lose the last commits.
                    if conn.backend_name() == "SQLite" {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, sqlite })
    }

    /// Opens a case with its evidence, audit entry and the events its opening owes (the
    /// outbox), in one transaction, unless the account already has an active case (or this
    /// very case exists: a replay, which writes nothing).
    pub async fn open_case(
        &self,
        case: &NewCase,
        events: &[OutboxEvent],
    ) -> Result<Opening, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !insert_case(&mut tx, self.sqlite, case).await? {
            tx.rollback().await?;
            return self.already_active(case).await;
        }
        for event in events {
            review::insert_event(&mut tx, event, case.at).await?;
        }
        tx.commit().await?;
        Ok(Opening::Opened {
            case_id: case.case_id(),
        })
    }

    async fn already_active(&self, case: &NewCase) -> Result<Opening, StoreError> {
        let active = self.active_case(&case.account_id).await?;
        Ok(Opening::AlreadyActive {
            case_id: active.map_or_else(|| case.case_id(), |c| c.case_id),
        })
    }

    /// The account's active (suspended or in review) case, if any.
    pub async fn active_case(&self, account_id: &AccountId) -> Result<Option<Case>, StoreError> {
        let row = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases \
             WHERE account_id = $1 AND status IN ('suspended', 'in_review')",
        )
        .bind(account_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| case_of(&row)).transpose()
    }

    pub async fn case(&self, case_id: &CaseId) -> Result<Option<Case>, StoreError> {
        let row = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases WHERE case_id = $1",
        )
        .bind(case_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| case_of(&row)).transpose()
    }

    pub async fn evidence(&self, case_id: &CaseId) -> Result<Vec<Evidence>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, excerpt, rule_hits, action, sent_at FROM evidence \
             WHERE case_id = $1 ORDER BY sent_at, message_id",
        )
        .bind(case_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Evidence {
                    message_id: parsed(row, "message_id", |raw| {
                        MessageId::parse("message_id", raw)
                    })?,
                    excerpt: row.try_get("excerpt")?,
                    rule_hits: serde_json::from_str(&row.try_get::<String, _>("rule_hits")?)?,
                    action: parsed(row, "action", |raw| {
                        Action::parse(&raw).ok_or(format!("unknown action {raw:?}"))
                    })?,
                    sent_at: row.try_get("sent_at")?,
                })
            })
            .collect()
    }

    /// Appends an audit entry (a replay of the same entry writes nothing).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a consistent copy of a SQLite store to `path` while it is in use (`VACUUM INTO`).
    /// PostgreSQL is backed up with its own tools (`pg_dump`), so it is refused here.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await?;
        if connection.backend_name() != "SQLite" {
            return Err(StoreError::BackupUnsupported);
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(&mut *connection)
            .await?;
        Ok(())
    }

    /// Answers if the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Moves a case's owed events into the outbox and marks the case notified, in one
    /// transaction: for cases a version before the one outbox opened and had not announced.
    pub async fn enqueue_owed(
        &self,
        case_id: &CaseId,
        events: &[OutboxEvent],
        at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "UPDATE cases SET notified_at = $1 WHERE case_id = $2 AND notified_at IS NULL",
        )
        .bind(at)
        .bind(case_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 1 {
            for event in events {
                review::insert_event(&mut tx, event, at).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Active cases whose events were never written to the outbox (opened by a version before
    /// it carried them): moved there at startup.
    pub async fn unnotified_cases(&self) -> Result<Vec<Case>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases \
             WHERE notified_at IS NULL AND status IN ('suspended', 'in_review') ORDER BY opened_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_of).collect()
    }

    /// Accounts with an active case, and whether each is suspended (else in review).
    pub async fn active_accounts(&self) -> Result<Vec<(AccountId, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id, status FROM cases WHERE status IN ('suspended', 'in_review')",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                Ok((account_id_of(row)?, status == "suspended"))
            })
            .collect()
    }

    /// Records a trip or a reset of the circuit breaker (a replay of the same event writes
    /// nothing).
    pub async fn record_breaker(&self, event: &BreakerEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO breaker_events (at, event, actor, detail) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(event.at)
        .bind(if event.tripped { "tripped" } else { "reset" })
        .bind(event.actor.to_string())
        .bind(&event.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The breaker's latest event, if it ever tripped: it is tripped now if that was a trip.
    pub async fn breaker_state(&self) -> Result<Option<BreakerEvent>, StoreError> {
        let row = sqlx::query(
            "SELECT at, event, actor, detail FROM breaker_events \
             ORDER BY at DESC, event DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(BreakerEvent {
                at: row.try_get("at")?,
                tripped: row.try_get::<String, _>("event")? == "tripped",
                actor: actor_of(&row, "actor")?,
                detail: row.try_get("detail")?,
            })
        })
        .transpose()
    }

    /// The audit log of one account, oldest first.
    pub async fn audit_log(&self, account_id: &AccountId) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, action, case_id, account_id, detail FROM audit_log \
             WHERE account_id = $1 ORDER BY at, entry_id",
        )
        .bind(account_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: row.try_get("at")?,
                    actor: actor_of(row, "actor")?,
                    action: row.try_get("action")?,
                    case_id: row
                        .try_get::<Option<String>, _>("case_id")?
                        .map(|raw| decoded("case_id", CaseId::parse(raw)))
                        .transpose()?,
                    account_id: account_id_of(row)?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// Inserts a case, its evidence and its audit entry; false (and nothing written) if the account
/// has an active case or this case exists. The case is marked notified as it is inserted: the
/// outbox rows written in the same transaction carry its notices, so nothing is owed at a
/// restart. Three statements whatever the evidence, since each is a round trip to the database.
async fn insert_case(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sqlite: bool,
    case: &NewCase,
) -> Result<bool, StoreError> {
    let case_id = case.case_id();
    let inserted = sqlx::query(
        "INSERT INTO cases (case_id, account_id, status, reasons, scores, model_version, \
         rules_version, opened_at, updated_at, notified_at, strikes, ends_at, policy_url) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
    )
    .bind(case_id.as_str())
    .bind(case.account_id.as_str())
    .bind(case.status.as_str())
    .bind(serde_json::to_string(&case.reasons)?)
    .bind(serde_json::to_string(&case.scores)?)
    .bind(case.model_version.clone())
    .bind(&case.rules_version)
    .bind(case.at)
    .bind(i64::from(case.strikes))
    .bind(case.ends_at)
    .bind(case.policy_url.clone())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        return Ok(false);
    }
    if !case.evidence.is_empty() {
        // Every excerpt in one statement: the rows travel as one JSON array the database unpacks.
        let rows = case
            .evidence
            .iter()
            .map(|evidence| {
                Ok(serde_json::json!([
                    evidence.message_id.as_str(),
                    evidence.excerpt,
                    serde_json::to_string(&evidence.rule_hits)?,
                    evidence.action.as_str(),
                    evidence.sent_at,
                ]))
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let insert = if sqlite {
            "INSERT INTO evidence (case_id, message_id, excerpt, rule_hits, action, sent_at) \
             SELECT $1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
             json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]') \
             FROM json_each($2) WHERE true ON CONFLICT DO NOTHING"
        } else {
            "INSERT INTO evidence (case_id, message_id, excerpt, rule_hits, action, sent_at) \
             SELECT $1, row ->> 0, row ->> 1, row ->> 2, row ->> 3, (row ->> 4)::bigint \
             FROM json_array_elements($2::json) AS row ON CONFLICT DO NOTHING"
        };
        sqlx::query(insert)
            .bind(case_id.as_str())
            .bind(serde_json::to_string(&rows)?)
            .execute(&mut **tx)
            .await?;
    }
    let reasons: Vec<&str> = case.reasons.iter().map(|r| r.code.as_str()).collect();
    let entry = AuditEntry {
        at: case.at,
        actor: case.actor.clone(),
        action: match (case.status, case.ends_at) {
            (CaseStatus::Warned, _) => "warn",
            (CaseStatus::Suspended, Some(_)) => "restrict",
            (CaseStatus::Suspended, None) => "suspend",
            _ => "open_for_review",
        }
        .to_owned(),
        case_id: Some(case_id),
        account_id: case.account_id.clone(),
        detail: reasons.join(","),
    };
    insert_audit(tx, &entry).await?;
    Ok(true)
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let digest = Sha256::digest(format!(
        "{}|{}|{}|{}|{}|{}",
        entry.at,
        entry.actor,
        entry.action,
        entry.case_id.as_ref().map_or("", CaseId::as_str),
        entry.account_id,
        entry.detail
    ));
    sqlx::query(
        "INSERT INTO audit_log (entry_id, at, actor, action, case_id, account_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(hex(&digest[..16]))
    .bind(entry.at)
    .bind(entry.actor.to_string())
    .bind(&entry.action)
    .bind(entry.case_id.as_ref().map(CaseId::to_string))
    .bind(entry.account_id.as_str())
    .bind(&entry.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn case_of(row: &AnyRow) -> Result<Case, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Case {
        case_id: case_id_of(row)?,
        account_id: account_id_of(row)?,
        status: CaseStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown case status `{status}`").into()))?,
        reasons: serde_json::from_str(&row.try_get::<String, _>("reasons")?)?,
        opened_at: row.try_get("opened_at")?,
        ends_at: row.try_get("ends_at")?,
        policy_url: row.try_get("policy_url")?,
    })
}

/// A stored value that does not parse into its domain type: the row does not decode.
fn decoded<T, E: std::fmt::Display>(column: &str, parsed: Result<T, E>) -> Result<T, StoreError> {
    parsed.map_err(|error| {
        StoreError::Database(sqlx::Error::Decode(
            format!("column `{column}`: {error}").into(),
        ))
    })
}

/// Reads a text column into its domain type (ids are stored as text, parsed when read).
fn parsed<T, E: std::fmt::Display>(
    row: &AnyRow,
    column: &str,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, StoreError> {
    decoded(column, parse(row.try_get(column)?))
}

fn case_id_of(row: &AnyRow) -> Result<CaseId, StoreError> {
    parsed(row, "case_id", CaseId::parse)
}

fn account_id_of(row: &AnyRow) -> Result<AccountId, StoreError> {
    parsed(row, "account_id", |raw| AccountId::parse("account_id", raw))
}

fn actor_of(row: &AnyRow, column: &str) -> Result<Actor, StoreError> {
    parsed(row, column, |raw| Actor::parse(&raw))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
