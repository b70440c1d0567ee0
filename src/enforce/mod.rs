//! Enforcement: from a scored message to an account decision, a durable case, and the events
//! that carry it out (`account-actions`) and tell the holder (`notices`).
//!
//! Per message, in partition order: the account's signals are updated, the account policy
//! decides, and a suspension opens a case in the store (idempotent: one active case per
//! account). The case's events are sent after the case is durable and marked sent after the
//! broker acknowledges them; a case still unmarked at startup sends them again (an outbox in
//! the case row), so a crash between the two loses no notice.

pub mod events;
mod sync;
pub mod token;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::case::Actor;
use crate::clock::{self, now_ms};
use crate::message::{AccountId, Action, FeedbackKind, MessageId, RuleId, Scores, Verdict};
use crate::metrics::METRICS;
use crate::privacy::{Secret, excerpt};
use crate::signals::{Observation, Signals, Snapshot};
use crate::store::{
    BreakerEvent, Case, CaseStatus, Evidence, NewCase, Opening, OutboxEvent, Store, StoreError,
    StoredReason,
};
use crate::suspension::{
    AccountDecision, CircuitBreaker, Sanction, Step, SuspensionPolicy, Trigger,
};

/// What enforcement needs to know about one scored message.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The model's own probabilities, when a model scored (for metrics).
    pub model: Option<Scores>,
    /// The text, for a redacted excerpt if the message becomes evidence; never stored whole.
    pub body: String,
    /// `sent_at` in Unix milliseconds.
    pub sent_at_ms: i64,
    pub observation: Observation,
    pub trigger: Trigger,
    /// The policy tag of the first enforced rule that hit, for a flagged or blocked message.
    pub policy_tag: Option<String>,
    /// Shadow rules that hit, with the action each would have raised the message to (for
    /// metrics).
    pub shadow_changes: Vec<(RuleId, Action)>,
}

/// How notices point account holders to their appeal.
#[derive(Debug, Clone)]
pub struct AppealSettings {
    pub secret: Secret,
    /// The token is appended as `?token=…`.
    pub base_url: String,
    pub days: i64,
    /// The policy the account broke, linked from every suspension notice.
    pub policy_url: String,
    /// Redress beyond the appeal (a dispute settlement body, the courts), in the holder's words.
    pub redress: String,
    /// What further violations bring, told with a warning: the enforcer words it from its
    /// ladder (`Ladder::next_step_words`); the API sends no warning.
    pub warning_next_step: String,
    /// Each policy tag's clause URL (`[statements.tags]`): a case the enforcer opens links the
    /// clause its evidence's rules enforce, and `policy_url` when it has none.
    pub clause_urls: BTreeMap<String, String>,
}

/// Signals, the account policy, the breaker and the store, for one stream processor.
pub struct Enforcer {
    store: Store,
    signals: Signals,
    policy: SuspensionPolicy,
    breaker: CircuitBreaker,
    /// Accounts suspended now: their messages are blocked.
    suspended: HashSet<AccountId>,
    /// Recipients (keyed hashes) who opted out of an account's messages: those are blocked.
    opted_out: HashMap<AccountId, HashSet<u64>>,
    /// When (Unix seconds) each account messaged recipients who had opted out, in the last
    /// hour: repeated, it is a violation.
    opted_out_sends: HashMap<AccountId, VecDeque<i64>>,
    /// Each account's strikes that may still be live (`suspension::Ladder`), as the store
    /// holds them in its cases.
    strikes: HashMap<AccountId, Vec<Strike>>,
    /// Accounts with a case in review: nothing new is opened for them.
    in_review: HashSet<AccountId>,
    /// Each account's latest abusive message of the last hour, redacted: the evidence for a
    /// case that feedback opens after the account's messages were decided.
    last_abusive: HashMap<AccountId, LastAbusive>,
    appeal: AppealSettings,
    /// Wakes the outbox's deliverer when a case wrote events.
    outbox: Arc<Notify>,
    /// Messages observed since idle accounts were last evicted.
    since_eviction: u32,
    /// Wall-clock Unix ms since which the breaker has been tripped here, and whether that trip
    /// is still to be recorded in the store, where every instance sees it.
    tripped_since_ms: Option<i64>,
    trip_unrecorded: bool,
    /// Wall-clock Unix ms up to which reviewers' and admins' changes to cases are followed.
    cases_synced_ms: i64,
}

