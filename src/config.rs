//! Loading configuration files: the only IO on the way to a `Scorer`.
//!
//! The scoring core parses text it is given; this module reads the files and says which file a
//! problem is in.

use std::path::{Path, PathBuf};

use crate::model::{Model, ModelError};
use crate::policy::{Policy, PolicyError};
use crate::rules::{RuleSet, RulesError};
use crate::scoring::Scorer;

/// Default location of the rules file, relative to the working directory.
pub const DEFAULT_RULES_PATH: &str = "config/rules.toml";
/// Default location of the policy file, relative to the working directory.
pub const DEFAULT_POLICY_PATH: &str = "config/policy.toml";
/// Default location of the model file, relative to the working directory.
pub const DEFAULT_MODEL_PATH: &str = "models/warden.json";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Rules { path: PathBuf, source: RulesError },
    #[error("{}: {source}", path.display())]
    Policy { path: PathBuf, source: PolicyError },
    #[error("{}: {source}", path.display())]
    Model { path: PathBuf, source: ModelError },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads and compiles a rules file.
pub fn load_rules(path: &Path) -> Result<RuleSet, ConfigError> {
    RuleSet::compile(&read(path)?).map_err(|source| ConfigError::Rules {
        path: path.to_owned(),
        source,
    })
}

/// Reads and validates a policy file.
pub fn load_policy(path: &Path) -> Result<Policy, ConfigError> {
    Policy::from_toml(&read(path)?).map_err(|source| ConfigError::Policy {
        path: path.to_owned(),
        source,
    })
}

/// Reads and validates a model file.
pub fn load_model(path: &Path) -> Result<Model, ConfigError> {
    Model::from_json(&read(path)?).map_err(|source| ConfigError::Model {
        path: path.to_owned(),
        source,
    })
}

/// Builds a scorer from a rules file, a policy file and, unless `None`, a model file.
pub fn load_scorer(
    rules: &Path,
    policy: &Path,
    model: Option<&Path>,
) -> Result<Scorer, ConfigError> {
    let model = model.map(load_model).transpose()?;
    Ok(Scorer::new(load_rules(rules)?, model, load_policy(policy)?))
}
