//! The bot: [`Bot::handle`] is the one entry point every adapter calls. It parses the message,
//! steps the thread's dialogue, and performs the step (prompt, confirm, start a run, answer).

mod answers;
mod approvals;
mod confirm;
mod decisions;
mod entry;
mod help;
mod outcomes;
mod plan_question;
mod plan_text;
mod plan_undo;
pub(crate) mod plans;
mod progress;
mod promote;
mod recovery;
pub(crate) mod refusals;
mod resolve;
mod schedules;
mod stopping;
mod undo;
mod updates;

pub use outcomes::{approval_request_event, report_text};
pub use progress::ChatProgress;
pub use refusals::reply_for;
pub use resolve::resolve;

pub use crate::timefmt::{ago, span as timefmt_span, utc};

use crate::audit::Audit;
use crate::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use crate::command::{Commander, Origin, Outcome};
use crate::config::Config;
use crate::dialogue::{Dialogue, FlowError, Flows, Request, Session, SessionStore, Step};
use crate::governance::Actor;
use crate::nlu::{Intent, Nlu, NluError, Parsed, Reply};
use crate::pipeline::Executor;
use crate::store::{Store, StoreError};
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
    /// Governance, approvals, locks, runs: every governed action goes through it.
    commander: Commander,
    /// The latest sink of each platform, for messages not caused by a message (expiry notices).
    sinks: std::sync::Mutex<HashMap<String, Arc<dyn EventSink>>>,
    /// How each attached platform names a new conversation in a channel (config jobs'
    /// `notify`).
    channels: std::sync::Mutex<HashMap<String, ChannelKey>>,
    /// Messages about runs a crash interrupted, until their platform has a sink.
    recovery: std::sync::Mutex<Vec<recovery::Notice>>,
}

static FAULTS: AtomicU64 = AtomicU64::new(0);

/// Logs an internal error once and returns the text the user sees (also for adapters that
/// must answer before the bot is reached).
pub fn fault(context: &str, error: &dyn std::fmt::Display) -> String {
    let reference = format!(
        "{:x}{:03x}",
        crate::store::now_ms() % 0xfffff,
        FAULTS.fetch_add(1, Ordering::Relaxed) % 0xfff
    );
    tracing::error!(reference = %reference, error = %error, "{context}");
    format!("Something went wrong while {context} (ref {reference}); nothing else was changed. The details are in Deckhand's log.")
}

/// How a platform names a new conversation in one of its channels, by the channel's id.
pub type ChannelKey = fn(&str) -> ThreadKey;

impl Bot {
    /// Opens the store (marking runs a crash left behind as interrupted), trains the NLU and
    /// loads the dialogue flows.
    pub async fn new(config: Config) -> Result<Bot, BotError> {
        let config = Arc::new(config);
        let store = Store::open(&config.store_url()).await?;
        let mut recovered = recovery::recover(&store, &config).await?;
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
        let metrics = crate::metrics::Metrics::new();
        metrics.track_sessions(sessions.clone());
        let executor =
            Executor::new(config.clone(), store.clone(), audit.clone()).with_metrics(metrics);
        let commander = Commander::new(config.clone(), store.clone(), executor, audit);
        // After the runs: a plan whose process died is interrupted, its other steps skipped.
        let interrupted = commander.interrupt_plans().await?;
        if !interrupted.is_empty() {
            tracing::warn!(plans = ?interrupted, "plans left running by a stopped process were marked interrupted");
            recovered.extend(recovery::interrupted_plans(&store, &interrupted).await);
        }
        Ok(Bot {
            config,
            nlu,
            dialogue,
            sessions,
            store,
            commander,
            sinks: std::sync::Mutex::new(HashMap::new()),
            channels: std::sync::Mutex::new(HashMap::new()),
            recovery: std::sync::Mutex::new(recovered),
        })
    }

