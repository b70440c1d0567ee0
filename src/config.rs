//! Loading configuration files: the scoring files on the way to a `Scorer`, and the service
//! settings of `warden run` (`config/warden.toml`).
//!
//! The scoring core parses text it is given; this module reads the files and says which file a
//! problem is in.

use std::path::{Path, PathBuf};

use crate::model::{Model, ModelError};
use crate::policy::{PolicyError, PolicyFile};
use crate::rules::{BrandRegistry, BrandsError, RuleSet, RulesError};
use crate::scoring::Scorer;
use crate::suspension::SuspensionPolicy;

/// Default location of the rules file, relative to the working directory.
pub const DEFAULT_RULES_PATH: &str = "config/rules.toml";
/// Name of the brand registry, read from the directory of the rules file that uses it.
pub const BRANDS_FILE_NAME: &str = "brands.toml";
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
    Brands { path: PathBuf, source: BrandsError },
    #[error("{}: {source}", path.display())]
    Policy { path: PathBuf, source: PolicyError },
    #[error("{}: {source}", path.display())]
    Model { path: PathBuf, source: ModelError },
    #[error("{}: {source}", path.display())]
    Service {
        path: PathBuf,
        source: ServiceConfigError,
    },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads and compiles a rules file, with the brand registry beside it (`brands.toml` in the
/// same directory). Without one there, the registry shipped in the binary is used; a brands
/// file that is there but broken refuses the rules with it, so a reload keeps the old set.
pub fn load_rules(path: &Path) -> Result<RuleSet, ConfigError> {
    let brands_path = path.with_file_name(BRANDS_FILE_NAME);
    let brands = if brands_path.is_file() {
        load_brands(&brands_path)?
    } else {
        BrandRegistry::shipped()
    };
    RuleSet::compile_with_brands(&read(path)?, brands).map_err(|source| ConfigError::Rules {
        path: path.to_owned(),
        source,
    })
}

/// Reads and compiles a brand registry.
pub fn load_brands(path: &Path) -> Result<BrandRegistry, ConfigError> {
    BrandRegistry::compile(&read(path)?).map_err(|source| ConfigError::Brands {
        path: path.to_owned(),
        source,
    })
}

/// Reads and validates a policy file: its message policy and its account policy.
pub fn load_policy(path: &Path) -> Result<PolicyFile, ConfigError> {
    PolicyFile::from_toml(&read(path)?).map_err(|source| ConfigError::Policy {
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

/// Builds a scorer from a rules file, a policy file's message policy and, unless `None`, a
/// model file.
pub fn load_scorer(
    rules: &Path,
    policy: &Path,
    model: Option<&Path>,
) -> Result<Scorer, ConfigError> {
    Ok(load_scoring(rules, policy, model)?.0)
}

/// What `warden run` decides with: the scorer, and the policy file's account policy for the
/// enforcer.
pub fn load_scoring(
    rules: &Path,
    policy: &Path,
    model: Option<&Path>,
) -> Result<(Scorer, SuspensionPolicy), ConfigError> {
    let model = model.map(load_model).transpose()?;
    let PolicyFile {
        message, account, ..
    } = load_policy(policy)?;
    Ok((Scorer::new(load_rules(rules)?, model, message), account))
}

/// Default location of the service configuration, relative to the working directory.
pub const DEFAULT_SERVICE_PATH: &str = "config/warden.toml";

/// `config/warden.toml`: how `warden run` reaches Kafka and paces its work. Every field has a
/// default, so an empty file (or none) runs against a broker on `127.0.0.1:9092`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    pub kafka: KafkaConfig,
    pub topics: Topics,
    pub stream: StreamConfig,
    pub database: DatabaseConfig,
    pub enforcement: EnforcementConfig,
    pub api: ApiConfig,
    pub retention: crate::store::Retention,
}

/// The review API (`[api]`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// `host:port` the API listens on; empty for none in `warden run`. Default
    /// `127.0.0.1:8080`.
    pub listen: String,
    /// Reviewers' and admins' tokens, as SHA-256 hashes (`[[reviewer]] name, role,
    /// token_sha256`); missing means no one can review. Default `config/reviewers.toml`.
    pub reviewers_file: String,
    /// How long a reviewer's claim on a case lasts. Default 15.
    pub claim_minutes: i64,
    /// How soon an appeal should be decided: the queue shows each one's due time. Default 72.
    pub appeal_sla_hours: i64,
    /// Largest request body. Default 16,384 bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take before it is answered 503. Default 5,000 ms.
    pub request_timeout_ms: u64,
    /// Appeal requests (`POST /v1/appeals`) per client address per minute. Default 10.
    pub appeals_per_minute: u32,
    /// A console sign-in lasts at most this long. Default 12.
    pub console_session_hours: i64,
    /// A console session unused for this long ends. Default 30.
    pub console_idle_minutes: i64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            reviewers_file: "config/reviewers.toml".into(),
            claim_minutes: 15,
            appeal_sla_hours: 72,
            body_limit_bytes: 16_384,
            request_timeout_ms: 5_000,
            appeals_per_minute: 10,
            console_session_hours: 12,
            console_idle_minutes: 30,
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` (default `sqlite://data/warden.db`) or `postgres://…` for several
    /// instances.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/warden.db".into(),
        }
    }
}

