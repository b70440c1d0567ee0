//! One account's state: rings of counters for the minute and the hour, half-hour bitmaps for
//! distinct counts, the near-duplicate templates it keeps sending, and the checkpoint encoding
//! of all of it.
//!
//! Everything is fixed-size arrays, so a state has no heap and its encoding is a fixed sequence
//! of little-endian fields. [`super::Signals`] keeps the states, one per account.

use super::{Observation, Snapshot};

const MINUTE_BUCKET_S: i64 = 10;
const MINUTE_BUCKETS: usize = 6;
const HOUR_BUCKET_S: i64 = 300;
const HOUR_BUCKETS: usize = 12;
/// Distinct counts keep the current and the previous half hour.
pub(super) const HALF_HOUR_S: i64 = 1_800;
/// Near-duplicate templates remembered per account.
const TEMPLATES: usize = 3;
/// Two messages are near-duplicates when their SimHashes differ in at most this many bits.
pub(super) const NEAR_DUPLICATE_BITS: u32 = 10;

/// A bitmap for linear counting of distinct hashes.
#[derive(Debug, Clone, Copy)]
struct Bitmap<const WORDS: usize>([u64; WORDS]);

impl<const WORDS: usize> Default for Bitmap<WORDS> {
    fn default() -> Self {
        Self([0; WORDS])
    }
}

impl<const WORDS: usize> Bitmap<WORDS> {
    fn insert(&mut self, hash: u64) {
        let bit = (hash % (WORDS as u64 * 64)) as usize;
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    fn union(&self, other: &Self) -> Self {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        out
    }

    /// Linear counting: `m ln(m / zeros)` distinct items for `zeros` unset of `m` bits.
    fn estimate(&self) -> u32 {
        let m = (WORDS * 64) as f64;
        let set: u32 = self.0.iter().map(|w| w.count_ones()).sum();
        let zeros = (m - f64::from(set)).max(0.5);
        (m * (m / zeros).ln()).round() as u32
    }
}

/// Two half-hour halves of a distinct count: the hour slides by dropping the older half.
#[derive(Debug, Clone, Copy, Default)]
struct Halves<const WORDS: usize> {
    half: i32,
    current: Bitmap<WORDS>,
    previous: Bitmap<WORDS>,
}

impl<const WORDS: usize> Halves<WORDS> {
    fn advance(&mut self, at: i64) {
        let half = at.div_euclid(HALF_HOUR_S) as i32;
        if half > self.half {
            self.previous = if half == self.half + 1 {
                self.current
            } else {
                Bitmap::default()
            };
            self.current = Bitmap::default();
            self.half = half;
        }
    }

    fn estimate(&self) -> u32 {
        self.current.union(&self.previous).estimate()
    }
}

/// A ring of counters, one per bucket of `span` seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ring<const N: usize> {
    bucket: i32,
    counts: [u16; N],
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self {
            bucket: 0,
            counts: [0; N],
        }
    }
}

impl<const N: usize> Ring<N> {
    /// Moves the ring to the bucket of `at`, clearing the buckets that fell out.
    fn advance(&mut self, at: i64, span: i64) {
        let bucket = at.div_euclid(span) as i32;
        let gap = bucket - self.bucket;
        if gap <= 0 {
            return;
        }
        for step in 1..=gap.min(N as i32) {
            self.counts[((self.bucket + step).rem_euclid(N as i32)) as usize] = 0;
        }
        self.bucket = bucket;
    }

    pub(super) fn add(&mut self) {
        let slot = self.bucket.rem_euclid(N as i32) as usize;
        self.counts[slot] = self.counts[slot].saturating_add(1);
    }

    fn total(&self) -> u32 {
        self.counts.iter().map(|&c| u32::from(c)).sum()
    }
}

/// A near-duplicate text an account keeps sending, and to whom.
#[derive(Debug, Clone, Copy, Default)]
struct Template {
    simhash: u64,
    last_at: i64,
    recipients: Bitmap<2>,
}

/// Everything kept about one account: fixed size, no heap.
#[derive(Debug, Clone, Default)]
pub struct AccountState {
    pub(super) last_at: i64,
    minute: Ring<MINUTE_BUCKETS>,
    hour: Ring<HOUR_BUCKETS>,
    pub(super) abusive: Ring<HOUR_BUCKETS>,
    pub(super) violating: Ring<HOUR_BUCKETS>,
    pub(super) policy_violations: Ring<HOUR_BUCKETS>,
    pub(super) blocked: Ring<HOUR_BUCKETS>,
    pub(super) feedback: [Ring<HOUR_BUCKETS>; 3],
    recipients: Halves<4>,
    domains: Halves<1>,
    templates: [Template; TEMPLATES],
}

impl AccountState {
    /// Time moves forward only: a late message counts in the current buckets.
    pub(super) fn advance(&mut self, at: i64) -> i64 {
        let at = at.max(self.last_at);
        self.last_at = at;
        self.minute.advance(at, MINUTE_BUCKET_S);
        self.hour.advance(at, HOUR_BUCKET_S);
        self.abusive.advance(at, HOUR_BUCKET_S);
        self.violating.advance(at, HOUR_BUCKET_S);
        self.policy_violations.advance(at, HOUR_BUCKET_S);
        self.blocked.advance(at, HOUR_BUCKET_S);
        for ring in &mut self.feedback {
            ring.advance(at, HOUR_BUCKET_S);
        }
        self.recipients.advance(at);
        self.domains.advance(at);
        at
    }

