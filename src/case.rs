//! The case lifecycle: where a case stands, who may move it, and what each step owes the
//! account holder and the messaging pipeline. Pure: no IO, no clock. The store reads a case's
//! standing under its lock, asks [`decision_step`] for the step, and applies that step in the same
//! transaction, events included (the outbox); the API only turns requests and refusals into
//! HTTP.
//!
//! ```text
//!  automated decision ─┬─► Warned: a warning notice, nothing taken away (closed at once)
//!                      ├─► Suspended ──appeal──► Suspended + open appeal ─┬─uphold───► Suspended (appeal decided)
//!                      │   (a restriction has an end: at it, Ended, reinstated by automated:expiry)
//!                      │                                                  └─overturn─► Overturned: reinstated
//!                      └─► InReview (allowlisted, breaker tripped)
//!                            ├─uphold───► Suspended: suspend, notice with appeal link
//!                            └─overturn─► Overturned: dismissed, nothing sent
//! ```
//!
//! To change what a decision emits, change [`decision_step`]'s `owes` (and [`opening_owes`] for what
//! opening a case emits); `enforce::events::owed` renders them.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::message::AccountId;

/// A case's id: `CS` and 24 lowercase hex digits, derived from the account and the trigger of
/// the case ([`CaseId::derive`]), so that a replayed decision names the same case. Parsed once
/// where an id comes from outside (an HTTP path, a token, a row).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CaseId(String);

impl CaseId {
    /// The id of the case that `trigger` (a message id, or a feedback or manual trigger) opens
    /// for `account_id`: the same pair always gives the same id.
    pub fn derive(account_id: &AccountId, trigger: &str) -> Self {
        let digest = Sha256::digest(format!("{account_id}|{trigger}"));
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("CS{hex}"))
    }

    /// Accepts `CS` and 24 lowercase hex digits, the only shape [`CaseId::derive`] gives.
    pub fn parse(raw: String) -> Result<Self, ParseError> {
        let well_formed = raw.len() == 26
            && raw.starts_with("CS")
            && raw[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(raw))
        } else {
            Err(ParseError::CaseId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who took a step: the audit log's, the claims' and the events' `actor` (`by`), stored and
/// sent as `automated`, `holder`, `reviewer:<name>` or `admin:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// Warden's account policy, in the stream processor.
    Automated,
    /// Warden lifting a restriction at its end (`automated:expiry`).
    Expiry,
    /// The account holder, appealing with the token from their notice.
    Holder,
    /// A reviewer, by their name in the reviewers file.
    Reviewer(String),
    /// An admin, by their name in the reviewers file (or given to `warden breaker reset`).
    Admin(String),
}

impl Actor {
    /// The actor as stored, or why it names none.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "automated" => Ok(Actor::Automated),
            "automated:expiry" => Ok(Actor::Expiry),
            "holder" => Ok(Actor::Holder),
            _ => match text.split_once(':') {
                Some(("reviewer", name)) => Ok(Actor::Reviewer(name.to_owned())),
                Some(("admin", name)) => Ok(Actor::Admin(name.to_owned())),
                _ => Err(ParseError::Actor),
            },
        }
    }
}

impl Actor {
    /// The person behind the step, by name: a reviewer and an admin of one name are one person.
    pub fn person(&self) -> Option<&str> {
        match self {
            Actor::Reviewer(name) | Actor::Admin(name) => Some(name),
            Actor::Automated | Actor::Expiry | Actor::Holder => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Automated => f.write_str("automated"),
            Actor::Expiry => f.write_str("automated:expiry"),
            Actor::Holder => f.write_str("holder"),
            Actor::Reviewer(name) => write!(f, "reviewer:{name}"),
            Actor::Admin(name) => write!(f, "admin:{name}"),
        }
    }
}

/// Why a stored or given word is not a case id or an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a case id (`CS` and 24 lowercase hex digits)")]
    CaseId,
    #[error(
        "not an actor (`automated`, `automated:expiry`, `holder`, `reviewer:<name>` or `admin:<name>`)"
    )]
    Actor,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// The account is suspended by automated decision: until a person reinstates it, or, for a
    /// restriction (a case with an end), until its end.
    Suspended,
    /// Opened for a human to decide, the account not suspended (allowlisted, breaker open).
    InReview,
    Upheld,
    Overturned,
    /// The account was warned: the case closed as it opened, its strikes count.
    Warned,
    /// A restriction ran its course and the account was reinstated.
    Ended,
}