    /// The config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        self.commander.audit()
    }

    /// The command layer every governed action goes through.
    pub fn commander(&self) -> &Commander {
        &self.commander
    }

    /// The process's metrics (what `GET /metrics` serves).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        self.commander.metrics()
    }

    fn executor(&self) -> &Executor {
        self.commander.executor()
    }

    /// Attaches a platform's outbox before any message arrives, so what Deckhand starts on
    /// its own (schedule fires, expiry notices) reaches its threads after a restart too;
    /// `channel` names a new conversation in one of its channels.
    pub fn attach(&self, platform: &str, sink: Arc<dyn EventSink>, channel: ChannelKey) {
        self.sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(platform.to_string(), sink);
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(platform.to_string(), channel);
    }

    fn channel_key(&self, platform: &str, channel: &str) -> Option<ThreadKey> {
        let f = *self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(platform)?;
        Some(f(channel))
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
    /// Times are read in the person's own zone when they set one.
    async fn parse_off_runtime(&self, text: &str, actor: &Actor) -> crate::nlu::Parsed {
        let zone = self
            .commander
            .governance()
            .own_timezone(actor.person.as_deref())
            .and_then(|name| jiff::tz::TimeZone::get(name).ok());
        let parse = move |nlu: &crate::nlu::Nlu, text: &str| match &zone {
            Some(tz) => nlu.parse_in(text, tz),
            None => nlu.parse(text),
        };
        if !self.nlu.is_semantic() {
            return parse(&self.nlu, text);
        }
        let nlu = self.nlu.clone();
        let owned = text.to_string();
        let run = parse.clone();
        match tokio::task::spawn_blocking(move || run(&nlu, &owned)).await {
            Ok(parsed) => parsed,
            // The blocking pool is gone (shutdown) or the parse panicked: parse here instead.
            Err(_) => parse(&self.nlu, text),
        }
    }

    /// Is the thread waiting for a yes/no (a confirmation or a stop request)? Adapters use it
    /// to retire Confirm/Cancel buttons once the question is answered or gone.
    pub async fn awaiting_confirmation(&self, thread: &ThreadKey) -> bool {
        let session = self.sessions.get(thread).await;
        let s = session.lock().await;
        let expired =
            tokio::time::Instant::now().duration_since(s.last_active) > self.sessions.ttl();
        !expired
            && (!s.pending_stop.is_empty()
                || s.pending_plan.is_some()
                || matches!(&s.pending, Some(p) if p.awaiting == crate::dialogue::Awaiting::Confirmation))
    }

    /// Waits for every run in progress to finish.
    pub async fn wait_idle(&self) {
        self.executor().wait_idle().await;
    }

    /// Ids of the runs in progress in this process.
    pub fn active_runs(&self) -> Vec<i64> {
        self.executor().active_runs()
    }

    /// Cancels every run in progress (shutdown); they end as `cancelled`.
    pub fn cancel_all_runs(&self) -> Vec<i64> {
        self.executor().cancel_all()
    }

    /// Handles one message; everything the bot says goes to `sink`. Returns the intent the
    /// NLU understood (adapters log it; conversation tests check it).
    pub async fn handle(&self, mut msg: Incoming, sink: Arc<dyn EventSink>) -> Intent {
        // A message is a request, not a document: read at most Slack's 4,000 characters
        // (and say so), then drop invisible and compatibility characters before anything
        // reads the text.
        let capped = crate::nlu::limits::cap_message(&msg.text);
        let cut = capped.cut;
        if cut {
            msg.text = capped.text.to_string();
        }
        if let std::borrow::Cow::Owned(clean) = crate::nlu::normalize(&msg.text) {
            msg.text = clean;
        }
        if cut {
            sink.emit(BotEvent::Reply {
                thread: msg.thread.clone(),
                text: format!(
                    "Your message is longer than {} characters; I read only the first {} (up to the last whole word).",
                    crate::nlu::limits::MAX_MESSAGE_CHARS,
                    crate::nlu::limits::MAX_MESSAGE_CHARS
                ),
                intent: None,
                refusal: None,
            });
        }
        let span = tracing::info_span!("message", platform = %msg.thread.platform, session = %msg.thread, user = %msg.user);
        if !self.first_time(&msg, &span, &sink).await {
            return Intent::None;
        }
        let actor = self
            .commander
            .governance()
            .actor(&msg.thread.platform, &msg.user);
        let parsed = self.parse_off_runtime(&msg.text, &actor).await;
        let intent = parsed.intent;
        self.metrics().intent(intent);
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
        let actor = self
            .commander
            .governance()
            .actor(&msg.thread.platform, &msg.user);
        let session = self.sessions.get(&msg.thread).await;
        let mut session = session.lock().await;
        let plan_question = session
            .pending_plan
            .as_ref()
            .map(plan_question::asked_again);
        let expired = session.touch(self.sessions.ttl());
        let plan_expired = plan_question.filter(|_| session.pending_plan.is_none());
        session.record(&msg.user, &msg.text);
        let out = Out {
            sink,
            thread: msg.thread.clone(),
            intent: parsed.intent,
        };
        let forgotten = match (&expired, plan_expired) {
            (Some(old), _) => Some((
                crate::dialogue::describe(old.intent, &old.slots),
                crate::dialogue::describe(old.intent, &old.slots),
            )),
            (None, Some(again)) => Some(("a plan".to_string(), again)),
            (None, None) => None,
        };
        if let Some((asked, example)) = forgotten {
            let text = format!(
                "Your earlier request ({asked}) expired after {} without an answer, so I did nothing with it.",
                timefmt_span(Duration::from_secs(self.config.session.ttl_secs)),
            );
            // An answer to a forgotten question must not revive it; a new command still works.
            // A "cancel" goes on: it may stop a run or plan, which the forgotten question
            // has nothing to do with (and it may not even be the asker's).
            let answer_only = matches!(
                parsed.intent,
                Intent::None | Intent::Affirm | Intent::Negate
            ) || (parsed.intent != Intent::Cancel
                && self.dialogue.flows().get(parsed.intent).is_none());
            if answer_only {
                out.reply(
                    &mut session,
                    format!("{text} Please start again, e.g. \"{example}\"."),
                );
                return;
            }
            out.reply(&mut session, text);
        }
        let schedule_ask = crate::nlu::schedule_words::read(&msg.text);
        let whats_new = crate::nlu::update_words::asks_whats_new(&msg.text);
        if schedule_ask.is_some() || whats_new {
            plan_question::drop_own_plan_question(&mut session, &msg.user, &out);
        }
        if let Some(ask) = schedule_ask {
            return self.schedules_asked(ask, &actor, &mut session, &out).await;
        }
        if whats_new {
            return self.whats_new(&parsed, &actor, &mut session, &out).await;
        }
        if self
            .plan_answer(&msg.text, &msg.user, &parsed, &actor, &mut session, &out)
            .await
        {
            return;
        }
        // Anything else from the person asked drops the plan question, so a later "yes"
        // (meant for something else) cannot start it.
        plan_question::drop_own_plan_question(&mut session, &msg.user, &out);
        let asks_plan = plan_undo::asks_plan_rollback(&msg.text).is_some()
            || plans::asks_for_plan(&msg.text, &parsed).is_some();
        // Someone else's open question is theirs: a plan request does not drop it.
        if let Some(text) = asks_plan
            .then(|| plan_question::waiting_for_someone_else(&session, &msg.user))
            .flatten()
        {
            return out.reply(&mut session, text);
        }
        if asks_plan {
            // A plan asked now is what a "yes" answers, not an older stop question.
            let _ = session.take_stop_of(&msg.user);
        }
        if let Some(id) = plan_undo::asks_plan_rollback(&msg.text) {
            session.pending = None;
            return self
                .plan_rollback_asked(id, &msg.user, &actor, &mut session, &out)
                .await;
        }
        if let Some(all) = plans::asks_for_plan(&msg.text, &parsed) {
            // A new request replaces whatever was half asked in the thread.
            session.pending = None;
            return self
                .plan_asked(
                    all,
                    &msg.text,
                    &msg.user,
                    &parsed,
                    &actor,
                    &mut session,
                    &out,
                )
                .await;
        }
        // Only an explicit reply decides an approval request; the command layer counts it
        // towards the rate limit like any other action.
        let decision = parsed
            .reply
            .filter(|r| matches!(r, Reply::Approve | Reply::Reject));
        let mut parsed = parsed;
        if self
            .take_decision(&mut parsed, decision, &msg, &actor, &mut session, &out)
            .await
        {
            return;
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
                    intent,
                    slot,
                    choices,
                });
            }
            Step::Confirm(req) => match self.confirmation(&req, actor, session).await {
                Ok(Ok(text)) => {
                    session.record("deckhand", &text);
                    out.sink.emit(BotEvent::Confirm {
                        thread: out.thread.clone(),
                        text,
                        intent: req.intent,
                    });
                }
                Ok(Err(confirm::NoQuestion::Refused(refusal))) => {
                    session.pending = None;
                    out.refuse(session, &refusal);
                }
                Ok(Err(confirm::NoQuestion::Reply(text))) => {
                    session.pending = None;
                    out.reply(session, text);
                }
                Err(e) => {
                    session.pending = None;
                    out.reply(session, fault("preparing the confirmation", &e));
                }
            },
            Step::Run(req) => self.run_confirmed(&req, actor, session, out).await,
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

    /// A confirmed deploy, rollback, lock or unlock: the command layer checks it again and
    /// applies it; the outcome is shown in the thread.
    async fn run_confirmed(&self, req: &Request, actor: &Actor, session: &mut Session, out: &Out) {
        let command = match resolve(req, &self.config) {
            Some(Ok(c)) => c,
            Some(Err(refusal)) => return out.refuse(session, &refusal),
            None => return,
        };
        let origin = Origin::Thread(out.thread.clone());
        // A flow without a confirmation never went through `check`: apply counts it then.
        let confirmed = self
            .dialogue
            .flows()
            .get(req.intent)
            .is_some_and(|f| f.confirm.is_some());
        let result = if confirmed {
            self.commander
                .apply_confirmed(command, actor, &origin, out.progress())
                .await
        } else {
            self.commander
                .apply(command, actor, &origin, out.progress())
                .await
        };
        match result {
            Ok(outcome) => outcomes::show(&outcome, session, out),
            Err(e) => out.reply(session, fault("carrying out the request", &e)),
        }
    }

    /// Applies a command from this thread and shows its outcome; returns the outcome.
    async fn apply(
        &self,
        command: crate::command::Command,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) -> Option<Outcome> {
        let origin = Origin::Thread(out.thread.clone());
        match self
            .commander
            .apply(command, actor, &origin, out.progress())
            .await
        {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                out.reply(session, fault("carrying out the request", &e));
                None
            }
        }
    }
}

