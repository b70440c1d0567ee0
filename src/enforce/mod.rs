//! Enforcement: what follows an automated decision to suspend an account.
//!
//! So far: the signed appeal token that a suspension notice carries.

pub mod token;
