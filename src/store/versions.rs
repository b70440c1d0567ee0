//! The rules and policy sets `warden run` took, newest last: the version history behind
//! `GET /v1/admin/rules/versions` and the rollback that puts an earlier set back.

use sqlx::Row;

use super::{Store, StoreError, actor_of};
use crate::case::Actor;

/// One set taken: the files' text and what changed from the set before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesLoad {
    /// Unix ms.
    pub loaded_at: i64,
    /// The rules version (`RuleSet::version`).
    pub version: String,
    /// `automated` for a start, the admin for a reload or a rollback.
    pub loaded_by: Actor,
    /// `start`, `reload` or `rollback`.
    pub action: String,
    /// The rules added, removed and changed from the set before (`RulesDiff`), in words.
    pub summary: String,
    pub rules: String,
    pub policy: String,
}

const COLUMNS: &str = "loaded_at, version, loaded_by, action, summary, rules, policy";

fn load_of(row: &sqlx::any::AnyRow) -> Result<RulesLoad, StoreError> {
    Ok(RulesLoad {
        loaded_at: row.try_get("loaded_at")?,
        version: row.try_get("version")?,
        loaded_by: actor_of(row, "loaded_by")?,
        action: row.try_get("action")?,
        summary: row.try_get("summary")?,
        rules: row.try_get("rules")?,
        policy: row.try_get("policy")?,
    })
}

impl Store {
    /// Records a set taken (writing the same record twice changes nothing).
    pub async fn record_rules_load(&self, load: &RulesLoad) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rules_versions (loaded_at, version, loaded_by, action, summary, rules, \
             policy) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(load.loaded_at)
        .bind(&load.version)
        .bind(load.loaded_by.to_string())
        .bind(&load.action)
        .bind(&load.summary)
        .bind(&load.rules)
        .bind(&load.policy)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The sets taken, newest first, at most `limit`.
    pub async fn rules_loads(&self, limit: i64) -> Result<Vec<RulesLoad>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM rules_versions ORDER BY loaded_at DESC, version LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(load_of)
        .collect()
    }

    /// The latest time `version` was taken, with its files' text.
    pub async fn rules_load(&self, version: &str) -> Result<Option<RulesLoad>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM rules_versions WHERE version = $1 \
             ORDER BY loaded_at DESC LIMIT 1"
        ))
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(load_of)
        .transpose()
    }
}