/// A request whose parts are already known (a slash command's options, validated by the
/// adapter against the config): an intent and its slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Structured {
    /// What is asked.
    pub intent: Intent,
    /// The parts given (canonical names, a version as typed, a lock's duration and reason).
    pub slots: crate::nlu::Slots,
}

/// Where one message's answers go.
struct Out {
    sink: Arc<dyn EventSink>,
    thread: ThreadKey,
    intent: Intent,
}

impl Out {
    /// Where a run started from this thread reports: the thread itself, rendered.
    fn progress(&self) -> crate::command::Progress {
        Arc::new(progress::ChatProgress::new(self.sink.clone()))
    }

    /// A refusal, rendered at the chat edge, with its kind on the event.
    fn refuse(&self, session: &mut Session, refusal: &crate::command::Refusal) {
        let text = reply_for(refusal);
        session.record("deckhand", &text);
        self.sink.emit(BotEvent::Reply {
            thread: self.thread.clone(),
            text,
            intent: Some(self.intent),
            refusal: Some(refusal.kind()),
        });
    }

    fn reply(&self, session: &mut Session, text: String) {
        session.record("deckhand", &text);
        self.sink.emit(BotEvent::Reply {
            thread: self.thread.clone(),
            text,
            intent: Some(self.intent),
            refusal: None,
        });
    }
}