/// Strikes an account earned with one violation, and when (Unix ms, the violation's time).
#[derive(Debug, Clone, Copy)]
struct Strike {
    at_ms: i64,
    count: u32,
}

/// The case a sanction opens: its status, and for a restriction its end.
#[derive(Debug, Clone)]
struct Opened {
    status: CaseStatus,
    sanction: Sanction,
    ends_at: Option<i64>,
}

/// The account's strikes earned after `since` (Unix ms): those of the last `strike_days`.
/// Older ones are dropped.
fn live_strikes(
    strikes: &mut HashMap<AccountId, Vec<Strike>>,
    account_id: &AccountId,
    since: i64,
) -> u32 {
    let Some(strikes) = strikes.get_mut(account_id) else {
        return 0;
    };
    strikes.retain(|strike| strike.at_ms > since);
    strikes.iter().map(|strike| strike.count).sum()
}

/// A case opened by the automated policy; it links the clause its message's rule enforces,
/// when `clause_urls` has one.
fn new_case(
    account_id: AccountId,
    trigger_message_id: String,
    opened: Opened,
    message: LastAbusive,
    at_ms: i64,
    clause_urls: &BTreeMap<String, String>,
) -> NewCase {
    let policy_url = message
        .policy_tag
        .as_ref()
        .and_then(|tag| clause_urls.get(tag))
        .cloned();
    NewCase {
        policy_url,
        account_id,
        trigger_message_id,
        status: opened.status,
        strikes: opened.sanction.strikes,
        ends_at: opened.ends_at,
        reasons: opened
            .sanction
            .reasons
            .iter()
            .map(|r| StoredReason {
                code: r.code().to_owned(),
                description: r.description().to_owned(),
            })
            .collect(),
        scores: message.scores,
        model_version: message.model_version,
        rules_version: message.rules_version,
        evidence: vec![message.evidence],
        actor: Actor::Automated,
        at: at_ms,
    }
}

/// What a case needs of a message, kept for an account's latest abusive one.
#[derive(Debug, Clone)]
struct LastAbusive {
    evidence: Evidence,
    /// The policy tag of the rule behind it.
    policy_tag: Option<String>,
    scores: Scores,
    model_version: Option<String>,
    rules_version: String,
}

/// Idle accounts are swept every this many messages (a sweep walks every account).
const EVICT_EVERY: u32 = 100_000;

/// Checkpoints older than the longest window (plus its slack) hold nothing current.
const CHECKPOINT_RETENTION_MS: i64 = 2 * 3_600 * 1_000;

impl Enforcer {
    /// Loads the suspended accounts and the cases whose events are still owed.
    pub async fn start(
        store: Store,
        policy: SuspensionPolicy,
        mut appeal: AppealSettings,
        outbox: Arc<Notify>,
    ) -> Result<Self, StoreError> {
        appeal.warning_next_step = policy.ladder.next_step_words();
        let (mut suspended, mut in_review) = (HashSet::new(), HashSet::new());
        for (account, is_suspended) in store.active_accounts().await? {
            match is_suspended {
                true => suspended.insert(account),
                false => in_review.insert(account),
            };
        }
        let mut enforcer = Self {
            breaker: CircuitBreaker::new(policy.circuit_breaker),
            store,
            signals: Signals::new(),
            policy,
            suspended,
            opted_out: HashMap::new(),
            opted_out_sends: HashMap::new(),
            strikes: HashMap::new(),
            in_review,
            last_abusive: HashMap::new(),
            appeal,
            outbox,
            since_eviction: 0,
            tripped_since_ms: None,
            trip_unrecorded: false,
            cases_synced_ms: now_ms(),
        };
        enforcer.sync_breaker().await?;
        let unannounced = enforcer.store.unnotified_cases().await?;
        for case in &unannounced {
            let events = enforcer.opening_events(case);
            enforcer
                .store
                .enqueue_owed(&case.case_id, &events, now_ms())
                .await?;
        }
        if !unannounced.is_empty() {
            enforcer.outbox.notify_one();
        }
        enforcer.restore_account_state().await?;
        Ok(enforcer)
    }

