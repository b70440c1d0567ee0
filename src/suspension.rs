//! Account policy: when the evidence against an account is a violation, which step of the
//! ladder (warn, restrict for a time, suspend) it takes, and the circuit breaker that stops a
//! bad release from restricting or suspending many.
//!
//! Read from the `[suspension]` table of `config/policy.toml`. A single borderline message is
//! never a violation: every path needs repetition (several flagged or blocked messages in an
//! hour, one text fanned out to many recipients, sends to recipients who opted out) or one
//! blocked message that a high-severity fraud rule and the model agree on. Each violation adds
//! strikes by its gravest reason; the account's live strikes (those of the last `strike_days`)
//! pick the step. Allowlisted accounts and a tripped breaker send restrictions and suspensions
//! to human review instead; shadow mode only reports what would have happened.

use std::collections::VecDeque;

use serde::Deserialize;

use crate::message::{AccountId, Action, Category};
use crate::rules::{Rule, Severity};
use crate::signals::Snapshot;

/// Whether the account policy acts or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    #[default]
    Enforce,
    Shadow,
}

/// The `[suspension]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuspensionPolicy {
    /// `enforce` (default) or `shadow` (decisions are logged and counted, never carried out).
    pub mode: PolicyMode,
    /// Violating messages (see [`MessageWeight::violating`]) within an hour that are a
    /// violation, with no block needed: the bottom of the ladder, where an account is warned.
    /// At least 2. Default 5.
    pub warn_violating_messages: u32,
    /// Messages within an hour to recipients who had opted out of the account's messages (each
    /// blocked) that are a violation. At least 2: one may cross the opt-out in flight.
    /// Default 3.
    pub opted_out_sends: u32,
    /// Blocked messages within an hour that suspend. At least 2. Default 3.
    pub blocked_messages: u32,
    /// Flagged or blocked messages (with a rule hit) within an hour that suspend, when at least
    /// one of them was blocked. At least 2. Default 10.
    pub abusive_messages: u32,
    /// Distinct recipients of one near-duplicate text with a link that suspend, when at least
    /// `fanout_min_abusive` of the hour's messages were flagged or blocked. Default 50.
    pub fanout_recipients: u32,
    /// See `fanout_recipients`. At least 1. Default 1.
    pub fanout_min_abusive: u32,
    /// Recipients' complaints (opt-outs plus carrier filtering) within an hour that suspend,
    /// when they are at least `complaint_rate` of the hour's messages and at least
    /// `complaints_min_abusive` of those messages were flagged or blocked. At least 2. Default 3.
    pub complaints: u32,
    /// See `complaints`. In (0, 1]. Default 0.1.
    pub complaint_rate: f64,
    /// See `complaints`. At least 1. Default 3.
    pub complaints_min_abusive: u32,
    /// Flagged or blocked messages with an acceptable-use rule hit (weapons, drugs, hate...)
    /// within an hour that suspend. Unlike spam, such content is against the policy whoever
    /// agreed to receive it, so repetition suffices. At least 2. Default 5.
    pub policy_violations: u32,
    /// Model fraud probability at which one blocked message with a high-severity fraud rule
    /// hit suspends. In (0, 1]. Default 0.9.
    pub confirmed_fraud_model_at: f64,
    /// Accounts that are never suspended automatically: their cases go to human review.
    pub allowlist: Vec<String>,
    pub ladder: Ladder,
    pub circuit_breaker: BreakerPolicy,
}

impl Default for SuspensionPolicy {
    fn default() -> Self {
        Self {
            mode: PolicyMode::Enforce,
            warn_violating_messages: 5,
            opted_out_sends: 3,
            blocked_messages: 3,
            abusive_messages: 10,
            fanout_recipients: 50,
            fanout_min_abusive: 1,
            complaints: 3,
            complaint_rate: 0.1,
            complaints_min_abusive: 3,
            policy_violations: 5,
            confirmed_fraud_model_at: 0.9,
            allowlist: Vec::new(),
            ladder: Ladder::default(),
            circuit_breaker: BreakerPolicy::default(),
        }
    }
}

/// The `[suspension.ladder]` table: how violations become steps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ladder {
    /// Days a strike counts after the violation that earned it. Default 90.
    pub strike_days: i64,
    /// How long a restriction lasts, in seconds; `warden run` lifts it at its end. Default
    /// 86,400 (a day).
    pub restrict_s: i64,
    /// Live strikes (the new violation's included) at which the account is restricted rather
    /// than warned. 1 means no warnings. Default 2.
    pub restrict_at: u32,
    /// Live strikes at which the account is suspended until a person reinstates it. Default 3.
    pub suspend_at: u32,
    pub strikes: Strikes,
}

