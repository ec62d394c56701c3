//! Answers to questions (`status`, `history`, `explain`, `help`), read from the store.

use super::{ago, utc, Bot};
use crate::config::Config;
use crate::dialogue::{Flows, Request};
use crate::store::{Action, Deployment, RunRecord, StoreError};

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

/// "3.1.0 (deployed by alice 2 min ago, run 4)", or for a release whose checks did not pass
/// "3.2.0-rc.1 is live (its verify failed; deployed by alice 2 min ago, run 5)".
fn live_line(d: &Deployment) -> String {
    let by = format!(
        "{} by {} {}, run {}",
        if d.action == Action::Rollback {
            "rolled back"
        } else {
            "deployed"
        },
        d.requested_by,
        ago(d.created_at),
        d.run_id
    );
    let version = d.version.as_deref().unwrap_or("unknown version");
    match d.live_note() {
        None => format!("{version} ({by})"),
        Some(note) => format!("{version} is live ({note}; {by})"),
    }
}

/// Whether a deployment row is the one that put a live release in place.
fn same_release(live: &Deployment, row: &Deployment) -> bool {
    live.run_id == row.run_id && live.action == row.action && live.version == row.version
}

impl Bot {
    /// After a failed run: what its target runs now, and how to return to the last good
    /// release when the run left a broken one live.
    async fn live_after(&self, run: &RunRecord) -> Result<String, StoreError> {
        let Some(live) = self
            .store
            .live_versions(Some(&run.service), Some(&run.environment))
            .await?
            .into_iter()
            .next()
        else {
            return Ok(format!(
                " Nothing Deckhand deployed is live in {}.",
                run.environment
            ));
        };
        let mut text = format!(" In {}, {}.", run.environment, live.live_phrase());
        if live.live_note().is_some() {
            if let Some(target) = self
                .store
                .rollback_target(&run.service, &run.environment)
                .await?
            {
                text.push_str(&format!(
                    " Say \"rollback {} in {}\" to return to {target}.",
                    run.service, run.environment
                ));
            }
        }
        Ok(text)
    }

    pub(super) async fn status(&self, req: &Request) -> Result<String, StoreError> {
        let live = self
            .store
            .live_versions(req.service.as_deref(), req.environment.as_deref())
            .await?;
        let running = self.store.running_runs().await?;
        let envs: Vec<String> = match &req.environment {
            Some(e) => vec![e.clone()],
            None => self.config.environment_names(),
        };
        let services: Vec<String> = match &req.service {
            Some(s) => vec![s.clone()],
            None => {
                let mut names: Vec<String> = self
                    .config
                    .service_names()
                    .into_iter()
                    .filter(|s| live.iter().any(|d| &d.service == s))
                    .collect();
                for r in &running {
                    if !names.contains(&r.service) {
                        names.push(r.service.clone());
                    }
                }
                names
            }
        };
        let mut lines = Vec::new();
        let any_lock = !self
            .store
            .active_locks(None, crate::clock::now_ms())
            .await?
            .is_empty();
        if services.is_empty() && !any_lock {
            lines.push("Nothing has been deployed through Deckhand yet. Try \"deploy billionmail to staging\".".to_string());
        }
        // Deploy history is read once per environment, not once per service and environment.
        let mut outcomes = std::collections::HashMap::new();
        if !services.is_empty() {
            for env in &envs {
                outcomes.insert(
                    env.clone(),
                    self.store
                        .deploy_outcomes(env, super::governed::MEMORY_HISTORY)
                        .await?,
                );
            }
        }
        for service in &services {
            lines.push(format!("{service}:"));
            for env in &envs {
                let current = live
                    .iter()
                    .find(|d| &d.service == service && &d.environment == env);
                let mut line = match current {
                    Some(d) => format!("  {env}: {}", live_line(d)),
                    None => format!("  {env}: not deployed"),
                };
                // The attempt that left the live release in place is told above; the one
                // after it (or an automatic rollback of the same run) is not.
                let last = self
                    .store
                    .history(Some(service), Some(env), 3)
                    .await?
                    .into_iter()
                    .find(|d| !current.is_some_and(|c| same_release(c, d)));
                if let Some(last) = last {
                    if last.status != "succeeded" && current.is_none_or(|c| last.run_id >= c.run_id)
                    {
                        line.push_str(&format!(
                            "; last attempt: {} {} {} {}",
                            last.action.as_str(),
                            last.version.as_deref().unwrap_or("(no version)"),
                            last.status,
                            ago(last.created_at)
                        ));
                    }
                }
                if let Some(r) = running
                    .iter()
                    .find(|r| &r.service == service && &r.environment == env)
                {
                    line.push_str(&format!(
                        "; ⏳ run {} is {} {} now (by {}, started {})",
                        r.id,
                        if r.action == crate::store::Action::Rollback {
                            "rolling back"
                        } else {
                            "deploying"
                        },
                        r.version.as_deref().unwrap_or("the latest build"),
                        r.requested_by,
                        ago(r.started_at)
                    ));
                }
                lines.push(line);
                let history = outcomes.get(env).map(Vec::as_slice).unwrap_or_default();
                if let Some(summary) =
                    crate::memory::facts(history, service, env, &self.config.memory)
                        .summary(crate::clock::now_ms())
                {
                    lines.push(format!("    ⚠ {summary}"));
                }
            }
        }
        let locks = self
            .store
            .active_locks(req.environment.as_deref(), crate::clock::now_ms())
            .await?;
        for l in locks
            .iter()
            .filter(|l| req.service.is_none() || l.service.is_none() || l.service == req.service)
        {
            lines.push(format!("🔒 {}", crate::governance::describe_lock(l)));
        }
        Ok(lines.join("\n"))
    }

