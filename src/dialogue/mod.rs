//! Dialogue manager: slot filling across turns, corrections, confirmation and cancel.
//!
//! `Dialogue::step` is pure with respect to the outside world: it reads the parsed message and
//! the thread's session and says what should happen next; the bot performs it.

mod flow;
mod session;

pub use flow::{join_choices, render, Flow, FlowError, Flows};
pub use session::{Awaiting, Pending, PendingPlan, Session, SessionStore, StopAsked, Turn};

use crate::config::{Config, Strategy};
use crate::nlu::{Intent, LockDetails, Nlu, Parsed, PromoteFrom, Reply, SlotKind, Slots};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A complete request, with canonical values.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// What to do.
    pub intent: Intent,
    /// Service name.
    pub service: Option<String>,
    /// Environment name.
    pub environment: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Explicit strategy (a percent alone implies canary).
    pub strategy: Option<Strategy>,
    /// Canary percent.
    pub percent: Option<u8>,
    /// A lock's duration and reason.
    pub lock: Option<LockDetails>,
    /// "promote": deploy the version another environment runs.
    pub promote_from: Option<PromoteFrom>,
    /// When it runs (None: now); a request with a time is stored as a schedule.
    pub when: Option<crate::nlu::SaidTime>,
}

impl Request {
    fn from_slots(intent: Intent, s: &Slots) -> Request {
        let strategy = s.strategy.or(s.percent.map(|_| Strategy::Canary));
        Request {
            intent,
            service: s.service.clone(),
            environment: s.environment.clone(),
            version: s.version.clone(),
            strategy,
            percent: if strategy == Some(Strategy::Canary) {
                s.percent
            } else {
                None
            },
            lock: s.lock.clone(),
            promote_from: s.promote_from.clone(),
            when: s.when.clone(),
        }
    }
}

/// What the bot should do with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Ask for a missing slot.
    Ask {
        /// Intent being filled.
        intent: Intent,
        /// Slot asked for.
        slot: SlotKind,
        /// Prompt text.
        text: String,
        /// Valid answers.
        choices: Vec<String>,
    },
    /// Ask the user to confirm this request (the bot renders the text with store facts).
    Confirm(Request),
    /// The user confirmed: start it.
    Run(Request),
    /// Answer a question from the store.
    Query(Request),
    /// Say something; nothing else happens.
    Reply(String),
    /// "cancel" with nothing pending: ask whether to stop the runs of this thread, or the
    /// run named ("stop run 12", from any thread).
    CancelRuns(Option<i64>),
    /// The user confirmed stopping these runs and plans.
    StopRuns(StopAsked),
    /// Show help: everything, or one command's.
    Help(Option<Intent>),
}

/// The answer to anything at a yes/no question that is neither an explicit yes or no nor a
/// correction: nothing happens until the user says which.
pub const ANSWER_YES_OR_NO: &str = "Please answer yes or no (or say what to change).";

/// Applies flows to sessions.
pub struct Dialogue {
    flows: Flows,
    config: Arc<Config>,
}

/// "deploy billionmail 2.4.0 to staging": a request in words.
pub fn describe(intent: Intent, s: &Slots) -> String {
    let mut out = intent.as_str().to_string();
    if let Some(v) = &s.service {
        out.push(' ');
        out.push_str(v);
    }
    if let Some(v) = &s.version {
        out.push(' ');
        out.push_str(v);
    }
    if let Some(v) = &s.environment {
        out.push_str(match intent {
            Intent::Deploy => " to ",
            Intent::Lock | Intent::Unlock if s.service.is_none() => " ",
            _ => " in ",
        });
        out.push_str(v);
    }
    if let Some(w) = &s.when {
        out.push(' ');
        out.push_str(&w.text);
    }
    out
}