    /// Loads the signal checkpoints of accounts not live here, every recipient's opt-out and
    /// every account's live strikes: at start, and after a rebalance hands this instance
    /// accounts that another one was tracking.
    pub async fn restore_account_state(&mut self) -> Result<(), StoreError> {
        let mut strikes: HashMap<AccountId, Vec<Strike>> = HashMap::new();
        let since = now_ms() - self.policy.ladder.strike_ms();
        for (account, at_ms, count) in self.store.strikes_since(since, None).await? {
            strikes
                .entry(account)
                .or_default()
                .push(Strike { at_ms, count });
        }
        self.strikes = strikes;
        let mut opted_out: HashMap<AccountId, HashSet<u64>> = HashMap::new();
        for (account, recipient) in self.store.opt_outs().await? {
            opted_out.entry(account).or_default().insert(recipient);
        }
        self.opted_out = opted_out;
        let since = now_ms() - CHECKPOINT_RETENTION_MS;
        let (mut restored, mut foreign) = (0, 0);
        for (key, bytes) in self.store.load_signals(since).await? {
            match self.signals.restore(key, &bytes) {
                true => restored += 1,
                false => foreign += 1,
            }
        }
        tracing::info!(
            restored,
            foreign,
            "account signals restored from checkpoints"
        );
        Ok(())
    }

    /// Applies a reloaded account policy and the clauses its notices link. The breaker keeps
    /// its counts and its own settings (those take a restart).
    pub fn set_policy(&mut self, policy: SuspensionPolicy, clause_urls: BTreeMap<String, String>) {
        self.appeal.warning_next_step = policy.ladder.next_step_words();
        self.appeal.clause_urls = clause_urls;
        self.policy = policy;
    }

    /// Takes one recipient's delivery feedback: an opt-out (or opt-in) from the account's
    /// messages is recorded first, then the account's signals count the feedback and the
    /// account policy is asked. Returns the case to open, if any. Only the recording can fail,
    /// and it comes before anything is counted, so a failed call may be retried whole.
    pub async fn take_feedback(
        &mut self,
        account_id: &AccountId,
        message_id: &MessageId,
        kind: FeedbackKind,
        at: i64,
        recipient: Option<u64>,
    ) -> Result<Option<NewCase>, StoreError> {
        if let (Some(opted_out), Some(recipient)) = (kind.opted_out(), recipient) {
            let at_ms = clock::ms_from_seconds(at);
            self.record_consent(account_id, recipient, opted_out, at_ms)
                .await?;
        }
        Ok(self.feedback(account_id, message_id, kind, at))
    }

    /// Honours a recipient's opt-out from the account's messages (or their opt-in): written to
    /// the store first, so that whichever instance owns the account next knows it.
    async fn record_consent(
        &mut self,
        account_id: &AccountId,
        recipient: u64,
        opted_out: bool,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.store
            .set_opt_out(account_id, recipient, opted_out, at_ms)
            .await?;
        let recipients = self.opted_out.entry(account_id.clone()).or_default();
        if opted_out {
            recipients.insert(recipient);
        } else {
            recipients.remove(&recipient);
        }
        Ok(())
    }

