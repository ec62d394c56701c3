//! Delivers bot events to a platform ([`Surface`]). Each thread has its own worker so messages in a thread keep
//! their order while threads do not wait for each other. The worker posts replies, questions
//! with buttons and approval requests, keeps one status message per run (edited through a
//! [`StatusEditor`]), posts a note with the log tail when a stage fails, and retires buttons once
//! their question is answered, whoever answered it and however (click, typed reply, expiry).

use super::in_flight::InFlight;
use super::status::StatusEditor;
use super::{Persistence, RunView, Surface};
use crate::chat::{BotEvent, EventSink, StageState, ThreadKey};
use crate::nlu::Intent;
use crate::store::{ApprovalStatus, Decision, Store};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A worker with nothing to do for this long ends (a new one starts on the next event),
/// unless it still watches runs, approval requests or an open question.
const IDLE: Duration = Duration::from_secs(600);

/// The fewest workers at which ended ones are swept from the dispatcher's map.
const SWEEP_MIN: usize = 1024;

/// Output lines kept per stage for a failure note.
pub const TAIL_LINES: usize = 30;

/// What the outbox is asked to do.
#[derive(Debug)]
enum Op {
    /// `generation` numbers confirmations per thread (0 for other events).
    Event(BotEvent, u64),
    /// A message (or click) was handled in `thread`; retire answered buttons.
    TurnDone {
        thread: ThreadKey,
        user: String,
        intent: Intent,
        awaiting: bool,
    },
    /// A click on buttons whose question is no longer open: remove them. `shown` is the
    /// question as the platform showed it.
    Stale {
        thread: ThreadKey,
        id: String,
        shown: String,
    },
    /// An approval request's message seen in a click (also after a restart): watch it.
    TrackApproval {
        thread: ThreadKey,
        approval_id: i64,
        id: String,
        shown: String,
    },
    /// Answered once everything queued before it for `thread` is delivered.
    Barrier {
        thread: ThreadKey,
        reached: tokio::sync::oneshot::Sender<()>,
    },
}

impl Op {
    fn thread(&self) -> &ThreadKey {
        match self {
            Op::Event(e, _) => e.thread(),
            Op::TurnDone { thread, .. }
            | Op::Stale { thread, .. }
            | Op::TrackApproval { thread, .. }
            | Op::Barrier { thread, .. } => thread,
        }
    }
}

/// The confirmation question of a thread: the newest generation asked, and the message that
/// shows it once posted. A click counts only on the message of the newest generation.
#[derive(Default)]
struct Question {
    generation: u64,
    shown: Option<(u64, String)>,
}

struct Ctx<S: Surface> {
    surface: Arc<S>,
    store: Store,
    edit_interval: Duration,
    /// How long an unanswered question stays answerable (the session TTL).
    question_ttl: Duration,
    /// Confirmation questions per thread, for validating clicks.
    confirms: Mutex<HashMap<ThreadKey, Question>>,
    /// Operations accepted but not finished, for [`Outbox::flush`].
    in_flight: InFlight,
    /// Final status edits still being delivered.
    finals: Mutex<Vec<JoinHandle<()>>>,
}

/// A platform's [`EventSink`]: queues events and delivers them in order per thread.
pub struct Outbox<S: Surface> {
    tx: mpsc::UnboundedSender<Op>,
    ctx: Arc<Ctx<S>>,
}

impl<S: Surface> Clone for Outbox<S> {
    fn clone(&self) -> Self {
        Outbox {
            tx: self.tx.clone(),
            ctx: self.ctx.clone(),
        }
    }
}

impl<S: Surface> EventSink for Outbox<S> {
    fn emit(&self, event: BotEvent) {
        let mut generation = 0;
        if let BotEvent::Confirm { thread, .. } = &event {
            // Synchronously, before the bot releases the thread: from now on the previous
            // question's buttons no longer count, even if its message is still on screen.
            let mut confirms = self.ctx.confirms.lock().unwrap_or_else(|e| e.into_inner());
            let q = confirms.entry(thread.clone()).or_default();
            q.generation += 1;
            generation = q.generation;
        }
        self.send(Op::Event(event, generation));
    }
}

