//! The one function that turns the dialogue's finished [`Request`] into a typed [`Command`]:
//! names are checked against the config, a lock's duration and reason come from its slots.

use crate::command::{Command, EnvName, LockSpec, LockTarget, Refusal, RunCommand, ServiceName};
use crate::config::Config;
use crate::dialogue::Request;
use crate::nlu::Intent;

/// The command a finished request asks for; None for intents that are not commands (queries,
/// help, small talk).
pub fn resolve(req: &Request, config: &Config) -> Option<Result<Command, Refusal>> {
    let command = match req.intent {
        Intent::Deploy => run(req, config).map(Command::Deploy),
        Intent::Rollback => run(req, config).map(Command::Rollback),
        Intent::Lock => target(req, config).map(|target| {
            let details = req.lock.clone().unwrap_or_default();
            Command::Lock(LockSpec {
                target,
                duration: details.duration,
                duration_text: details.duration_text,
                reason: details.reason,
            })
        }),
        Intent::Unlock => target(req, config).map(Command::Unlock),
        _ => return None,
    };
    Some(command)
}

fn run(req: &Request, config: &Config) -> Result<RunCommand, Refusal> {
    let service = req
        .service
        .as_deref()
        .ok_or(Refusal::Incomplete { missing: "service" })?;
    let environment = req.environment.as_deref().ok_or(Refusal::Incomplete {
        missing: "environment",
    })?;
    Ok(RunCommand {
        service: ServiceName::resolve(config, service)?,
        environment: EnvName::resolve(config, environment)?,
        version: req.version.clone(),
        strategy: req.strategy,
        percent: req.percent,
    })
}

fn target(req: &Request, config: &Config) -> Result<LockTarget, Refusal> {
    let environment = req.environment.as_deref().ok_or(Refusal::Incomplete {
        missing: "environment",
    })?;
    Ok(LockTarget {
        environment: EnvName::resolve(config, environment)?,
        service: req
            .service
            .as_deref()
            .map(|s| ServiceName::resolve(config, s))
            .transpose()?,
    })
}
