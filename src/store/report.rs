//! The facts behind the transparency report (`crate::transparency`): steps from the audit
//! trail, appeals with their cases' rule hits; and behind the statements of reasons
//! (`crate::statements`). No account id leaves this file.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Actor, Outcome, Store, StoreError, case_id_of, parsed};
use crate::message::Scores;
use crate::statements::{BlockFact, StatementFact};
use crate::suspension::Step;
use crate::transparency::{AppealFact, Facts, StepFact};

impl Store {
    /// Steps taken on accounts (warnings, restrictions, suspensions), cases sent to review, and appeals received or decided, in
    /// `[from, to)` (Unix ms).
    pub async fn transparency_facts(&self, from: i64, to: i64) -> Result<Facts, StoreError> {
        let steps = sqlx::query(
            "SELECT a.action, a.actor, c.scores FROM audit_log a \
             JOIN cases c ON c.case_id = a.case_id \
             WHERE a.action IN ('warn', 'restrict', 'suspend') AND a.at >= $1 AND a.at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StepFact {
                step: parsed(row, "action", |raw| {
                    Step::parse(&raw).ok_or("not a ladder step")
                })?,
                actor: parsed(row, "actor", |raw| Actor::parse(&raw))?,
                scores: parsed(row, "scores", |raw| serde_json::from_str::<Scores>(&raw))?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
        let sent_to_review: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'open_for_review' AND at >= $1 AND at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        // One row per piece of evidence (or one without, once retention took it).
        let rows = sqlx::query(
            "SELECT ap.appeal_id, ap.opened_at, ap.outcome, ap.decided_at, e.rule_hits \
             FROM appeals ap LEFT JOIN evidence e ON e.case_id = ap.case_id \
             WHERE (ap.opened_at >= $1 AND ap.opened_at < $2) \
             OR (ap.decided_at >= $1 AND ap.decided_at < $2)",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut appeals: BTreeMap<String, AppealFact> = BTreeMap::new();
        for row in &rows {
            let appeal_id: String = row.try_get("appeal_id")?;
            let outcome: Option<String> = row.try_get("outcome")?;
            let decided_at: Option<i64> = row.try_get("decided_at")?;
            let decided = match (outcome, decided_at) {
                (Some(outcome), Some(at)) => Some((
                    Outcome::parse(&outcome).ok_or_else(|| {
                        StoreError::Database(sqlx::Error::Decode(
                            format!("unknown appeal outcome `{outcome}`").into(),
                        ))
                    })?,
                    at,
                )),
                _ => None,
            };
            let appeal = appeals.entry(appeal_id).or_insert(AppealFact {
                opened_at: row.try_get("opened_at")?,
                decided,
                rule_hits: Vec::new(),
            });
            let hits: Option<String> = row.try_get("rule_hits")?;
            if let Some(hits) = hits {
                for rule in serde_json::from_str::<Vec<String>>(&hits)? {
                    if !appeal.rule_hits.contains(&rule) {
                        appeal.rule_hits.push(rule);
                    }
                }
            }
        }
        Ok(Facts {
            steps,
            appeals: appeals.into_values().collect(),
            sent_to_review: u64::try_from(sent_to_review).unwrap_or(0),
        })
    }

    /// Every restriction and suspension taken in `[from, to)` (Unix ms), oldest first, with
    /// what its statement of reasons says: the case, who took the step, whether a reviewer
    /// upheld it since, its evidence's rules and dates.
    pub async fn statement_facts(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<StatementFact>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.action, a.actor, a.at, c.case_id, c.opened_at, c.ends_at, c.reasons \
             FROM audit_log a JOIN cases c ON c.case_id = a.case_id \
             WHERE a.action IN ('restrict', 'suspend') AND a.at >= $1 AND a.at < $2 \
             ORDER BY a.at, c.case_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut facts = Vec::with_capacity(rows.len());
        for row in &rows {
            let case_id = case_id_of(row)?;
            let evidence = self.evidence(&case_id).await?;
            let mut rule_hits: Vec<String> = Vec::new();
            for hit in evidence.iter().flat_map(|e| &e.rule_hits) {
                if !rule_hits.iter().any(|known| known == hit.as_str()) {
                    rule_hits.push(hit.as_str().to_owned());
                }
            }
            let upheld = self
                .decisions(&case_id)
                .await?
                .iter()
                .any(|d| d.outcome == Outcome::Uphold);
            let opened_at: i64 = row.try_get("opened_at")?;
            facts.push(StatementFact {
                step: parsed(row, "action", |raw| {
                    Step::parse(&raw).ok_or("not a ladder step")
                })?,
                actor: parsed(row, "actor", |raw| Actor::parse(&raw))?,
                upheld,
                applied_at: row.try_get("at")?,
                content_at: evidence
                    .iter()
                    .map(|e| e.sent_at)
                    .min()
                    .unwrap_or(opened_at),
                ends_at: row.try_get("ends_at")?,
                reasons: serde_json::from_str(&row.try_get::<String, _>("reasons")?)?,
                rule_hits,
                evidence_messages: evidence.len(),
                case_id,
            });
        }
        Ok(facts)
    }

    /// Messages blocked for their content (not for their account's suspension, nor for their
    /// recipient's opt-out) and decided in `[from, to)` (Unix ms), from the recorded verdicts:
    /// those kept for `[retention] processed_days`.
    pub async fn block_facts(&self, from: i64, to: i64) -> Result<Vec<BlockFact>, StoreError> {
        // The verdict JSON is written by serde in field order: the filter cuts the rows read.
        let rows = sqlx::query(
            "SELECT message_id, processed_at, verdict FROM processed_messages \
             WHERE processed_at >= $1 AND processed_at < $2 \
             AND verdict LIKE '%\"action\":\"block\"%' ORDER BY processed_at, message_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut facts = Vec::new();
        for row in &rows {
            let verdict: serde_json::Value =
                serde_json::from_str(&row.try_get::<String, _>("verdict")?)?;
            let for_content = verdict["action"] == "block"
                && verdict["account_suspended"] != true
                && verdict["recipient_opted_out"] != true;
            if !for_content {
                continue;
            }
            let decided_at = verdict["decided_at"]
                .as_str()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(crate::clock::unix_ms);
            facts.push(BlockFact {
                message_id: row.try_get("message_id")?,
                decided_at: match decided_at {
                    Some(at) => at,
                    None => row.try_get("processed_at")?,
                },
                rule_hits: verdict["rule_hits"]
                    .as_array()
                    .map(|hits| {
                        hits.iter()
                            .filter_map(|h| h.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(facts)
    }
}
