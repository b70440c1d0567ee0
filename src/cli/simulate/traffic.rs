//! The simulated population and its stream: accounts of each kind, their messages and their
//! recipients' feedback, in time order, seeded.

use anyhow::{Context, bail};
use time::OffsetDateTime;

use warden::harness::{Outgoing, SmsMessage, Topics};
use warden::message::FeedbackKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(in crate::cli) enum Kind {
    Legitimate,
    Spammer,
    Phisher,
    AupViolator,
    Compromised,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Legitimate => "legitimate",
            Kind::Spammer => "spammer",
            Kind::Phisher => "phisher",
            Kind::AupViolator => "aup_violator",
            Kind::Compromised => "compromised",
        }
    }
}

/// SplitMix64: a tiny, fully specified generator, so that a seed means the same traffic on
/// every machine and every version (a general-purpose RNG crate promises neither).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

/// What a simulated message's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Legitimate,
    Spam,
    Fraud,
    Aup,
}

impl Content {
    /// Chances, per message, that the pipeline reports it undelivered, filtered by the carrier,
    /// or answered with an opt-out. Assumed, not measured: carriers filter much spam and
    /// phishing and recipients opt out of spam; legitimate traffic mostly arrives, and a
    /// sender writing to new recipients (marketing) sees more opt-outs than one writing to its
    /// regular customers.
    fn feedback_chances(self, new_recipients: bool) -> [(FeedbackKind, f64); 3] {
        let (undelivered, filtered, opt_out) = match self {
            Content::Legitimate if new_recipients => (0.02, 0.002, 0.01),
            Content::Legitimate => (0.02, 0.002, 0.003),
            Content::Spam => (0.05, 0.15, 0.10),
            Content::Fraud => (0.08, 0.20, 0.03),
            Content::Aup => (0.03, 0.08, 0.08),
        };
        [
            (FeedbackKind::Undelivered, undelivered),
            (FeedbackKind::CarrierFiltered, filtered),
            (FeedbackKind::OptOut, opt_out),
        ]
    }
}

/// One simulated message.
pub(in crate::cli) struct Simulated {
    pub(super) account: usize,
    pub(super) sent_at: i64,
    content: Content,
    pub(super) to: u64,
    body: String,
    /// What the pipeline later reports about it, and when.
    pub(super) feedback: Option<(FeedbackKind, i64)>,
}

impl Simulated {
    pub(super) fn abusive(&self) -> bool {
        self.content != Content::Legitimate
    }
}

/// Texts of the corpus by what they are.
pub(in crate::cli) struct Texts {
    legitimate: Vec<String>,
    spam: Vec<String>,
    fraud: Vec<String>,
    aup: Vec<String>,
}

impl Texts {
    fn pool(&self, content: Content) -> &[String] {
        match content {
            Content::Legitimate => &self.legitimate,
            Content::Spam => &self.spam,
            Content::Fraud => &self.fraud,
            Content::Aup => &self.aup,
        }
    }
}

pub(in crate::cli) fn read_texts(path: &std::path::Path) -> anyhow::Result<Texts> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut texts = Texts {
        legitimate: Vec::new(),
        spam: Vec::new(),
        fraud: Vec::new(),
        aup: Vec::new(),
    };
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with("label\t"))
    {
        let mut fields = line.splitn(3, '\t');
        let (Some(label), Some(_action), Some(body)) =
            (fields.next(), fields.next(), fields.next())
        else {
            bail!("{}: not label<TAB>action<TAB>text: {line}", path.display());
        };
        let list = match label {
            "ham" => &mut texts.legitimate,
            "spam" => &mut texts.spam,
            "fraud" => &mut texts.fraud,
            "aup" => &mut texts.aup,
            other => bail!("{}: unknown label `{other}`", path.display()),
        };
        list.push(body.to_owned());
    }
    if [&texts.legitimate, &texts.spam, &texts.fraud, &texts.aup]
        .iter()
        .any(|l| l.is_empty())
    {
        bail!("{}: every label needs texts", path.display());
    }
    Ok(texts)
}

/// Start of simulated time.
pub(super) const T0: i64 = 1_795_996_800; // 2026-11-30T00:00:00Z

/// One account's traffic as it is generated.
struct Sender<'a> {
    rng: &'a mut Rng,
    texts: &'a Texts,
    account: usize,
    at: i64,
    recipients_base: u64,
    /// Recipients who opted out, and when their opt-out reached the sender.
    opted_out: std::collections::HashMap<u64, i64>,
    messages: &'a mut Vec<Simulated>,
}

impl Sender<'_> {
    /// `count` messages from a few templates of `content`, `gap_s` apart (a uniform range).
    /// Fan-out sends each to a new recipient; otherwise the account writes to its handful of
    /// regular recipients. A legitimate sender stops writing to a recipient once their opt-out
    /// has reached it (its platform honours STOP); abusers do not.
    fn phase(&mut self, content: Content, count: u64, gap_s: (u64, u64), fan_out: bool) {
        let templates: Vec<String> = (0..self.rng.range(1, 2 + u64::from(!fan_out)))
            .map(|_| self.rng.pick(self.texts.pool(content)).clone())
            .collect();
        for _ in 0..count {
            self.at += self.rng.range(gap_s.0, gap_s.1) as i64;
            let mut to = if fan_out {
                self.recipients_base ^ self.rng.next()
            } else {
                self.recipients_base ^ self.rng.range(0, 5)
            };
            let honours = content == Content::Legitimate;
            if honours && self.opted_out.get(&to).is_some_and(|&at| at <= self.at) {
                to = self.recipients_base ^ self.rng.next();
            }
            let body = self.rng.pick(&templates).clone();
            let mut feedback = None;
            let roll = self.rng.next() as f64 / u64::MAX as f64;
            let mut cumulative = 0.0;
            for (kind, chance) in content.feedback_chances(fan_out) {
                cumulative += chance;
                if roll < cumulative {
                    let at = self.at + self.rng.range(5, 120) as i64;
                    feedback = Some((kind, at));
                    if kind == FeedbackKind::OptOut {
                        self.opted_out.insert(to, at);
                    }
                    break;
                }
            }
            self.messages.push(Simulated {
                account: self.account,
                sent_at: self.at,
                content,
                to,
                body,
                feedback,
            });
        }
    }
}