impl Default for Ladder {
    fn default() -> Self {
        Self {
            strike_days: 90,
            restrict_s: 86_400,
            restrict_at: 2,
            suspend_at: 3,
            strikes: Strikes::default(),
        }
    }
}

/// The `[suspension.ladder.strikes]` table: the strikes a violation adds, by its gravest
/// reason. With the default steps, 1 warns a first-time account, 2 restricts it, 3 suspends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Strikes {
    pub repeated_flagged_messages: u32,
    pub sends_to_opted_out_recipients: u32,
    pub recipient_complaints: u32,
    pub templated_fan_out: u32,
    pub repeated_abusive_messages: u32,
    pub repeated_blocked_messages: u32,
    pub repeated_policy_violations: u32,
    pub confirmed_fraud: u32,
}

impl Default for Strikes {
    fn default() -> Self {
        Self {
            repeated_flagged_messages: 1,
            sends_to_opted_out_recipients: 1,
            recipient_complaints: 1,
            templated_fan_out: 2,
            repeated_abusive_messages: 2,
            repeated_blocked_messages: 3,
            repeated_policy_violations: 3,
            confirmed_fraud: 3,
        }
    }
}

impl Strikes {
    fn of(&self, reason: Reason) -> u32 {
        match reason {
            Reason::RepeatedFlaggedMessages => self.repeated_flagged_messages,
            Reason::SendsToOptedOutRecipients => self.sends_to_opted_out_recipients,
            Reason::RecipientComplaints => self.recipient_complaints,
            Reason::TemplatedFanOut => self.templated_fan_out,
            Reason::RepeatedAbusiveMessages => self.repeated_abusive_messages,
            Reason::RepeatedBlockedMessages => self.repeated_blocked_messages,
            Reason::RepeatedPolicyViolations => self.repeated_policy_violations,
            Reason::ConfirmedFraud => self.confirmed_fraud,
        }
    }

    fn all(&self) -> [u32; 8] {
        [
            self.repeated_flagged_messages,
            self.sends_to_opted_out_recipients,
            self.recipient_complaints,
            self.templated_fan_out,
            self.repeated_abusive_messages,
            self.repeated_blocked_messages,
            self.repeated_policy_violations,
            self.confirmed_fraud,
        ]
    }
}

/// A step of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// A notice with the reasons and what comes next; the account keeps sending.
    Warn,
    /// Suspended until `restrict_s` after the violation, then reinstated by `warden run`.
    Restrict,
    /// Suspended until a person reinstates it.
    Suspend,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Warn => "warn",
            Step::Restrict => "restrict",
            Step::Suspend => "suspend",
        }
    }

    /// The step as stored in the audit trail, or `None` for a word that names none.
    pub fn parse(text: &str) -> Option<Self> {
        [Step::Warn, Step::Restrict, Step::Suspend]
            .into_iter()
            .find(|step| step.as_str() == text)
    }
}

impl Ladder {
    /// The strikes a violation with these reasons adds: its gravest reason's, since one body
    /// of evidence often gives several.
    pub fn strikes(&self, reasons: &[Reason]) -> u32 {
        reasons
            .iter()
            .map(|&r| self.strikes.of(r))
            .max()
            .unwrap_or(0)
    }

    /// The step for an account with `live` strikes, the new violation's included.
    pub fn step(&self, live: u32) -> Step {
        if live >= self.suspend_at {
            Step::Suspend
        } else if live >= self.restrict_at {
            Step::Restrict
        } else {
            Step::Warn
        }
    }

    /// What a warned account is told further violations bring.
    pub fn next_step_words(&self) -> String {
        let hours = self.restrict_s as f64 / 3_600.0;
        format!(
            "If more of the account's messages break the policy within {} days, its sending \
             will be restricted for {hours} hours, and then suspended until a person reviews it.",
            self.strike_days
        )
    }

    /// Strike lifetime in milliseconds.
    pub fn strike_ms(&self) -> i64 {
        self.strike_days * 86_400_000
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.strike_days <= 0 || self.restrict_s <= 0 {
            return Err("ladder: strike_days and restrict_s must be positive");
        }
        if self.restrict_at < 1 || self.suspend_at < self.restrict_at {
            return Err(
                "ladder: restrict_at must be at least 1 and suspend_at at least restrict_at",
            );
        }
        if self.strikes.all().contains(&0) {
            return Err("ladder.strikes: every reason must add at least one strike");
        }
        Ok(())
    }
}

