//! Per-account signals: how much an account sends, to how many people, how repetitively, with
//! what outcome, over sliding windows of one minute and one hour.
//!
//! State is a fixed-size [`AccountState`] per account (a few hundred bytes, no heap), so memory
//! is bounded by the number of active accounts; [`Signals::evict_idle`] drops accounts silent
//! for longer than the longest window. Time is the messages' own `sent_at`, never the wall
//! clock, so replaying a stream rebuilds the same state. Recipients arrive as keyed hashes
//! (`privacy::RecipientHasher`); no address is kept.
//!
//! Windows are rings of buckets: six of 10 s for the minute, twelve of 5 min for the hour.
//! Distinct counts (recipients, domains) use linear counting over small bitmaps, kept in two
//! half-hour halves so that the hour slides; they are estimates, exact while counts are small.
//!
//! `state` is one account's state: its windows, how a message moves them, and its checkpoint
//! encoding. This module holds the accounts ([`Signals`]) and what goes in and out.

mod state;

use std::collections::{HashMap, HashSet};

use xxhash_rust::xxh3::xxh3_64;

use crate::message::{AccountId, FeedbackKind};
pub use state::AccountState;
use state::{HALF_HOUR_S, Ring};

/// One decided message, as signals see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// `sent_at`, in Unix seconds.
    pub at: i64,
    /// Keyed hash of the recipient.
    pub recipient: u64,
    /// [`simhash`] of the message text.
    pub simhash: u64,
    /// Hash of each URL's registrable domain (at most the first few).
    pub domains: [Option<u64>; 4],
    /// The verdict was flag or block.
    pub abusive: bool,
    /// ...with an enforced acceptable-use rule among its hits.
    pub policy_violation: bool,
    /// ...blocked, or with an enforced spam or acceptable-use rule among its hits
    /// (`suspension::MessageWeight::violating`).
    pub violating: bool,
    /// The verdict was block.
    pub blocked: bool,
}

/// An account's signals at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub messages_last_minute: u32,
    pub messages_last_hour: u32,
    pub abusive_last_hour: u32,
    /// Abusive messages that were blocked or hit a spam or acceptable-use rule.
    pub violating_last_hour: u32,
    /// Flagged or blocked messages with an acceptable-use rule hit.
    pub policy_violations_last_hour: u32,
    pub blocked_last_hour: u32,
    /// Estimated distinct recipients in the last hour (up to an hour and a half back).
    pub recipients_last_hour: u32,
    /// Estimated distinct recipients of the account's most widely sent near-duplicate text.
    pub duplicate_fanout: u32,
    pub domains_last_hour: u32,
    pub undelivered_last_hour: u32,
    pub carrier_filtered_last_hour: u32,
    pub opt_outs_last_hour: u32,
    /// Messages to recipients who had opted out of the account's messages: counted by the
    /// enforcer, which knows the opt-outs (0 from [`Signals`]).
    pub opted_out_sends_last_hour: u32,
}

/// Signals of every active account, keyed by a hash of the account id.
///
/// States live in one dense vector and the map holds only indices into it: a hash map of the
/// states themselves would round its table up to a power of two and could nearly double the
/// memory of a million accounts.
#[derive(Debug, Default)]
pub struct Signals {
    states: Vec<(u64, AccountState)>,
    index: HashMap<u64, u32>,
    /// Accounts changed since the last checkpoint.
    dirty: HashSet<u64>,
}

