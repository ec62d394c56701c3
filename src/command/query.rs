//! The read-only commands: they need no permission (everyone who may talk to Deckhand may
//! ask what runs where), count towards no rate limit and change nothing, so they are not
//! audited; each answers with a typed report.

use super::reports::{
    self, ContextQuery, ExplainQuery, HistoryQuery, ReadinessQuery, StatusQuery, UpdatesQuery,
};
use super::{Commander, Report};
use crate::store::StoreError;

/// A question about what runs where.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// What is live where, what is running, locks.
    Status(StatusQuery),
    /// The latest deployments.
    History(HistoryQuery),
    /// Why the last failed run failed.
    Explain(ExplainQuery),
    /// Deploy memory for one target: failure rate, failing stages, recommended strategy.
    Context(ContextQuery),
    /// Whether a service is ready to go out: newest build, targets, locks, approvals waiting.
    Readiness(ReadinessQuery),
    /// The schedules waiting (or all of them).
    Schedules(super::SchedulesQuery),
    /// What newer versions could go out where ("what's new").
    Updates(UpdatesQuery),
}

impl Commander {
    /// Answers a question with its report.
    pub async fn query(&self, q: &Query) -> Result<Report, StoreError> {
        let (config, store) = (&self.config, &self.store);
        Ok(match q {
            Query::Status(q) => Report::Status(Box::new(reports::status(config, store, q).await?)),
            Query::History(q) => Report::History(Box::new(reports::history(store, q).await?)),
            Query::Explain(q) => {
                Report::Explanation(Box::new(reports::explain(config, store, q).await?))
            }
            Query::Context(q) => {
                Report::Context(Box::new(reports::context(config, store, q).await?))
            }
            Query::Readiness(q) => {
                Report::Readiness(Box::new(reports::readiness(config, store, q).await?))
            }
            Query::Schedules(q) => self.schedules(q).await?,
            Query::Updates(q) => {
                Report::Updates(Box::new(reports::updates(config, store, q).await?))
            }
        })
    }
}