/// The `[suspension.circuit_breaker]` table.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Length of one counting window, in seconds. Default 600.
    pub window_s: i64,
    /// Past windows whose mean is the baseline. Default 6.
    pub baseline_windows: usize,
    /// The breaker trips when a window's suspensions exceed this multiple of the baseline...
    /// Default 5.
    pub max_ratio: f64,
    /// ...and this floor, so that a quiet baseline does not trip on a handful. Default 20.
    pub min_suspensions: u32,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            window_s: 600,
            baseline_windows: 6,
            max_ratio: 5.0,
            min_suspensions: 20,
        }
    }
}

impl SuspensionPolicy {
    /// Checks the values no type can: every path to suspension needs repetition or agreement.
    pub fn validate(&self) -> Result<(), &'static str> {
        if [
            self.warn_violating_messages,
            self.opted_out_sends,
            self.blocked_messages,
            self.abusive_messages,
            self.policy_violations,
        ]
        .iter()
        .any(|&n| n < 2)
        {
            return Err(
                "warn_violating_messages, opted_out_sends, blocked_messages, abusive_messages and policy_violations must be at least 2",
            );
        }
        if self.fanout_min_abusive < 1 || self.fanout_recipients < 2 {
            return Err("fanout_min_abusive must be at least 1 and fanout_recipients at least 2");
        }
        if self.complaints < 2
            || self.complaints_min_abusive < 1
            || !(self.complaint_rate > 0.0 && self.complaint_rate <= 1.0)
        {
            return Err(
                "complaints must be at least 2, complaints_min_abusive at least 1 and complaint_rate in (0, 1]",
            );
        }
        if !(self.confirmed_fraud_model_at > 0.0 && self.confirmed_fraud_model_at <= 1.0) {
            return Err("confirmed_fraud_model_at must be in (0, 1]");
        }
        self.ladder.validate()?;
        let breaker = &self.circuit_breaker;
        if breaker.window_s <= 0 || breaker.baseline_windows == 0 || breaker.max_ratio <= 1.0 {
            return Err(
                "circuit_breaker needs window_s > 0, baseline_windows > 0 and max_ratio > 1",
            );
        }
        Ok(())
    }
}

/// What the message (or feedback record) that prompts an account decision tells about its
/// account, beyond the signals.
#[derive(Debug, Clone, Copy)]
pub struct Trigger {
    pub action: Action,
    /// An enforcing fraud rule of high severity hit.
    pub high_severity_fraud: bool,
    /// The model's fraud probability, when a model scored.
    pub model_fraud: Option<f64>,
    pub has_url: bool,
}

/// How one scored message counts against its account: the account policy's reading of a
/// verdict, kept here so that the stream processor only reports what was scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageWeight {
    /// Flagged or blocked with an enforced rule behind it. The model alone does not count: it
    /// flags many legitimate transactional templates, and an account that repeats one would
    /// pile up "abuse".
    pub abusive: bool,
    /// An enforced acceptable-use rule hit: against the policy whoever agreed to receive it.
    pub policy_violation: bool,
    /// Abusive, and not only by fraud rules that flag: blocked, or with an enforced spam or
    /// acceptable-use rule hit. A fraud rule flags (rather than blocks) the wording that
    /// genuine notices share with lures (a frozen card, a failed payment, money sent by
    /// mistake): a message for a person to look at, not evidence that the account abuses.
    pub violating: bool,
    pub blocked: bool,
    /// An enforced fraud rule of high severity hit.
    pub high_severity_fraud: bool,
}

impl MessageWeight {
    /// Weighs a message by its action and the enforced rules that hit it (shadow rules never
    /// count).
    pub fn of<'r>(action: Action, enforced_hits: impl IntoIterator<Item = &'r Rule>) -> Self {
        let (mut any_rule, mut policy_violation, mut high_severity_fraud) = (false, false, false);
        let mut beyond_fraud = false;
        for rule in enforced_hits {
            any_rule = true;
            beyond_fraud |= rule.category != Category::Fraud;
            policy_violation |= rule.category == Category::Aup;
            high_severity_fraud |=
                rule.category == Category::Fraud && rule.severity == Severity::High;
        }
        MessageWeight {
            abusive: action != Action::Allow && any_rule,
            policy_violation,
            violating: any_rule
                && (action == Action::Block || (action != Action::Allow && beyond_fraud)),
            blocked: action == Action::Block,
            high_severity_fraud,
        }
    }
}