/// "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Copies the flow's slots present in `from` into `into`; true when anything changed.
fn merge(into: &mut Slots, from: &Slots, flow: &Flow) -> bool {
    let before = into.clone();
    if flow.uses(SlotKind::Service) && from.service.is_some() {
        into.service = from.service.clone();
    }
    if flow.uses(SlotKind::Environment) && from.environment.is_some() {
        into.environment = from.environment.clone();
    }
    if flow.uses(SlotKind::Version) && from.version.is_some() {
        into.version = from.version.clone();
    }
    if flow.uses(SlotKind::Strategy) && from.strategy.is_some() {
        into.strategy = from.strategy;
        if from.strategy != Some(Strategy::Canary) {
            into.percent = None;
        }
    }
    let intent = Intent::parse(&flow.intent);
    if let (Some(add), true) = (
        &from.lock,
        matches!(intent, Some(Intent::Lock | Intent::Unlock)),
    ) {
        // An answer adds to what the first message said; it never wipes it.
        let mut lock = into.lock.clone().unwrap_or_default();
        if add.duration.is_some() {
            lock.duration = add.duration;
            lock.duration_text = add.duration_text.clone();
            lock.window = None;
        }
        if add.window.is_some() {
            lock.window = add.window.clone();
            lock.duration = None;
            lock.duration_text = None;
        }
        if add.reason.is_some() {
            lock.reason = add.reason.clone();
        }
        into.lock = Some(lock);
    }
    if from.when.is_some() && matches!(intent, Some(Intent::Deploy | Intent::Rollback)) {
        // A time said in an answer ("no, at 19:00") replaces the first one.
        into.when = from.when.clone();
    }
    if from.promote_from.is_some() && intent == Some(Intent::Deploy) {
        into.promote_from = from.promote_from.clone();
    } else if from.version.is_some() && from.promote_from.is_none() {
        // A version named in a correction makes it a plain deploy of that version.
        into.promote_from = None;
    }
    if flow.uses(SlotKind::Percent) && from.percent.is_some() {
        into.percent = from.percent;
        if from.strategy.is_none() && flow.uses(SlotKind::Strategy) {
            // "no, 10%" after blue-green means a 10% canary.
            into.strategy = Some(Strategy::Canary);
        }
    }
    *into != before
}

impl Dialogue {
    /// A dialogue over these flows and config.
    pub fn new(flows: Flows, config: Arc<Config>) -> Dialogue {
        Dialogue { flows, config }
    }

    /// The flows.
    pub fn flows(&self) -> &Flows {
        &self.flows
    }

    fn choices(&self, kind: SlotKind) -> Vec<String> {
        match kind {
            SlotKind::Service => self.config.service_names(),
            SlotKind::Environment => self.config.environment_names(),
            SlotKind::Strategy => Strategy::ALL.iter().map(|s| s.as_str().into()).collect(),
            SlotKind::Version | SlotKind::Percent => Vec::new(),
        }
    }

