//! What the enforcer keeps in step with the store at each checkpoint: its accounts' signals
//! saved, the circuit breaker's state followed, restrictions whose end has come lifted, and the
//! cases that people (reviewers, admins, an expiry) changed taken into its view of who is
//! suspended or in review.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::{Enforcer, Strike, events};
use crate::case::Actor;
use crate::clock::{self, now_ms};
use crate::message::AccountId;
use crate::metrics::METRICS;
use crate::store::{CaseStatus, StoreError};

impl Enforcer {
    /// Saves the signals of the accounts changed since the last checkpoint, and follows the
    /// breaker's state in the store. A failure keeps nothing back: those accounts are saved
    /// with the next checkpoint after they change again, so the error is only logged.
    pub async fn checkpoint(&mut self) {
        let dirty = self.signals.take_dirty();
        let accounts = dirty.len();
        match self.store.save_signals(&dirty, now_ms()).await {
            Ok(()) => tracing::debug!(accounts, "signals checkpointed"),
            Err(error) => tracing::warn!(%error, accounts, "signals checkpoint failed"),
        }
        if let Err(error) = self.sync_breaker().await {
            tracing::warn!(%error, "cannot read the circuit breaker's state");
        }
        if let Err(error) = self.lift_ended_restrictions(now_ms()).await {
            tracing::warn!(%error, "cannot lift the restrictions that ended");
        }
        if let Err(error) = self.sync_cases().await {
            tracing::warn!(%error, "cannot read reviewers' changes to cases");
        }
    }

    /// Lifts every restriction whose end has come (any instance may; each is lifted once):
    /// the case ends, the pipeline is told to reinstate the account and the holder is told.
    /// The accounts' own processors follow the change in `sync_cases`.
    pub async fn lift_ended_restrictions(&mut self, now: i64) -> Result<(), StoreError> {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut lifted = 0;
        for case in self.store.due_restrictions(now).await? {
            let owes = crate::case::ending_owes();
            let events = events::owed(&owes, &case, &Actor::Expiry, &self.appeal, None, at);
            if self
                .store
                .end_restriction(&case.case_id, &events, now)
                .await?
            {
                METRICS.reinstatements.with_label_values(&["expiry"]).inc();
                tracing::info!(
                    case_id = %case.case_id,
                    account_id = %case.account_id,
                    "restriction ended: the account sends again"
                );
                lifted += 1;
            }
        }
        if lifted > 0 {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Follows what reviewers and admins did to cases since the last look: a reinstated
    /// account's messages flow again, an account suspended by a person is blocked. An account
    /// has at most one active case, and that one decides.
    async fn sync_cases(&mut self) -> Result<(), StoreError> {
        // A little overlap: a change committed just before the last look but stamped earlier.
        let now = now_ms();
        let changes = self
            .store
            .case_changes_since(self.cases_synced_ms - 10_000)
            .await?;
        self.cases_synced_ms = now;
        let mut accounts: HashMap<AccountId, Option<CaseStatus>> = HashMap::new();
        for (account, status) in changes {
            let active = matches!(status, CaseStatus::Suspended | CaseStatus::InReview);
            let entry = accounts.entry(account).or_insert(None);
            if active {
                *entry = Some(status);
            }
        }
        let strikes_since = now - self.policy.ladder.strike_ms();
        for (account, active) in accounts {
            // An overturned case's strikes no longer count.
            let strikes = self
                .store
                .strikes_since(strikes_since, Some(&account))
                .await?
                .into_iter()
                .map(|(_, at_ms, count)| Strike { at_ms, count })
                .collect();
            self.strikes.insert(account.clone(), strikes);
            let active = match active {
                Some(status) => Some(status),
                None => self.store.active_case(&account).await?.map(|c| c.status),
            };
            let (suspended, in_review) = match active {
                Some(CaseStatus::Suspended) => (true, false),
                Some(CaseStatus::InReview) => (false, true),
                _ => (false, false),
            };
            if self.suspended.contains(&account) && !suspended {
                tracing::info!(
                    account_id = %account,
                    "account reinstated: its messages flow again"
                );
                self.signals.forgive(&account);
                self.last_abusive.remove(&account);
                self.opted_out_sends.remove(&account);
            }
            match suspended {
                true => self.suspended.insert(account.clone()),
                false => self.suspended.remove(&account),
            };
            match in_review {
                true => self.in_review.insert(account),
                false => self.in_review.remove(&account),
            };
        }
        Ok(())
    }

    /// Adopts a trip recorded by another instance (or before a restart), and an admin's reset
    /// recorded after this instance's trip.
    pub(super) async fn sync_breaker(&mut self) -> Result<(), StoreError> {
        let Some(latest) = self.store.breaker_state().await? else {
            return Ok(());
        };
        match (latest.tripped, self.tripped_since_ms) {
            (true, None) => {
                self.breaker.hold(clock::seconds_from_ms(latest.at));
                self.tripped_since_ms = Some(latest.at);
                METRICS.circuit_breaker_tripped.set(1);
                tracing::warn!(
                    since_ms = latest.at,
                    "circuit breaker tripped (recorded in the store): new cases go to human review"
                );
            }
            (false, Some(since)) if !self.trip_unrecorded && latest.at >= since => {
                self.breaker.reset();
                self.tripped_since_ms = None;
                METRICS.circuit_breaker_tripped.set(0);
                tracing::info!(
                    by = %latest.actor,
                    "circuit breaker reset: automated suspensions resume"
                );
            }
            _ => {}
        }
        Ok(())
    }
}
