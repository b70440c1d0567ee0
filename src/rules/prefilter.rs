//! Choosing the literals to prefilter a rule's regex on.
//!
//! Every regex rule needs a set of literals one of which every match contains, so that one
//! Aho-Corasick pass over a message says which regexes could match. The choice matters: the
//! literals that start a match are often common words (`you `, `call`), and a rule prefiltered on
//! them runs on most messages. So every position of the pattern is considered, and the rarest
//! set wins; when it is one that starts every match, the regex runs anchored where it is found.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};

/// Shortest literal worth prefiltering on; a regex whose literals are all shorter runs on every
/// message (and `warden rules check` says so).
const MIN_PREFILTER_LITERAL: usize = 2;
/// Longest literal kept for prefiltering, in bytes.
const MAX_PREFILTER_LITERAL: usize = 8;

/// Literals pulled out of a rule's regex.
#[derive(Debug)]
pub(super) enum Prefilter {
    /// Every match starts with one of these: the regex runs anchored where one occurs.
    Prefix(Vec<Vec<u8>>),
    /// Every match contains one of these: the regex runs on a message that has one.
    Inner(Vec<Vec<u8>>),
    /// No usable literal: the regex runs on every message.
    None,
}

/// The literals to prefilter a pattern on: a set of literals one of which every match contains,
/// chosen to be as rare as possible (longest shortest literal, then fewest literals). When the
/// set is made of literals every match *starts* with, the regex can run anchored where one is
/// found.
///
/// Taking only the literals a match starts with would often pick common words (`you `, `call`)
/// for patterns like "you have won"; looking at every position of the pattern finds `won`.
pub(super) fn prefilter_literals(pattern: &str) -> Prefilter {
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
    else {
        return Prefilter::None;
    };
    // A set of a few dozen literals keeps the shared automaton small; a rule whose best such set
    // is a common word (" are") may take a set of hundreds of rare literals instead (a hate list
    // with its spelling variants).
    let few = required_literals(&hir, MAX_PREFILTER_SET);
    let required = match few {
        Some(few) if few.rarity().0 > COMMON_LITERAL => Some(few),
        few => required_literals(&hir, MAX_LIST_PREFILTER_SET)
            .filter(|many| many.rarity().0 >= LIST_LITERAL)
            .or(few),
    };
    match required {
        Some(Required {
            literals,
            at_start: true,
        }) => Prefilter::Prefix(literals),
        Some(Required {
            literals,
            at_start: false,
        }) => Prefilter::Inner(literals),
        None => Prefilter::None,
    }
}

/// Literals one of which every match of some regex contains.
struct Required {
    literals: Vec<Vec<u8>>,
    /// Every match starts with one of the literals.
    at_start: bool,
}

impl Required {
    /// Rarer is better: a longer shortest literal, up to a length past which words are rare
    /// enough anyway, then fewer literals (each is a state in the shared automaton).
    fn rarity(&self) -> (usize, std::cmp::Reverse<usize>) {
        let shortest = self
            .literals
            .iter()
            .map(|l| rarity_len(l))
            .min()
            .unwrap_or(0);
        (
            shortest.min(RARE_ENOUGH_LITERAL),
            std::cmp::Reverse(self.literals.len()),
        )
    }
}

/// Length at which a literal is rare enough in messages that a longer one gains little.
const RARE_ENOUGH_LITERAL: usize = 5;
/// Words in nearly every message: a literal that is one of them (give or take the spaces around
/// it) is no rarer than a single byte, however long it is.
const COMMON_WORDS: &[&[u8]] = &[
    b"a", b"about", b"all", b"am", b"and", b"are", b"at", b"back", b"be", b"been", b"but", b"call",
    b"can", b"come", b"day", b"do", b"for", b"free", b"from", b"get", b"go", b"going", b"good",
    b"got", b"have", b"he", b"her", b"his", b"how", b"i", b"if", b"in", b"is", b"it", b"just",
    b"know", b"like", b"me", b"my", b"need", b"no", b"not", b"now", b"of", b"ok", b"on", b"one",
    b"or", b"our", b"out", b"reply", b"see", b"send", b"she", b"so", b"text", b"that", b"the",
    b"then", b"there", b"they", b"this", b"time", b"to", b"txt", b"u", b"up", b"ur", b"want",
    b"was", b"we", b"what", b"when", b"will", b"with", b"you", b"your",
];