impl<S: Surface> Outbox<S> {
    /// Starts the dispatcher; `edit_interval` is the shortest gap between edits of a message,
    /// `question_ttl` how long a confirmation question stays open (the session TTL).
    pub fn start(
        surface: Arc<S>,
        store: Store,
        edit_interval: Duration,
        question_ttl: Duration,
    ) -> Outbox<S> {
        let ctx = Arc::new(Ctx {
            surface,
            store,
            edit_interval,
            question_ttl,
            confirms: Mutex::new(HashMap::new()),
            in_flight: InFlight::default(),
            finals: Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(rx, ctx.clone()));
        Outbox { tx, ctx }
    }

    fn send(&self, op: Op) {
        self.ctx.in_flight.add();
        if self.tx.send(op).is_err() {
            self.ctx.in_flight.done();
        }
    }

    /// Tells the outbox a turn in `thread` was handled, so answered buttons are retired.
    pub fn turn_done(&self, thread: &ThreadKey, user: &str, intent: Intent, awaiting: bool) {
        self.send(Op::TurnDone {
            thread: thread.clone(),
            user: user.to_string(),
            intent,
            awaiting,
        });
    }

    /// Removes the buttons of message `id`, whose question (as `shown`) is no longer open.
    pub fn retire_stale(&self, thread: &ThreadKey, id: &str, shown: &str) {
        self.send(Op::Stale {
            thread: thread.clone(),
            id: id.to_string(),
            shown: shown.to_string(),
        });
    }

    /// Watches an approval request's message found in a click, so its buttons are retired
    /// once the request is settled (this process may not have posted it: restarts).
    pub fn track_approval(&self, thread: &ThreadKey, approval_id: i64, id: &str, shown: &str) {
        self.send(Op::TrackApproval {
            thread: thread.clone(),
            approval_id,
            id: id.to_string(),
            shown: shown.to_string(),
        });
    }

    /// Waits (at most `limit`) until what is queued for `thread` so far is delivered: a click
    /// can arrive after the platform stored a question but before its post returned here,
    /// and only then is the question's message known.
    pub async fn settled(&self, thread: &ThreadKey, limit: Duration) -> bool {
        let (reached, wait) = tokio::sync::oneshot::channel();
        self.send(Op::Barrier {
            thread: thread.clone(),
            reached,
        });
        matches!(tokio::time::timeout(limit, wait).await, Ok(Ok(())))
    }

    /// Is `ts` the message of the newest confirmation question of `thread`? The adapter holds
    /// the thread's lock while it checks and answers, so no newer question can slip in between.
    pub fn is_open_confirmation(&self, thread: &ThreadKey, ts: &str) -> bool {
        self.ctx
            .confirms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(thread)
            .is_some_and(
                |q| matches!(&q.shown, Some((g, open)) if *g == q.generation && open == ts),
            )
    }

    /// Waits until everything queued so far is delivered (or `limit` passes).
    pub async fn flush(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        if !self.ctx.in_flight.zero(limit).await {
            return false;
        }
        let finals: Vec<_> =
            std::mem::take(&mut *self.ctx.finals.lock().unwrap_or_else(|e| e.into_inner()));
        for f in finals {
            if tokio::time::timeout_at(deadline, f).await.is_err() {
                return false;
            }
        }
        true
    }
}

async fn dispatch<S: Surface>(mut rx: mpsc::UnboundedReceiver<Op>, ctx: Arc<Ctx<S>>) {
    let mut workers: HashMap<ThreadKey, mpsc::UnboundedSender<Op>> = HashMap::new();
    // Ended workers are swept when the map has doubled since the last sweep: a sweep walks
    // every worker, so sweeping at each new thread made a burst of new threads quadratic.
    let mut sweep_at = SWEEP_MIN;
    while let Some(op) = rx.recv().await {
        let key = op.thread().clone();
        let op = match workers.get(&key) {
            Some(w) => match w.send(op) {
                Ok(()) => continue,
                // That worker ended (idle); start a new one below.
                Err(mpsc::error::SendError(op)) => op,
            },
            None => op,
        };
        let (wtx, wrx) = mpsc::unbounded_channel();
        let _ = wtx.send(op);
        tokio::spawn(
            Worker {
                ctx: ctx.clone(),
                key: key.clone(),
                runs: HashMap::new(),
                plans: HashMap::new(),
                confirm: None,
                approvals: BTreeMap::new(),
                joined: false,
            }
            .run(wrx),
        );
        if workers.len() >= sweep_at {
            workers.retain(|_, w| !w.is_closed());
            sweep_at = SWEEP_MIN.max(2 * workers.len());
        }
        workers.insert(key, wtx);
    }
}

/// An approval request's message with buttons.
struct ApprovalMessage {
    /// Message id.
    id: String,
    /// Its text as shown.
    shown: String,
    /// The request's text, when this process posted it (to show partial approvals).
    text: Option<String>,
    /// Approvals already shown on it.
    approvals_shown: usize,
}

struct RunState<S: Surface> {
    view: RunView,
    editor: Option<StatusEditor<S>>,
    tails: HashMap<String, VecDeque<String>>,
}

struct Worker<S: Surface> {
    ctx: Arc<Ctx<S>>,
    key: ThreadKey,
    runs: HashMap<i64, RunState<S>>,
    /// The message of each running plan (None: its first post failed).
    plans: HashMap<i64, Option<StatusEditor<S>>>,
    /// Open confirmation: (message id, shown text).
    confirm: Option<(String, String)>,
    /// Approval requests with buttons: approval id -> (message id, shown text).
    approvals: BTreeMap<i64, ApprovalMessage>,
    joined: bool,
}

impl<S: Surface> Worker<S> {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Op>) {
        loop {
            // Runs and approval requests end on their own (the expiry sweeper closes old
            // requests), so the worker waits for them; an open question only until it expires.
            let op =
                if !self.runs.is_empty() || !self.plans.is_empty() || !self.approvals.is_empty() {
                    rx.recv().await
                } else {
                    let idle = if self.confirm.is_some() {
                        IDLE.max(self.ctx.question_ttl + Duration::from_secs(60))
                    } else {
                        IDLE
                    };
                    match tokio::time::timeout(idle, rx.recv()).await {
                        Ok(op) => op,
                        Err(_) => {
                            rx.close();
                            // Drain what raced with closing, then end.
                            while let Some(op) = rx.recv().await {
                                self.handle(op).await;
                                self.ctx.in_flight.done();
                            }
                            if self.confirm.take().is_some() {
                                self.forget_confirm();
                            }
                            return;
                        }
                    }
                };
            let Some(op) = op else { return };
            self.handle(op).await;
            self.ctx.in_flight.done();
        }
    }

