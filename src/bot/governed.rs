//! What the chat answers still read of governance directly: deploy memory and the wording of a
//! request. Every governed action goes through [`crate::command::Commander`].

use super::Bot;
use crate::memory::{Facts, Recommendation};
use crate::store::StoreError;

pub(crate) use super::outcomes::describe_request;

impl Bot {
    /// Deploy memory for a service in an environment.
    #[allow(dead_code)]
    pub(super) async fn memory(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<(Facts, Option<Recommendation>), StoreError> {
        crate::command::reports::memory(&self.config, &self.store, service, environment).await
    }
}
