//! The transparency report: what Warden decided about accounts in a period, and what came of
//! the appeals, in counts a regulator or the public may read. Pure: the store reads the facts
//! (`Store::transparency_facts`), this module counts them. No account id is in any fact or in
//! the report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::case::{Actor, Outcome};
use crate::message::{Category, Scores};
use crate::suspension::Step;

/// One step taken on an account in the period (a warning, a restriction, a suspension): which,
/// who took it and the case's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFact {
    pub step: Step,
    pub actor: Actor,
    /// The highest score per category among the case's evidence (all zero for a suspension
    /// by hand, which has none).
    pub scores: Scores,
}

/// One appeal received or decided in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct AppealFact {
    /// Unix ms.
    pub opened_at: i64,
    /// Outcome and when (Unix ms), if decided.
    pub decided: Option<(Outcome, i64)>,
    /// The enforcing rules behind the case's evidence (kept while retention keeps the
    /// evidence: an overturned case's goes with it).
    pub rule_hits: Vec<String>,
}

/// What the report counts, for `[from, to)` in Unix ms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub steps: Vec<StepFact>,
    pub appeals: Vec<AppealFact>,
    /// Cases the policy sent to people instead of suspending (allowlisted accounts, the
    /// circuit breaker open).
    pub sent_to_review: u64,
}

/// How much of a decision a machine made, in the terms of the EU DSA Transparency Database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Automation {
    /// The account policy suspended on its own.
    Fully,
    /// The policy found it; a reviewer decided (a case in review, upheld).
    Partially,
    /// An admin suspended by hand.
    Not,
}

impl Automation {
    fn of(actor: &Actor) -> Self {
        match actor {
            Actor::Automated | Actor::Expiry => Automation::Fully,
            Actor::Reviewer(_) | Actor::Holder => Automation::Partially,
            Actor::Admin(_) => Automation::Not,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Automation::Fully => "fully",
            Automation::Partially => "partially",
            Automation::Not => "not",
        }
    }
}

/// Steps of one category, kind and automation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionCount {
    /// `spam`, `fraud`, `aup`, or `unscored` (a suspension by hand).
    pub category: &'static str,
    /// `warn`, `restrict` or `suspend`.
    pub step: &'static str,
    pub automation: Automation,
    pub count: u64,
}

/// Appeals and their outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppealCounts {
    pub received: u64,
    pub decided: u64,
    pub upheld: u64,
    pub overturned: u64,
    /// From the appeal to its decision, over the appeals decided in the period.
    pub median_hours_to_decision: Option<f64>,
    pub p90_hours_to_decision: Option<f64>,
}

/// How often a rule's cases were overturned on appeal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOverturns {
    pub rule: String,
    pub decided: u64,
    pub overturned: u64,
    pub overturn_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// RFC 3339, as given.
    pub from: String,
    pub to: String,
    pub decisions: Vec<DecisionCount>,
    pub sent_to_review: u64,
    pub appeals: AppealCounts,
    pub overturns_by_rule: Vec<RuleOverturns>,
}

