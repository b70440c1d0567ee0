//! Admins' work in the store: manual suspension and reinstatement, legal holds, erasure of an
//! account's evidence, and the export of what is kept about an account.

use sqlx::Row;

use super::review::{Appeal, OutboxEvent, appeal_of};
use super::{
    Actor, AuditEntry, Case, CaseId, CaseStatus, Evidence, Store, StoreError, case_of, insert_audit,
};
use crate::message::AccountId;

/// What is kept about one account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountExport {
    pub cases: Vec<Case>,
    pub evidence: Vec<(CaseId, Evidence)>,
    pub appeals: Vec<Appeal>,
    pub audit: Vec<AuditEntry>,
    pub legal_hold: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    Erased {
        evidence: u64,
        labels: u64,
        opt_outs: u64,
    },
    OnLegalHold {
        reason: String,
    },
}

impl Store {
    /// Closes the account's active case as overturned by a person, with its events. `None` if
    /// the account has no active case.
    pub async fn manual_reinstate(
        &self,
        account_id: &AccountId,
        actor: &Actor,
        reason: &str,
        at: i64,
        events: impl FnOnce(&Case) -> Vec<OutboxEvent>,
    ) -> Result<Option<Case>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases \
             WHERE account_id = $1 AND status IN ('suspended', 'in_review')",
        )
        .bind(account_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(case) = row.map(|row| case_of(&row)).transpose()? else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE cases SET status = $1, updated_at = $2, claimed_by = NULL, \
             claim_expires_at = NULL WHERE case_id = $3",
        )
        .bind(CaseStatus::Overturned.as_str())
        .bind(at)
        .bind(case.case_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO decisions (case_id, outcome, reviewer, note, decided_at) \
             VALUES ($1, 'overturned', $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(case.case_id.as_str())
        .bind(actor.to_string())
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        for event in events(&case) {
            super::review::insert_event(&mut tx, &event, at).await?;
        }
        let entry = AuditEntry {
            at,
            actor: actor.clone(),
            action: "reinstate".into(),
            case_id: Some(case.case_id.clone()),
            account_id: account_id.clone(),
            detail: reason.to_owned(),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Some(case))
    }

    /// Sets (or replaces) a legal hold on an account.
    pub async fn set_legal_hold(
        &self,
        account_id: &AccountId,
        actor: &Actor,
        reason: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO legal_holds (account_id, set_by, reason, set_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id) DO UPDATE SET set_by = excluded.set_by, \
             reason = excluded.reason, set_at = excluded.set_at",
        )
        .bind(account_id.as_str())
        .bind(actor.to_string())
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry {
            at,
            actor: actor.clone(),
            action: "legal_hold_set".into(),
            case_id: None,
            account_id: account_id.clone(),
            detail: reason.to_owned(),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts an account's legal hold; false if it had none.
    pub async fn lift_legal_hold(
        &self,
        account_id: &AccountId,
        actor: &Actor,
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lifted = sqlx::query("DELETE FROM legal_holds WHERE account_id = $1")
            .bind(account_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if lifted {
            let entry = AuditEntry {
                at,
                actor: actor.clone(),
                action: "legal_hold_lifted".into(),
                case_id: None,
                account_id: account_id.clone(),
                detail: String::new(),
            };
            insert_audit(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(lifted)
    }

    pub async fn legal_hold(&self, account_id: &AccountId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT reason FROM legal_holds WHERE account_id = $1")
            .bind(account_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("reason")).transpose()?)
    }

    /// Deletes the account's evidence excerpts, labels and recipients' opt-outs, unless a legal
    /// hold is set. Cases and the audit log stay: they say what was decided, not what was
    /// written or to whom.
    pub async fn erase_evidence(
        &self,
        account_id: &AccountId,
        actor: &Actor,
        at: i64,
    ) -> Result<Erasure, StoreError> {
        let mut tx = self.pool.begin().await?;
        let hold = sqlx::query("SELECT reason FROM legal_holds WHERE account_id = $1")
            .bind(account_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(hold) = hold {
            return Ok(Erasure::OnLegalHold {
                reason: hold.try_get("reason")?,
            });
        }
        let of_account = "SELECT case_id FROM cases WHERE account_id = $1";
        let evidence = sqlx::query(&format!(
            "DELETE FROM evidence WHERE case_id IN ({of_account})"
        ))
        .bind(account_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let labels = sqlx::query(&format!(
            "DELETE FROM labels WHERE case_id IN ({of_account})"
        ))
        .bind(account_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let opt_outs = sqlx::query("DELETE FROM opt_outs WHERE account_id = $1")
            .bind(account_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let entry = AuditEntry {
            at,
            actor: actor.clone(),
            action: "erase_evidence".into(),
            case_id: None,
            account_id: account_id.clone(),
            detail: format!("{evidence} excerpts, {labels} labels, {opt_outs} opt-outs"),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Erasure::Erased {
            evidence,
            labels,
            opt_outs,
        })
    }

    /// Everything kept about an account.
    pub async fn export_account(
        &self,
        account_id: &AccountId,
    ) -> Result<AccountExport, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, account_id, status, reasons, opened_at, ends_at, policy_url FROM cases \
             WHERE account_id = $1 ORDER BY opened_at",
        )
        .bind(account_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let cases: Vec<Case> = rows.iter().map(case_of).collect::<Result<_, _>>()?;
        let mut evidence = Vec::new();
        for case in &cases {
            for item in self.evidence(&case.case_id).await? {
                evidence.push((case.case_id.clone(), item));
            }
        }
        let rows = sqlx::query(&format!(
            "SELECT {} FROM appeals WHERE account_id = $1 ORDER BY opened_at",
            super::review::APPEAL_COLUMNS
        ))
        .bind(account_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let appeals = rows.iter().map(appeal_of).collect::<Result<_, _>>()?;
        Ok(AccountExport {
            cases,
            evidence,
            appeals,
            audit: self.audit_log(account_id).await?,
            legal_hold: self.legal_hold(account_id).await?,
        })
    }
}
