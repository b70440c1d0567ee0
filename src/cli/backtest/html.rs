//! The backtest's report as one self-contained HTML file (`--html FILE`): the same figures as
//! the terminal's, with small SVG charts, for a change's review. maud escapes every value, so
//! the excerpts of recorded messages are shown as text.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::report::{Report, SideReport};

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:1rem auto;\
padding:0 1rem;color:#1b1f24}table{border-collapse:collapse;margin:.5rem 0 1rem}\
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #d5dae0;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}blockquote{margin:.2rem 0;padding:.3rem .6rem;\
background:#f4f6f8;border-left:3px solid #d5dae0;white-space:pre-wrap}.bad{color:#a4161a;font-weight:700}\
svg text{font-size:12px}rect.current{fill:#8a99ab}rect.candidate{fill:#0b5cad}";

/// The whole page.
pub fn render(report: &Report) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Warden backtest" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Backtest: current rules and policy against the candidate" }
                p {
                    (report.messages) " messages and " (report.feedback) " feedback records ("
                    (report.undecodable) " undecodable) in " (format!("{:.1}", report.seconds))
                    " s, " (format!("{:.0}", report.messages_per_second)) " messages/s through both sides."
                }
                h2 { "Actions" }
                (action_chart(report))
                (sides(&report.current, &report.candidate))
                h2 { "Messages whose action changes" }
                @if report.changed.is_empty() { p { "None." } }
                table {
                    @for (change, detail) in &report.changed {
                        tr {
                            th scope="row" { (change) }
                            td.n { (detail.messages) }
                            td { @for excerpt in &detail.excerpts { blockquote dir="auto" { (excerpt) } } }
                        }
                    }
                }
                @if !report.rule_hits.is_empty() {
                    h2 { "Rule hits that change" }
                    table {
                        tr { th { "rule" } th { "current" } th { "candidate" } }
                        @for (rule, (before, after)) in &report.rule_hits {
                            tr { td { code { (rule) } } td.n { (before) } td.n { (after) } }
                        }
                    }
                }
                @if !report.candidate_shadow_rules.is_empty() {
                    h2 { "The candidate's shadow rules, had they been enforced" }
                    table {
                        tr { th { "rule" } th { "hits" } th { "would have raised" } }
                        @for (rule, shadow) in &report.candidate_shadow_rules {
                            tr {
                                td { code { (rule) } }
                                td.n { (shadow.hits) }
                                td { @for (to, n) in &shadow.would_raise_to { (n) " to " (to) "; " } }
                            }
                        }
                    }
                }
                @if let Some(labels) = &report.labels {
                    h2 { "On the messages reviewers labelled" }
                    table {
                        tr { th {} th { "precision" } th { "recall" } th { "abuse caught" } th { "abuse missed" } th { "ham flagged" } th { "ham allowed" } }
                        @for (name, side) in [("current", &labels[0]), ("candidate", &labels[1])] {
                            tr {
                                th scope="row" { (name) }
                                @for value in [side.precision, side.recall] {
                                    td.n { (value.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0))) }
                                }
                                @for count in [side.counts.abuse_caught, side.counts.abuse_missed, side.counts.ham_flagged, side.counts.ham_allowed] {
                                    td.n { (count) }
                                }
                            }
                        }
                    }
                }
                @if !report.accounts.is_empty() {
                    h2 { "Accounts whose step changes" }
                    table {
                        @for (change, detail) in &report.accounts {
                            tr { th scope="row" { (change) } td.n { (detail.accounts) } td { (detail.sample.join(", ")) } }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn sides(current: &SideReport, candidate: &SideReport) -> Markup {
    html! {
        table {
            tr { th {} th { "current" } th { "candidate" } }
            @for (name, before, after) in [
                ("accounts warned", current.warned, candidate.warned),
                ("accounts restricted", current.restricted, candidate.restricted),
                ("accounts suspended", current.suspended, candidate.suspended),
                ("cases sent to review", current.sent_to_review, candidate.sent_to_review),
            ] {
                tr { th scope="row" { (name) } td.n { (before) } td.n { (after) } }
            }
            tr {
                th scope="row" { "circuit breaker" }
                @for side in [current, candidate] {
                    td { @if side.breaker_tripped { span.bad { "TRIPPED" } } @else { "held" } }
                }
            }
        }
    }
}

/// Two bars per action (current, candidate), scaled to the largest count.
fn action_chart(report: &Report) -> Markup {
    let actions = ["allow", "flag", "block"];
    let count = |side: &SideReport, action: &str| side.actions.get(action).copied().unwrap_or(0);
    let max = actions
        .iter()
        .flat_map(|a| [count(&report.current, a), count(&report.candidate, a)])
        .max()
        .unwrap_or(1)
        .max(1);
    let width = |n: u64| 1 + 500 * n / max;
    html! {
        svg width="720" height=(actions.len() * 48 + 20) role="img" aria-label="Actions, current against candidate" {
            @for (i, action) in actions.iter().enumerate() {
                @let y = i * 48;
                @let (before, after) = (count(&report.current, action), count(&report.candidate, action));
                text x="0" y=(y + 24) { (action) }
                rect.current x="60" y=(y + 6) width=(width(before)) height="16" {}
                text x=(66 + width(before)) y=(y + 19) { (before) }
                rect.candidate x="60" y=(y + 24) width=(width(after)) height="16" {}
                text x=(66 + width(after)) y=(y + 37) { (after) }
            }
            rect.current x="60" y=(actions.len() * 48 + 6) width="12" height="12" {}
            text x="78" y=(actions.len() * 48 + 17) { "current" }
            rect.candidate x="160" y=(actions.len() * 48 + 6) width="12" height="12" {}
            text x="178" y=(actions.len() * 48 + 17) { "candidate" }
        }
    }
}
