//! What the chat answers still read of governance directly: deploy memory and the wording of a
//! request. Every governed action goes through [`crate::command::Commander`].

use super::Bot;
use crate::memory::{facts, recommend, Facts, Recommendation};
use crate::store::StoreError;

pub(super) use super::outcomes::describe_request;

/// How many recent deploys of an environment deploy memory reads.
pub(super) const MEMORY_HISTORY: i64 = 500;

impl Bot {
    /// Deploy memory for a service in an environment.
    pub(super) async fn memory(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<(Facts, Option<Recommendation>), StoreError> {
        let history = self
            .store
            .deploy_outcomes(environment, MEMORY_HISTORY)
            .await?;
        let f = facts(&history, service, environment, &self.config.memory);
        let rec = recommend(&f, &self.config.memory);
        Ok((f, rec))
    }
}