/// Why an account is warned, restricted or suspended: a stable code and the words the holder
/// is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    RepeatedFlaggedMessages,
    SendsToOptedOutRecipients,
    RepeatedBlockedMessages,
    RepeatedAbusiveMessages,
    TemplatedFanOut,
    RecipientComplaints,
    RepeatedPolicyViolations,
    ConfirmedFraud,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::RepeatedFlaggedMessages => "repeated_flagged_messages",
            Reason::SendsToOptedOutRecipients => "sends_to_opted_out_recipients",
            Reason::RepeatedBlockedMessages => "repeated_blocked_messages",
            Reason::RepeatedAbusiveMessages => "repeated_abusive_messages",
            Reason::TemplatedFanOut => "templated_fan_out",
            Reason::RecipientComplaints => "recipient_complaints",
            Reason::RepeatedPolicyViolations => "repeated_policy_violations",
            Reason::ConfirmedFraud => "confirmed_fraud",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Reason::RepeatedFlaggedMessages => {
                "Several of the account's messages within an hour matched spam or abuse rules, or were blocked"
            }
            Reason::SendsToOptedOutRecipients => {
                "The account kept sending to recipients who had opted out of its messages"
            }
            Reason::RepeatedBlockedMessages => {
                "Several of the account's messages within an hour were blocked as spam, fraud or abuse"
            }
            Reason::RepeatedAbusiveMessages => {
                "Many of the account's messages within an hour looked like spam, fraud or abuse"
            }
            Reason::TemplatedFanOut => {
                "The account sent near-identical messages with links to many recipients, some of them judged abusive"
            }
            Reason::RecipientComplaints => {
                "Many recipients opted out of the account's messages or had them filtered as spam, and several of those messages looked like spam, fraud or abuse"
            }
            Reason::RepeatedPolicyViolations => {
                "Several of the account's messages within an hour offered or promoted content the acceptable use policy forbids"
            }
            Reason::ConfirmedFraud => {
                "A message matched a high-severity fraud pattern and the fraud model agreed"
            }
        }
    }
}

/// A violation and the step of the ladder it calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanction {
    pub step: Step,
    /// The strikes this violation adds.
    pub strikes: u32,
    pub reasons: Vec<Reason>,
}

/// What the account policy decides after one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountDecision {
    /// Nothing to do.
    None,
    /// Take the step now.
    Act(Sanction),
    /// Open a case for human review instead of restricting or suspending (allowlisted, or the
    /// breaker is open).
    Review(Sanction),
    /// Shadow mode: this step would have been taken.
    WouldAct(Sanction),
}

impl SuspensionPolicy {
    /// The reasons, if any, the signals and the triggering message give to suspend the account.
    pub fn reasons(&self, signals: &Snapshot, message: &Trigger) -> Vec<Reason> {
        let mut reasons = Vec::new();
        if signals.violating_last_hour >= self.warn_violating_messages {
            reasons.push(Reason::RepeatedFlaggedMessages);
        }
        if signals.opted_out_sends_last_hour >= self.opted_out_sends {
            reasons.push(Reason::SendsToOptedOutRecipients);
        }
        if signals.blocked_last_hour >= self.blocked_messages {
            reasons.push(Reason::RepeatedBlockedMessages);
        }
        // Flags alone never suspend: a legitimate sender repeating one template that a rule
        // flags would pile them up. At least one message must have been blocked.
        if signals.abusive_last_hour >= self.abusive_messages && signals.blocked_last_hour >= 1 {
            reasons.push(Reason::RepeatedAbusiveMessages);
        }
        if message.has_url
            && signals.duplicate_fanout >= self.fanout_recipients
            && signals.abusive_last_hour >= self.fanout_min_abusive
        {
            reasons.push(Reason::TemplatedFanOut);
        }
        let complaints = signals.opt_outs_last_hour + signals.carrier_filtered_last_hour;
        if complaints >= self.complaints
            && f64::from(complaints) >= self.complaint_rate * f64::from(signals.messages_last_hour)
            && signals.abusive_last_hour >= self.complaints_min_abusive
        {
            reasons.push(Reason::RecipientComplaints);
        }
        if signals.policy_violations_last_hour >= self.policy_violations {
            reasons.push(Reason::RepeatedPolicyViolations);
        }
        if message.action == Action::Block
            && message.high_severity_fraud
            && message
                .model_fraud
                .is_some_and(|p| p >= self.confirmed_fraud_model_at)
        {
            reasons.push(Reason::ConfirmedFraud);
        }
        reasons
    }