    pub(super) fn observe(&mut self, observation: &Observation) {
        let at = self.advance(observation.at);
        self.minute.add();
        self.hour.add();
        if observation.abusive {
            self.abusive.add();
        }
        if observation.abusive && observation.violating {
            self.violating.add();
        }
        if observation.abusive && observation.policy_violation {
            self.policy_violations.add();
        }
        if observation.blocked {
            self.blocked.add();
        }
        self.recipients.current.insert(observation.recipient);
        for domain in observation.domains.iter().flatten() {
            self.domains.current.insert(*domain);
        }
        let template = self.template_for(observation.simhash, at);
        template.last_at = at;
        template.recipients.insert(observation.recipient);
    }

    /// The template this text is a near-duplicate of, or the least recently used one, reset.
    fn template_for(&mut self, simhash: u64, at: i64) -> &mut Template {
        let fresh = |t: &Template| at - t.last_at < 2 * HALF_HOUR_S;
        let index = self
            .templates
            .iter()
            .position(|t| fresh(t) && (t.simhash ^ simhash).count_ones() <= NEAR_DUPLICATE_BITS)
            .unwrap_or_else(|| {
                let oldest = (0..TEMPLATES)
                    .min_by_key(|&i| self.templates[i].last_at)
                    .expect("templates exist");
                self.templates[oldest] = Template {
                    simhash,
                    last_at: at,
                    recipients: Bitmap::default(),
                };
                oldest
            });
        &mut self.templates[index]
    }

    pub fn snapshot(&self) -> Snapshot {
        let fresh = |t: &&Template| self.last_at - t.last_at < 2 * HALF_HOUR_S;
        Snapshot {
            messages_last_minute: self.minute.total(),
            messages_last_hour: self.hour.total(),
            abusive_last_hour: self.abusive.total(),
            violating_last_hour: self.violating.total(),
            policy_violations_last_hour: self.policy_violations.total(),
            blocked_last_hour: self.blocked.total(),
            recipients_last_hour: self.recipients.estimate(),
            duplicate_fanout: self
                .templates
                .iter()
                .filter(fresh)
                .map(|t| t.recipients.estimate())
                .max()
                .unwrap_or(0),
            domains_last_hour: self.domains.estimate(),
            undelivered_last_hour: self.feedback[0].total(),
            carrier_filtered_last_hour: self.feedback[1].total(),
            opt_outs_last_hour: self.feedback[2].total(),
            // Counted by the enforcer, which knows who opted out.
            opted_out_sends_last_hour: 0,
        }
    }
}

/// The checkpoint encoding of an account's state: little-endian fields in declaration order,
/// after a version byte, so that a state written by another build is refused, not misread.
const STATE_ENCODING: u8 = 3;

struct Writer(Vec<u8>);

impl Writer {
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn ring<const N: usize>(&mut self, ring: &Ring<N>) {
        self.i32(ring.bucket);
        ring.counts.iter().for_each(|&c| self.u16(c));
    }
    fn bitmap<const W: usize>(&mut self, bitmap: &Bitmap<W>) {
        bitmap.0.iter().for_each(|&w| self.u64(w));
    }
    fn halves<const W: usize>(&mut self, halves: &Halves<W>) {
        self.i32(halves.half);
        self.bitmap(&halves.current);
        self.bitmap(&halves.previous);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_le_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn ring<const N: usize>(&mut self) -> Option<Ring<N>> {
        let bucket = self.i32()?;
        let mut counts = [0; N];
        for count in &mut counts {
            *count = self.u16()?;
        }
        Some(Ring { bucket, counts })
    }
    fn bitmap<const W: usize>(&mut self) -> Option<Bitmap<W>> {
        let mut words = [0; W];
        for word in &mut words {
            *word = self.u64()?;
        }
        Some(Bitmap(words))
    }
    fn halves<const W: usize>(&mut self) -> Option<Halves<W>> {
        Some(Halves {
            half: self.i32()?,
            current: self.bitmap()?,
            previous: self.bitmap()?,
        })
    }
}

impl AccountState {
    /// The state as checkpoint bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(vec![STATE_ENCODING]);
        w.i64(self.last_at);
        w.ring(&self.minute);
        w.ring(&self.hour);
        w.ring(&self.abusive);
        w.ring(&self.violating);
        w.ring(&self.policy_violations);
        w.ring(&self.blocked);
        self.feedback.iter().for_each(|ring| w.ring(ring));
        w.halves(&self.recipients);
        w.halves(&self.domains);
        for template in &self.templates {
            w.u64(template.simhash);
            w.i64(template.last_at);
            w.bitmap(&template.recipients);
        }
        w.0
    }

    /// A state from checkpoint bytes; `None` if they are not this build's encoding.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != STATE_ENCODING {
            return None;
        }
        let mut r = Reader(rest);
        let mut state = AccountState {
            last_at: r.i64()?,
            minute: r.ring()?,
            hour: r.ring()?,
            abusive: r.ring()?,
            violating: r.ring()?,
            policy_violations: r.ring()?,
            blocked: r.ring()?,
            feedback: [r.ring()?, r.ring()?, r.ring()?],
            recipients: r.halves()?,
            domains: r.halves()?,
            templates: Default::default(),
        };
        for template in &mut state.templates {
            *template = Template {
                simhash: r.u64()?,
                last_at: r.i64()?,
                recipients: r.bitmap()?,
            };
        }
        r.0.is_empty().then_some(state)
    }
}