    async fn handle(&mut self, op: Op) {
        let surface = self.ctx.surface.clone();
        match op {
            Op::Event(event, generation) => self.event(event, generation).await,
            Op::TrackApproval {
                approval_id,
                id,
                shown,
                ..
            } => {
                self.approvals
                    .entry(approval_id)
                    .or_insert(ApprovalMessage {
                        id,
                        shown,
                        text: None,
                        approvals_shown: 0,
                    });
            }
            Op::TurnDone {
                user,
                intent,
                awaiting,
                ..
            } => {
                if !awaiting {
                    if let Some((id, shown)) = self.confirm.take() {
                        self.forget_confirm();
                        let [ok, _, cancelled, _] = surface.marks();
                        let who = surface.mention(&user);
                        let outcome = match intent {
                            Intent::Affirm => format!("{ok} Confirmed by {who}"),
                            Intent::Negate | Intent::Cancel => {
                                format!("{cancelled} Cancelled by {who}")
                            }
                            _ => "This question is no longer open.".to_string(),
                        };
                        self.update(&id, surface.answered(&shown, &outcome)).await;
                    }
                }
                self.check_approvals().await;
            }
            Op::Barrier { reached, .. } => {
                let _ = reached.send(());
            }
            Op::Stale { id, shown, .. } => {
                if self.confirm.as_ref().is_some_and(|(open, _)| *open == id) {
                    return;
                }
                let note = "This question is no longer open; ask again if needed.";
                self.update(&id, surface.answered(&shown, note)).await;
            }
        }
    }