/// Counts `facts` for the period `[from_ms, to_ms)` (named `from` and `to` in the report).
pub fn report(facts: &Facts, from_ms: i64, to_ms: i64, from: &str, to: &str) -> Report {
    let in_period = |at: i64| (from_ms..to_ms).contains(&at);
    let mut decisions: BTreeMap<(&'static str, Step, Automation), u64> = BTreeMap::new();
    for fact in &facts.steps {
        let key = (
            category(&fact.scores),
            fact.step,
            Automation::of(&fact.actor),
        );
        *decisions.entry(key).or_default() += 1;
    }
    let decided: Vec<(Outcome, i64, &AppealFact)> = facts
        .appeals
        .iter()
        .filter_map(|appeal| {
            let (outcome, at) = appeal.decided?;
            in_period(at).then_some((outcome, at, appeal))
        })
        .collect();
    let mut hours: Vec<f64> = decided
        .iter()
        .map(|(_, at, appeal)| (at - appeal.opened_at) as f64 / 3_600_000.0)
        .collect();
    hours.sort_by(f64::total_cmp);
    let mut by_rule: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (outcome, _, appeal) in &decided {
        for rule in &appeal.rule_hits {
            let counts = by_rule.entry(rule).or_default();
            counts.0 += 1;
            counts.1 += u64::from(*outcome == Outcome::Overturn);
        }
    }
    let count = |outcome| decided.iter().filter(|(o, ..)| *o == outcome).count() as u64;
    Report {
        from: from.to_owned(),
        to: to.to_owned(),
        decisions: decisions
            .into_iter()
            .map(|((category, step, automation), count)| DecisionCount {
                category,
                step: step.as_str(),
                automation,
                count,
            })
            .collect(),
        sent_to_review: facts.sent_to_review,
        appeals: AppealCounts {
            received: facts
                .appeals
                .iter()
                .filter(|a| in_period(a.opened_at))
                .count() as u64,
            decided: decided.len() as u64,
            upheld: count(Outcome::Uphold),
            overturned: count(Outcome::Overturn),
            median_hours_to_decision: quantile(&hours, 0.5),
            p90_hours_to_decision: quantile(&hours, 0.9),
        },
        overturns_by_rule: by_rule
            .into_iter()
            .map(|(rule, (decided, overturned))| RuleOverturns {
                rule: rule.to_owned(),
                decided,
                overturned,
                overturn_rate: overturned as f64 / decided as f64,
            })
            .collect(),
    }
}

/// The category a case is counted under: its highest score's, `unscored` when it has none.
fn category(scores: &Scores) -> &'static str {
    Category::ALL
        .into_iter()
        .filter(|c| scores.get(*c) > 0.0)
        .max_by(|a, b| scores.get(*a).total_cmp(&scores.get(*b)))
        .map_or("unscored", Category::as_str)
}

/// The nearest-rank quantile of sorted `values`, rounded to a tenth; none when empty.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).max(1);
    sorted
        .get(rank - 1)
        .map(|value| (value * 10.0).round() / 10.0)
}