    /// Updates the account's signals with this message and asks the account policy. A message
    /// from a suspended account is blocked and counted, and opens nothing; one to a recipient
    /// who opted out is blocked and counts on the ladder. Returns the case to open, if any.
    /// Call once per message: signals count every call.
    pub fn assess(&mut self, verdict: &mut Verdict, facts: &Facts) -> Option<NewCase> {
        let account_id = verdict.account_id.clone();
        let to_opted_out = self
            .opted_out
            .get(&account_id)
            .is_some_and(|recipients| recipients.contains(&facts.observation.recipient));
        let mut snapshot = self.signals.observe(&account_id, &facts.observation);
        snapshot.opted_out_sends_last_hour =
            self.count_opted_out_send(&account_id, to_opted_out, facts.observation.at);
        self.since_eviction += 1;
        if self.since_eviction >= EVICT_EVERY {
            self.since_eviction = 0;
            self.evict_idle(facts.observation.at);
        }
        if self.suspended.contains(&account_id) {
            verdict.action = Action::Block;
            verdict.account_suspended = true;
            return None;
        }
        if to_opted_out {
            verdict.action = Action::Block;
            verdict.recipient_opted_out = true;
        }
        // Redacting an excerpt costs: only for messages that may become evidence.
        let this_message = || LastAbusive {
            evidence: Evidence {
                message_id: verdict.message_id.clone(),
                excerpt: excerpt(&facts.body),
                rule_hits: verdict.rule_hits.clone(),
                action: verdict.action,
                sent_at: facts.sent_at_ms,
            },
            scores: verdict.scores,
            model_version: verdict.model_version.clone(),
            rules_version: verdict.rules_version.clone(),
            policy_tag: facts.policy_tag.clone(),
        };
        if facts.observation.abusive {
            self.last_abusive.insert(account_id.clone(), this_message());
        }
        let opened =
            self.case_to_open(&account_id, &snapshot, &facts.trigger, facts.observation.at)?;
        let message = this_message();
        // The account is suspended as of this message, so this message is not sent either.
        if opened.status == CaseStatus::Suspended {
            verdict.action = Action::Block;
            verdict.account_suspended = true;
        }
        Some(new_case(
            account_id,
            message.evidence.message_id.to_string(),
            opened,
            message,
            facts.sent_at_ms,
            &self.appeal.clause_urls,
        ))
    }

    /// Takes delivery feedback into the account's signals and asks the account policy, which
    /// weighs only what the account has sent (complaints and repeated abuse: feedback alone
    /// is about no message's content). Returns the case to open, if any, with the account's
    /// latest abusive message as its evidence.
    fn feedback(
        &mut self,
        account_id: &AccountId,
        message_id: &MessageId,
        kind: FeedbackKind,
        at: i64,
    ) -> Option<NewCase> {
        let snapshot = self.signals.feedback(account_id, at, kind);
        if self.suspended.contains(account_id) {
            return None;
        }
        let latest = self.last_abusive.get(account_id)?.clone();
        let account_level = Trigger {
            action: Action::Allow,
            high_severity_fraud: false,
            model_fraud: None,
            has_url: false,
        };
        let opened = self.case_to_open(account_id, &snapshot, &account_level, at)?;
        // Named apart from any case a message of the same id could open.
        let trigger = format!("feedback:{}:{message_id}", kind.as_str());
        Some(new_case(
            account_id.clone(),
            trigger,
            opened,
            latest,
            clock::ms_from_seconds(at),
            &self.appeal.clause_urls,
        ))
    }

    /// Counts a message to a recipient who opted out (when `to_opted_out`) and returns the
    /// account's count of such messages in the hour before `at_s`. Kept here, not in the
    /// signals' checkpoints: only accounts that message opted-out recipients have an entry,
    /// and a restart forgets at most the hour's count of them, while the opt-outs themselves
    /// are in the store.
    fn count_opted_out_send(
        &mut self,
        account_id: &AccountId,
        to_opted_out: bool,
        at_s: i64,
    ) -> u32 {
        if !to_opted_out && !self.opted_out_sends.contains_key(account_id) {
            return 0;
        }
        let sends = self.opted_out_sends.entry(account_id.clone()).or_default();
        while sends.front().is_some_and(|&sent| sent <= at_s - 3_600) {
            sends.pop_front();
        }
        if to_opted_out {
            sends.push_back(at_s);
        }
        let count = sends.len() as u32;
        if sends.is_empty() {
            self.opted_out_sends.remove(account_id);
        }
        count
    }

