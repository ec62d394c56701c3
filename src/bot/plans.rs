//! Plans in the thread: "update all services in staging" / "update billionmail and redis in
//! staging" shows what is new and the order (`depends_on`), and asks; "yes", "yes but redis
//! first" or "redis first" (which asks again) settle the order; the plan then runs step by
//! step (approved once, when a step's policy needs it) and reports as one message edited as
//! it moves ([`plan_message`]), then a summary when it ends ([`closing`]).

use super::plan_question::{order_error, order_line, request_order_error, with_notes};
use super::{Bot, Out};
use crate::command::reports::{UpdatesQuery, UpdatesReport};
use crate::command::ServiceName;
use crate::command::{Command, EnvName, Plan, PlanSpec, Query, Report, RunCommand};
use crate::dialogue::{PendingPlan, Session};
use crate::governance::Actor;
use crate::nlu::{Parsed, Reply};
use crate::plan::{order, read_order, Dependencies, OrderWish};

/// The words an answer to the plan question may hold besides the plan's names: a yes and an
/// order ("yes but redis first", "ok, billionmail then redis").
const ANSWER_WORDS: [&str; 34] = [
    "yes",
    "yep",
    "yeah",
    "ok",
    "okay",
    "sure",
    "go",
    "y",
    "but",
    "and",
    "then",
    "first",
    "last",
    "before",
    "after",
    "start",
    "with",
    "finish",
    "in",
    "this",
    "that",
    "order",
    "please",
    "do",
    "the",
    "rest",
    "everything",
    "else",
    "others",
    "ahead",
    "goes",
    "deploy",
    "followed",
    "by",
];

/// `text` with the services' aliases ("bm") replaced by their names, so an order can name a
/// service the way people call it.
fn canonical_names(config: &crate::config::Config, text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == ',')
        .map(|piece| {
            let word = piece.trim_end_matches(|c: char| c.is_whitespace() || c == ',');
            let rest = &piece[word.len()..];
            match ServiceName::resolve(config, word) {
                Ok(n) if !word.is_empty() => format!("{n}{rest}"),
                _ => piece.to_string(),
            }
        })
        .collect()
}

/// Words that make a message a plan request with the verb before them.
const VERBS: [&str; 4] = ["update", "upgrade", "deploy", "promote"];