impl Report {
    /// One line per figure as `section,key,value`, for a spreadsheet.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("section,key,value\n");
        out += &format!("period,from,{}\nperiod,to,{}\n", self.from, self.to);
        for d in &self.decisions {
            out += &format!(
                "decisions,{}/{}/{},{}\n",
                d.category,
                d.step,
                d.automation.as_str(),
                d.count
            );
        }
        out += &format!("decisions,sent_to_review,{}\n", self.sent_to_review);
        let a = &self.appeals;
        out += &format!(
            "appeals,received,{}\nappeals,decided,{}\nappeals,upheld,{}\nappeals,overturned,{}\n",
            a.received, a.decided, a.upheld, a.overturned
        );
        let hours = |h: Option<f64>| h.map_or(String::new(), |h| h.to_string());
        out += &format!(
            "appeals,median_hours_to_decision,{}\nappeals,p90_hours_to_decision,{}\n",
            hours(a.median_hours_to_decision),
            hours(a.p90_hours_to_decision)
        );
        for r in &self.overturns_by_rule {
            out += &format!(
                "overturn_rate,{},{:.4} ({} of {})\n",
                r.rule, r.overturn_rate, r.overturned, r.decided
            );
        }
        out
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "transparency report, {} to {}", self.from, self.to)?;
        writeln!(
            f,
            "steps taken on accounts (category, step, automation: count):"
        )?;
        if self.decisions.is_empty() {
            writeln!(f, "  none")?;
        }
        for d in &self.decisions {
            writeln!(
                f,
                "  {:<9} {:<9} {:<9} {}",
                d.category,
                d.step,
                d.automation.as_str(),
                d.count
            )?;
        }
        writeln!(f, "cases sent to human review: {}", self.sent_to_review)?;
        let a = &self.appeals;
        writeln!(
            f,
            "appeals: {} received, {} decided ({} upheld, {} overturned)",
            a.received, a.decided, a.upheld, a.overturned
        )?;
        if let (Some(median), Some(p90)) = (a.median_hours_to_decision, a.p90_hours_to_decision) {
            writeln!(f, "time to decision: median {median} h, p90 {p90} h")?;
        }
        if !self.overturns_by_rule.is_empty() {
            writeln!(f, "overturned on appeal, by rule:")?;
        }
        for r in &self.overturns_by_rule {
            writeln!(
                f,
                "  {:<40} {} of {} ({:.0} %)",
                r.rule,
                r.overturned,
                r.decided,
                r.overturn_rate * 100.0
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn suspension(actor: Actor, fraud: f64) -> StepFact {
        StepFact {
            step: Step::Suspend,
            actor,
            scores: Scores {
                spam: 0.2,
                fraud,
                aup: 0.0,
            },
        }
    }

    fn appeal(opened_at: i64, decided: Option<(Outcome, i64)>, rules: &[&str]) -> AppealFact {
        AppealFact {
            opened_at,
            decided,
            rule_hits: rules.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn suspensions_are_counted_by_category_and_automation_and_appeals_by_outcome() {
        let facts = Facts {
            steps: vec![
                suspension(Actor::Automated, 0.9),
                suspension(Actor::Automated, 0.95),
                suspension(Actor::Automated, 0.1),
                suspension(Actor::Reviewer("alice".into()), 0.9),
                StepFact {
                    step: Step::Suspend,
                    actor: Actor::Admin("root".into()),
                    scores: Scores::default(),
                },
            ],
            appeals: vec![
                appeal(
                    0,
                    Some((Outcome::Overturn, 2 * HOUR)),
                    &["fraud.a", "fraud.b"],
                ),
                appeal(0, Some((Outcome::Uphold, 10 * HOUR)), &["fraud.a"]),
                appeal(HOUR, None, &["fraud.a"]),
                // Opened before the period, decided in it: decided, not received.
                appeal(-HOUR, Some((Outcome::Uphold, 3 * HOUR)), &[]),
            ],
            sent_to_review: 2,
        };
        let report = report(&facts, 0, 24 * HOUR, "a", "b");
        let counts: Vec<(&str, Automation, u64)> = report
            .decisions
            .iter()
            .map(|d| (d.category, d.automation, d.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("fraud", Automation::Fully, 2),
                ("fraud", Automation::Partially, 1),
                ("spam", Automation::Fully, 1),
                ("unscored", Automation::Not, 1),
            ]
        );
        let appeals = &report.appeals;
        assert_eq!(
            (
                appeals.received,
                appeals.decided,
                appeals.upheld,
                appeals.overturned
            ),
            (3, 3, 2, 1)
        );
        // Hours to decision: 2, 4 and 10.
        assert_eq!(appeals.median_hours_to_decision, Some(4.0));
        assert_eq!(appeals.p90_hours_to_decision, Some(10.0));
        let rules: Vec<(&str, u64, u64)> = report
            .overturns_by_rule
            .iter()
            .map(|r| (r.rule.as_str(), r.decided, r.overturned))
            .collect();
        assert_eq!(rules, [("fraud.a", 2, 1), ("fraud.b", 1, 1)]);
        let csv = report.to_csv();
        assert!(csv.contains("decisions,fraud/suspend/fully,2\n"), "{csv}");
        assert!(
            csv.contains("overturn_rate,fraud.a,0.5000 (1 of 2)\n"),
            "{csv}"
        );
    }

    #[test]
    fn an_empty_period_reports_zeros_and_no_times() {
        let report = report(&Facts::default(), 0, HOUR, "a", "b");
        assert!(report.decisions.is_empty());
        assert_eq!(report.appeals.decided, 0);
        assert_eq!(report.appeals.median_hours_to_decision, None);
        assert!(report.to_string().contains("none"));
    }
}