impl Signals {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&mut self, account_id: &AccountId) -> &mut AccountState {
        let key = Self::account_key(account_id);
        self.dirty.insert(key);
        self.slot(key)
    }

    fn slot(&mut self, key: u64) -> &mut AccountState {
        let next = self.states.len() as u32;
        let slot = *self.index.entry(key).or_insert(next);
        if slot == next {
            self.states.push((key, AccountState::default()));
        }
        &mut self.states[slot as usize].1
    }

    /// Records one decided message and returns the account's signals including it.
    pub fn observe(&mut self, account_id: &AccountId, observation: &Observation) -> Snapshot {
        let state = self.state(account_id);
        state.observe(observation);
        state.snapshot()
    }

    /// Records delivery feedback and returns the account's signals including it. An opt-in
    /// is no complaint and counts for nothing.
    pub fn feedback(&mut self, account_id: &AccountId, at: i64, kind: FeedbackKind) -> Snapshot {
        let state = self.state(account_id);
        state.advance(at);
        let ring = match kind {
            FeedbackKind::Undelivered => Some(0),
            FeedbackKind::CarrierFiltered => Some(1),
            FeedbackKind::OptOut => Some(2),
            FeedbackKind::OptIn => None,
        };
        if let Some(ring) = ring {
            state.feedback[ring].add();
        }
        state.snapshot()
    }

    /// Drops accounts with nothing in any window at `now` (Unix seconds): silent for more than
    /// an hour and a half. Returns how many were dropped.
    pub fn evict_idle(&mut self, now: i64) -> usize {
        let before = self.states.len();
        let mut slot = 0;
        while slot < self.states.len() {
            if now - self.states[slot].1.last_at <= 3 * HALF_HOUR_S {
                slot += 1;
                continue;
            }
            let (key, _) = self.states.swap_remove(slot);
            self.index.remove(&key);
            if let Some((moved, _)) = self.states.get(slot) {
                self.index.insert(*moved, slot as u32);
            }
        }
        before - self.states.len()
    }

    pub fn accounts(&self) -> usize {
        self.states.len()
    }

    /// The accounts changed since the last call, keyed by account hash, as checkpoint bytes.
    pub fn take_dirty(&mut self) -> Vec<(u64, Vec<u8>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|key| {
                let slot = *self.index.get(&key)?;
                Some((key, self.states[slot as usize].1.encode()))
            })
            .collect()
    }

    /// Clears what counts against an account (abusive and blocked messages, complaints), keeping its volumes: after a reviewer overturns its suspension,
    /// the evidence judged wrong must not suspend it again; after a warning or a restriction,
    /// the evidence it was for is spent, and only new evidence takes the next step.
    pub fn forgive(&mut self, account_id: &AccountId) {
        let key = Self::account_key(account_id);
        if let Some(&slot) = self.index.get(&key) {
            let state = &mut self.states[slot as usize].1;
            state.abusive = Ring::default();
            state.violating = Ring::default();
            state.policy_violations = Ring::default();
            state.blocked = Ring::default();
            state.feedback = Default::default();
            self.dirty.insert(key);
        }
    }

    /// The key an account's state is stored under.
    pub fn account_key(account_id: &AccountId) -> u64 {
        xxh3_64(account_id.as_str().as_bytes())
    }

    /// Puts back an account's checkpointed state (unless it is already live here). Returns
    /// whether the bytes were this build's encoding.
    pub fn restore(&mut self, key: u64, bytes: &[u8]) -> bool {
        let Some(state) = AccountState::decode(bytes) else {
            return false;
        };
        if !self.index.contains_key(&key) {
            *self.slot(key) = state;
        }
        true
    }

    /// Bytes held by the states, the index and the dirty set (one control byte per slot of a
    /// hash table included).
    pub fn memory_bytes(&self) -> usize {
        self.states.capacity() * std::mem::size_of::<(u64, AccountState)>()
            + self.index.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + self.dirty.capacity() * (std::mem::size_of::<u64>() + 1)
    }
}

