//! The one function that turns the dialogue's finished [`Request`] into a typed [`Command`]:
//! names are checked against the config, a lock's duration and reason come from its slots.

use crate::command::{
    Command, EnvName, LockSpec, LockTarget, LockWindow, Refusal, RunCommand, ScheduleSpec,
    ServiceName,
};
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
            let window = details.window.as_ref().map(|w| LockWindow {
                from: w.from,
                until: w.until,
            });
            let duration_text = match &details.window {
                Some(w) => Some(window_words(w.from, w.until, &w.tz)),
                None => details.duration_text,
            };
            Command::Lock(LockSpec {
                target,
                duration: details.duration,
                duration_text,
                reason: details.reason,
                window,
                rollbacks: window.map(|w| w.default_rollbacks(crate::clock::now_ms())),
            })
        }),
        Intent::Unlock => target(req, config).map(Command::Unlock),
        _ => return None,
    };
    // A time makes it a schedule of that command.
    let command = match (&req.when, req.intent) {
        (Some(w), Intent::Deploy | Intent::Rollback) => command.map(|c| {
            Command::Schedule(ScheduleSpec {
                command: Box::new(c),
                at: w.at,
                tz: w.tz.clone(),
            })
        }),
        _ => command,
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

/// "from Fri 4 Dec 2026 16:00 CET until Mon 7 Dec 2026 08:00 CET", or "until …" for a window
/// that starts when it is said.
fn window_words(from: i64, until: i64, tz: &str) -> String {
    use crate::timefmt::zoned;
    if from > crate::clock::now_ms() {
        format!("from {} until {}", zoned(from, tz), zoned(until, tz))
    } else {
        format!("until {}", zoned(until, tz))
    }
}