    /// Decides for one account after one message, given the strikes the account already has
    /// live (asked only when there is a violation: most messages are none). `breaker` counts
    /// automated restrictions and suspensions; a warning takes nothing away, so it needs
    /// neither the breaker nor a person.
    pub fn decide_account(
        &self,
        account_id: &AccountId,
        signals: &Snapshot,
        message: &Trigger,
        live_strikes: impl FnOnce() -> u32,
        breaker: &mut CircuitBreaker,
        at: i64,
    ) -> AccountDecision {
        let reasons = self.reasons(signals, message);
        if reasons.is_empty() {
            return AccountDecision::None;
        }
        let strikes = self.ladder.strikes(&reasons);
        let sanction = Sanction {
            step: self.ladder.step(live_strikes() + strikes),
            strikes,
            reasons,
        };
        if self.mode == PolicyMode::Shadow {
            return AccountDecision::WouldAct(sanction);
        }
        if sanction.step != Step::Warn
            && (self.allowlist.iter().any(|a| a == account_id.as_str()) || !breaker.admit(at))
        {
            return AccountDecision::Review(sanction);
        }
        AccountDecision::Act(sanction)
    }
}

/// Counts automated suspensions per window; when a window's count rises far above the recent
/// baseline, it trips, and stays tripped (every new case goes to review) until an admin resets
/// it. A bad rule or model release then costs reviewers' time, not thousands of customers.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    window: i64,
    current: u32,
    history: VecDeque<u32>,
    tripped_at: Option<i64>,
}