/// A 64-bit SimHash of a text's letter-only words: texts from one template, differing in a
/// name, a code or an amount, land a few bits apart; unrelated texts about 32 bits apart.
pub fn simhash(text: &str) -> u64 {
    let mut votes = BitVotes::default();
    let letter_words = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().all(char::is_alphabetic));
    for word in letter_words {
        // Most words are lowercase ASCII already: hashed as they are, with no copy.
        let hash = if word.bytes().all(|b| b.is_ascii_lowercase()) {
            xxh3_64(word.as_bytes())
        } else {
            xxh3_64(word.to_lowercase().as_bytes())
        };
        votes.add(hash);
    }
    votes.majority()
}

/// How many of the words' hashes set each of the 64 bits. A bit of the SimHash is set when
/// most words set it (a weight of +1 per set bit and -1 per clear one, summed, is positive).
struct BitVotes {
    /// Byte `k` of `lanes[j]` counts bit `8 k + j`: one shift, mask and add counts eight bits,
    /// where counting them one by one cost about 250 instructions a word.
    lanes: [u64; 8],
    /// Hashes in `lanes`: a byte counts to 255, so they are moved to `set` before that.
    in_lanes: u32,
    set: [u32; 64],
    words: u32,
}

impl Default for BitVotes {
    fn default() -> Self {
        Self {
            lanes: [0; 8],
            in_lanes: 0,
            set: [0; 64],
            words: 0,
        }
    }
}

impl BitVotes {
    const LOW_BIT_OF_EACH_BYTE: u64 = 0x0101_0101_0101_0101;

    fn add(&mut self, hash: u64) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            *lane += hash >> j & Self::LOW_BIT_OF_EACH_BYTE;
        }
        self.words += 1;
        self.in_lanes += 1;
        if self.in_lanes == u32::from(u8::MAX) {
            self.empty_lanes();
        }
    }

    fn empty_lanes(&mut self) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            for k in 0..8 {
                self.set[8 * k + j] += (*lane >> (8 * k) & 0xff) as u32;
            }
            *lane = 0;
        }
        self.in_lanes = 0;
    }

    fn majority(mut self) -> u64 {
        self.empty_lanes();
        let words = self.words;
        (0..64)
            .filter(|&bit| 2 * self.set[bit] > words)
            .fold(0, |acc, bit| acc | 1 << bit)
    }
}

#[cfg(test)]
mod tests {
    use super::state::NEAR_DUPLICATE_BITS;
    use super::*;

    const T0: i64 = 1_796_000_000;

    fn account(raw: &str) -> AccountId {
        AccountId::parse("account_id", raw.into()).unwrap()
    }

    fn observation(at: i64, recipient: u64, text: &str, abusive: bool) -> Observation {
        Observation {
            at,
            recipient,
            simhash: simhash(text),
            domains: [None; 4],
            abusive,
            policy_violation: false,
            violating: abusive,
            blocked: false,
        }
    }

    #[test]
    fn windows_count_and_slide() {
        let mut signals = Signals::new();
        for i in 0..30 {
            signals.observe(&account("AC1"), &observation(T0 + i, 1, "hi", i % 3 == 0));
        }
        let now = signals.observe(&account("AC1"), &observation(T0 + 30, 1, "hi", false));
        assert_eq!(now.messages_last_minute, 31);
        assert_eq!(now.messages_last_hour, 31);
        assert_eq!(now.abusive_last_hour, 10);
        // Two minutes on, the minute window is empty again but the hour remembers.
        let later = signals.observe(&account("AC1"), &observation(T0 + 150, 1, "hi", false));
        assert_eq!(later.messages_last_minute, 1);
        assert_eq!(later.messages_last_hour, 32);
        // Two hours on, only the new message counts.
        let much_later = signals.observe(&account("AC1"), &observation(T0 + 7_350, 1, "hi", false));
        assert_eq!(much_later.messages_last_hour, 1);
        assert_eq!(much_later.abusive_last_hour, 0);
    }