/// A literal's length for judging how rare it is: its length, or 1 for a common word.
pub(super) fn rarity_len(literal: &[u8]) -> usize {
    let word = literal
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .map_or(&literal[..0], |start| {
            let end = literal
                .iter()
                .rposition(u8::is_ascii_alphanumeric)
                .map_or(start, |e| e + 1);
            &literal[start..end]
        });
    if COMMON_WORDS.contains(&word) {
        1
    } else {
        literal.len()
    }
}

/// Most literals one prefilter set may hold; past that the rule is better off unfiltered.
const MAX_PREFILTER_SET: usize = 64;
/// Most literals a set may hold when every set within `MAX_PREFILTER_SET` is a common word or
/// shorter, and its own literals are all rare enough: the hate lists with their spelling
/// variants (`variants`) hold several hundred phrases, and a rule is far better prefiltered on
/// all of them than on " are ".
const MAX_LIST_PREFILTER_SET: usize = 1024;
/// The shortest literal a set of more than `MAX_PREFILTER_SET` may hold: a word of a list
/// ("jews"), not a run of digits cut short.
const LIST_LITERAL: usize = 4;
/// A set whose shortest literal is this rare or less (a common word counts as 1) is worth
/// trading for a larger one.
const COMMON_LITERAL: usize = 2;

/// The rarest set of at most `max_set` literals every match of `hir` must contain, if there is
/// one.
fn required_literals(hir: &Hir, max_set: usize) -> Option<Required> {
    let mut best = starting_literals(hir, max_set).map(|literals| Required {
        literals,
        at_start: true,
    });
    let mut consider = |candidate: Option<Required>| {
        if let Some(candidate) = candidate
            && best
                .as_ref()
                .is_none_or(|b| candidate.rarity() > b.rarity())
        {
            best = Some(candidate);
        }
    };
    match hir.kind() {
        HirKind::Concat(parts) => {
            for i in 0..parts.len() {
                // Zero-width parts (`\b`) before position `i` keep it at the match start.
                let at_start = parts[..i]
                    .iter()
                    .all(|p| p.properties().maximum_len() == Some(0));
                let tail = Hir::concat(parts[i..].to_vec());
                consider(
                    starting_literals(&tail, max_set)
                        .map(|literals| Required { literals, at_start }),
                );
                consider(required_literals(&parts[i], max_set).map(|r| Required {
                    at_start: r.at_start && at_start,
                    ..r
                }));
            }
        }
        HirKind::Alternation(branches) => {
            let mut union = Required {
                literals: Vec::new(),
                at_start: true,
            };
            for branch in branches {
                let Some(required) = required_literals(branch, max_set) else {
                    return best;
                };
                union.at_start &= required.at_start;
                union.literals.extend(required.literals);
            }
            union.literals.sort();
            union.literals.dedup();
            if union.literals.len() <= max_set {
                consider(Some(union));
            }
        }
        HirKind::Capture(capture) => consider(required_literals(&capture.sub, max_set)),
        HirKind::Repetition(repetition) if repetition.min > 0 => {
            consider(required_literals(&repetition.sub, max_set));
        }
        _ => {}
    }
    best
}

/// At most `max_set` literals one of which every match of `hir` starts with, cut to a few bytes
/// (a longer literal is no rarer in practice, and alternations would multiply into many of
/// them).
fn starting_literals(hir: &Hir, max_set: usize) -> Option<Vec<Vec<u8>>> {
    let mut seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_total(max_set)
        .extract(hir);
    seq.keep_first_bytes(MAX_PREFILTER_LITERAL);
    seq.dedup();
    let literals = seq.literals()?;
    let usable = !literals.is_empty()
        && literals.len() <= max_set
        && literals
            .iter()
            .all(|l| l.as_bytes().len() >= MIN_PREFILTER_LITERAL);
    usable.then(|| literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}
