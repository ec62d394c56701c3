//! Answers to questions (`status`, `history`, `explain`, `readiness`, `help`) as chat text:
//! the reports are built by [`crate::command::reports`], rendered here.

mod explain;
mod history;
mod phrases;
mod readiness;
mod status;

pub use explain::render_explanation;
pub use history::render_history;
pub use readiness::render_readiness;
pub use status::render_status;

use super::Bot;
use crate::command::reports::{ExplainQuery, HistoryQuery, ReadinessQuery, StatusQuery};
use crate::command::Query;
use crate::command::{EnvName, Refusal, ServiceName};
use crate::config::Config;
use crate::dialogue::{join_choices, Flows, Request};
use crate::store::StoreError;

/// Help generated from the flows (one registry), plus the words that work in any thread.
pub fn help(flows: &Flows, config: &Config) -> String {
    let mut lines = vec!["Here's what I can do:".to_string()];
    for f in flows.iter() {
        lines.push(format!("• {}: {}", f.usage, f.description));
    }
    lines.push(
        "• cancel: drop the request being discussed in this thread, or stop its running pipeline"
            .into(),
    );
    lines.push(
        "• yes / no: answer a confirmation; \"no, production\" corrects a detail instead".into(),
    );
    lines.push(format!("Services: {}.", config.service_names().join(", ")));
    lines.push(format!(
        "Environments: {}.",
        config.environment_names().join(", ")
    ));
    lines.join("\n")
}

/// The names a request mentions, checked against the config.
struct Names {
    service: Option<ServiceName>,
    environment: Option<EnvName>,
}

impl Bot {
    /// Resolves the request's service and environment. The dialogue only lets configured
    /// names through, so Err (the reply) means the config changed under the conversation.
    fn names(&self, req: &Request) -> Result<Names, String> {
        let service = req
            .service
            .as_deref()
            .map(|s| ServiceName::resolve(&self.config, s))
            .transpose()
            .map_err(|r| unknown_name(&r))?;
        let environment = req
            .environment
            .as_deref()
            .map(|e| EnvName::resolve(&self.config, e))
            .transpose()
            .map_err(|r| unknown_name(&r))?;
        Ok(Names {
            service,
            environment,
        })
    }

    /// "status [service] [environment]": what is live where and what is running.
    pub(super) async fn status(&self, req: &Request) -> Result<String, StoreError> {
        let n = match self.names(req) {
            Ok(n) => n,
            Err(reply) => return Ok(reply),
        };
        let q = StatusQuery {
            service: n.service,
            environment: n.environment,
        };
        self.ask(Query::Status(q)).await
    }

    /// "history [service] [environment]": the latest deployments, newest first.
    pub(super) async fn history(&self, req: &Request) -> Result<String, StoreError> {
        let n = match self.names(req) {
            Ok(n) => n,
            Err(reply) => return Ok(reply),
        };
        let q = HistoryQuery {
            service: n.service,
            environment: n.environment,
            ..HistoryQuery::default()
        };
        self.ask(Query::History(q)).await
    }

    /// "explain <service> [environment]": why its last failed run failed.
    pub(super) async fn explain(&self, req: &Request) -> Result<String, StoreError> {
        let n = match self.names(req) {
            Ok(n) => n,
            Err(reply) => return Ok(reply),
        };
        // The flow requires a service; without one there is nothing to explain.
        let Some(service) = n.service else {
            return Ok("Which service's last failure should I explain?".into());
        };
        let q = ExplainQuery {
            service,
            environment: n.environment,
        };
        self.ask(Query::Explain(q)).await
    }

    /// "is billionmail ready" / "can I deploy billionmail": the newest build, what runs where,
    /// locks that cover it, approval requests waiting, and deploy memory. Reads only; nothing
    /// is started.
    pub(super) async fn readiness(&self, req: &Request) -> Result<String, StoreError> {
        let n = match self.names(req) {
            Ok(n) => n,
            Err(reply) => return Ok(reply),
        };
        let Some(service) = n.service else {
            return Ok("Which service should I check? Say e.g. \"is billionmail ready\".".into());
        };
        let q = ReadinessQuery {
            service,
            environment: n.environment,
        };
        self.ask(Query::Readiness(q)).await
    }

    /// A question through the command layer, its report rendered at the chat edge.
    async fn ask(&self, q: Query) -> Result<String, StoreError> {
        let report = self.commander.query(&q).await?;
        Ok(super::outcomes::report_text(&report))
    }
}

/// The reply when a name in a request does not resolve.
fn unknown_name(r: &Refusal) -> String {
    match r {
        Refusal::UnknownService { name, suggestions } => format!(
            "I don't know the service `{name}`; did you mean {}?",
            join_choices(suggestions)
        ),
        Refusal::UnknownEnvironment { name, suggestions } => format!(
            "I don't know the environment `{name}`; did you mean {}?",
            join_choices(suggestions)
        ),
        other => format!("I can't answer that ({}).", other.kind().as_str()),
    }
}

#[cfg(test)]
mod tests;