    pub(super) async fn history(&self, req: &Request) -> Result<String, StoreError> {
        let rows = self
            .store
            .history(req.service.as_deref(), req.environment.as_deref(), 10)
            .await?;
        let scope = match (&req.service, &req.environment) {
            (Some(s), Some(e)) => format!(" of {s} in {e}"),
            (Some(s), None) => format!(" of {s}"),
            (None, Some(e)) => format!(" in {e}"),
            (None, None) => String::new(),
        };
        if rows.is_empty() {
            return Ok(format!("No deployments{scope} on record yet."));
        }
        let live = self
            .store
            .live_versions(req.service.as_deref(), req.environment.as_deref())
            .await?;
        let mut lines = vec![format!("Recent deployments{scope}, newest first:")];
        for d in rows {
            let now = live
                .iter()
                .find(|l| same_release(l, &d))
                .map(|l| format!("  ← {}", l.live_phrase()))
                .unwrap_or_default();
            lines.push(format!(
                "• {}  {} {} → {}  {} {}{}  ({}, run {}){now}",
                utc(d.created_at),
                d.service,
                d.version.as_deref().unwrap_or("(no version)"),
                d.environment,
                d.action.as_str(),
                d.status,
                match (d.status.as_str(), d.failed_stage.as_deref()) {
                    ("failed", Some(s)) => format!(" at {s}"),
                    ("cancelled", Some(s)) => format!(" during {s}"),
                    _ => String::new(),
                },
                d.requested_by,
                d.run_id
            ));
        }
        Ok(lines.join("\n"))
    }

    pub(super) async fn explain(&self, req: &Request) -> Result<String, StoreError> {
        let service = req.service.clone().unwrap_or_default();
        let scope = req
            .environment
            .as_ref()
            .map(|e| format!(" in {e}"))
            .unwrap_or_default();
        let Some((run, stages)) = self
            .store
            .last_failed_run(&service, req.environment.as_deref())
            .await?
        else {
            return Ok(format!("No failed runs of {service}{scope} on record."));
        };
        let what = format!(
            "Run {} ({}, asked by {} {})",
            run.id,
            run.describe(),
            run.requested_by,
            ago(run.started_at)
        );
        let failed = stages
            .iter()
            .filter(|s| s.phase == crate::pipeline::Phase::Main)
            .find(|s| s.status != crate::pipeline::StageState::Succeeded);
        let mut text = match (&failed, run.status) {
            (_, crate::chat::RunStatus::Interrupted) => {
                format!("{what} was interrupted: Deckhand stopped while it was running.")
            }
            (Some(s), _) => format!(
                "{what} failed at {}{}.",
                s.name,
                match (s.status.as_str(), s.exit_code) {
                    ("timed_out", _) => " (timed out)".to_string(),
                    (_, Some(code)) => format!(" (exit {code})"),
                    _ => String::new(),
                }
            ),
            (None, _) => format!(
                "{what} failed: {}.",
                run.error
                    .as_deref()
                    .unwrap_or("no stage result was recorded")
            ),
        };
        if run.rolled_back {
            text.push_str(" It was rolled back automatically.");
        }
        text.push_str(&self.live_after(&run).await?);
        if let Some(summary) = self
            .memory(&run.service, &run.environment)
            .await?
            .0
            .summary(crate::clock::now_ms())
        {
            text.push_str(&format!("\nDeploy memory: {summary}."));
        }
        if let Some(s) = failed {
            if !s.log_tail.is_empty() {
                text.push_str(&format!(
                    "\nLast lines of {}:\n```\n{}\n```",
                    s.name, s.log_tail
                ));
            }
        }
        Ok(text)
    }
}