impl CircuitBreaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            window: i64::MIN,
            current: 0,
            history: VecDeque::new(),
            tripped_at: None,
        }
    }

    /// Whether one more automated suspension at `at` (Unix seconds) may go ahead; counts it if so.
    pub fn admit(&mut self, at: i64) -> bool {
        self.roll(at);
        if self.tripped_at.is_some() {
            return false;
        }
        let baseline = if self.history.is_empty() {
            0.0
        } else {
            self.history.iter().map(|&n| f64::from(n)).sum::<f64>() / self.history.len() as f64
        };
        let limit = (self.policy.max_ratio * baseline).max(f64::from(self.policy.min_suspensions));
        if f64::from(self.current + 1) > limit {
            self.tripped_at = Some(at);
            return false;
        }
        self.current += 1;
        true
    }

    /// Closes the windows that ended before `at`; a gap longer than the baseline leaves an
    /// all-empty history without walking every empty window.
    fn roll(&mut self, at: i64) {
        let window = at.div_euclid(self.policy.window_s);
        if self.window == i64::MIN {
            self.window = window;
        }
        let elapsed = window - self.window;
        if elapsed <= 0 {
            return;
        }
        let keep = self.policy.baseline_windows;
        if elapsed as usize > keep {
            self.history = std::iter::repeat_n(0, keep).collect();
        } else {
            self.history.push_back(self.current);
            self.history
                .extend(std::iter::repeat_n(0, elapsed as usize - 1));
            while self.history.len() > keep {
                self.history.pop_front();
            }
        }
        self.current = 0;
        self.window = window;
    }

    /// When the breaker tripped, if it has.
    pub fn tripped_at(&self) -> Option<i64> {
        self.tripped_at
    }

    /// Holds the breaker tripped from `at` on: another instance tripped it, or it was tripped
    /// before a restart.
    pub fn hold(&mut self, at: i64) {
        self.tripped_at.get_or_insert(at);
    }

    /// An admin's reset: automated suspensions resume, with the current window counted afresh.
    pub fn reset(&mut self) {
        self.tripped_at = None;
        self.current = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule set with a high-severity fraud rule, a medium one and an AUP rule.
    fn weighing_rules() -> crate::rules::RuleSet {
        let rule = |id: &str, category: &str, severity: &str, phrase: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\ncategory = \"{category}\"\nseverity = \"{severity}\"\n\
                 weight = 0.9\ndescription = \"A test rule\"\nkeywords = [\"{phrase}\"]\n\
                 examples.match = [\"{phrase}\"]\nexamples.no_match = [\"hello\"]\n\n"
            )
        };
        let source = rule("fraud.fee", "fraud", "high", "pay the fee")
            + &rule("fraud.prize", "fraud", "medium", "you won")
            + &rule("aup.weapons", "aup", "medium", "buy a gun");
        crate::rules::RuleSet::compile(&source).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_rule_backed_flags_weigh_against_an_account() {
        let set = weighing_rules();
        let [fee, prize, weapons] = [0, 1, 2].map(|i| set.rule(i));
        let weigh = |action, hits: &[&Rule]| MessageWeight::of(action, hits.iter().copied());
        // The model alone flagged it: nothing counts.
        assert_eq!(
            weigh(Action::Flag, &[]),
            MessageWeight {
                abusive: false,
                policy_violation: false,
                violating: false,
                blocked: false,
                high_severity_fraud: false
            }
        );
        // A rule hit on an allowed message does not count either.
        assert!(!weigh(Action::Allow, &[prize]).abusive);
        let flagged = weigh(Action::Flag, &[prize]);
        assert!(flagged.abusive && !flagged.high_severity_fraud && !flagged.blocked);
        // A fraud rule that only flags marks wording genuine notices share with lures: for a
        // person to look at, not a violation. Blocked, or beside another rule, it is one.
        assert!(!flagged.violating);
        let blocked = weigh(Action::Block, &[prize, fee]);
        assert!(blocked.abusive && blocked.blocked && blocked.high_severity_fraud);
        assert!(blocked.violating);
        let weapons_flagged = weigh(Action::Flag, &[weapons]);
        assert!(weapons_flagged.policy_violation && weapons_flagged.violating);
        assert!(!weigh(Action::Block, &[fee]).policy_violation);
    }

    const T0: i64 = 1_796_000_000;

    fn account(raw: &str) -> AccountId {
        AccountId::parse("account_id", raw.into()).unwrap()
    }

    fn trigger(action: Action) -> Trigger {
        Trigger {
            action,
            high_severity_fraud: false,
            model_fraud: None,
            has_url: false,
        }
    }

    fn act(step: Step, strikes: u32, reasons: Vec<Reason>) -> AccountDecision {
        AccountDecision::Act(Sanction {
            step,
            strikes,
            reasons,
        })
    }

    fn snapshot(blocked: u32, abusive: u32, fanout: u32) -> Snapshot {
        Snapshot {
            blocked_last_hour: blocked,
            abusive_last_hour: abusive,
            violating_last_hour: abusive,
            duplicate_fanout: fanout,
            ..Snapshot::default()
        }
    }

    #[test]
    fn one_borderline_message_never_suspends() {
        let policy = SuspensionPolicy::default();
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let decide = |s: &Snapshot, e: &Trigger, b: &mut CircuitBreaker| {
            policy.decide_account(&account("AC1"), s, e, || 0, b, T0)
        };
        assert_eq!(
            decide(&snapshot(1, 1, 1), &trigger(Action::Block), &mut breaker),
            AccountDecision::None
        );
        // A blocked high-severity fraud hit the model doubts is not enough either.
        let doubted = Trigger {
            high_severity_fraud: true,
            model_fraud: Some(0.4),
            ..trigger(Action::Block)
        };
        assert_eq!(
            decide(&snapshot(1, 1, 1), &doubted, &mut breaker),
            AccountDecision::None
        );
        let confirmed = Trigger {
            model_fraud: Some(0.97),
            ..doubted
        };
        assert_eq!(
            decide(&snapshot(1, 1, 1), &confirmed, &mut breaker),
            act(Step::Suspend, 3, vec![Reason::ConfirmedFraud])
        );
    }

    #[test]
    fn sustained_evidence_suspends_with_every_reason_named() {
        let policy = SuspensionPolicy::default();
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let with_link = Trigger {
            has_url: true,
            ..trigger(Action::Flag)
        };
        assert_eq!(
            policy.decide_account(
                &account("AC1"),
                &snapshot(3, 10, 60),
                &with_link,
                || 0,
                &mut breaker,
                T0
            ),
            act(
                Step::Suspend,
                3,
                vec![
                    Reason::RepeatedFlaggedMessages,
                    Reason::RepeatedBlockedMessages,
                    Reason::RepeatedAbusiveMessages,
                    Reason::TemplatedFanOut,
                ]
            )
        );
        // Fan-out without any abusive verdict is a newsletter, not a reason.
        assert_eq!(
            policy.decide_account(
                &account("AC2"),
                &snapshot(0, 0, 500),
                &with_link,
                || 0,
                &mut breaker,
                T0
            ),
            AccountDecision::None
        );
    }

    #[test]
    fn complaints_count_only_against_abusive_senders_at_a_high_rate() {
        let policy = SuspensionPolicy::default();
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let with = |messages, abusive, opt_outs, filtered| Snapshot {
            messages_last_hour: messages,
            abusive_last_hour: abusive,
            opt_outs_last_hour: opt_outs,
            carrier_filtered_last_hour: filtered,
            ..Snapshot::default()
        };
        let flagged = trigger(Action::Flag);
        let mut decide = |s: &Snapshot| {
            policy.decide_account(&account("AC1"), s, &flagged, || 0, &mut breaker, T0)
        };
        assert_eq!(
            decide(&with(20, 3, 1, 2)),
            act(Step::Warn, 1, vec![Reason::RecipientComplaints])
        );
        // The same complaints from a sender whose texts no rule objects to: a newsletter.
        assert_eq!(decide(&with(20, 0, 1, 2)), AccountDecision::None);
        // Three complaints over a thousand messages is an ordinary opt-out rate.
        assert_eq!(decide(&with(1_000, 4, 1, 2)), AccountDecision::None);
        // Undelivered messages are no complaint.
        assert_eq!(decide(&with(20, 3, 1, 1)), AccountDecision::None);
    }

    #[test]
    fn repeated_acceptable_use_violations_suspend_without_a_block() {
        let policy = SuspensionPolicy::default();
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let with = |violations, abusive| Snapshot {
            abusive_last_hour: abusive,
            violating_last_hour: abusive,
            policy_violations_last_hour: violations,
            ..Snapshot::default()
        };
        let flagged = trigger(Action::Flag);
        let mut decide = |s: &Snapshot| {
            policy.decide_account(&account("AC1"), s, &flagged, || 0, &mut breaker, T0)
        };
        assert_eq!(
            decide(&with(5, 5)),
            act(
                Step::Suspend,
                3,
                vec![
                    Reason::RepeatedFlaggedMessages,
                    Reason::RepeatedPolicyViolations
                ]
            )
        );
        assert_eq!(decide(&with(4, 4)), AccountDecision::None);
        // Flagged spam, however much of it, is not an acceptable-use violation: a warning.
        assert_eq!(
            decide(&with(0, 9)),
            act(Step::Warn, 1, vec![Reason::RepeatedFlaggedMessages])
        );
    }

    #[test]
    fn allowlisted_accounts_and_shadow_mode_do_not_suspend() {
        let mut policy = SuspensionPolicy {
            allowlist: vec!["ACvip".into()],
            ..SuspensionPolicy::default()
        };
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let heavy = snapshot(5, 20, 0);
        let message = trigger(Action::Block);
        assert!(matches!(
            policy.decide_account(&account("ACvip"), &heavy, &message, || 0, &mut breaker, T0),
            AccountDecision::Review(_)
        ));
        policy.mode = PolicyMode::Shadow;
        assert!(matches!(
            policy.decide_account(&account("AC1"), &heavy, &message, || 0, &mut breaker, T0),
            AccountDecision::WouldAct(_)
        ));
    }

    #[test]
    fn strikes_add_up_from_a_warning_to_a_restriction_to_a_suspension() {
        let policy = SuspensionPolicy::default();
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let flagged = snapshot(0, 5, 0);
        let message = trigger(Action::Flag);
        let mut decide = |live| {
            policy.decide_account(
                &account("AC1"),
                &flagged,
                &message,
                || live,
                &mut breaker,
                T0,
            )
        };
        let reasons = vec![Reason::RepeatedFlaggedMessages];
        assert_eq!(decide(0), act(Step::Warn, 1, reasons.clone()));
        assert_eq!(decide(1), act(Step::Restrict, 1, reasons.clone()));
        assert_eq!(decide(2), act(Step::Suspend, 1, reasons));
        // A violation's gravest reason sets its strikes: blocked fraud skips the ladder.
        let blocked = snapshot(3, 3, 0);
        assert_eq!(
            policy.decide_account(&account("AC2"), &blocked, &message, || 0, &mut breaker, T0),
            act(Step::Suspend, 3, vec![Reason::RepeatedBlockedMessages])
        );
    }

    #[test]
    fn sends_to_recipients_who_opted_out_are_a_violation() {
        let policy = SuspensionPolicy::default();
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let sends = |n| Snapshot {
            opted_out_sends_last_hour: n,
            ..Snapshot::default()
        };
        let message = trigger(Action::Allow);
        let mut decide = |s: &Snapshot, live| {
            policy.decide_account(&account("AC1"), s, &message, || live, &mut breaker, T0)
        };
        // One or two may cross the opt-out in flight.
        assert_eq!(decide(&sends(2), 0), AccountDecision::None);
        let reasons = vec![Reason::SendsToOptedOutRecipients];
        assert_eq!(decide(&sends(3), 0), act(Step::Warn, 1, reasons.clone()));
        assert_eq!(decide(&sends(3), 1), act(Step::Restrict, 1, reasons));
    }

    #[test]
    fn a_warning_needs_neither_the_breaker_nor_a_person_but_a_restriction_does() {
        let policy = SuspensionPolicy {
            allowlist: vec!["ACvip".into()],
            ..SuspensionPolicy::default()
        };
        let mut breaker = CircuitBreaker::new(policy.circuit_breaker);
        let flagged = snapshot(0, 5, 0);
        let message = trigger(Action::Flag);
        let mut decide = |live| {
            policy.decide_account(
                &account("ACvip"),
                &flagged,
                &message,
                || live,
                &mut breaker,
                T0,
            )
        };
        assert_eq!(
            decide(0),
            act(Step::Warn, 1, vec![Reason::RepeatedFlaggedMessages])
        );
        assert!(matches!(
            decide(1),
            AccountDecision::Review(Sanction {
                step: Step::Restrict,
                ..
            })
        ));
    }

    #[test]
    fn ladders_that_skip_no_step_sensibly_or_add_no_strikes_are_refused() {
        let backwards = SuspensionPolicy {
            ladder: Ladder {
                restrict_at: 3,
                suspend_at: 2,
                ..Ladder::default()
            },
            ..SuspensionPolicy::default()
        };
        assert!(backwards.validate().is_err());
        let free = SuspensionPolicy {
            ladder: Ladder {
                strikes: Strikes {
                    recipient_complaints: 0,
                    ..Strikes::default()
                },
                ..Ladder::default()
            },
            ..SuspensionPolicy::default()
        };
        assert!(free.validate().is_err());
        let no_end = SuspensionPolicy {
            ladder: Ladder {
                restrict_s: 0,
                ..Ladder::default()
            },
            ..SuspensionPolicy::default()
        };
        assert!(no_end.validate().is_err());
    }

    #[test]
    fn the_breaker_trips_on_a_surge_and_holds_until_reset() {
        let policy = BreakerPolicy::default();
        let mut breaker = CircuitBreaker::new(policy);
        // Six quiet windows of 4 suspensions each: a baseline of 4, so the limit is 20.
        for window in 0..6 {
            for i in 0..4 {
                assert!(breaker.admit(T0 + window * 600 + i));
            }
        }
        let surge = T0 + 6 * 600;
        let admitted = (0..100).filter(|i| breaker.admit(surge + i)).count();
        assert_eq!(admitted, 20);
        assert_eq!(breaker.tripped_at(), Some(surge + 20));
        // Tripped means tripped, in later windows too, until an admin resets it.
        assert!(!breaker.admit(surge + 5_000));
        breaker.reset();
        assert!(breaker.admit(surge + 5_001));
    }

    proptest::proptest! {
        /// More evidence against an account never takes a reason to suspend away.
        #[test]
        fn more_abusive_evidence_never_lowers_an_accounts_risk(
            counts in proptest::array::uniform9(0u32..40),
            extra in proptest::array::uniform9(0u32..10),
            blocked_message in proptest::bool::ANY,
            has_url in proptest::bool::ANY,
        ) {
            let policy = SuspensionPolicy::default();
            // The hour's volume stays the same: only how much of it counts against the
            // account grows (volume alone is not evidence).
            let messages = counts[0] + 100;
            let snapshot = |c: [u32; 9]| Snapshot {
                messages_last_hour: messages,
                abusive_last_hour: c[1] + c[2],
                violating_last_hour: c[1] + c[2],
                blocked_last_hour: c[2],
                policy_violations_last_hour: c[3].min(c[1] + c[2]),
                duplicate_fanout: c[4] * 5,
                opt_outs_last_hour: c[5],
                carrier_filtered_last_hour: c[6],
                undelivered_last_hour: c[7],
                recipients_last_hour: c[8],
                ..Snapshot::default()
            };
            let before = snapshot(counts);
            let after = snapshot(std::array::from_fn(|i| counts[i] + extra[i]));
            let message = Trigger {
                has_url,
                ..trigger(if blocked_message { Action::Block } else { Action::Flag })
            };
            let reasons_before = policy.reasons(&before, &message);
            let reasons_after = policy.reasons(&after, &message);
            for reason in &reasons_before {
                proptest::prop_assert!(
                    reasons_after.contains(reason),
                    "{reason:?} lost: {before:?} -> {after:?}"
                );
            }
        }
    }

    #[test]
    fn policies_that_could_suspend_on_one_message_are_refused() {
        let lax = SuspensionPolicy {
            blocked_messages: 1,
            ..SuspensionPolicy::default()
        };
        assert!(lax.validate().is_err());
        let one_complaint = SuspensionPolicy {
            complaints: 1,
            ..SuspensionPolicy::default()
        };
        assert!(one_complaint.validate().is_err());
        assert!(SuspensionPolicy::default().validate().is_ok());
    }
}
