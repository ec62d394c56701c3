//! The bot: [`Bot::handle`] is the one entry point every adapter calls. It parses the message,
//! steps the thread's dialogue, and performs the step (prompt, confirm, start a run, answer).

mod answers;
mod approvals;
mod governed;
mod help;
mod locks;
mod promote;
mod recovery;
mod stopping;
mod timefmt;
mod undo;

pub use timefmt::{ago, span as timefmt_span, utc};

use crate::audit::Audit;
use crate::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use crate::config::Config;
use crate::dialogue::{render, Dialogue, FlowError, Flows, Request, Session, SessionStore, Step};
use crate::governance::{Actor, Governance};
use crate::nlu::{Intent, Nlu, NluError, Parsed, Reply};
use crate::pipeline::{Executor, StartError};
use crate::store::{Action, NewRun, Store, StoreError};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Why the bot could not start.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// NLU training data problem.
    #[error(transparent)]
    Nlu(#[from] NluError),
    /// Dialogue flow problem.
    #[error(transparent)]
    Flows(#[from] FlowError),
    /// Store problem.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything needed to answer messages.
pub struct Bot {
    config: Arc<Config>,
    nlu: Arc<Nlu>,
    dialogue: Dialogue,
    sessions: SessionStore,
    store: Store,
    executor: Executor,
    governance: Governance,
    audit: Audit,
    /// The latest sink of each platform, for messages not caused by a message (expiry notices).
    sinks: std::sync::Mutex<HashMap<String, Arc<dyn EventSink>>>,
    /// Messages about runs a crash interrupted, until their platform has a sink.
    recovery: std::sync::Mutex<Vec<recovery::Notice>>,
}

static FAULTS: AtomicU64 = AtomicU64::new(0);

/// Logs an internal error once and returns the text the user sees.
fn fault(context: &str, error: &dyn std::fmt::Display) -> String {
    let reference = format!(
        "{:x}{:03x}",
        crate::store::now_ms() % 0xfffff,
        FAULTS.fetch_add(1, Ordering::Relaxed) % 0xfff
    );
    tracing::error!(reference = %reference, error = %error, "{context}");
    format!("Something went wrong while {context} (ref {reference}); nothing else was changed. The details are in Deckhand's log.")
}

impl Bot {
    /// Opens the store (marking runs a crash left behind as interrupted), trains the NLU and
    /// loads the dialogue flows.
    pub async fn new(config: Config) -> Result<Bot, BotError> {
        let config = Arc::new(config);
        let store = Store::open(&config.store_url()).await?;
        let recovered = recovery::recover(&store, &config).await?;
        let nlu = Arc::new(Nlu::new(&config)?);
        tracing::info!(
            examples = nlu.example_count(),
            features = nlu.feature_count(),
            ms = nlu.training_time().as_millis() as u64,
            "NLU trained"
        );
        let flows_dir = config
            .dialogue
            .flows_dir
            .as_ref()
            .map(|d| config.base_dir.join(d));
        let dialogue = Dialogue::new(Flows::load(flows_dir.as_deref())?, config.clone());
        let sessions = SessionStore::new(
            Duration::from_secs(config.session.ttl_secs),
            config.session.max_history,
        );
        let audit = Audit::new(store.clone());
        let executor = Executor::new(config.clone(), store.clone(), audit.clone());
        let governance = Governance::new(config.clone());
        Ok(Bot {
            config,
            nlu,
            dialogue,
            sessions,
            store,
            executor,
            governance,
            audit,
            sinks: std::sync::Mutex::new(HashMap::new()),
            recovery: std::sync::Mutex::new(recovered),
        })
    }

    /// The config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    fn sink_for(&self, platform: &str) -> Option<Arc<dyn EventSink>> {
        self.sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(platform)
            .cloned()
    }

    /// The store in use.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Parses a message; with the sentence-embedding stage, on a blocking thread so model
    /// inference never stalls the async runtime.
    async fn parse_off_runtime(&self, text: &str) -> crate::nlu::Parsed {
        if !self.nlu.is_semantic() {
            return self.nlu.parse(text);
        }
        let nlu = self.nlu.clone();
        let owned = text.to_string();
        match tokio::task::spawn_blocking(move || nlu.parse(&owned)).await {
            Ok(parsed) => parsed,
            // The blocking pool is gone (shutdown) or the parse panicked: parse here instead.
            Err(_) => self.nlu.parse(text),
        }
    }

    /// What the NLU makes of `text` (adapters check structured input against it).
    pub fn understand(&self, text: &str) -> crate::nlu::Parsed {
        self.nlu.parse(text)
    }

    /// Is the thread waiting for a yes/no (a confirmation or a stop request)? Adapters use it
    /// to retire Confirm/Cancel buttons once the question is answered or gone.
    pub async fn awaiting_confirmation(&self, thread: &ThreadKey) -> bool {
        let session = self.sessions.get(thread).await;
        let s = session.lock().await;
        let expired =
            tokio::time::Instant::now().duration_since(s.last_active) > self.sessions.ttl();
        !expired
            && (s.pending_stop.is_some()
                || matches!(&s.pending, Some(p) if p.awaiting == crate::dialogue::Awaiting::Confirmation))
    }

    /// Waits for every run in progress to finish.
    pub async fn wait_idle(&self) {
        self.executor.wait_idle().await;
    }

    /// Ids of the runs in progress in this process.
    pub fn active_runs(&self) -> Vec<i64> {
        self.executor.active_runs()
    }

    /// Cancels every run in progress (shutdown); they end as `cancelled`.
    pub fn cancel_all_runs(&self) -> Vec<i64> {
        self.executor.cancel_all()
    }

    /// Handles one message; everything the bot says goes to `sink`. Returns the intent the
    /// NLU understood (adapters log it; conversation tests check it).
    pub async fn handle(&self, mut msg: Incoming, sink: Arc<dyn EventSink>) -> Intent {
        // Invisible and compatibility characters go before anything reads the text.
        if let std::borrow::Cow::Owned(clean) = crate::nlu::normalize(&msg.text) {
            msg.text = clean;
        }
        let span = tracing::info_span!("message", platform = %msg.thread.platform, session = %msg.thread, user = %msg.user);
        if let Some(id) = &msg.event_id {
            // Platforms redeliver events; act on each one once.
            // Recorded in the store, so a retry is caught after a restart or by another replica.
            match self
                .store
                .first_delivery(&msg.thread.platform, id, crate::clock::now_ms())
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    span.in_scope(|| tracing::info!(event_id = %id, "duplicate delivery ignored"));
                    return Intent::None;
                }
                Err(e) => {
                    // Without the record we cannot tell a retry from a first delivery; acting
                    // twice is worse than asking the user to repeat.
                    let text = fault("checking for a repeated delivery", &e);
                    sink.emit(BotEvent::Reply {
                        thread: msg.thread.clone(),
                        text,
                        intent: None,
                    });
                    return Intent::None;
                }
            }
        }
        let parsed = self.parse_off_runtime(&msg.text).await;
        let intent = parsed.intent;
        self.handle_parsed(msg, parsed, sink).instrument(span).await;
        intent
    }

    async fn handle_parsed(&self, msg: Incoming, parsed: Parsed, sink: Arc<dyn EventSink>) {
        tracing::debug!(
            intent = parsed.intent.as_str(),
            confidence = parsed.confidence,
            "parsed"
        );
        self.sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(msg.thread.platform.clone(), sink.clone());
        self.deliver_recovery(&msg.thread.platform, sink.clone())
            .await;
        let actor = self.governance.actor(&msg.thread.platform, &msg.user);
        let session = self.sessions.get(&msg.thread).await;
        let mut session = session.lock().await;
        let expired = session.touch(self.sessions.ttl());
        session.record(&msg.user, &msg.text);
        let out = Out {
            sink,
            thread: msg.thread.clone(),
            intent: parsed.intent,
        };
        if let Some(old) = expired {
            let text = format!(
                "Your earlier request ({}) expired after {} without an answer, so I did nothing with it.",
                crate::dialogue::describe(old.intent, &old.slots),
                timefmt::span(Duration::from_secs(self.config.session.ttl_secs)),
            );
            // An answer to a forgotten question must not revive it; a new command still works.
            let answer_only = matches!(
                parsed.intent,
                Intent::None | Intent::Affirm | Intent::Negate | Intent::Cancel
            ) || self.dialogue.flows().get(parsed.intent).is_none();
            if answer_only {
                out.reply(
                    &mut session,
                    format!(
                        "{text} Please start again, e.g. \"{}\".",
                        crate::dialogue::describe(old.intent, &old.slots)
                    ),
                );
                return;
            }
            out.reply(&mut session, text);
        }
        let decision = parsed
            .reply
            .filter(|r| matches!(r, Reply::Approve | Reply::Reject));
        if parsed.intent.is_action() || decision.is_some() {
            if let Err(refusal) = self.governance.check_rate(&actor) {
                return self
                    .refuse(
                        &actor,
                        parsed.intent,
                        "rate limit",
                        refusal,
                        &mut session,
                        &out,
                    )
                    .await;
            }
        }
        // Only a short explicit reply decides an approval request ("approve", "lgtm", "+1",
        // "reject", "do not approve"); "I approve of this plan" or "should I approve?" does not.
        if let Some(d) = decision {
            if self
                .decide_in_thread(&msg.thread, &actor, d == Reply::Approve, &mut session, &out)
                .await
            {
                return;
            }
        }
        let mut parsed = parsed;
        if decision.is_none() && matches!(parsed.intent, Intent::Approve | Intent::Reject) {
            match self.store.latest_approval_in_thread(&msg.thread).await {
                Ok(Some(a)) if a.status == "pending" => {
                    return out.reply(
                        &mut session,
                        "If you mean to decide on the approval request here, reply with just \"approve\" (or \"lgtm\", \"+1\") or \"reject\" (or \"do not approve\"); I don't take a question or a longer sentence as a decision.".into(),
                    );
                }
                Ok(_) => parsed.intent = Intent::None,
                Err(e) => return out.reply(&mut session, fault("reading approval requests", &e)),
            }
        }
        if !self
            .fill_last_deployment(&mut parsed, &msg, &actor, &mut session, &out)
            .await
        {
            return;
        }
        let step = self
            .dialogue
            .step(&mut session, &parsed, &msg.user, &self.nlu);
        self.perform(step, &msg, &actor, &mut session, &out).await;
    }

    async fn perform(
        &self,
        step: Step,
        msg: &Incoming,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        match step {
            Step::Ask {
                intent,
                slot,
                text,
                choices,
            } => {
                session.record("deckhand", &text);
                out.sink.emit(BotEvent::Prompt {
                    thread: out.thread.clone(),
                    text,
                    intent: intent.as_str().into(),
                    slot: slot.as_str().into(),
                    choices,
                });
            }
            Step::Confirm(req) => match self.confirmation(&req, actor, session).await {
                Ok(Ok(text)) => {
                    session.record("deckhand", &text);
                    out.sink.emit(BotEvent::Confirm {
                        thread: out.thread.clone(),
                        text,
                        intent: req.intent.as_str().into(),
                    });
                }
                Ok(Err(refusal)) => {
                    session.pending = None;
                    out.reply(session, refusal);
                }
                Err(e) => {
                    session.pending = None;
                    out.reply(session, fault("preparing the confirmation", &e));
                }
            },
            Step::Run(req) => match req.intent {
                Intent::Lock => self.lock(&req, actor, session, out).await,
                Intent::Unlock => self.unlock(&req, actor, session, out).await,
                _ => self.request_run(req, msg, actor, session, out).await,
            },
            Step::Query(req) => {
                let text = match req.intent {
                    Intent::Status => self.status(&req).await,
                    Intent::History => self.history(&req).await,
                    Intent::Readiness => self.readiness(&req).await,
                    _ => self.explain(&req).await,
                };
                let text = text.unwrap_or_else(|e| fault("reading the store", &e));
                out.reply(session, text);
            }
            Step::CancelRuns(run) => self.ask_to_stop(run, msg, actor, session, out).await,
            Step::StopRuns(ids) => self.stop_runs(ids, actor, session, out).await,
            Step::Help(topic) => {
                let text = match topic {
                    Some(t) => help::topic_help(self.dialogue.flows(), &self.config, t),
                    None => answers::help(self.dialogue.flows(), &self.config),
                };
                out.reply(session, text);
            }
            Step::Reply(text) => out.reply(session, text),
        }
    }

    /// The confirmation text, or a refusal when the request cannot go ahead.
    async fn confirmation(
        &self,
        req: &Request,
        actor: &Actor,
        session: &mut Session,
    ) -> Result<Result<String, String>, StoreError> {
        if matches!(req.intent, Intent::Lock | Intent::Unlock) {
            return self.lock_confirmation(req, actor).await;
        }
        // Refuse before asking "yes/no" for something that could not run anyway.
        if let Err(refusal) = self.precheck(actor, req).await? {
            let subject = format!(
                "{}/{}",
                req.service.as_deref().unwrap_or_default(),
                req.environment.as_deref().unwrap_or_default()
            );
            self.audit.note(actor.name(), "refusal", &subject, serde_json::json!({"intent": req.intent.as_str(), "identity": actor.identity, "reason": refusal})).await;
            return Ok(Err(refusal));
        }
        let mut notes: Vec<String> = Vec::new();
        let mut req = req.clone();
        let promoted_from = match self.promotion(&mut req, session).await? {
            Ok(source) => source,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let (Intent::Deploy, Some(service), Some(environment)) =
            (req.intent, req.service.clone(), req.environment.clone())
        {
            if let (_, Some(rec)) = self.memory(&service, &environment).await? {
                // The user's explicit strategy wins; the warning stays.
                if req.strategy.is_none() {
                    req.strategy = Some(rec.strategy);
                    req.percent = rec.percent;
                    if let Some(p) = session.pending.as_mut() {
                        p.slots.strategy = Some(rec.strategy);
                        p.slots.percent = rec.percent;
                    }
                }
                notes.push(format!("⚠ {}", rec.reason));
            }
            // What the target really runs, when its checks did not pass.
            let live = self
                .store
                .live_versions(Some(&service), Some(&environment))
                .await?;
            if let Some(d) = live.first().filter(|d| d.live_note().is_some()) {
                let phrase = d.live_phrase_on();
                if !notes.iter().any(|n| n.contains(&d.live_phrase())) {
                    notes.push(format!("⚠ Now: {phrase}."));
                }
            }
        }
        if let (Some(service), Some(environment)) = (&req.service, &req.environment) {
            let n = self.governance.approvals_required(service, environment);
            if n > 0 {
                notes.push(format!(
                    "After you confirm, {n} approval{} from someone else{} is needed before it runs.",
                    if n == 1 { "" } else { "s" },
                    self.governance.approver_roles(service, environment).map(|r| format!(" with the role {}", r.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(" or "))).unwrap_or_default()
                ));
            }
        }
        let req = &req;
        let (service, environment) = (
            req.service.clone().unwrap_or_default(),
            req.environment.clone().unwrap_or_default(),
        );
        let flow = self
            .dialogue
            .flows()
            .get(req.intent)
            .expect("confirmed intents have flows");
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("service", service.clone());
        vars.insert("environment", environment.clone());
        for (k, v) in &flow.defaults {
            if let Some(key) = ["version", "strategy", "percent"]
                .into_iter()
                .find(|n| n == k)
            {
                vars.insert(key, v.clone());
            }
        }
        if let Some(v) = &req.version {
            vars.insert("version", v.clone());
        }
        let strategy = req.strategy.unwrap_or_else(|| {
            self.config
                .environment(&environment)
                .map(|e| e.default_strategy)
                .unwrap_or_default()
        });
        vars.insert(
            "strategy",
            match req.percent {
                Some(p) => format!("{strategy} {p}%"),
                None => strategy.to_string(),
            },
        );
        if req.intent == Intent::Rollback {
            let live = self
                .store
                .live_versions(Some(&service), Some(&environment))
                .await?;
            let current = live.first().and_then(|d| d.version.clone());
            let target = match &req.version {
                Some(v) => Some(v.clone()),
                None => self.store.rollback_target(&service, &environment).await?,
            };
            let Some(target) = target else {
                return Ok(Err(match current {
                    Some(c) => format!("{service} has no earlier successful deploy in {environment} to roll back to (it is on {c}). Name a version, e.g. \"rollback {service} in {environment} to 1.2.3\"."),
                    None => format!("{service} has no successful deploy in {environment} on record, so there is nothing to roll back to."),
                }));
            };
            if current.as_deref() == Some(target.as_str()) {
                return Ok(Err(format!(
                    "{service} is already on {target} in {environment}; nothing to roll back."
                )));
            }
            vars.insert(
                "current",
                current.unwrap_or_else(|| "the current release".into()),
            );
            vars.insert("version", target.clone());
            if let Some(p) = session.pending.as_mut() {
                p.slots.version = Some(target);
            }
        }
        let mut text = match &promoted_from {
            Some(source) => format!(
                "Promote {service} {} (what {source} runs) to {environment}, {}? [yes/no]",
                vars["version"], vars["strategy"]
            ),
            None => render(flow.confirm.as_deref().unwrap_or_default(), &vars),
        };
        for n in notes {
            text.push('\n');
            text.push_str(&n);
        }
        Ok(Ok(text))
    }

    /// Starts a confirmed run; returns a reply when it did not start.
    /// Starts a run; Ok(run id), or Err(the reply saying why it did not start).
    async fn start_run(
        &self,
        req: Request,
        requested_by: &str,
        thread: &ThreadKey,
        sink: Arc<dyn EventSink>,
    ) -> Result<i64, String> {
        let (Some(service), Some(environment)) = (req.service.clone(), req.environment.clone())
        else {
            return Err(
                "That request is missing a service or environment; please ask again.".into(),
            );
        };
        let strategy = req.strategy.unwrap_or_else(|| {
            self.config
                .environment(&environment)
                .map(|e| e.default_strategy)
                .unwrap_or_default()
        });
        let run = NewRun {
            action: if req.intent == Intent::Rollback {
                Action::Rollback
            } else {
                Action::Deploy
            },
            service,
            environment,
            version: req.version.clone(),
            strategy,
            percent: req.percent,
            requested_by: requested_by.to_string(),
            thread: thread.clone(),
        };
        match self.executor.start(run, sink).await {
            Ok(id) => Ok(id),
            Err(StartError::Busy(r)) => Err(format!(
                "{} in {} is busy: run {} ({} {} by {}, started {}) is in progress. Wait for it to finish, or say \"cancel\" in its thread.",
                r.service,
                r.environment,
                r.id,
                r.action.as_str(),
                r.version.as_deref().unwrap_or("latest build"),
                r.requested_by,
                ago(r.started_at),
            )),
            Err(e @ (StartError::NoRollback(_) | StartError::Unknown(_))) => Err(format!("I can't start that: {e}.")),
            Err(StartError::Store(e)) => Err(fault("starting the run", &e)),
        }
    }
}

/// Where one message's answers go.
struct Out {
    sink: Arc<dyn EventSink>,
    thread: ThreadKey,
    intent: Intent,
}

impl Out {
    fn reply(&self, session: &mut Session, text: String) {
        session.record("deckhand", &text);
        self.sink.emit(BotEvent::Reply {
            thread: self.thread.clone(),
            text,
            intent: Some(self.intent.as_str().into()),
        });
    }
}