impl Bot {
    /// "is billionmail ready" / "can I deploy billionmail": the newest build, what runs where,
    /// locks that cover it, approval requests waiting, and deploy memory. Reads only; nothing
    /// is started.
    pub(super) async fn readiness(&self, req: &Request) -> Result<String, StoreError> {
        let Some(service) = req.service.clone() else {
            return Ok("Which service should I check? Say e.g. \"is billionmail ready\".".into());
        };
        let now = crate::clock::now_ms();
        let envs: Vec<String> = match &req.environment {
            Some(e) => vec![e.clone()],
            None => self.config.environment_names(),
        };
        let scope = req
            .environment
            .as_ref()
            .map(|e| format!(" for {e}"))
            .unwrap_or_default();
        let mut lines = vec![format!(
            "Readiness of {service}{scope} (I only looked; nothing was started):"
        )];
        lines.push(self.build_line(&service).await?);
        lines.push("• Runs where:".into());
        let live = self.store.live_versions(Some(&service), None).await?;
        let running = self.store.running_runs().await?;
        for env in self.config.environment_names() {
            let mut line = match live.iter().find(|d| d.environment == env) {
                Some(d) => format!("  {env}: {}", live_line(d)),
                None => format!("  {env}: not deployed"),
            };
            if let Some(r) = running
                .iter()
                .find(|r| r.service == service && r.environment == env)
            {
                line.push_str(&format!(
                    "; ⏳ run {} is {} {} now (by {})",
                    r.id,
                    if r.action == Action::Rollback {
                        "rolling back"
                    } else {
                        "deploying"
                    },
                    r.version.as_deref().unwrap_or("the latest build"),
                    r.requested_by
                ));
            }
            lines.push(line);
        }
        let locks: Vec<String> = self
            .store
            .active_locks(req.environment.as_deref(), now)
            .await?
            .iter()
            .filter(|l| l.service.is_none() || l.service.as_deref() == Some(service.as_str()))
            .map(|l| format!("  🔒 {}", crate::governance::describe_lock(l)))
            .collect();
        if locks.is_empty() {
            lines.push(format!("• Locks: none cover {service}{scope}."));
        } else {
            lines.push("• Locks:".into());
            lines.extend(locks);
        }
        lines.extend(
            self.approval_lines(&service, req.environment.as_deref(), now)
                .await?,
        );
        for env in &envs {
            if let Some(summary) = self.memory(&service, env).await?.0.summary(now) {
                lines.push(format!("• ⚠ Deploy memory ({env}): {summary}."));
            }
        }
        Ok(lines.join("\n"))
    }

    /// "• Newest build: 2.4.0 (run 5, for staging by alice 3 min ago): passed every stage."
    async fn build_line(&self, service: &str) -> Result<String, StoreError> {
        let Some(newest) = self.store.newest_build(service).await? else {
            return Ok(format!("• Newest build: none on record; no deploy of {service} has run through Deckhand yet."));
        };
        let r = &newest.run;
        let outcome = match (r.status, &newest.failed_stage) {
            (crate::chat::RunStatus::Running, _) => "in progress".to_string(),
            (crate::chat::RunStatus::Succeeded, _) => "passed every stage".to_string(),
            (status, Some(stage)) => format!("{} at {stage}", status.as_str()),
            (status, None) => status.as_str().to_string(),
        };
        let mut line = format!(
            "• Newest build: {} (run {}, for {} by {} {}): {outcome}.",
            r.version.as_deref().unwrap_or("no version reported"),
            r.id,
            r.environment,
            r.requested_by,
            ago(r.started_at)
        );
        // When the newest attempt built nothing usable, the last one that did matters.
        let built = r.version.is_some()
            && newest.failed_stage.as_deref() != self.first_stage(service).as_deref();
        if !built {
            if let Some(good) = self.store.newest_good_build(service).await? {
                if good.id != r.id {
                    line.push_str(&format!(
                        " Last good build: {} (run {}, {}).",
                        good.version.as_deref().unwrap_or_default(),
                        good.id,
                        ago(good.started_at)
                    ));
                }
            }
        }
        Ok(line)
    }

    /// The first stage of a service's pipeline (its build).
    fn first_stage(&self, service: &str) -> Option<String> {
        let pipeline = self.config.service(service)?.pipeline.clone();
        Some(
            self.config
                .pipelines
                .get(&pipeline)?
                .stages
                .first()?
                .name
                .clone(),
        )
    }

    /// "• Approvals waiting: none." or one line per pending request.
    async fn approval_lines(
        &self,
        service: &str,
        environment: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let pending = self
            .store
            .pending_approvals(service, environment, now)
            .await?;
        if pending.is_empty() {
            return Ok(vec!["• Approvals waiting: none.".into()]);
        }
        let mut lines = vec!["• Approvals waiting:".to_string()];
        for a in pending {
            let approvals = self
                .store
                .decisions(a.id)
                .await?
                .iter()
                .filter(|d| d.decision == "approve")
                .count();
            lines.push(format!(
                "  ⏳ request {}: {} (asked by {} {}; {approvals} of {} approval{}; expires {})",
                a.id,
                super::governed::describe_request(
                    a.action,
                    &a.service,
                    &a.environment,
                    a.version.as_deref(),
                    &a.strategy,
                    a.percent
                ),
                a.requested_by,
                ago(a.created_at),
                a.required,
                if a.required == 1 { "" } else { "s" },
                utc(a.expires_at)
            ));
        }
        Ok(lines)
    }
}