/// Notices to suspended account holders. The signing secret is not here: it comes from the
/// environment (`WARDEN_APPEAL_SECRET`), like the recipient-hash key (`WARDEN_RECIPIENT_KEY`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnforcementConfig {
    /// Where account holders appeal; the signed token is appended as `?token=…`.
    pub appeal_base_url: String,
    /// Days a suspended holder has to appeal: at least [`MIN_APPEAL_DAYS`], the default.
    pub appeal_days: i64,
    /// The acceptable use policy, linked from every suspension notice.
    pub policy_url: String,
    /// What a holder may do beyond the appeal, told with a suspension and an appeal's outcome.
    pub redress: String,
}

/// Six months: the EU Digital Services Act (Art. 20(1)) has a platform take complaints against
/// a suspension for at least that long after the holder is told of it.
pub const MIN_APPEAL_DAYS: i64 = 183;

impl Default for EnforcementConfig {
    fn default() -> Self {
        Self {
            appeal_base_url: "https://warden.example.com/appeal".into(),
            appeal_days: MIN_APPEAL_DAYS,
            policy_url: "https://warden.example.com/acceptable-use".into(),
            redress: "If you disagree with the outcome of your appeal, you may refer the decision \
                      to a certified out-of-court dispute settlement body or to the courts."
                .into(),
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port[,host:port...]`. Default `127.0.0.1:9092`.
    pub brokers: String,
    /// Consumer group shared by every instance. Default `warden`.
    pub group: String,
    /// A member that sends no heartbeat for this long loses its partitions. Default 10,000 ms.
    pub session_timeout_ms: u32,
    /// Further librdkafka properties for both clients (e.g. `"security.protocol" = "ssl"`).
    pub options: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            group: "warden".into(),
            session_timeout_ms: 10_000,
            options: Default::default(),
        }
    }
}

/// Topic names; the defaults are the contract in DESIGN.md.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    pub messages: String,
    /// Delivery feedback (undelivered, carrier-filtered, opt-out); empty to not read any. It
    /// must have as many partitions as `messages`, keyed the same way, so that the group
    /// assigns an account's feedback to the instance that holds its signals.
    pub feedback: String,
    pub verdicts: String,
    pub dead_letters: String,
    pub account_actions: String,
    pub notices: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            messages: "messages".into(),
            feedback: "message-feedback".into(),
            verdicts: "verdicts".into(),
            dead_letters: "dead-letters".into(),
            account_actions: "account-actions".into(),
            notices: "notices".into(),
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Most records decided together; this bounds the work in flight. Default 2,000.
    pub batch_max_messages: usize,
    /// Longest wait for a batch to fill once its first record is in. Default 1 ms.
    pub batch_wait_ms: u64,
    /// Scoring threads; 0 means one per core. Default 0.
    pub scoring_threads: usize,
    /// On shutdown or revocation, how long in-flight work may take to become durable before
    /// Warden gives up on it (it is redelivered, never lost). Default 5,000 ms.
    pub drain_timeout_ms: u64,
    /// Longest pause between retries while the broker is unreachable. Default 5,000 ms.
    pub retry_backoff_max_ms: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            batch_max_messages: 2_000,
            batch_wait_ms: 1,
            scoring_threads: 0,
            drain_timeout_ms: 5_000,
            retry_backoff_max_ms: 5_000,
        }
    }
}

impl ServiceConfig {
    /// Parses a service configuration and checks what spans fields.
    pub fn from_toml(text: &str) -> Result<Self, ServiceConfigError> {
        let config: Self = toml::from_str(text).map_err(ServiceConfigError::Syntax)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what no single field can: a drain that outlasts the session timeout would let the
    /// group hand the partitions to another member while this one still writes for them.
    pub fn validate(&self) -> Result<(), ServiceConfigError> {
        let invalid = |reason: String| Err(ServiceConfigError::Invalid(reason));
        if self.kafka.brokers.trim().is_empty() {
            return invalid("kafka.brokers is empty".into());
        }
        if self.stream.batch_max_messages == 0 {
            return invalid("stream.batch_max_messages must be at least 1".into());
        }
        if self.stream.drain_timeout_ms >= u64::from(self.kafka.session_timeout_ms) {
            return invalid(format!(
                "stream.drain_timeout_ms ({}) must be below kafka.session_timeout_ms ({})",
                self.stream.drain_timeout_ms, self.kafka.session_timeout_ms
            ));
        }
        let topics = [
            &self.topics.messages,
            &self.topics.verdicts,
            &self.topics.dead_letters,
            &self.topics.account_actions,
            &self.topics.notices,
        ];
        if self.api.claim_minutes < 1
            || self.api.appeal_sla_hours < 1
            || self.api.body_limit_bytes < 1_024
            || self.api.request_timeout_ms == 0
            || self.api.appeals_per_minute == 0
        {
            return invalid(
                "api needs claim_minutes and appeal_sla_hours of at least 1, body_limit_bytes of \
                 at least 1024, and a non-zero request_timeout_ms and appeals_per_minute"
                    .into(),
            );
        }
        let keep = &self.retention;
        if [
            keep.evidence_days,
            keep.processed_days,
            keep.audit_detail_days,
            keep.outbox_days,
        ]
        .iter()
        .any(|&days| days < 1)
            || keep.purge_every_minutes == 0
        {
            return invalid("retention periods and purge_every_minutes must be at least 1".into());
        }
        if self.enforcement.appeal_days < MIN_APPEAL_DAYS {
            return invalid(format!(
                "enforcement.appeal_days must be at least {MIN_APPEAL_DAYS}: holders may appeal a \
                 suspension for six months (EU DSA Art. 20)"
            ));
        }
        if self.enforcement.policy_url.is_empty() || self.enforcement.redress.is_empty() {
            return invalid(
                "enforcement.policy_url and enforcement.redress must be set: suspension \
                 notices state the policy broken and the redress beyond the appeal"
                    .into(),
            );
        }
        if topics.iter().any(|t| t.is_empty()) {
            return invalid("topic names must not be empty".into());
        }
        if topics[1..].contains(&topics[0]) {
            return invalid("topics.messages must differ from the output topics".into());
        }
        if !self.topics.feedback.is_empty() && topics.contains(&&self.topics.feedback) {
            return invalid("topics.feedback must differ from the other topics".into());
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceConfigError {
    #[error("{0}")]
    Syntax(toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Reads the service configuration; a missing file at the default path means all defaults.
pub fn load_service(path: &Path, required: bool) -> Result<ServiceConfig, ConfigError> {
    if !required && !path.exists() {
        return Ok(ServiceConfig::default());
    }
    ServiceConfig::from_toml(&read(path)?).map_err(|source| ConfigError::Service {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_brands_file_beside_the_rules_refuses_them_with_line_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, include_str!("../config/rules.toml")).unwrap();
        // Without a brands file beside them, the shipped registry is used.
        let shipped = load_rules(&rules).unwrap();

        let brands = dir.path().join(BRANDS_FILE_NAME);
        std::fs::write(
            &brands,
            "[[brand]]\nname = \"Evri\"\nnames = [\"evri\"]\ndomains = [\"co.uk\"]\n",
        )
        .unwrap();
        let error = load_rules(&rules).unwrap_err().to_string();
        assert!(
            error.contains("brands.toml: brands file refused (1 problem)")
                && error.contains("line 1: brand `Evri`: \"co.uk\" is a public suffix"),
            "{error}"
        );

        std::fs::write(
            &brands,
            "[[brand]]\nname = \"Evri\"\nnames = [\"evri\"]\ndomains = [\"evri.com\"]\n",
        )
        .unwrap();
        let error = load_rules(&rules).unwrap_err().to_string();
        assert!(
            error.contains("rules.toml: rules file refused"),
            "the shipped rules' examples need the shipped brands: {error}"
        );
        std::fs::write(&brands, include_str!("../config/brands.toml")).unwrap();
        assert_eq!(load_rules(&rules).unwrap().version(), shipped.version());
    }

    #[test]
    fn an_empty_service_file_means_the_defaults() {
        let config = ServiceConfig::from_toml("").unwrap();
        assert_eq!(config.kafka.brokers, "127.0.0.1:9092");
        assert_eq!(config.topics.dead_letters, "dead-letters");
        assert_eq!(config.stream.batch_max_messages, 2_000);
    }

    /// `config/warden.toml` is the configuration reference: every setting the code reads is
    /// in it, with its value (and unknown ones are refused on load).
    #[test]
    fn the_shipped_service_file_sets_every_setting() {
        let shipped: toml::Table = toml::from_str(include_str!("../config/warden.toml")).unwrap();
        let defaults = toml::Table::try_from(ServiceConfig::default()).unwrap();
        let mut missing = Vec::new();
        for (section, settings) in &defaults {
            let settings = settings.as_table().expect("every section is a table");
            for key in settings.keys() {
                // A free-form map of librdkafka properties, shown commented out.
                if (section.as_str(), key.as_str()) == ("kafka", "options") {
                    continue;
                }
                if shipped.get(section).and_then(|s| s.get(key)).is_none() {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
        assert!(missing.is_empty(), "config/warden.toml lacks {missing:?}");
    }

    #[test]
    fn the_shipped_service_file_is_valid() {
        let text = include_str!("../config/warden.toml");
        let config = ServiceConfig::from_toml(text).unwrap();
        assert_eq!(config.kafka.group, "warden");
    }

    #[test]
    fn settings_that_contradict_each_other_are_refused_with_the_reason() {
        let error = ServiceConfig::from_toml(
            "[kafka]\nsession_timeout_ms = 3000\n[stream]\ndrain_timeout_ms = 5000\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("drain_timeout_ms (5000) must be below"),
            "{error}"
        );
        let error = ServiceConfig::from_toml("[topics]\nverdicts = \"messages\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("must differ"), "{error}");
        let error = ServiceConfig::from_toml("[kafka]\nbroker = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `broker`"), "{error}");
        let error = ServiceConfig::from_toml("[enforcement]\nappeal_days = 30\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("appeal_days must be at least 183"),
            "{error}"
        );
    }
}
