//! Text processing ahead of scoring: normalization (one canonical spelling of what a message says)
//! and extraction (URLs, domains, phone numbers, emails). Pure functions over reused buffers.

mod extract;
mod normalize;
mod skeleton;

pub use extract::{Extracted, Url};
pub use normalize::{Normalized, normalize};
pub use skeleton::{BrandSkeletons, domain_skeleton};
