//! Reviewers and admins: bearer tokens checked against SHA-256 hashes from the reviewers file,
//! in constant time. The file is re-read when it changes, so tokens rotate without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::case::Actor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reviewer,
    Admin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewersFile {
    #[serde(default)]
    reviewer: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: Role,
    token_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewersError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: reviewer `{name}`: token_sha256 must be 64 hex digits")]
    BadHash { path: String, name: String },
}

/// The people who may review, by token hash.
#[derive(Debug, Default)]
pub struct Reviewers {
    entries: Vec<(String, Role, [u8; 32])>,
}

/// The hex SHA-256 of a token, as the reviewers file stores it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Reviewers {
    /// Reads the file; a missing file is an empty list (no one can review).
    pub fn load(path: &Path) -> Result<Self, ReviewersError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(ReviewersError::Read {
                    path: shown,
                    source,
                });
            }
        };
        let file: ReviewersFile =
            toml::from_str(&text).map_err(|source| ReviewersError::Syntax {
                path: shown.clone(),
                source,
            })?;
        let mut entries = Vec::new();
        for entry in file.reviewer {
            let bytes: Option<Vec<u8>> = (entry.token_sha256.len() == 64)
                .then(|| {
                    (0..32)
                        .map(|i| u8::from_str_radix(&entry.token_sha256[2 * i..2 * i + 2], 16).ok())
                        .collect()
                })
                .flatten();
            let Some(hash) = bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
                return Err(ReviewersError::BadHash {
                    path: shown,
                    name: entry.name,
                });
            };
            entries.push((entry.name, entry.role, hash));
        }
        Ok(Self { entries })
    }

    /// The name and role behind a token. Every entry is compared, in constant time each.
    pub fn authenticate(&self, token: &str) -> Option<(String, Role)> {
        let presented = Sha256::digest(token.as_bytes());
        let mut found = None;
        for (name, role, hash) in &self.entries {
            if bool::from(presented.as_slice().ct_eq(hash)) {
                found = Some((name.clone(), *role));
            }
        }
        found
    }

    /// The name and role whose token has this hex SHA-256 (as a console session keeps it), if
    /// the reviewers file still holds that token.
    pub fn by_token_hash(&self, token_sha256: &str) -> Option<(String, Role)> {
        let mut found = None;
        for (name, role, hash) in &self.entries {
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            if bool::from(hex.as_bytes().ct_eq(token_sha256.as_bytes())) {
                found = Some((name.clone(), *role));
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The reviewers file, re-read when its modification time changes.
pub struct ReviewerDirectory {
    path: PathBuf,
    current: RwLock<(Option<SystemTime>, Arc<Reviewers>)>,
}

impl ReviewerDirectory {
    pub fn open(path: PathBuf) -> Result<Self, ReviewersError> {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let reviewers = Reviewers::load(&path)?;
        if reviewers.is_empty() {
            tracing::warn!(path = %path.display(), "no reviewers configured: review endpoints refuse everyone");
        }
        Ok(Self {
            path,
            current: RwLock::new((modified, Arc::new(reviewers))),
        })
    }

    /// The reviewers now; re-reads the file if it changed. A file that became invalid keeps the
    /// previous list and logs why.
    pub fn reviewers(&self) -> Arc<Reviewers> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        {
            let current = self.current.read().expect("not poisoned");
            if current.0 == modified {
                return Arc::clone(&current.1);
            }
        }
        let mut current = self.current.write().expect("not poisoned");
        match Reviewers::load(&self.path) {
            Ok(reviewers) => {
                tracing::info!(reviewers = reviewers.len(), "reviewers file reloaded");
                *current = (modified, Arc::new(reviewers));
            }
            Err(error) => {
                tracing::error!(%error, "reviewers file refused; the previous tokens stay");
                current.0 = modified;
            }
        }
        Arc::clone(&current.1)
    }
}

/// An authenticated reviewer or admin (from `Authorization: Bearer …`).
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub name: String,
    pub role: Role,
}

impl Reviewer {
    /// How the audit log and events name this person.
    pub fn actor(&self) -> Actor {
        match self.role {
            Role::Reviewer => Actor::Reviewer(self.name.clone()),
            Role::Admin => Actor::Admin(self.name.clone()),
        }
    }
}

impl FromRequestParts<AppState> for Reviewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthenticated = |message: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                message.to_owned(),
            )
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthenticated("an Authorization: Bearer token is required"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        let (name, role) = state
            .reviewers
            .reviewers()
            .authenticate(token.trim())
            .ok_or_else(|| unauthenticated("the token is not valid"))?;
        Ok(Reviewer { name, role })
    }
}

/// An authenticated admin.
pub struct Admin(pub Reviewer);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let reviewer = Reviewer::from_request_parts(parts, state).await?;
        if reviewer.role != Role::Admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this needs the admin role",
            ));
        }
        Ok(Admin(reviewer))
    }
}