    #[test]
    fn templated_fan_out_is_seen_and_personal_chat_is_not() {
        let mut signals = Signals::new();
        let mut snapshot = Snapshot::default();
        for r in 0..60u64 {
            let text = format!(
                "Dear customer{} your account is locked verify now at secure-login.top code {r}",
                ["", " John", " Ann"][r as usize % 3]
            );
            snapshot = signals.observe(
                &account("ACspam"),
                &observation(T0 + r as i64, r * 7919, &text, false),
            );
        }
        assert!(snapshot.duplicate_fanout >= 50, "{snapshot:?}");
        assert!(snapshot.recipients_last_hour >= 50, "{snapshot:?}");

        let chat = [
            "are we still on for dinner tonight",
            "running late, traffic on the bridge",
            "can you pick up milk on the way home",
            "the meeting moved to thursday afternoon",
        ];
        for (i, text) in chat.iter().cycle().take(40).enumerate() {
            snapshot = signals.observe(
                &account("ACchat"),
                &observation(T0 + i as i64, (i % 3) as u64, text, false),
            );
        }
        assert!(snapshot.duplicate_fanout <= 3, "{snapshot:?}");
        assert!(snapshot.recipients_last_hour <= 3, "{snapshot:?}");
    }

    #[test]
    fn near_duplicates_are_close_and_different_texts_are_not() {
        let a = simhash("Your parcel is held, pay the customs fee at royalmail-fees.top now");
        let b = simhash("Your parcel is held, pay the customs fee at royalmail-fees.top today");
        let c = simhash("Happy birthday! Hope you have a wonderful day with the family");
        assert!((a ^ b).count_ones() <= NEAR_DUPLICATE_BITS);
        assert!((a ^ c).count_ones() > 16);
    }

