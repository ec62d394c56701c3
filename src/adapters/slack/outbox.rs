//! Delivers bot events to Slack. Each thread has its own worker so messages in a thread keep
//! their order while threads do not wait for each other. The worker posts replies, questions
//! with buttons and approval requests, keeps one status message per run (edited through a
//! [`StatusEditor`]), posts a note with the log tail when a stage fails, and retires buttons once
//! their question is answered, whoever answered it and however (click, typed reply, expiry).

use super::render::{self, RunView};
use super::status::{StatusEditor, StatusMessage};
use super::threads::SlackThread;
use super::web_api::{MessageRef, Retry, WebApi};
use crate::chat::{BotEvent, EventSink, StageState, ThreadKey};
use crate::nlu::Intent;
use crate::store::Store;
use slack_morphism::prelude::*;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A worker with nothing to do for this long ends (a new one starts on the next event),
/// unless it still watches runs, approval requests or an open question.
const IDLE: Duration = Duration::from_secs(600);

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
    /// A click on buttons whose question is no longer open: remove them.
    Stale {
        thread: ThreadKey,
        ts: String,
        text: String,
    },
    /// An approval request's message seen in a click (also after a restart): watch it.
    TrackApproval {
        thread: ThreadKey,
        approval_id: i64,
        ts: String,
        mrkdwn: String,
    },
}

