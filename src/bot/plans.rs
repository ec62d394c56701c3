//! Plans in the thread: "update all services in staging" / "update billionmail and redis in
//! staging" shows what is new and the order (`depends_on`), and asks; "yes", "yes but redis
//! first" or "redis first" (which asks again) settle the order; the plan then runs step by
//! step, each run reporting itself, and the thread gets the summary when it ends.

use super::{Bot, Out};
use crate::command::reports::{UpdatesQuery, UpdatesReport};
use crate::command::ServiceName;
use crate::command::{Command, EnvName, PlanSpec, PlanStarted, Query, Report, RunCommand};
use crate::dialogue::{PendingPlan, Session};
use crate::governance::Actor;
use crate::nlu::{Parsed, Reply};
use crate::plan::{order, read_order, Dependencies, OrderError, OrderWish};
use crate::store::{PlanRecord, StepStatus};

/// Words that make a message a plan request with the verb before them.
const VERBS: [&str; 3] = ["update", "upgrade", "deploy"];

/// Whether `text` asks to update several services at once: "update all services [in E]",
/// "upgrade everything", "deploy everything to staging", "update billionmail and redis".
pub(super) fn asks_for_plan(text: &str, parsed: &Parsed) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty() && *w != "deckhand" && *w != "please")
        .collect();
    let Some(verb) = words.first() else {
        return false;
    };
    if !VERBS.contains(verb) {
        return false;
    }
    let all = words.windows(2).any(|w| {
        matches!(
            (w[0], w[1]),
            ("all", "services") | ("all", "the") | ("every", "service")
        )
    }) || words.contains(&"everything")
        || (words.len() <= 4 && words.get(1) == Some(&"all"));
    // "update billionmail and redis" (several names); "deploy a and b" stays the single
    // deploy's "one at a time" answer, which names what it cannot do.
    let several = *verb != "deploy" && parsed.services.len() > 1;
    all || several
}

fn dependencies(bot: &Bot) -> Dependencies {
    Dependencies::new(
        bot.config
            .services
            .iter()
            .map(|s| (s.name.clone(), s.depends_on.clone())),
    )
}

fn order_words(wishes: &[OrderWish]) -> bool {
    !wishes.is_empty()
}

fn order_error(e: &OrderError, names: &[&str]) -> String {
    match e {
        OrderError::NotInPlan(n) => format!(
            "`{n}` is not in this plan ({}); nothing was changed. Say \"yes\", or an order of those, e.g. \"yes but {} first\".",
            names.join(", "),
            names.last().copied().unwrap_or_default()
        ),
        OrderError::Contradiction(loop_) => format!(
            "That order contradicts itself or what the services need ({}); nothing was changed. Say the order again.",
            loop_.join(" → ")
        ),
        OrderError::Cycle(c) => format!(
            "The services' depends_on has a cycle ({}); fix the config. Nothing was deployed.",
            c.join(" → ")
        ),
    }
}