    fn vars(&self, kind: SlotKind, slots: &Slots) -> BTreeMap<&'static str, String> {
        let mut vars = BTreeMap::new();
        vars.insert("choices", join_choices(&self.choices(kind)));
        for k in [SlotKind::Service, SlotKind::Environment, SlotKind::Version] {
            if let Some(v) = slots.get(k) {
                vars.insert(k.as_str(), v);
            }
        }
        vars
    }

    /// Decides what a message means for this thread, updating the session.
    pub fn step(&self, session: &mut Session, parsed: &Parsed, user: &str, nlu: &Nlu) -> Step {
        // "Stop run 3?" takes only an explicit yes or no; a new command drops the question,
        // anything else leaves it open.
        if let Some(ids) = session.take_stop_of(user) {
            match parsed.reply {
                Some(Reply::Yes) => return Step::StopRuns(ids),
                Some(Reply::No) if ids.plans.is_empty() => {
                    return Step::Reply("OK, the run keeps going.".into())
                }
                Some(Reply::No) => return Step::Reply("OK, the plan keeps going.".into()),
                _ if self.is_command(parsed) => {}
                _ => {
                    session.pending_stop.push(ids);
                    return Step::Reply(ANSWER_YES_OR_NO.into());
                }
            }
        }
        // A plan question is as much the thread's open question as a request is.
        let owner = session
            .pending
            .as_ref()
            .map(|p| p.requested_by.clone())
            .or_else(|| {
                session
                    .pending_plan
                    .as_ref()
                    .map(|p| p.requested_by.clone())
            });
        if let Some(owner) = owner {
            if owner != user {
                return self.someone_else(session, parsed, nlu, &owner);
            }
        }
        if parsed.intent == Intent::Cancel && !parsed.parts.run_refs.is_empty() {
            // "stop run 12" names its run; a request being filled in here stays open.
            return stop_step(parsed);
        }
        if parsed.intent == Intent::Cancel {
            return match session.pending.take() {
                Some(p) => Step::Reply(format!(
                    "OK, cancelled: {}. Nothing was run.",
                    describe(p.intent, &p.slots)
                )),
                None => Step::CancelRuns(parsed.parts.run_id),
            };
        }
        if let Some(text) = self.unhonoured(session, parsed) {
            return Step::Reply(text);
        }
        if !parsed.invalid.is_empty()
            && (session.pending.is_some() || self.flows.get(parsed.intent).is_some())
        {
            return Step::Reply(format!("{} Nothing was changed.", parsed.invalid.join(" ")));
        }
        if let Some(pending) = session.pending.take() {
            let flow = self.flows.get(parsed.intent);
            // A question is answered without dropping the request being filled in.
            if flow.is_some_and(|f| !f.action) && parsed.intent != pending.intent {
                session.pending = Some(pending);
                return self.aside(parsed, user, nlu);
            }
            let replaces = flow.is_some()
                && (parsed.intent != pending.intent
                    || (parsed.slots.service.is_some()
                        && parsed.slots.service != pending.slots.service));
            if !replaces {
                return self.continue_pending(session, pending, parsed, nlu);
            }
        }
        self.start(session, parsed, user, nlu)
    }

    /// A part of an action request that cannot be honoured (a time, several environments,
    /// services or versions, an exclusion in a lock): named in the reply, and nothing runs.
    /// A request already open in the thread is dropped with it, so a later "yes" cannot
    /// start what the reply said was not run.
    fn unhonoured(&self, session: &mut Session, parsed: &Parsed) -> Option<String> {
        let intent = match self.flows.get(parsed.intent) {
            Some(f) if f.action => parsed.intent,
            Some(_) => return None,
            None => session.pending.as_ref()?.intent,
        };
        let pending = session.pending.as_ref().filter(|p| p.intent == intent);
        let mut slots = pending.map(|p| p.slots.clone()).unwrap_or_default();
        if let Some(flow) = self.flows.get(intent) {
            merge(&mut slots, &parsed.slots, flow);
        }
        let problem = self.unhonoured_part(intent, &slots, parsed)?;
        let dropped = match session.pending.take() {
            Some(p) => format!(
                " I dropped the open request ({}); start it again the way you want it.",
                describe(p.intent, &p.slots)
            ),
            None => String::new(),
        };
        Some(format!("{problem}{dropped}"))
    }

    fn unhonoured_part(&self, intent: Intent, slots: &Slots, parsed: &Parsed) -> Option<String> {
        let now = describe(intent, slots);
        let verb = intent.as_str();
        let p = &parsed.parts;
        if let (Some(time), Intent::Lock | Intent::Unlock) = (&p.time, intent) {
            return Some(format!(
                "I can't read \"{time}\" as the start or end of a lock; nothing was changed. Say for example \"from Friday 16:00 to Monday 08:00\", \"until 18:00\" or \"for 2 hours\", or leave it out to lock until someone unlocks."
            ));
        }
        if let (Some(time), Intent::Deploy | Intent::Rollback) = (&p.time, intent) {
            let verb = if intent == Intent::Deploy {
                "deploy"
            } else {
                "roll back"
            };
            if !matches!(parsed.intent, Intent::Deploy | Intent::Rollback) {
                // An answer or a correction: the time belongs in the request itself, so that
                // the question asked again shows it before anything is stored.
                return Some(format!(
                    "A time given in an answer is not used (you said \"{time}\"); nothing was run or scheduled. Ask again with the time in the request, e.g. `{now} at 18:00`."
                ));
            }
            return Some(format!(
                "I can't read \"{time}\" as a time to {verb} at; nothing was run or scheduled. Say for example \"at 18:00\", \"tomorrow at 9\" or \"in 2 hours\", or `{now}` to {verb} now."
            ));
        }
        if let (Some(w), Some(_)) = (&slots.when, &slots.promote_from) {
            return Some(format!(
                "I can't schedule a promotion yet (you said \"{}\"): what the source environment runs may change before then. Nothing was run; name the version to deploy at that time, or promote now.",
                w.text
            ));
        }
        if matches!(intent, Intent::Lock | Intent::Unlock) && !p.excluded.is_empty() {
            return Some(format!(
                "I can {verb} a whole environment or one service in it, not everything except {}; nothing was changed. Name exactly what to {verb}, e.g. `{verb} billionmail in staging`.",
                join_and(&p.excluded)
            ));
        }
        if let (Some(many), Intent::Deploy | Intent::Rollback) = (&p.many, intent) {
            return Some(format!(
                "One {verb} at a time is supported for now, and \"{many}\" asks for several; nothing was run. Name one service and one environment, e.g. `{verb} billionmail to staging`."
            ));
        }
        let several = |what: &str, names: &[String], example: Slots| {
            format!(
                "One {verb} at a time is supported for now, and you named {} {what}: {}. Nothing was run; send one request per {}, e.g. `{}`.",
                names.len(),
                join_and(names),
                what.trim_end_matches('s'),
                describe(intent, &example)
            )
        };
        if p.environments.len() > 1 {
            let example = Slots {
                environment: p.environments.first().cloned(),
                ..slots.clone()
            };
            return Some(several("environments", &p.environments, example));
        }
        if parsed.services.len() > 1 {
            let example = Slots {
                service: parsed.services.first().cloned(),
                ..slots.clone()
            };
            return Some(several("services", &parsed.services, example));
        }
        if p.versions.len() > 1 && matches!(intent, Intent::Deploy | Intent::Rollback) {
            let example = Slots {
                version: p.versions.first().cloned(),
                ..slots.clone()
            };
            return Some(several("versions", &p.versions, example));
        }
        None
    }

    /// True when the message is a command of its own (a flow's intent, or help), not an
    /// attempt at answering a question.
    fn is_command(&self, parsed: &Parsed) -> bool {
        parsed.intent == Intent::Help || self.flows.get(parsed.intent).is_some()
    }

    /// Answers a question without touching the session's pending request.
    fn aside(&self, parsed: &Parsed, user: &str, nlu: &Nlu) -> Step {
        let mut scratch = Session::new(1);
        match self.start(&mut scratch, parsed, user, nlu) {
            Step::Ask { text, .. } => Step::Reply(format!(
                "{text} (Ask again with it included; your earlier request is still open.)"
            )),
            other => other,
        }
    }

    /// Someone other than the requester speaks while a request is open in the thread.
    fn someone_else(&self, session: &mut Session, parsed: &Parsed, nlu: &Nlu, owner: &str) -> Step {
        if self.flows.get(parsed.intent).is_some_and(|f| !f.action) {
            return self.aside(parsed, owner, nlu);
        }
        // Stopping what runs is governed by who may stop it, not by whose question is open:
        // the question stays, the stop is asked as usual.
        if parsed.intent == Intent::Cancel {
            return stop_step(parsed);
        }
        let p = session
            .pending
            .as_ref()
            .map(|p| describe(p.intent, &p.slots))
            .unwrap_or_else(|| "a plan".into());
        Step::Reply(format!(
            "This thread is waiting for {owner} to answer ({p}); only {owner} can confirm, change or cancel it. Start your own request in another thread."
        ))
    }

    fn start(&self, session: &mut Session, parsed: &Parsed, user: &str, nlu: &Nlu) -> Step {
        let Some(flow) = self.flows.get(parsed.intent) else {
            return match parsed.intent {
                Intent::Help => Step::Help(parsed.parts.help_topic),
                Intent::Affirm | Intent::Negate => {
                    Step::Reply("There's nothing waiting for a yes or no in this thread. Say \"help\" to see what I can do.".into())
                }
                Intent::Approve | Intent::Reject => Step::Reply("There is no approval request waiting in this thread.".into()),
                _ if !parsed.slots.is_empty() => Step::Reply(format!(
                    "I'm not sure what you'd like to do{}. Try \"deploy {} to {}\", \"status\" or \"help\".",
                    parsed.slots.service.as_deref().or(parsed.slots.environment.as_deref()).map(|v| format!(" with {v}")).unwrap_or_default(),
                    parsed.slots.service.as_deref().unwrap_or("billionmail"),
                    parsed.slots.environment.as_deref().unwrap_or("staging"),
                )),
                _ => Step::Reply("I didn't catch a command there. Say \"help\" to see what I can do.".into()),
            };
        };
        let mut pending = Pending {
            intent: parsed.intent,
            slots: Slots::default(),
            awaiting: Awaiting::Confirmation,
            requested_by: user.to_string(),
            suggestion: None,
            checked: false,
        };
        merge(&mut pending.slots, &parsed.slots, flow);
        // A name the config does not know, where a slot is still missing: say so, don't guess.
        let strict = flow.action || flow.required_slots().contains(&SlotKind::Service);
        for term in &parsed.unknown {
            let kind = if term.after_preposition
                && flow.uses(SlotKind::Environment)
                && pending.slots.environment.is_none()
            {
                SlotKind::Environment
            } else if flow.uses(SlotKind::Service) && pending.slots.service.is_none() {
                SlotKind::Service
            } else if flow.action {
                // A name-like word with no slot left for it: say so rather than drop it
                // ("deploy billionmail deadbeef to staging" is not the latest build).
                return Step::Reply(format!(
                    "I don't know what `{}` is here, so nothing was run. Say `{}` without it, or put a version as `2.4.1` / `v2.4.1`.",
                    term.text,
                    describe(pending.intent, &pending.slots)
                ));
            } else {
                continue;
            };
            let suggestion = nlu.suggest(&term.text, kind);
            let name_like =
                term.text.contains(['-', '_']) || term.text.chars().any(|c| c.is_ascii_digit());
            if strict || suggestion.is_some() || name_like {
                return self.invalid(session, pending, kind, &term.text, suggestion);
            }
        }
        self.advance(session, pending)
    }

    fn continue_pending(
        &self,
        session: &mut Session,
        mut pending: Pending,
        parsed: &Parsed,
        nlu: &Nlu,
    ) -> Step {
        let Some(flow) = self.flows.get(pending.intent) else {
            return Step::Reply("I lost track of that request; please ask again.".into());
        };
        // Slot values only count from something that reads like an answer: "no, production",
        // "staging please"; not "the staging env is broken again".
        let answer_like = matches!(parsed.intent, Intent::Negate | Intent::Affirm)
            || parsed.intent == pending.intent
            || parsed.other_words <= 1;
        if answer_like && merge(&mut pending.slots, &parsed.slots, flow) {
            pending.suggestion = None;
            return self.advance(session, pending);
        }
        match pending.awaiting {
            Awaiting::Confirmation => match parsed.reply {
                Some(Reply::Yes) => Step::Run(Request::from_slots(pending.intent, &pending.slots)),
                Some(Reply::No) => Step::Reply(format!(
                    "OK, I won't {}. Nothing was run.",
                    describe(pending.intent, &pending.slots)
                )),
                _ => {
                    session.pending = Some(pending);
                    Step::Reply(ANSWER_YES_OR_NO.into())
                }
            },
            Awaiting::Slot(kind) => {
                if parsed.reply == Some(Reply::Yes) {
                    if let Some(s) = pending.suggestion.take() {
                        let fill = Slots {
                            service: (kind == SlotKind::Service).then(|| s.clone()),
                            environment: (kind == SlotKind::Environment).then_some(s),
                            ..Slots::default()
                        };
                        merge(&mut pending.slots, &fill, flow);
                        return self.advance(session, pending);
                    }
                }
                if parsed.reply == Some(Reply::No) {
                    return Step::Reply(format!(
                        "OK, dropped: {}. Nothing was run.",
                        describe(pending.intent, &pending.slots)
                    ));
                }
                if let Some(term) = parsed.unknown.first() {
                    let suggestion = nlu.suggest(&term.text, kind);
                    return self.invalid(session, pending, kind, &term.text, suggestion);
                }
                if pending.suggestion.is_some() {
                    // "Did you mean X?" is a yes/no question too.
                    session.pending = Some(pending);
                    return Step::Reply(ANSWER_YES_OR_NO.into());
                }
                let step = self.advance(session, pending);
                match step {
                    Step::Ask {
                        intent,
                        slot,
                        text,
                        choices,
                    } => Step::Ask {
                        intent,
                        slot,
                        text: format!("Sorry, I need an answer to this first. {text}"),
                        choices,
                    },
                    other => other,
                }
            }
        }
    }

    fn invalid(
        &self,
        session: &mut Session,
        mut pending: Pending,
        kind: SlotKind,
        value: &str,
        suggestion: Option<String>,
    ) -> Step {
        let flow = self
            .flows
            .get(pending.intent)
            .expect("pending intents have flows");
        let mut vars = self.vars(kind, &pending.slots);
        vars.insert("value", value.to_string());
        let text = match &suggestion {
            Some(s) => {
                vars.insert("suggestion", s.clone());
                flow.prompt(&format!("invalid_{}", kind.as_str()))
                    .map(|t| render(t, &vars))
                    .unwrap_or_else(|| format!("I don't know `{value}`; did you mean `{s}`?"))
            }
            None => flow
                .prompt(&format!("invalid_{}_unknown", kind.as_str()))
                .map(|t| render(t, &vars))
                .unwrap_or_else(|| format!("I don't know `{value}`. Choose {}.", vars["choices"])),
        };
        if flow.required_slots().contains(&kind) {
            // Keep what we have and wait for a valid value (a plain "yes" takes the suggestion).
            pending.awaiting = Awaiting::Slot(kind);
            pending.suggestion = suggestion;
            session.pending = Some(pending);
        }
        Step::Reply(text)
    }

    /// Asks for the next missing slot, or moves to confirmation / answering.
    fn advance(&self, session: &mut Session, mut pending: Pending) -> Step {
        let flow = self
            .flows
            .get(pending.intent)
            .expect("pending intents have flows");
        if let Some(kind) = flow
            .required_slots()
            .into_iter()
            .find(|k| pending.slots.get(*k).is_none())
        {
            let vars = self.vars(kind, &pending.slots);
            let text = flow
                .prompt(&format!("ask_{}", kind.as_str()))
                .map(|t| render(t, &vars))
                .unwrap_or_else(|| format!("Which {}: {}?", kind.as_str(), vars["choices"]));
            pending.awaiting = Awaiting::Slot(kind);
            let intent = pending.intent;
            session.pending = Some(pending);
            return Step::Ask {
                intent,
                slot: kind,
                text,
                choices: self.choices(kind),
            };
        }
        let request = Request::from_slots(pending.intent, &pending.slots);
        match (flow.action, flow.confirm.is_some()) {
            (true, true) => {
                pending.awaiting = Awaiting::Confirmation;
                session.pending = Some(pending);
                Step::Confirm(request)
            }
            (true, false) => Step::Run(request),
            (false, _) => Step::Query(request),
        }
    }
}

/// A "cancel" or "stop run 12" that asks to stop what runs (never a request being asked).
fn stop_step(parsed: &Parsed) -> Step {
    match (parsed.parts.run_refs.as_slice(), parsed.parts.run_id) {
        ([], id) => Step::CancelRuns(id),
        ([_], Some(id)) => Step::CancelRuns(Some(id)),
        ([bad], None) => Step::Reply(format!("There is no run `{bad}`; nothing to stop. Runs have numbers, as in \"stop run 12\".")),
        (many, _) => Step::Reply(format!(
            "One run at a time, please: you named runs {}. Nothing was stopped; say \"stop run N\" for each.",
            join_and(many)
        )),
    }
}

#[cfg(test)]
mod tests;
