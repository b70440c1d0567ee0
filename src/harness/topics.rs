//! The six topics of one run, named after it so that runs never see each other's records:
//! `warden run`'s own `[topics]` settings, made, created and written by the rig.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

use super::{HarnessError, client};
pub use crate::config::Topics;

impl Topics {
    /// Topic names for one run: `{prefix}-messages`, `{prefix}-verdicts`, ...
    pub fn prefixed(prefix: &str) -> Self {
        let name = |topic: &str| format!("{prefix}-{topic}");
        Self {
            messages: name("messages"),
            feedback: name("feedback"),
            verdicts: name("verdicts"),
            dead_letters: name("dead-letters"),
            account_actions: name("account-actions"),
            notices: name("notices"),
        }
    }

    /// Creates every topic with `partitions` partitions, but the dead letters with one.
    pub fn create(&self, brokers: &str, partitions: i32) -> Result<(), HarnessError> {
        let admin: AdminClient<DefaultClientContext> = client(brokers)
            .create()
            .map_err(HarnessError::kafka("cannot create an admin client"))?;
        let topic = |name, partitions| NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let new = [
            topic(&self.messages, partitions),
            topic(&self.feedback, partitions),
            topic(&self.verdicts, partitions),
            topic(&self.dead_letters, 1),
            topic(&self.account_actions, partitions),
            topic(&self.notices, partitions),
        ];
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(HarnessError::io("cannot start a runtime"))?;
        let results = runtime
            .block_on(admin.create_topics(&new, &options))
            .map_err(HarnessError::kafka("cannot create topics"))?;
        for result in results {
            result.map_err(|(topic, code)| HarnessError::TopicRefused {
                topic,
                code: code.to_string(),
            })?;
        }
        Ok(())
    }

    /// The `[kafka]` and `[topics]` sections of `warden run` settings for these topics.
    pub fn settings(&self, brokers: &str, group: &str) -> String {
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ngroup = \"{group}\"\n\n[topics]\nmessages = \"{}\"\n\
             feedback = \"{}\"\nverdicts = \"{}\"\ndead_letters = \"{}\"\naccount_actions = \"{}\"\n\
             notices = \"{}\"\n",
            self.messages,
            self.feedback,
            self.verdicts,
            self.dead_letters,
            self.account_actions,
            self.notices
        )
    }
}