/// "Update in this order: 1. redis 7.2.5, 2. billionmail 2.4.0?"
fn order_line(steps: &[(String, String, String)]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, (s, _, v))| format!("{}. {s} {v}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary posted when a plan ends.
pub(super) fn summary(p: &PlanRecord) -> String {
    let lines: Vec<String> = p
        .steps
        .iter()
        .map(|s| {
            let run = s.run_id.map(|r| format!(" (run {r})")).unwrap_or_default();
            let (mark, word) = match s.status {
                StepStatus::Succeeded => ("✓", String::new()),
                StepStatus::Failed => ("✗", format!(" failed: {}", s.detail)),
                StepStatus::Refused => ("⛔", format!(" refused: {}", s.detail)),
                StepStatus::Skipped => ("–", " skipped".to_string()),
                StepStatus::Pending | StepStatus::Running => ("?", " did not finish".to_string()),
            };
            format!("{}. {} {mark}{word}{run}", s.position, s.service)
        })
        .collect();
    let head = match p.status {
        crate::store::PlanStatus::Succeeded => format!("✅ Plan #{} done", p.id),
        _ => format!("Plan #{} stopped", p.id),
    };
    format!("{head}: {}", lines.join(" · "))
}

/// "▶ plan #1 by alice (running): 1. redis ✓ · 2. billionmail ⏳ · 3. wix-backend …", for
/// `status` and `history`.
pub(crate) fn plan_line(p: &PlanRecord) -> String {
    let steps: Vec<String> = p
        .steps
        .iter()
        .map(|s| {
            let mark = match s.status {
                StepStatus::Succeeded => "✓",
                StepStatus::Running => "⏳",
                StepStatus::Pending => "…",
                StepStatus::Failed => "✗",
                StepStatus::Refused => "⛔",
                StepStatus::Skipped => "–",
            };
            format!("{}. {} {mark}", s.position, s.service)
        })
        .collect();
    let when = match p.finished_at {
        Some(at) => format!(", {}", crate::timefmt::ago(at)),
        None => String::new(),
    };
    format!(
        "▶ plan #{} by {} ({}{when}): {}",
        p.id,
        p.requested_by,
        p.status.as_str(),
        steps.join(" · ")
    )
}

/// The reply to a plan that started.
pub(super) fn started(p: &PlanStarted) -> String {
    let steps: Vec<String> = p
        .plan
        .steps
        .iter()
        .map(|s| format!("{}. {}", s.position, s.service))
        .collect();
    format!(
        "Deploying in order (plan #{}): {}. Each step is checked when it starts, and one that does not succeed stops the rest. Say \"cancel\" to stop the running step and the plan.",
        p.plan.id,
        steps.join(" ")
    )
}

impl Bot {
    /// A plan request: what is new in the environment among the services asked for, in the
    /// order to deploy it, as a question.
    pub(super) async fn plan_asked(
        &self,
        user: &str,
        parsed: &Parsed,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let config = &self.config;
        let Some(env) = parsed.slots.environment.as_deref() else {
            return out.reply(
                session,
                "Which environment? Say for example \"update all services in staging\"; nothing was deployed.".into(),
            );
        };
        let environment = match EnvName::resolve(config, env) {
            Ok(e) => e,
            Err(refusal) => return out.refuse(session, &refusal),
        };
        if let Some(term) = parsed.unknown.first() {
            let refusal = crate::command::Refusal::UnknownService {
                name: term.text.clone(),
                suggestions: config.service_names(),
            };
            return out.refuse(session, &refusal);
        }
        let mut named = Vec::new();
        for s in &parsed.services {
            match ServiceName::resolve(config, s) {
                Ok(n) => named.push(n),
                Err(refusal) => return out.refuse(session, &refusal),
            }
        }
        let query = UpdatesQuery {
            services: (!named.is_empty()).then_some(named),
            environment: Some(environment.clone()),
        };
        let report = match self.commander.query(&Query::Updates(query)).await {
            Ok(Report::Updates(r)) => r,
            Ok(_) => return,
            Err(e) => return out.reply(session, super::fault("listing the versions", &e)),
        };
        let text = self.plan_question(&report, user, session);
        // Refuse before asking "yes/no" for a plan that could not run anyway (this is when
        // the request counts towards the rate limit; the "yes" does not count again).
        if let Some(pending) = session.pending_plan.clone() {
            let spec = match self.spec_of(&pending.steps) {
                Some(s) => s,
                None => return,
            };
            match self.commander.check(&Command::Plan(spec), actor).await {
                Ok(Ok(_)) => {}
                Ok(Err(refusal)) => {
                    session.pending_plan = None;
                    out.reply(
                        session,
                        text.lines()
                            .take_while(|l| !l.starts_with("Update in this order"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                    return out.refuse(session, &refusal);
                }
                Err(e) => {
                    session.pending_plan = None;
                    return out.reply(session, super::fault("checking the plan", &e));
                }
            }
            return confirm(session, out, text);
        }
        out.reply(session, text);
    }

    /// The plan's steps as commands (None: a name the config no longer has).
    fn spec_of(&self, steps: &[(String, String, String)]) -> Option<PlanSpec> {
        let mut runs = Vec::new();
        for (service, environment, version) in steps {
            runs.push(RunCommand {
                service: ServiceName::resolve(&self.config, service).ok()?,
                environment: EnvName::resolve(&self.config, environment).ok()?,
                version: Some(version.clone()),
                strategy: None,
                percent: None,
            });
        }
        Some(PlanSpec { steps: runs })
    }

    fn plan_question(&self, report: &UpdatesReport, user: &str, session: &mut Session) -> String {
        let mut text = super::updates::render_updates(report);
        let updates: Vec<_> = report.updates().collect();
        if updates.is_empty() {
            session.pending_plan = None;
            text.push_str("\nNothing to update; nothing was deployed.");
            return text;
        }
        let names: Vec<&str> = updates.iter().map(|e| e.service.as_str()).collect();
        let ordered = match order(&names, &dependencies(self), &[]) {
            Ok(o) => o,
            Err(e) => return order_error(&e, &names),
        };
        let steps: Vec<(String, String, String)> = ordered
            .iter()
            .filter_map(|n| updates.iter().find(|e| &e.service == n))
            .map(|e| {
                (
                    e.service.clone(),
                    e.environment.clone(),
                    e.newest.clone().unwrap_or_default(),
                )
            })
            .collect();
        // Drop the "deploy X" hint of the report: the question replaces it.
        if let Some(i) = text.find("\nSay \"deploy") {
            text.truncate(i);
        }
        text.push_str(&format!(
            "\nUpdate in this order: {}? [yes/no] (or say an order, e.g. \"yes but {} first\")",
            order_line(&steps),
            steps.last().map(|s| s.0.as_str()).unwrap_or_default()
        ));
        session.pending_plan = Some(PendingPlan {
            requested_by: user.to_string(),
            steps,
        });
        text
    }

    /// The answer to a plan's question: true when the message was taken as one.
    pub(super) async fn plan_answer(
        &self,
        text: &str,
        user: &str,
        parsed: &Parsed,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) -> bool {
        let Some(pending) = session.pending_plan.clone() else {
            return false;
        };
        if pending.requested_by != user {
            return false;
        }
        let names: Vec<&str> = pending.steps.iter().map(|s| s.0.as_str()).collect();
        let first = text
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty())
            .map(str::to_string)
            .unwrap_or_default();
        let yes = parsed.reply == Some(Reply::Yes)
            || matches!(
                first.as_str(),
                "yes" | "yep" | "yeah" | "ok" | "okay" | "sure" | "go"
            );
        if parsed.reply == Some(Reply::No) || matches!(first.as_str(), "no" | "nope") {
            session.pending_plan = None;
            out.reply(session, "OK, nothing was deployed.".into());
            return true;
        }
        let wishes = match read_order(text, &names) {
            Ok(w) => w,
            Err(e) => {
                out.reply(session, order_error(&e, &names));
                return true;
            }
        };
        if !yes && !order_words(&wishes) {
            return false;
        }
        let ordered = match order(&names, &dependencies(self), &wishes) {
            Ok(o) => o,
            Err(e) => {
                out.reply(session, order_error(&e, &names));
                return true;
            }
        };
        let steps: Vec<(String, String, String)> = ordered
            .iter()
            .filter_map(|n| pending.steps.iter().find(|s| &s.0 == n).cloned())
            .collect();
        if !yes {
            // An order without a yes: asked again in that order.
            let text = format!("Update in this order: {}? [yes/no]", order_line(&steps));
            session.pending_plan = Some(PendingPlan { steps, ..pending });
            confirm(session, out, text);
            return true;
        }
        session.pending_plan = None;
        self.start_plan(&steps, actor, session, out).await;
        true
    }

    async fn start_plan(
        &self,
        steps: &[(String, String, String)],
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let Some(spec) = self.spec_of(steps) else {
            return out.reply(session, "The plan names a service or environment the config no longer has; nothing was deployed.".into());
        };
        let origin = crate::origin::Origin::Thread(out.thread.clone());
        match self
            .commander
            .apply_confirmed(Command::Plan(spec), actor, &origin, out.progress())
            .await
        {
            Ok(outcome) => super::outcomes::show(&outcome, session, out),
            Err(e) => out.reply(session, super::fault("starting the plan", &e)),
        }
    }
}

/// A yes/no question (with Confirm/Cancel buttons where the platform has them).
fn confirm(session: &mut Session, out: &Out, text: String) {
    session.record("deckhand", &text);
    out.sink.emit(crate::chat::BotEvent::Confirm {
        thread: out.thread.clone(),
        text,
        intent: crate::nlu::Intent::Deploy,
    });
}

/// Posts the plan's summary in the thread once it ends.
pub(super) fn report_when_done(p: &PlanStarted, out: &Out) {
    let (sink, thread) = (out.sink.clone(), out.thread.clone());
    let p = p.clone();
    tokio::spawn(async move {
        if let Some(done) = p.finished().await {
            sink.emit(crate::chat::BotEvent::Reply {
                thread,
                text: summary(&done),
                intent: None,
                refusal: None,
            });
        }
    });
}