    /// The case the account policy says to open (its status, sanction and end), if any, for
    /// an account that is neither suspended nor in review. A warning spends the evidence it
    /// was for: only new evidence takes the account further up the ladder.
    fn case_to_open(
        &mut self,
        account_id: &AccountId,
        snapshot: &Snapshot,
        message: &Trigger,
        at_s: i64,
    ) -> Option<Opened> {
        if self.in_review.contains(account_id) {
            return None;
        }
        let at_ms = clock::ms_from_seconds(at_s);
        let strike_ms = self.policy.ladder.strike_ms();
        let strikes = &mut self.strikes;
        let was_tripped = self.breaker.tripped_at().is_some();
        let decision = self.policy.decide_account(
            account_id,
            snapshot,
            message,
            || live_strikes(strikes, account_id, at_ms - strike_ms),
            &mut self.breaker,
            at_s,
        );
        if !was_tripped && self.breaker.tripped_at().is_some() {
            tracing::error!(
                %account_id,
                "circuit breaker tripped: automated suspensions far above their baseline; \
                 new cases go to human review until an admin resets it (warden breaker reset)"
            );
            self.tripped_since_ms = Some(now_ms());
            self.trip_unrecorded = true;
            METRICS.circuit_breaker_tripped.set(1);
        }
        let (status, sanction) = match decision {
            AccountDecision::None => return None,
            AccountDecision::WouldAct(sanction) => {
                tracing::info!(
                    %account_id,
                    step = sanction.step.as_str(),
                    reasons = ?sanction.reasons,
                    "shadow mode: would act"
                );
                return None;
            }
            AccountDecision::Act(sanction) => match sanction.step {
                Step::Warn => (CaseStatus::Warned, sanction),
                Step::Restrict | Step::Suspend => (CaseStatus::Suspended, sanction),
            },
            AccountDecision::Review(sanction) => (CaseStatus::InReview, sanction),
        };
        if sanction.step == Step::Warn {
            self.signals.forgive(account_id);
            self.opted_out_sends.remove(account_id);
        }
        // A restriction runs from when it is taken (a backlog decided late still restricts
        // for the whole time); one in review keeps its end: upheld, it runs until then.
        let ends_at = (sanction.step == Step::Restrict)
            .then(|| at_ms.max(now_ms()) + self.policy.ladder.restrict_s * 1_000);
        Some(Opened {
            status,
            sanction,
            ends_at,
        })
    }

    /// Drops the signals of accounts idle for longer than the longest window, and the
    /// evidence kept for them.
    fn evict_idle(&mut self, now: i64) {
        let evicted = self.signals.evict_idle(now);
        let horizon_ms = clock::ms_from_seconds(now - 3_600);
        self.last_abusive
            .retain(|_, latest| latest.evidence.sent_at >= horizon_ms);
        self.opted_out_sends
            .retain(|_, sends| sends.back().is_some_and(|&sent| sent > now - 3_600));
        tracing::debug!(
            evicted,
            active = self.signals.accounts(),
            "idle accounts evicted"
        );
    }