impl CaseStatus {
    const ALL: [CaseStatus; 6] = [
        CaseStatus::Suspended,
        CaseStatus::InReview,
        CaseStatus::Upheld,
        CaseStatus::Overturned,
        CaseStatus::Warned,
        CaseStatus::Ended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Suspended => "suspended",
            CaseStatus::InReview => "in_review",
            CaseStatus::Upheld => "upheld",
            CaseStatus::Overturned => "overturned",
            CaseStatus::Warned => "warned",
            CaseStatus::Ended => "ended",
        }
    }

    /// The status as stored, or `None` for a word that names none.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The automated decision stands (for a case in review: the account is suspended).
    Uphold,
    /// It was wrong: the account is reinstated (for a case in review: nothing happens to it).
    Overturn,
}

impl Outcome {
    /// As stored and shown: `upheld` or `overturned`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Uphold => "upheld",
            Outcome::Overturn => "overturned",
        }
    }

    /// The outcome as stored, or `None` for a word that names none.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "upheld" => Some(Outcome::Uphold),
            "overturned" => Some(Outcome::Overturn),
            _ => None,
        }
    }
}

/// Who holds a case, and until when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub reviewer: Actor,
    pub expires_at: i64,
}

/// What the messaging pipeline is told to do to an account (`account-actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    Suspend,
    Reinstate,
}

impl AccountAction {
    /// As sent on `account-actions`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountAction::Suspend => "suspend",
            AccountAction::Reinstate => "reinstate",
        }
    }
}

/// What the account holder is told (`notices`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Warned: why, and what happens if it goes on.
    Warning,
    /// Suspended (or restricted, until its end): why, and how to appeal.
    Suspended,
    /// A restriction ended: the account sends again.
    RestrictionEnded,
    /// The holder's appeal was decided: the outcome and the reviewer's explanation.
    AppealDecided,
}

/// One event a step owes, written to the outbox with the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owed {
    AccountAction(AccountAction),
    Notice(Notice),
}

/// A case as a decision finds it, read under the case's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub status: CaseStatus,
    /// The holder has an appeal waiting for a decision.
    pub appeal_open: bool,
    /// A reviewer's claim that has not expired.
    pub claim: Option<Claim>,
    /// The last outcome recorded for the case, if it was decided before.
    pub decided: Option<Outcome>,
    /// The people who took the decisions the holder may appeal: who suspended the account by
    /// hand, who upheld or decided the case before.
    pub decided_by: Vec<String>,
}

/// A reviewer's decision that may be made: everything the store writes for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub status: CaseStatus,
    /// The open appeal is closed with the outcome and the note as its explanation.
    pub closes_appeal: bool,
    /// The case's evidence becomes `ham` training labels: reviewers said it was not abuse.
    pub labels_evidence_ham: bool,
    /// The suspended account is reinstated (counted in `warden_reinstatements_total`).
    pub reinstates: bool,
    /// The audit trail's word for the step.
    pub audit_action: &'static str,
    /// The events the step owes, in the order they are sent.
    pub owes: Vec<Owed>,
}

/// Why a decision is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The same outcome was recorded before: nothing more is written.
    AlreadyDecided,
    /// A different outcome was recorded before.
    DecidedOtherwise(Outcome),
    /// Another reviewer's claim has not expired.
    HeldByOther(Claim),
    /// The case has no open appeal and is not in review.
    NothingToDecide,
    /// The reviewer took the decision under appeal: another person must decide the appeal.
    Recused,
}

/// What opening a case owes: a suspension tells the pipeline and the holder (with the
/// appeal link); a warning tells the holder; a case opened for review tells no one until a
/// reviewer upholds it.
pub fn opening_owes(status: CaseStatus) -> Vec<Owed> {
    match status {
        CaseStatus::Warned => vec![Owed::Notice(Notice::Warning)],
        CaseStatus::Suspended => vec![
            Owed::AccountAction(AccountAction::Suspend),
            Owed::Notice(Notice::Suspended),
        ],
        _ => Vec::new(),
    }
}

/// What the end of a restriction owes: the pipeline lets the account send again, and the
/// holder is told.
pub fn ending_owes() -> Vec<Owed> {
    vec![
        Owed::AccountAction(AccountAction::Reinstate),
        Owed::Notice(Notice::RestrictionEnded),
    ]
}

/// What an admin's reinstatement owes: lifting a suspension that was carried out; a case in
/// review just closes.
pub fn reinstating_owes(status: CaseStatus) -> Vec<Owed> {
    match status {
        CaseStatus::Suspended => vec![Owed::AccountAction(AccountAction::Reinstate)],
        _ => Vec::new(),
    }
}

/// Whether `reviewer` took a decision the holder has appealed (suspended the account by hand,
/// upheld or decided the case before): the appeal must go to someone else.
pub fn recused(standing: &Standing, reviewer: &Actor) -> bool {
    standing.appeal_open
        && reviewer
            .person()
            .is_some_and(|person| standing.decided_by.iter().any(|by| by == person))
}