    /// SimHash as defined: +1 per set bit and -1 per clear one, over each word's hash.
    fn simhash_by_definition(words: &[u64]) -> u64 {
        let mut weights = [0i64; 64];
        for hash in words {
            for (bit, weight) in weights.iter_mut().enumerate() {
                *weight += if hash >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        (0..64)
            .filter(|&bit| weights[bit] > 0)
            .fold(0, |acc, bit| acc | 1 << bit)
    }

    proptest::proptest! {
        // Past 255 words too, where the byte counters are emptied.
        #[test]
        fn bit_votes_match_the_definition(
            hashes in proptest::collection::vec(proptest::num::u64::ANY, 0..700),
            skew in proptest::num::u64::ANY,
        ) {
            // Half the hashes share bits, so that majorities are not all coin flips.
            let hashes: Vec<u64> = hashes
                .iter()
                .enumerate()
                .map(|(i, h)| if i % 2 == 0 { h | skew } else { *h })
                .collect();
            let mut votes = BitVotes::default();
            for hash in &hashes {
                votes.add(*hash);
            }
            proptest::prop_assert_eq!(votes.majority(), simhash_by_definition(&hashes));
        }
    }

    #[test]
    fn simhash_ignores_case_in_every_script() {
        assert_eq!(
            simhash("Your PARCEL is Held"),
            simhash("your parcel is held")
        );
        assert_eq!(simhash("ΔΕΜΑ Σας"), simhash("δεμα σας"));
        assert_eq!(simhash("1234 !!"), 0, "no word, no hash");
    }

    #[test]
    fn a_forgiven_account_keeps_its_volumes_but_loses_what_counted_against_it() {
        let mut signals = Signals::new();
        for i in 0..4 {
            let blocked = Observation {
                blocked: true,
                ..observation(T0 + i, i as u64, "pay here", true)
            };
            signals.observe(&account("AC1"), &blocked);
        }
        let before = signals.feedback(&account("AC1"), T0 + 5, FeedbackKind::OptOut);
        assert_eq!(
            (
                before.abusive_last_hour,
                before.blocked_last_hour,
                before.opt_outs_last_hour
            ),
            (4, 4, 1)
        );
        signals.forgive(&account("AC1"));
        let snapshot = signals.observe(&account("AC1"), &observation(T0 + 6, 9, "hi", false));
        assert_eq!(snapshot.messages_last_hour, 5);
        assert_eq!(
            (
                snapshot.abusive_last_hour,
                snapshot.blocked_last_hour,
                snapshot.opt_outs_last_hour
            ),
            (0, 0, 0)
        );
    }

    #[test]
    fn feedback_counts_per_kind_and_idle_accounts_are_evicted() {
        let mut signals = Signals::new();
        signals.observe(&account("AC1"), &observation(T0, 1, "hi", false));
        signals.feedback(&account("AC1"), T0 + 5, FeedbackKind::OptOut);
        signals.feedback(&account("AC1"), T0 + 6, FeedbackKind::OptOut);
        signals.feedback(&account("AC1"), T0 + 7, FeedbackKind::Undelivered);
        let snapshot = signals.observe(&account("AC1"), &observation(T0 + 8, 1, "hi", false));
        assert_eq!(snapshot.opt_outs_last_hour, 2);
        assert_eq!(snapshot.undelivered_last_hour, 1);
        signals.observe(&account("AC2"), &observation(T0 + 4_000, 1, "hi", false));
        assert_eq!(signals.evict_idle(T0 + 5_500), 1);
        assert_eq!(signals.accounts(), 1);
    }

    #[test]
    fn a_million_active_accounts_fit_in_512_mib() {
        let mut signals = Signals::new();
        for n in 0..1_000_000 {
            let id = account(&format!("AC{n:08}"));
            signals.observe(&id, &observation(T0, n, "hello", false));
        }
        assert_eq!(signals.accounts(), 1_000_000);
        let mib = signals.memory_bytes() / (1 << 20);
        assert!(mib < 512, "{mib} MiB for a million accounts");
    }

    #[test]
    fn a_checkpointed_state_comes_back_whole() {
        let mut signals = Signals::new();
        for i in 0..40 {
            let mut seen = observation(
                T0 + i * 7,
                (i % 9) as u64,
                "verify your account now",
                i % 2 == 0,
            );
            seen.blocked = i % 4 == 0;
            signals.observe(&account("AC1"), &seen);
        }
        let before = signals.observe(
            &account("AC1"),
            &observation(T0 + 300, 1, "verify your account now", false),
        );
        let dirty = signals.take_dirty();
        assert_eq!(dirty.len(), 1);
        assert!(signals.take_dirty().is_empty());
        let (key, bytes) = &dirty[0];
        let mut restored = Signals::new();
        assert!(restored.restore(*key, bytes));
        let after = restored.observe(
            &account("AC1"),
            &observation(T0 + 300, 1, "verify your account now", false),
        );
        // The same state plus one more message.
        assert_eq!(after.messages_last_hour, before.messages_last_hour + 1);
        assert_eq!(after.blocked_last_hour, before.blocked_last_hour);
        assert_eq!(after.recipients_last_hour, before.recipients_last_hour);
        assert_eq!(after.duplicate_fanout, before.duplicate_fanout);
        assert!(!restored.restore(*key, &bytes[..bytes.len() - 1]));
        assert!(!restored.restore(*key, &[9, 9, 9]));
    }

    #[test]
    fn eviction_keeps_the_index_consistent() {
        let mut signals = Signals::new();
        for (i, id) in ["A", "B", "C", "D"].iter().enumerate() {
            signals.observe(
                &account(id),
                &observation(T0 + i as i64 * 3_000, 1, "x y", false),
            );
        }
        // A and B are idle at T0 + 9,000 + 1; C and D are not.
        assert_eq!(signals.evict_idle(T0 + 9_001), 2);
        let d = signals.observe(&account("D"), &observation(T0 + 9_002, 2, "x y", false));
        assert_eq!(d.messages_last_hour, 2);
        let a = signals.observe(&account("A"), &observation(T0 + 9_003, 2, "x y", false));
        assert_eq!(a.messages_last_hour, 1);
    }
}