    /// Opens the case durably, with the events its opening owes in the outbox, and wakes the
    /// outbox's deliverer. Safe to retry after a store error, and under replay: an account with
    /// an active case gets nothing new.
    pub async fn open(&mut self, case: &NewCase) -> Result<(), StoreError> {
        // A trip is recorded before the first case it sends to review.
        if let (true, Some(at)) = (self.trip_unrecorded, self.tripped_since_ms) {
            self.store
                .record_breaker(&BreakerEvent {
                    at,
                    tripped: true,
                    actor: Actor::Automated,
                    detail: "automated suspensions far above their baseline".into(),
                })
                .await?;
            self.trip_unrecorded = false;
        }
        let events = self.opening_events(&case.as_case());
        match self.store.open_case(case, &events).await? {
            Opening::Opened { case_id } => {
                // One count per suspension, under its first (strongest) reason, so that the
                // sum over reasons is the number of suspensions.
                if case.status == CaseStatus::Suspended
                    && let Some(reason) = case.reasons.first()
                {
                    METRICS.suspensions.with_label_values(&[&reason.code]).inc();
                }
                let step = match (case.status, case.ends_at) {
                    (CaseStatus::Warned, _) => Some(Step::Warn),
                    (CaseStatus::Suspended, Some(_)) => Some(Step::Restrict),
                    (CaseStatus::Suspended, None) => Some(Step::Suspend),
                    _ => None,
                };
                if let Some(step) = step {
                    METRICS
                        .account_steps
                        .with_label_values(&[step.as_str()])
                        .inc();
                }
                if case.strikes > 0 {
                    self.strikes
                        .entry(case.account_id.clone())
                        .or_default()
                        .push(Strike {
                            at_ms: case.at,
                            count: case.strikes,
                        });
                }
                match case.status {
                    CaseStatus::Suspended => {
                        self.suspended.insert(case.account_id.clone());
                    }
                    CaseStatus::InReview => {
                        self.in_review.insert(case.account_id.clone());
                    }
                    _ => {}
                }
                tracing::info!(
                    %case_id,
                    account_id = %case.account_id,
                    status = case.status.as_str(),
                    "case opened"
                );
                if !events.is_empty() {
                    self.outbox.notify_one();
                }
                Ok(())
            }
            // A replay, or a case opened by another instance before a rebalance: remember the
            // account so that its next messages do not ask again.
            Opening::AlreadyActive { case_id } => {
                if let Some(active) = self.store.case(&case_id).await? {
                    match active.status {
                        CaseStatus::Suspended => {
                            self.suspended.insert(active.account_id);
                        }
                        CaseStatus::InReview => {
                            self.in_review.insert(active.account_id);
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
        }
    }

    /// The events opening `case` owes (`case::opening_owes`), by the automated decision, at
    /// the case's opening.
    fn opening_events(&self, case: &Case) -> Vec<OutboxEvent> {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(case.opened_at) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let owes = crate::case::opening_owes(case.status);
        events::owed(&owes, case, &Actor::Automated, &self.appeal, None, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::CaseStatus;
    use crate::message::MessageId;
    use crate::suspension::Ladder;

    const T0: i64 = 1_796_000_000;

    /// A flagged message from `account` at `at` (Unix s) that a spam rule hit: evidence of a
    /// violation, one of the five in an hour that make one.
    fn flagged(account: &str, seq: u32, at: i64) -> (Verdict, Facts) {
        let verdict = Verdict {
            message_id: MessageId::parse("message_id", format!("SM{account}-{seq}")).unwrap(),
            account_id: AccountId::parse("account_id", account.into()).unwrap(),
            action: Action::Flag,
            scores: Scores::default(),
            rule_hits: vec![RuleId::new("spam.replicas")],
            shadow_rule_hits: Vec::new(),
            model_version: None,
            rules_version: "r1".into(),
            decided_at: OffsetDateTime::UNIX_EPOCH,
            account_suspended: false,
            recipient_opted_out: false,
            marketing_without_opt_out: false,
        };
        let facts = Facts {
            model: None,
            body: "Replica watches from £89".into(),
            sent_at_ms: at * 1_000,
            observation: Observation {
                at,
                recipient: u64::from(seq),
                simhash: u64::from(seq) << 20,
                domains: [None; 4],
                abusive: true,
                policy_violation: false,
                violating: true,
                blocked: false,
            },
            trigger: Trigger {
                action: Action::Flag,
                high_severity_fraud: false,
                model_fraud: None,
                has_url: false,
            },
            policy_tag: Some("spam".into()),
            shadow_changes: Vec::new(),
        };
        (verdict, facts)
    }

    /// Sends five flagged messages from `account` at `at` and opens the case they call for.
    async fn violate(enforcer: &mut Enforcer, account: &str, at: i64) -> Option<NewCase> {
        let mut opened = None;
        for seq in 0..5 {
            let (mut verdict, facts) =
                flagged(account, (at - T0) as u32 + seq, at + i64::from(seq));
            if let Some(case) = enforcer.assess(&mut verdict, &facts) {
                enforcer.open(&case).await.unwrap();
                opened = Some(case);
            }
        }
        opened
    }

    fn appeal() -> AppealSettings {
        AppealSettings {
            secret: Secret::new("test"),
            base_url: "https://warden.example.com/appeal".into(),
            days: 183,
            policy_url: "https://warden.example.com/acceptable-use".into(),
            redress: "The courts.".into(),
            warning_next_step: String::new(),
            clause_urls: BTreeMap::from([(
                "spam".to_owned(),
                "https://warden.example.com/acceptable-use#spam".to_owned(),
            )]),
        }
    }

    #[tokio::test]
    async fn an_opt_out_is_stored_before_it_counts_so_a_failed_call_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("warden.db").display());
        let store = Store::connect(&url).await.unwrap();
        let mut enforcer = Enforcer::start(
            store,
            SuspensionPolicy::default(),
            appeal(),
            Arc::new(Notify::new()),
        )
        .await
        .unwrap();
        let account = AccountId::parse("account_id", "AC1".into()).unwrap();
        let stop = MessageId::parse("message_id", "SMstop".into()).unwrap();
        // `flagged` sends message `seq` to recipient `seq`.
        let recipient = 7;
        let to_recipient_blocked = |enforcer: &mut Enforcer, at: i64| {
            let (mut verdict, facts) = flagged("AC1", recipient as u32, at);
            enforcer.assess(&mut verdict, &facts);
            verdict.recipient_opted_out
        };

        // The store refuses the opt-out: the call fails and nothing is honoured.
        let beside = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
        sqlx::query(&rename("opt_outs", "opt_outs_away"))
            .execute(&beside)
            .await
            .unwrap();
        let failed = enforcer
            .take_feedback(&account, &stop, FeedbackKind::OptOut, T0, Some(recipient))
            .await;
        assert!(failed.is_err(), "{failed:?}");
        assert!(!to_recipient_blocked(&mut enforcer, T0 + 1));

        // Tried again once the store is back: stored and honoured.
        sqlx::query(&rename("opt_outs_away", "opt_outs"))
            .execute(&beside)
            .await
            .unwrap();
        let case = enforcer
            .take_feedback(
                &account,
                &stop,
                FeedbackKind::OptOut,
                T0 + 2,
                Some(recipient),
            )
            .await
            .unwrap();
        assert!(case.is_none(), "one complaint opens nothing");
        assert!(to_recipient_blocked(&mut enforcer, T0 + 3));
    }

    #[tokio::test]
    async fn strikes_expire_so_a_violation_after_strike_days_is_a_first_one_again() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("warden.db").display());
        let store = Store::connect(&url).await.unwrap();
        let policy = SuspensionPolicy {
            ladder: Ladder {
                strike_days: 1,
                ..Ladder::default()
            },
            ..SuspensionPolicy::default()
        };
        let mut enforcer = Enforcer::start(store, policy, appeal(), Arc::new(Notify::new()))
            .await
            .unwrap();
        let step = |case: Option<NewCase>| case.map(|c| (c.status, c.ends_at.is_some()));

        // AC1 goes on within the day: warned, then restricted.
        let first = violate(&mut enforcer, "AC1", T0).await;
        assert_eq!(
            first.as_ref().and_then(|c| c.policy_url.as_deref()),
            Some("https://warden.example.com/acceptable-use#spam")
        );
        assert_eq!(step(first), Some((CaseStatus::Warned, false)));
        let again = violate(&mut enforcer, "AC1", T0 + 3_600).await;
        assert_eq!(step(again), Some((CaseStatus::Suspended, true)));

        // AC2 goes on two days later, its strike expired: a first violation again.
        assert_eq!(
            step(violate(&mut enforcer, "AC2", T0).await),
            Some((CaseStatus::Warned, false))
        );
        assert_eq!(
            step(violate(&mut enforcer, "AC2", T0 + 2 * 86_400).await),
            Some((CaseStatus::Warned, false))
        );

        // A reload that moves the spam clause: the next case links the new one.
        let moved = BTreeMap::from([(
            "spam".to_owned(),
            "https://warden.example.com/terms-2027#spam".to_owned(),
        )]);
        enforcer.set_policy(SuspensionPolicy::default(), moved);
        let after_reload = violate(&mut enforcer, "AC3", T0).await;
        assert_eq!(
            after_reload.and_then(|c| c.policy_url),
            Some("https://warden.example.com/terms-2027#spam".to_owned())
        );
    }
}