/// Whether `text` asks to update several services at once: "update all services [in E]",
/// "upgrade everything", "deploy everything to staging" (Some(true): every service), "update
/// billionmail and redis" (Some(false): the ones named).
pub(super) fn asks_for_plan(text: &str, parsed: &Parsed) -> Option<bool> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty() && *w != "deckhand" && *w != "please")
        .collect();
    let verb = words.first()?;
    if !VERBS.contains(verb) {
        return None;
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
    (all || several).then_some(all)
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

impl Bot {
    /// A plan request: what is new in the environment among the services asked for, in the
    /// order to deploy it, as a question.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plan_asked(
        &self,
        all: bool,
        text: &str,
        user: &str,
        parsed: &Parsed,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let config = &self.config;
        // What a plan cannot carry is named, never dropped.
        let slots = &parsed.slots;
        let mut cannot = Vec::new();
        if let Some(v) = &slots.version {
            cannot.push(format!("the version {v}"));
        }
        if slots.strategy.is_some() || slots.percent.is_some() {
            cannot.push("a strategy".to_string());
        }
        if let Some(w) = slots
            .when
            .as_ref()
            .map(|w| w.text.clone())
            .or(parsed.parts.time.clone())
        {
            cannot.push(format!("a time (\"{w}\")"));
        }
        // A promotion names its source as well as its target; any other environment is one
        // too many.
        let source_named = match &slots.promote_from {
            Some(crate::nlu::PromoteFrom::Environment(e)) => Some(e.as_str()),
            _ => None,
        };
        let others = parsed
            .parts
            .environments
            .iter()
            .filter(|e| Some(e.as_str()) != source_named)
            .count();
        if others > 1 {
            cannot.push(format!(
                "several environments ({})",
                parsed.parts.environments.join(", ")
            ));
        }
        if !parsed.invalid.is_empty() {
            return out.reply(
                session,
                format!("{} Nothing was deployed.", parsed.invalid.join(" ")),
            );
        }
        if !cannot.is_empty() {
            return out.reply(
                session,
                format!(
                    "A plan deploys each service's newest version now, with its environment's strategy (or the one deploy memory recommends, shown before you say yes); I can't apply {} to it. Nothing was deployed: ask for those deploys one at a time.",
                    cannot.join(" or ")
                ),
            );
        }
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
        let unknown = parsed.unknown.iter().find(|t| {
            !ANSWER_WORDS.contains(&t.text.as_str())
                && !matches!(
                    t.text.as_str(),
                    "except"
                        | "but"
                        | "not"
                        | "without"
                        | "all"
                        | "services"
                        | "service"
                        | "everything"
                )
        });
        if let Some(term) = unknown {
            let refusal = crate::command::Refusal::UnknownService {
                name: term.text.clone(),
                suggestions: config.service_names(),
            };
            return out.refuse(session, &refusal);
        }
        let resolve = |names: &[String]| -> Result<Vec<ServiceName>, crate::command::Refusal> {
            names
                .iter()
                .map(|s| ServiceName::resolve(config, s))
                .collect()
        };
        let (named, excluded) = match (resolve(&parsed.services), resolve(&parsed.parts.excluded)) {
            (Ok(n), Ok(x)) => (n, x),
            (Err(refusal), _) | (_, Err(refusal)) => return out.refuse(session, &refusal),
        };
        // With "all", names are the order or the exclusions ("…, redis first"), not a filter.
        let services: Vec<ServiceName> = if all {
            config
                .services
                .iter()
                .filter_map(|s| ServiceName::resolve(config, &s.name).ok())
                .collect()
        } else {
            named
        };
        let services: Vec<ServiceName> = services
            .into_iter()
            .filter(|s| !excluded.contains(s))
            .collect();
        let query = UpdatesQuery {
            services: Some(services),
            environment: Some(environment.clone()),
        };
        let report = match &slots.promote_from {
            Some(from) => {
                let Some(source) = (match from {
                    crate::nlu::PromoteFrom::Environment(e) => Some(e.clone()),
                    crate::nlu::PromoteFrom::Previous => {
                        super::promote::previous_environment(config, environment.as_str())
                    }
                }) else {
                    return out.reply(session, format!("{environment} is the first environment in the promotion order, so there is nothing to promote from; nothing was deployed."));
                };
                if source == environment.as_str() {
                    return out.reply(session, format!("Promoting from {source} to itself changes nothing; nothing was deployed."));
                }
                match self.promotion_report(query, &source).await {
                    Ok(r) => r,
                    Err(e) => return out.reply(session, super::fault("reading what runs", &e)),
                }
            }
            None => match self.commander.query(&Query::Updates(query)).await {
                Ok(Report::Updates(r)) => *r,
                Ok(_) => return,
                Err(e) => return out.reply(session, super::fault("listing the versions", &e)),
            },
        };
        let mut text = self.plan_question(&report, text, user, session);
        if let Some(from) = &slots.promote_from {
            let source = match from {
                crate::nlu::PromoteFrom::Environment(e) => e.clone(),
                crate::nlu::PromoteFrom::Previous => {
                    super::promote::previous_environment(config, environment.as_str())
                        .unwrap_or_default()
                }
            };
            text = text.replacen(
                &format!("Checking for updates in {environment}:"),
                &format!("Promoting what {source} runs to {environment}:"),
                1,
            );
        }
        // Refuse before asking "yes/no" for a plan that could not run anyway (this is when
        // the request counts towards the rate limit; the "yes" does not count again).
        if let Some(pending) = session.pending_plan.clone() {
            // Unpinned: the check is where deploy memory picks the strategies to show.
            let spec = match self.spec_of(&pending, false) {
                Some(s) => s,
                None => return,
            };
            match self.commander.check(&Command::Plan(spec), actor).await {
                Ok(Ok(Plan::Steps(notes))) if !notes.is_empty() => {
                    text = with_notes(&text, &notes);
                    if let Some(p) = session.pending_plan.as_mut() {
                        p.strategies = notes
                            .iter()
                            .map(|n| {
                                let r = &n.recommendation;
                                (n.service.clone(), r.strategy, r.percent)
                            })
                            .collect();
                    }
                }
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

    /// What a promotion would change: for each service, what `source` runs against what the
    /// target runs. Only a version newer than the target's is deployed (never a downgrade).
    async fn promotion_report(
        &self,
        query: UpdatesQuery,
        source: &str,
    ) -> Result<UpdatesReport, crate::store::StoreError> {
        let target = query
            .environment
            .clone()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let store = self.store();
        let from = store.live_versions(None, Some(source)).await?;
        let to = store.live_versions(None, Some(&target)).await?;
        let version = |list: &[crate::store::Deployment], service: &str| {
            list.iter()
                .find(|d| d.service == service)
                .and_then(|d| d.version.clone())
        };
        let entries = query
            .services
            .iter()
            .flatten()
            .map(|s| {
                let (newest, live) = (version(&from, s.as_str()), version(&to, s.as_str()));
                let update = newest
                    .as_deref()
                    .is_some_and(|n| crate::versions::is_newer(n, live.as_deref()));
                crate::command::reports::UpdateEntry {
                    service: s.to_string(),
                    environment: target.clone(),
                    problem: newest
                        .is_none()
                        .then(|| format!("nothing of it runs in {source}")),
                    live,
                    newest,
                    source: None,
                    update,
                }
            })
            .collect();
        Ok(UpdatesReport { query, entries })
    }

    /// The plan's steps as commands, with the strategies shown for them (None: a name the
    /// config no longer has); `pin`: the others get their environment's (what the "yes" runs).
    fn spec_of(&self, pending: &PendingPlan, pin: bool) -> Option<PlanSpec> {
        let mut runs = Vec::new();
        for (service, environment, version) in &pending.steps {
            let shown = pending.strategies.iter().find(|(s, _, _)| s == service);
            let environment = EnvName::resolve(&self.config, environment).ok()?;
            // What the question said is what runs: deploy memory's strategy where it was
            // shown, the environment's otherwise (a recommendation appearing later, say after
            // an earlier step failed elsewhere, does not change a step nobody was told about).
            let strategy = match shown {
                Some((_, strategy, _)) => Some(*strategy),
                None if pin => Some(
                    self.config
                        .environment(environment.as_str())?
                        .default_strategy,
                ),
                None => None,
            };
            runs.push(RunCommand {
                service: ServiceName::resolve(&self.config, service).ok()?,
                environment,
                version: Some(version.clone()),
                strategy,
                percent: shown.and_then(|(_, _, percent)| *percent),
            });
        }
        Some(PlanSpec {
            steps: runs,
            rollback_of: None,
        })
    }

    fn plan_question(
        &self,
        report: &UpdatesReport,
        asked: &str,
        user: &str,
        session: &mut Session,
    ) -> String {
        let mut text = super::updates::render_updates(report);
        let updates: Vec<_> = report.updates().collect();
        if updates.is_empty() {
            session.pending_plan = None;
            text.push_str("\nNothing to update; nothing was deployed.");
            return text;
        }
        let names: Vec<&str> = updates.iter().map(|e| e.service.as_str()).collect();
        // An order said in the request itself ("…, redis first") is read as in an answer.
        let wishes = match read_order(&canonical_names(&self.config, asked), &names) {
            Ok(w) => w,
            Err(e) => {
                session.pending_plan = None;
                return format!("{text}\n{}", request_order_error(&e, &names));
            }
        };
        let ordered = match order(&names, &dependencies(self), &wishes) {
            Ok(o) => o,
            Err(e) => {
                session.pending_plan = None;
                return format!("{text}\n{}", request_order_error(&e, &names));
            }
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
            rollback_of: None,
            strategies: Vec::new(),
            undo_to: Vec::new(),
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
        let text = canonical_names(&self.config, text);
        let words: Vec<String> = text
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        let first = words.first().cloned().unwrap_or_default();
        if parsed.reply == Some(Reply::No) || matches!(first.as_str(), "no" | "nope") {
            session.pending_plan = None;
            let what = match pending.rollback_of {
                Some(_) => "rolled back",
                None => "deployed",
            };
            out.reply(session, format!("OK, nothing was {what}."));
            return true;
        }
        let yes_word = matches!(
            first.as_str(),
            "yes" | "yep" | "yeah" | "ok" | "okay" | "sure" | "go" | "y"
        );
        if pending.rollback_of.is_some() {
            // Its order is the reverse of the plan's: only a plain yes or no answers it.
            let yes = parsed.reply == Some(Reply::Yes) || (yes_word && words.len() == 1);
            if !yes {
                if !yes_word && parsed.reply.is_none() {
                    return false;
                }
                out.reply(
                    session,
                    "I can take only yes or no here; nothing was rolled back.".into(),
                );
                return true;
            }
            session.pending_plan = None;
            let spec = super::plan_undo::undo_spec(&self.config, &pending);
            self.start_plan(spec, "rolled back", actor, session, out)
                .await;
            return true;
        }
        let wishes = match read_order(&text, &names) {
            Ok(w) => w,
            Err(e) => {
                out.reply(session, order_error(&e, &names));
                return true;
            }
        };
        // A yes is the whole message ("yes", "ok"), or a yes with an order and nothing else
        // ("yes but redis first"); anything more ("ok, let me check", "yes but not redis",
        // "sure, after lunch") is not taken as one.
        let clean = words
            .iter()
            .all(|w| ANSWER_WORDS.contains(&w.as_str()) || names.contains(&w.as_str()));
        let yes = parsed.reply == Some(Reply::Yes) || (yes_word && clean && !wishes.is_empty());
        let an_order = clean && order_words(&wishes);
        if !(yes || an_order) {
            if !yes_word && wishes.is_empty() {
                return false;
            }
            out.reply(
                session,
                format!(
                    "I can take only yes, no or an order of {} here; nothing was deployed. To change what the plan deploys, say \"no\" and ask again.",
                    names.join(", ")
                ),
            );
            return true;
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
        let spec = self.spec_of(&PendingPlan { steps, ..pending }, true);
        self.start_plan(spec, "deployed", actor, session, out).await;
        true
    }

    /// Starts a confirmed plan (or asks for its approval); `spec` None: a name the config no
    /// longer has, so nothing was `what` ("deployed", "rolled back").
    pub(super) async fn start_plan(
        &self,
        spec: Option<PlanSpec>,
        what: &str,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let Some(spec) = spec else {
            return out.reply(session, format!("The plan names a service or environment the config no longer has; nothing was {what}."));
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
pub(super) fn confirm(session: &mut Session, out: &Out, text: String) {
    session.record("deckhand", &text);
    out.sink.emit(crate::chat::BotEvent::Confirm {
        thread: out.thread.clone(),
        text,
        intent: crate::nlu::Intent::Deploy,
    });
}
