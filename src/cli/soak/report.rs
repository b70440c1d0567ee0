//! The soak's verdict: what the topics and the database say after the run, checked against
//! what was sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// What the topics and the database say after the soak.
pub(super) struct Report {
    /// Distinct messages in the input topic.
    inputs: usize,
    verdict_records: usize,
    missing: usize,
    replayed: usize,
    conflicting: Vec<String>,
    cases: usize,
    accounts_with_two_cases: Vec<String>,
    legitimate_suspended: Vec<String>,
    abusive_unsuspended: usize,
    events_without_case: Vec<String>,
    cases_without_event: Vec<String>,
    cases_without_notice: Vec<String>,
    duplicate_events: usize,
    /// Resident memory of the longest life: one minute in, at its end, and its peak (KiB).
    memory: (u32, u64, u64, u64),
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        stored: &BTreeSet<String>,
        abusive: &BTreeSet<String>,
        verdicts: &[serde_json::Value],
        actions: &[serde_json::Value],
        notices: &[serde_json::Value],
        cases: &[(String, String, String)],
        memory: &[(Duration, u32, u64)],
    ) -> Self {
        let mut decisions: HashMap<&str, Vec<&serde_json::Value>> = HashMap::new();
        for verdict in verdicts {
            let id = verdict["message_id"].as_str().unwrap_or_default();
            decisions.entry(id).or_default().push(verdict);
        }
        let missing = stored
            .iter()
            .filter(|id| !decisions.contains_key(id.as_str()))
            .count();
        let conflicting = decisions
            .iter()
            .filter(|(_, copies)| copies.iter().any(|c| *c != copies[0]))
            .map(|(id, _)| (*id).to_owned())
            .collect();

        let mut cases_by_account: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (case_id, account, _) in cases {
            cases_by_account.entry(account).or_default().push(case_id);
        }
        let suspended: BTreeSet<&str> = cases
            .iter()
            .filter(|(_, _, status)| status == "suspended")
            .map(|(case_id, _, _)| case_id.as_str())
            .collect();
        let case_ids: BTreeSet<&str> = cases.iter().map(|(id, _, _)| id.as_str()).collect();
        let suspend_events: Vec<&str> = actions
            .iter()
            .filter(|a| a["action"] == "suspend")
            .filter_map(|a| a["case_id"].as_str())
            .collect();
        let evented: BTreeSet<&str> = suspend_events.iter().copied().collect();
        let noticed: BTreeSet<&str> = notices
            .iter()
            .filter_map(|n| n["case_id"].as_str())
            .collect();

        let mut lives: BTreeMap<u32, Vec<(Duration, u64)>> = BTreeMap::new();
        for &(at, life, kib) in memory {
            lives.entry(life).or_default().push((at, kib));
        }
        let memory = lives
            .iter()
            .max_by_key(|(_, samples)| samples.len())
            .map(|(&life, samples)| {
                let born = samples[0].0;
                // One minute in, or halfway through a shorter life.
                let life_span = samples.last().map_or(Duration::ZERO, |s| s.0 - born);
                let warm = Duration::from_secs(60).min(life_span / 2);
                let settled = samples
                    .iter()
                    .find(|(at, _)| *at >= born + warm)
                    .map_or(0, |s| s.1);
                let end = samples.last().map_or(0, |s| s.1);
                let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
                (life, settled, end, peak)
            })
            .unwrap_or_default();

        Report {
            inputs: stored.len(),
            verdict_records: verdicts.len(),
            missing,
            replayed: verdicts.len() - decisions.len(),
            conflicting,
            cases: cases.len(),
            accounts_with_two_cases: cases_by_account
                .iter()
                .filter(|(_, ids)| ids.len() > 1)
                .map(|(account, _)| (*account).to_owned())
                .collect(),
            legitimate_suspended: cases_by_account
                .keys()
                .filter(|a| !abusive.contains(**a))
                .map(|a| (*a).to_owned())
                .collect(),
            abusive_unsuspended: abusive
                .iter()
                .filter(|a| !cases_by_account.contains_key(a.as_str()))
                .count(),
            events_without_case: evented
                .iter()
                .filter(|id| !case_ids.contains(**id))
                .map(|id| (*id).to_owned())
                .collect(),
            cases_without_event: suspended
                .iter()
                .filter(|id| !evented.contains(**id))
                .map(|id| (*id).to_owned())
                .collect(),
            cases_without_notice: suspended
                .iter()
                .filter(|id| !noticed.contains(**id))
                .map(|id| (*id).to_owned())
                .collect(),
            duplicate_events: suspend_events.len() - evented.len(),
            memory,
        }
    }

    fn memory_flat(&self) -> bool {
        let (_, settled, end, _) = self.memory;
        settled > 0 && end * 4 <= settled * 5
    }

    pub(super) fn passed(&self) -> bool {
        self.missing == 0
            && self.conflicting.is_empty()
            && self.accounts_with_two_cases.is_empty()
            && self.events_without_case.is_empty()
            && self.cases_without_event.is_empty()
            && self.cases_without_notice.is_empty()
            && self.memory_flat()
    }

    pub(super) fn print(&self, sent: usize, failures: usize, dead_letters: usize) {
        let check = |ok: bool| if ok { "ok" } else { "FAILED" };
        println!("\nsoak report");
        println!(
            "  messages sent {sent} ({failures} refused by the broker at first and sent again), in the input topic {}",
            self.inputs
        );
        println!(
            "  verdict records {} ({} replayed copies), dead letters {dead_letters}",
            self.verdict_records, self.replayed
        );
        println!(
            "  every message has a verdict: {} ({} missing)",
            check(self.missing == 0),
            self.missing
        );
        println!(
            "  one decision per message (replayed copies identical): {} ({} messages with differing copies{})",
            check(self.conflicting.is_empty()),
            self.conflicting.len(),
            first_few(&self.conflicting)
        );
        println!(
            "  cases {}; accounts with two cases: {} ({}{})",
            self.cases,
            check(self.accounts_with_two_cases.is_empty()),
            self.accounts_with_two_cases.len(),
            first_few(&self.accounts_with_two_cases)
        );
        println!(
            "  suspension events without a case {}, suspended cases without an event {}, without a notice {}: {} ({} duplicate events from replays)",
            self.events_without_case.len(),
            self.cases_without_event.len(),
            self.cases_without_notice.len(),
            check(
                self.events_without_case.is_empty()
                    && self.cases_without_event.is_empty()
                    && self.cases_without_notice.is_empty()
            ),
            self.duplicate_events
        );
        println!(
            "  legitimate accounts suspended {}, abusive accounts not suspended {}",
            self.legitimate_suspended.len(),
            self.abusive_unsuspended
        );
        let (life, settled, end, peak) = self.memory;
        println!(
            "  memory over the longest life (#{life}): {} MiB one minute in, {} MiB at its end, peak {} MiB: {}",
            settled / 1024,
            end / 1024,
            peak / 1024,
            check(self.memory_flat())
        );
        println!("  {}", if self.passed() { "PASSED" } else { "FAILED" });
    }
}

fn first_few(items: &[String]) -> String {
    match items {
        [] => String::new(),
        _ => format!(
            ": {}",
            items.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}