impl Op {
    fn thread(&self) -> &ThreadKey {
        match self {
            Op::Event(e, _) => e.thread(),
            Op::TurnDone { thread, .. }
            | Op::Stale { thread, .. }
            | Op::TrackApproval { thread, .. } => thread,
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

struct Ctx {
    api: WebApi,
    store: Store,
    edit_interval: Duration,
    /// How long an unanswered question stays answerable (the session TTL).
    question_ttl: Duration,
    /// Confirmation questions per thread, for validating clicks.
    confirms: Mutex<HashMap<ThreadKey, Question>>,
    /// Operations accepted but not finished, for [`Outbox::flush`].
    in_flight: AtomicUsize,
    /// Final status edits still being delivered.
    finals: Mutex<Vec<JoinHandle<()>>>,
}

/// The Slack [`EventSink`]: queues events and delivers them in order per thread.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Op>,
    ctx: Arc<Ctx>,
}

impl EventSink for Outbox {
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

impl Outbox {
    /// Starts the dispatcher; `edit_interval` is the shortest gap between edits of a message,
    /// `question_ttl` how long a confirmation question stays open (the session TTL).
    pub fn start(
        api: WebApi,
        store: Store,
        edit_interval: Duration,
        question_ttl: Duration,
    ) -> Outbox {
        let ctx = Arc::new(Ctx {
            api,
            store,
            edit_interval,
            question_ttl,
            confirms: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            finals: Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(rx, ctx.clone()));
        Outbox { tx, ctx }
    }

    fn send(&self, op: Op) {
        self.ctx.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(op).is_err() {
            self.ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
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

    /// Removes the buttons of a message whose question is no longer open.
    pub fn retire_stale(&self, thread: &ThreadKey, ts: &str, text: &str) {
        self.send(Op::Stale {
            thread: thread.clone(),
            ts: ts.to_string(),
            text: text.to_string(),
        });
    }

    /// Watches an approval request's message found in a click, so its buttons are retired
    /// once the request is settled (this process may not have posted it: restarts).
    pub fn track_approval(&self, thread: &ThreadKey, approval_id: i64, ts: &str, mrkdwn: &str) {
        self.send(Op::TrackApproval {
            thread: thread.clone(),
            approval_id,
            ts: ts.to_string(),
            mrkdwn: mrkdwn.to_string(),
        });
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
        while self.ctx.in_flight.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
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

async fn dispatch(mut rx: mpsc::UnboundedReceiver<Op>, ctx: Arc<Ctx>) {
    let mut workers: HashMap<ThreadKey, mpsc::UnboundedSender<Op>> = HashMap::new();
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
        let Some(slack) = SlackThread::from_key(&key) else {
            tracing::error!(thread = %key, "event for a thread that is not a Slack thread; dropped");
            ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
            continue;
        };
        let (wtx, wrx) = mpsc::unbounded_channel();
        let _ = wtx.send(op);
        tokio::spawn(
            Worker {
                ctx: ctx.clone(),
                key: key.clone(),
                slack,
                runs: HashMap::new(),
                confirm: None,
                approvals: BTreeMap::new(),
                joined: false,
            }
            .run(wrx),
        );
        workers.retain(|_, w| !w.is_closed());
        workers.insert(key, wtx);
    }
}

struct RunState {
    view: RunView,
    editor: Option<StatusEditor>,
    tails: HashMap<String, VecDeque<String>>,
}

struct Worker {
    ctx: Arc<Ctx>,
    key: ThreadKey,
    slack: SlackThread,
    runs: HashMap<i64, RunState>,
    /// Open confirmation: (ts, mrkdwn text).
    confirm: Option<(String, String)>,
    /// Approval requests with buttons: id -> (ts, mrkdwn text).
    approvals: BTreeMap<i64, (String, String)>,
    joined: bool,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Op>) {
        loop {
            // Runs and approval requests end on their own (the expiry sweeper closes old
            // requests), so the worker waits for them; an open question only until it expires.
            let op = if !self.runs.is_empty() || !self.approvals.is_empty() {
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
                            self.ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
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
            self.ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn handle(&mut self, op: Op) {
        match op {
            Op::Event(event, generation) => self.event(event, generation).await,
            Op::TrackApproval {
                approval_id,
                ts,
                mrkdwn,
                ..
            } => {
                self.approvals.entry(approval_id).or_insert((ts, mrkdwn));
            }
            Op::TurnDone {
                user,
                intent,
                awaiting,
                ..
            } => {
                if !awaiting {
                    if let Some((ts, text)) = self.confirm.take() {
                        self.forget_confirm();
                        let outcome = match intent {
                            Intent::Affirm => format!(":white_check_mark: Confirmed by <@{user}>"),
                            Intent::Negate | Intent::Cancel => {
                                format!(":heavy_multiplication_x: Cancelled by <@{user}>")
                            }
                            _ => "This question is no longer open.".to_string(),
                        };
                        self.update(&ts, render::answered_mrkdwn(&text, &outcome))
                            .await;
                    }
                }
                self.check_approvals().await;
            }
            Op::Stale { ts, text, .. } => {
                if self.confirm.as_ref().is_some_and(|(open, _)| *open == ts) {
                    return;
                }
                // `text` came from Slack already escaped, so it is used as mrkdwn as is.
                let note = "This question is no longer open; ask again if needed.";
                self.update(&ts, render::answered_mrkdwn(&text, note)).await;
            }
        }
    }

    async fn event(&mut self, event: BotEvent, generation: u64) {
        match event {
            BotEvent::Reply { text, .. } => {
                self.post(render::plain(&text), Retry::NORMAL).await;
                self.check_approvals().await;
            }
            BotEvent::Prompt { text, .. } => {
                self.post(render::plain(&text), Retry::NORMAL).await;
            }
            BotEvent::Confirm { text, .. } => {
                if let Some((ts, old)) = self.confirm.take() {
                    let note = "Replaced by the question below.";
                    self.update(&ts, render::answered_mrkdwn(&old, note)).await;
                }
                if let Some(ts) = self.post(render::confirm(&text), Retry::NORMAL).await {
                    let mut confirms = self.ctx.confirms.lock().unwrap_or_else(|e| e.into_inner());
                    let q = confirms.entry(self.key.clone()).or_default();
                    if q.generation == generation {
                        q.shown = Some((generation, ts.clone()));
                    }
                    drop(confirms);
                    self.confirm = Some((ts, render::escape(&text)));
                }
            }
            BotEvent::ApprovalRequest {
                approval_id, text, ..
            } => {
                let content = render::approval(&text, approval_id);
                if let Some(ts) = self.post(content, Retry::NORMAL).await {
                    self.approvals
                        .insert(approval_id, (ts, render::escape(&text)));
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
                let content = view.content();
                let editor = self.post(content.clone(), Retry::NORMAL).await.map(|ts| {
                    let message = StatusMessage {
                        channel: self.slack.channel.clone(),
                        ts,
                        thread_ts: self.slack.thread_ts.clone(),
                    };
                    StatusEditor::start(
                        self.ctx.api.clone(),
                        message,
                        content,
                        self.ctx.edit_interval,
                    )
                });
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
                match line {
                    Some(line) => {
                        let tail = run.tails.entry(format!("{phase}/{stage}")).or_default();
                        if tail.len() == render::TAIL_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(line.clone());
                        run.view.last_line = Some(line);
                    }
                    None if matches!(state, StageState::Failed | StageState::TimedOut) => {
                        let lines: Vec<String> = run
                            .tails
                            .get(&format!("{phase}/{stage}"))
                            .map(|t| t.iter().cloned().collect())
                            .unwrap_or_default();
                        note = Some(render::failure_note(&stage, &phase, state.as_str(), &lines));
                    }
                    None => run.view.last_line = None,
                }
                if let Some(editor) = &run.editor {
                    editor.show(run.view.content());
                }
                if let Some(note) = note {
                    // Already within the section limit; post as raw mrkdwn (the log is escaped).
                    self.post(SlackMessageContent::new().with_text(note), Retry::NORMAL)
                        .await;
                }
            }
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
                    let content = run.view.content();
                    match run.editor.take() {
                        Some(editor) => {
                            let done = editor.finish(content);
                            let mut finals =
                                self.ctx.finals.lock().unwrap_or_else(|e| e.into_inner());
                            finals.retain(|h| !h.is_finished());
                            finals.push(done);
                        }
                        // The status message never got posted: post the final state instead.
                        None => {
                            self.post(content, Retry::PERSISTENT).await;
                        }
                    }
                }
                self.post(render::plain(&text), Retry::PERSISTENT).await;
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
            if record.status == "pending" {
                continue;
            }
            let who = |decision: &str, decisions: &[crate::store::DecisionRecord]| {
                let names: Vec<String> = decisions
                    .iter()
                    .filter(|d| d.decision == decision)
                    .map(|d| match d.identity.strip_prefix("slack:") {
                        Some(u) => format!("<@{u}>"),
                        None => d.person.clone(),
                    })
                    .collect();
                if names.is_empty() {
                    "someone".to_string()
                } else {
                    names.join(", ")
                }
            };
            let decisions = self.ctx.store.decisions(id).await.unwrap_or_default();
            let outcome = match record.status.as_str() {
                "approved" => format!(
                    ":white_check_mark: Approved by {}",
                    who("approve", &decisions)
                ),
                "rejected" => format!(":x: Rejected by {}", who("reject", &decisions)),
                "expired" => ":hourglass: Expired; nothing ran.".to_string(),
                "cancelled" => ":heavy_multiplication_x: Withdrawn by the requester.".to_string(),
                other => format!("Closed ({other})."),
            };
            if let Some((ts, text)) = self.approvals.remove(&id) {
                self.update(&ts, render::answered_mrkdwn(&text, &outcome))
                    .await;
            }
        }
    }

    /// Posts into the thread; returns the new message's `ts`.
    async fn post(&mut self, content: SlackMessageContent, retry: Retry) -> Option<String> {
        let request =
            SlackApiChatPostMessageRequest::new(self.slack.channel.clone().into(), content)
                .with_thread_ts(self.slack.thread_ts.clone().into());
        let result: Result<MessageRef, _> = self
            .ctx
            .api
            .call_with_retry("chat.postMessage", &request, retry)
            .await;
        match result {
            Ok(r) => {
                if !self.joined {
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
                Some(r.ts)
            }
            Err(e) => {
                tracing::error!(thread = %self.key, error = %e, "message could not be posted to Slack");
                None
            }
        }
    }

    async fn update(&self, ts: &str, content: SlackMessageContent) {
        let request = SlackApiChatUpdateRequest::new(
            self.slack.channel.clone().into(),
            content,
            ts.to_string().into(),
        );
        let result: Result<MessageRef, _> = self
            .ctx
            .api
            .call_with_retry("chat.update", &request, Retry::IDEMPOTENT)
            .await;
        if let Err(e) = result {
            tracing::error!(thread = %self.key, ts, error = %e, "message could not be updated");
        }
    }
}