    async fn event(&mut self, event: BotEvent, generation: u64) {
        let surface = self.ctx.surface.clone();
        match event {
            BotEvent::Reply { text, .. } => {
                self.post(surface.plain(&text), Persistence::Normal).await;
                self.check_approvals().await;
            }
            BotEvent::Prompt { text, .. } => {
                self.post(surface.plain(&text), Persistence::Normal).await;
            }
            BotEvent::Confirm { text, .. } => {
                if let Some((id, old)) = self.confirm.take() {
                    let note = "Replaced by the question below.";
                    self.update(&id, surface.answered(&old, note)).await;
                }
                if let Some(id) = self.post(surface.confirm(&text), Persistence::Normal).await {
                    let mut confirms = self.ctx.confirms.lock().unwrap_or_else(|e| e.into_inner());
                    let q = confirms.entry(self.key.clone()).or_default();
                    if q.generation == generation {
                        q.shown = Some((generation, id.clone()));
                    }
                    drop(confirms);
                    self.confirm = Some((id, surface.shown(&text)));
                }
            }
            BotEvent::ApprovalRequest {
                approval_id, text, ..
            } => {
                let content = surface.approval(&text, approval_id, None);
                if let Some(id) = self.post(content, Persistence::Normal).await {
                    let shown = surface.shown(&text);
                    self.approvals.insert(
                        approval_id,
                        ApprovalMessage {
                            id,
                            shown,
                            text: Some(text),
                            approvals_shown: 0,
                        },
                    );
                }
            }
            BotEvent::RunStarted {
                run_id,
                action,
                service,
                environment,
                version,
                strategy,
                ..
            } => {
                let view = RunView {
                    run_id,
                    action,
                    service,
                    environment,
                    version,
                    strategy,
                    summary: String::new(),
                    last_line: None,
                    finished: None,
                };
                let content = surface.status(&view);
                let editor = self
                    .post(content.clone(), Persistence::Normal)
                    .await
                    .map(|id| self.editor(id, content));
                self.runs.insert(
                    run_id,
                    RunState {
                        view,
                        editor,
                        tails: HashMap::new(),
                    },
                );
                self.check_approvals().await;
            }
            BotEvent::Progress {
                run_id,
                stage,
                phase,
                state,
                line,
                summary,
                ..
            } => {
                let Some(run) = self.runs.get_mut(&run_id) else {
                    return;
                };
                run.view.summary = summary;
                let mut note = None;
                let key = format!("{}/{stage}", phase.as_str());
                match line {
                    Some(line) => {
                        let tail = run.tails.entry(key).or_default();
                        if tail.len() == TAIL_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(line.clone());
                        run.view.last_line = Some(line);
                    }
                    None if matches!(state, StageState::Failed | StageState::TimedOut) => {
                        let lines: Vec<String> = run
                            .tails
                            .get(&key)
                            .map(|t| t.iter().cloned().collect())
                            .unwrap_or_default();
                        note = Some(surface.failure_note(&stage, phase, state, &lines));
                    }
                    None => run.view.last_line = None,
                }
                if let Some(editor) = &run.editor {
                    editor.show(surface.status(&run.view));
                }
                if let Some(note) = note {
                    self.post(note, Persistence::Normal).await;
                }
            }
            BotEvent::PlanProgress {
                plan_id,
                text,
                ended,
                ..
            } => self.plan_progress(plan_id, text, ended).await,
            BotEvent::RunFinished {
                run_id,
                status,
                summary,
                text,
                version,
                ..
            } => {
                if let Some(mut run) = self.runs.remove(&run_id) {
                    run.view.finished = Some(status);
                    run.view.summary = summary;
                    if run.view.version.is_none() {
                        run.view.version = version;
                    }
                    let content = surface.status(&run.view);
                    match run.editor.take() {
                        Some(editor) => self.finish(editor, content),
                        // The status message never got posted: post the final state instead.
                        None => {
                            self.post(content, Persistence::MustArrive).await;
                        }
                    }
                }
                self.post(surface.plain(&text), Persistence::MustArrive)
                    .await;
            }
        }
    }

    /// Starts editing message `id` of this thread, which shows `content`.
    fn editor(&self, id: String, content: S::Content) -> StatusEditor<S> {
        StatusEditor::start(
            self.ctx.surface.clone(),
            self.key.clone(),
            id,
            content,
            self.ctx.edit_interval,
        )
    }

    /// Shows a message's final state; [`Outbox::flush`] waits for it.
    fn finish(&self, editor: StatusEditor<S>, content: S::Content) {
        let done = editor.finish(content);
        let mut finals = self.ctx.finals.lock().unwrap_or_else(|e| e.into_inner());
        finals.retain(|h| !h.is_finished());
        finals.push(done);
    }