/// The step `reviewer` deciding `outcome` on a case that stands as `standing` takes, or why it
/// may not. A case in review, or one with an open appeal, waits for a decision; any other was
/// decided before (repeating that decision is harmless) or never asked for one.
pub fn decision_step(
    standing: &Standing,
    outcome: Outcome,
    reviewer: &Actor,
) -> Result<Step, Refusal> {
    let in_review = standing.status == CaseStatus::InReview;
    if !standing.appeal_open && !in_review {
        return Err(match standing.decided {
            Some(earlier) if earlier == outcome => Refusal::AlreadyDecided,
            Some(earlier) => Refusal::DecidedOtherwise(earlier),
            None => Refusal::NothingToDecide,
        });
    }
    if let Some(claim) = &standing.claim
        && claim.reviewer != *reviewer
    {
        return Err(Refusal::HeldByOther(claim.clone()));
    }
    if recused(standing, reviewer) {
        return Err(Refusal::Recused);
    }
    let owes = if standing.appeal_open {
        // The holder asked: they hear the outcome either way, and an overturn lifts the
        // suspension first.
        let mut owes = Vec::new();
        if outcome == Outcome::Overturn {
            owes.push(Owed::AccountAction(AccountAction::Reinstate));
        }
        owes.push(Owed::Notice(Notice::AppealDecided));
        owes
    } else if outcome == Outcome::Uphold {
        // In review, upheld: the suspension the automated decision held back, with its notice.
        vec![
            Owed::AccountAction(AccountAction::Suspend),
            Owed::Notice(Notice::Suspended),
        ]
    } else {
        // In review, overturned: the account was never suspended; nothing to tell anyone.
        Vec::new()
    };
    Ok(Step {
        status: match outcome {
            Outcome::Overturn => CaseStatus::Overturned,
            Outcome::Uphold => CaseStatus::Suspended,
        },
        closes_appeal: standing.appeal_open,
        labels_evidence_ham: outcome == Outcome::Overturn,
        reinstates: outcome == Outcome::Overturn && standing.status == CaseStatus::Suspended,
        audit_action: match (outcome, in_review) {
            (Outcome::Overturn, false) => "overturn_and_reinstate",
            (Outcome::Overturn, true) => "dismiss",
            (Outcome::Uphold, false) => "uphold",
            (Outcome::Uphold, true) => "suspend",
        },
        owes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Actor {
        Actor::Reviewer("alice".into())
    }

    fn bob() -> Actor {
        Actor::Reviewer("bob".into())
    }

    fn standing(status: CaseStatus, appeal_open: bool) -> Standing {
        Standing {
            status,
            appeal_open,
            claim: None,
            decided: None,
            decided_by: Vec::new(),
        }
    }

    #[test]
    fn an_overturned_appeal_reinstates_and_tells_the_holder() {
        let step = decision_step(
            &standing(CaseStatus::Suspended, true),
            Outcome::Overturn,
            &alice(),
        )
        .unwrap();
        assert_eq!(step.status, CaseStatus::Overturned);
        assert_eq!(
            step.owes,
            [
                Owed::AccountAction(AccountAction::Reinstate),
                Owed::Notice(Notice::AppealDecided)
            ]
        );
        assert!(step.closes_appeal && step.labels_evidence_ham && step.reinstates);
        assert_eq!(step.audit_action, "overturn_and_reinstate");
    }

    #[test]
    fn an_upheld_appeal_only_tells_the_holder() {
        let step = decision_step(
            &standing(CaseStatus::Suspended, true),
            Outcome::Uphold,
            &alice(),
        )
        .unwrap();
        assert_eq!(step.status, CaseStatus::Suspended);
        assert_eq!(step.owes, [Owed::Notice(Notice::AppealDecided)]);
        assert!(step.closes_appeal && !step.labels_evidence_ham && !step.reinstates);
        assert_eq!(step.audit_action, "uphold");
    }

    #[test]
    fn a_case_in_review_upheld_suspends_and_overturned_is_dismissed_quietly() {
        let upheld = decision_step(
            &standing(CaseStatus::InReview, false),
            Outcome::Uphold,
            &alice(),
        )
        .unwrap();
        assert_eq!(upheld.status, CaseStatus::Suspended);
        assert_eq!(
            upheld.owes,
            [
                Owed::AccountAction(AccountAction::Suspend),
                Owed::Notice(Notice::Suspended)
            ]
        );
        assert_eq!(upheld.audit_action, "suspend");
        let dismissed = decision_step(
            &standing(CaseStatus::InReview, false),
            Outcome::Overturn,
            &alice(),
        )
        .unwrap();
        assert_eq!(dismissed.status, CaseStatus::Overturned);
        assert!(dismissed.owes.is_empty() && !dismissed.reinstates && !dismissed.closes_appeal);
        assert_eq!(dismissed.audit_action, "dismiss");
    }

    #[test]
    fn decided_or_unasked_cases_are_refused_and_a_repeat_is_recognized() {
        let decided = Standing {
            decided: Some(Outcome::Overturn),
            ..standing(CaseStatus::Overturned, false)
        };
        assert_eq!(
            decision_step(&decided, Outcome::Overturn, &bob()),
            Err(Refusal::AlreadyDecided)
        );
        assert_eq!(
            decision_step(&decided, Outcome::Uphold, &bob()),
            Err(Refusal::DecidedOtherwise(Outcome::Overturn))
        );
        assert_eq!(
            decision_step(
                &standing(CaseStatus::Suspended, false),
                Outcome::Uphold,
                &bob()
            ),
            Err(Refusal::NothingToDecide)
        );
    }

    #[test]
    fn only_the_claiming_reviewer_decides_a_claimed_case() {
        let claim = Claim {
            reviewer: alice(),
            expires_at: 1,
        };
        let claimed = Standing {
            claim: Some(claim.clone()),
            ..standing(CaseStatus::Suspended, true)
        };
        assert_eq!(
            decision_step(&claimed, Outcome::Uphold, &bob()),
            Err(Refusal::HeldByOther(claim))
        );
        assert!(decision_step(&claimed, Outcome::Uphold, &alice()).is_ok());
    }

    #[test]
    fn whoever_took_the_decision_under_appeal_cannot_decide_the_appeal() {
        // Alice upheld the case, or suspended the account as an admin: one person either way.
        let appealed = Standing {
            decided_by: vec!["alice".into()],
            ..standing(CaseStatus::Suspended, true)
        };
        for alice in [alice(), Actor::Admin("alice".into())] {
            assert_eq!(
                decision_step(&appealed, Outcome::Uphold, &alice),
                Err(Refusal::Recused)
            );
        }
        assert!(decision_step(&appealed, Outcome::Uphold, &bob()).is_ok());
        // Without an appeal there is nothing to recuse from: a case in review is hers to decide.
        let in_review = Standing {
            decided_by: vec!["alice".into()],
            ..standing(CaseStatus::InReview, false)
        };
        assert!(decision_step(&in_review, Outcome::Uphold, &alice()).is_ok());
    }

    #[test]
    fn a_suspension_is_announced_and_a_case_in_review_is_not() {
        assert_eq!(
            opening_owes(CaseStatus::Suspended),
            [
                Owed::AccountAction(AccountAction::Suspend),
                Owed::Notice(Notice::Suspended)
            ]
        );
        assert!(opening_owes(CaseStatus::InReview).is_empty());
    }

    #[test]
    fn statuses_and_outcomes_read_back_as_stored() {
        for status in CaseStatus::ALL {
            assert_eq!(CaseStatus::parse(status.as_str()), Some(status));
        }
        for outcome in [Outcome::Uphold, Outcome::Overturn] {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(CaseStatus::parse("open"), None);
    }

    #[test]
    fn actors_read_back_as_stored() {
        for text in [
            "automated",
            "holder",
            "reviewer:alice",
            "admin:root",
            "admin:a:b",
        ] {
            assert_eq!(Actor::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Actor::parse("reviewer:alice"),
            Ok(Actor::Reviewer("alice".into()))
        );
        for bad in ["", "system", "Automated", "alice", "owner:alice"] {
            assert_eq!(Actor::parse(bad), Err(ParseError::Actor), "{bad:?}");
        }
    }

    #[test]
    fn a_case_id_is_derived_and_parsed_in_one_shape() {
        let account = AccountId::parse("account_id", "AC1".into()).unwrap();
        let id = CaseId::derive(&account, "SM1");
        assert_eq!(id.as_str().len(), 26);
        assert_eq!(CaseId::parse(id.to_string()), Ok(id.clone()));
        assert_eq!(CaseId::derive(&account, "SM1"), id);
        assert_ne!(CaseId::derive(&account, "SM2"), id);
        for bad in [
            "",
            "CS",
            "CS0001",
            "AP0123456789abcdef01234567",
            "CS0123456789abcdef0123456",
            "CS0123456789abcdef012345678",
            "CS0123456789abcdeg01234567",
            "CS0123456789ABCDEF01234567",
        ] {
            assert_eq!(
                CaseId::parse(bad.into()),
                Err(ParseError::CaseId),
                "{bad:?}"
            );
        }
    }
}