/// Generates every account's kind and messages.
///
/// Legitimate senders write 3 to 20 messages minutes apart, half of them to new recipients
/// (marketing, notifications) and half to regular ones. Abusers send campaigns in bursts,
/// seconds apart, each message to a new recipient: spammers 20 to 200 messages, phishers 10
/// to 100, AUP violators 10 to 60; compromised accounts send 3 to 10 legitimate messages, then
/// a spam or phishing campaign of 20 to 120.
pub(in crate::cli) fn generate(
    accounts: usize,
    seed: u64,
    texts: &Texts,
) -> (Vec<Kind>, Vec<Simulated>) {
    let mut rng = Rng(seed);
    let mut kinds = Vec::with_capacity(accounts);
    let mut messages = Vec::new();
    for account in 0..accounts {
        let kind = match rng.range(0, 99) {
            0..=87 => Kind::Legitimate,
            88..=91 => Kind::Spammer,
            92..=95 => Kind::Phisher,
            96..=97 => Kind::AupViolator,
            _ => Kind::Compromised,
        };
        kinds.push(kind);
        let at = T0 + rng.range(0, 3_600) as i64;
        let recipients_base = rng.next();
        let mut sender = Sender {
            rng: &mut rng,
            texts,
            account,
            at,
            recipients_base,
            opted_out: std::collections::HashMap::new(),
            messages: &mut messages,
        };
        const MINUTES: (u64, u64) = (30, 900);
        const BURST: (u64, u64) = (1, 30);
        match kind {
            Kind::Legitimate => {
                let count = sender.rng.range(3, 20);
                let fan_out = sender.rng.range(0, 1) == 0;
                sender.phase(Content::Legitimate, count, MINUTES, fan_out);
            }
            Kind::Spammer => {
                let count = sender.rng.range(20, 200);
                sender.phase(Content::Spam, count, BURST, true);
            }
            Kind::Phisher => {
                let count = sender.rng.range(10, 100);
                sender.phase(Content::Fraud, count, BURST, true);
            }
            Kind::AupViolator => {
                let count = sender.rng.range(10, 60);
                sender.phase(Content::Aup, count, BURST, true);
            }
            Kind::Compromised => {
                let before = sender.rng.range(3, 10);
                sender.phase(Content::Legitimate, before, MINUTES, false);
                let content = match sender.rng.range(0, 1) {
                    0 => Content::Spam,
                    _ => Content::Fraud,
                };
                let after = sender.rng.range(20, 120);
                sender.phase(content, after, BURST, true);
            }
        }
    }
    // Messages in time order; each account's messages keep their order.
    messages.sort_by_key(|m| (m.sent_at, m.account));
    (kinds, messages)
}

pub(super) fn account_id(account: usize) -> String {
    format!("ACsim{account:06}")
}

pub(super) fn rfc3339(unix_s: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_s)
        .expect("simulated time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

fn message_id(run_id: i128, index: usize) -> String {
    format!("SMsim{run_id}-{index}")
}

/// The stream as the pipeline would send it: every message and every feedback record, in
/// simulated time order.
pub(in crate::cli) fn stream<'a>(
    run_id: i128,
    topics: &'a Topics,
    messages: &[Simulated],
) -> Vec<Outgoing<'a>> {
    let mut timed: Vec<(i64, Outgoing<'a>)> = Vec::with_capacity(messages.len() * 5 / 4);
    for (index, message) in messages.iter().enumerate() {
        let account_id = account_id(message.account);
        let to = format!("+1555{:07}", message.to % 10_000_000);
        let payload = SmsMessage {
            message_id: &message_id(run_id, index),
            account_id: &account_id,
            sent_at: &rfc3339(message.sent_at),
            to: &to,
            body: &message.body,
        }
        .payload();
        timed.push((
            message.sent_at,
            Outgoing {
                topic: &topics.messages,
                key: account_id.clone(),
                payload,
            },
        ));
        if let Some((kind, at)) = message.feedback {
            // From the recipient: an opt-out is honoured for them.
            let json = serde_json::json!({
                "message_id": message_id(run_id, index),
                "account_id": account_id,
                "kind": kind.as_str(),
                "to": to,
                "at": rfc3339(at),
            });
            timed.push((
                at,
                Outgoing {
                    topic: &topics.feedback,
                    key: account_id,
                    payload: serde_json::to_vec(&json).expect("JSON"),
                },
            ));
        }
    }
    // A stable sort: a message and its account's later messages keep their order.
    timed.sort_by_key(|(at, _)| *at);
    timed.into_iter().map(|(_, outgoing)| outgoing).collect()
}