    /// A plan's one message: posted at its first move, edited (coalesced) at the next ones,
    /// its final state delivered even if edits fail meanwhile.
    async fn plan_progress(&mut self, plan_id: i64, text: String, ended: bool) {
        let surface = self.ctx.surface.clone();
        let content = surface.plain(&text);
        if !self.plans.contains_key(&plan_id) {
            let persistence = match ended {
                true => Persistence::MustArrive,
                false => Persistence::Normal,
            };
            let posted = self.post(content.clone(), persistence).await;
            if ended {
                return;
            }
            let editor = posted.map(|id| self.editor(id, content));
            self.plans.insert(plan_id, editor);
            return;
        }
        if !ended {
            if let Some(Some(editor)) = self.plans.get(&plan_id) {
                editor.show(content);
            }
            return;
        }
        match self.plans.remove(&plan_id).flatten() {
            Some(editor) => self.finish(editor, content),
            // Its message never got posted: post the final state instead.
            None => {
                self.post(content, Persistence::MustArrive).await;
            }
        }
    }

    /// The thread's question is answered or gone: no message of it takes clicks any more.
    fn forget_confirm(&self) {
        let mut confirms = self.ctx.confirms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = confirms.get_mut(&self.key) {
            q.shown = None;
        }
    }

    /// Retires the buttons of approval requests that are no longer pending.
    async fn check_approvals(&mut self) {
        let surface = self.ctx.surface.clone();
        let ids: Vec<i64> = self.approvals.keys().copied().collect();
        for id in ids {
            let record = match self.ctx.store.approval(id).await {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(approval_id = id, error = %e, "cannot read approval state");
                    continue;
                }
            };
            let decisions = self.ctx.store.decisions(id).await.unwrap_or_default();
            if record.status == ApprovalStatus::Pending {
                // Still waiting for more approvals: show who approved so far.
                let approved: Vec<String> = decisions
                    .iter()
                    .filter(|d| d.decision == Decision::Approve)
                    .map(|d| surface.name(&d.identity, &d.person))
                    .collect();
                let Some(m) = self.approvals.get_mut(&id) else {
                    continue;
                };
                if let (Some(text), true) = (&m.text, approved.len() > m.approvals_shown) {
                    let [ok, ..] = surface.marks();
                    let progress = format!(
                        "{ok} Approved so far by {} ({} of {})",
                        approved.join(", "),
                        approved.len(),
                        record.required
                    );
                    m.approvals_shown = approved.len();
                    let content = surface.approval(text, id, Some(&progress));
                    let msg = m.id.clone();
                    self.update(&msg, content).await;
                }
                continue;
            }
            let who = |decision: Decision| {
                let names: Vec<String> = decisions
                    .iter()
                    .filter(|d| d.decision == decision)
                    .map(|d| surface.name(&d.identity, &d.person))
                    .collect();
                if names.is_empty() {
                    "someone".to_string()
                } else {
                    names.join(", ")
                }
            };
            let [ok, no, cancelled, expired] = surface.marks();
            let outcome = match record.status {
                ApprovalStatus::Approved => format!("{ok} Approved by {}", who(Decision::Approve)),
                ApprovalStatus::Rejected => format!("{no} Rejected by {}", who(Decision::Reject)),
                ApprovalStatus::Expired => format!("{expired} Expired; nothing ran."),
                ApprovalStatus::Cancelled => format!("{cancelled} Withdrawn by the requester."),
                ApprovalStatus::Pending => continue,
            };
            if let Some(m) = self.approvals.remove(&id) {
                self.update(&m.id, surface.answered(&m.shown, &outcome))
                    .await;
            }
        }
    }

    /// Posts into the thread; returns the new message's id.
    async fn post(&mut self, content: S::Content, persistence: Persistence) -> Option<String> {
        match self.ctx.surface.post(&self.key, content, persistence).await {
            Ok(id) => {
                // A conversation another surface opened (an empty workspace part: the
                // API's `notify`) is not one the bot joined: messages there still need a mention.
                if !self.joined && !crate::adapters::delivery::thread_key::is_outlet(&self.key) {
                    self.joined = true;
                    if let Err(e) = self
                        .ctx
                        .store
                        .join_thread(&self.key, crate::clock::now_ms())
                        .await
                    {
                        tracing::warn!(thread = %self.key, error = %e, "cannot record the thread");
                    }
                }
                Some(id)
            }
            Err(e) => {
                tracing::error!(thread = %self.key, error = %e, "message could not be posted");
                None
            }
        }
    }

    async fn update(&self, id: &str, content: S::Content) {
        if let Err(e) = self.ctx.surface.edit(&self.key, id, content).await {
            tracing::error!(thread = %self.key, id, error = %e, "message could not be updated");
        }
    }
}
