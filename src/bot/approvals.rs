//! Approval requests in threads: asking, deciding (four-eyes, single use), expiring, withdrawing.

use super::governed::{describe_request, roles_text};
use super::{fault, timefmt_span, utc, Bot, Out};
use crate::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use crate::dialogue::{Request, Session};
use crate::governance::{Actor, Verb};
use crate::nlu::Intent;
use crate::store::{Action, ApprovalRecord, Decision, DecisionRecord, NewApproval, StoreError};
use std::sync::Arc;
use std::time::Duration;

impl Bot {
    /// A confirmed deploy or rollback: check again, then either ask for approval or start it.
    pub(super) async fn request_run(
        &self,
        req: Request,
        msg: &Incoming,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let subject = format!(
            "{}/{}",
            req.service.as_deref().unwrap_or_default(),
            req.environment.as_deref().unwrap_or_default()
        );
        match self.precheck(actor, &req).await {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                return self
                    .refuse(actor, req.intent, &subject, refusal, session, out)
                    .await
            }
            Err(e) => return out.reply(session, fault("checking permissions", &e)),
        }
        let (service, environment) = (
            req.service.clone().unwrap_or_default(),
            req.environment.clone().unwrap_or_default(),
        );
        let strategy = req.strategy.unwrap_or_else(|| {
            self.config
                .environment(&environment)
                .map(|e| e.default_strategy)
                .unwrap_or_default()
        });
        let details = serde_json::json!({
            "intent": req.intent.as_str(), "service": service, "environment": environment, "version": req.version,
            "strategy": strategy.as_str(), "percent": req.percent, "identity": actor.identity, "thread": msg.thread.to_string(),
        });
        self.audit
            .note(actor.name(), "command", &subject, details)
            .await;
        let required = self.governance.approvals_required(&service, &environment);
        if required == 0 {
            if let Err(text) = self
                .start_run(req, actor.name(), &msg.thread, out.sink.clone())
                .await
            {
                out.reply(session, text);
            }
            return;
        }
        match self.store.latest_approval_in_thread(&msg.thread).await {
            Ok(Some(open))
                if open.status == "pending" && crate::clock::now_ms() < open.expires_at =>
            {
                let text = format!(
                    "Request #{} is still waiting for approval in this thread; one request per thread keeps \"approve\" unambiguous. {} can say \"cancel\" to withdraw it, or ask in another thread.",
                    open.id, open.requested_by
                );
                return self
                    .refuse(actor, req.intent, &subject, text, session, out)
                    .await;
            }
            Ok(_) => {}
            Err(e) => return out.reply(session, fault("reading approval requests", &e)),
        }
        let note = match (req.intent, self.memory(&service, &environment).await) {
            (Intent::Deploy, Ok((_, Some(rec)))) => format!("⚠ {}", rec.reason),
            _ => String::new(),
        };
        let now = crate::clock::now_ms();
        let timeout = Duration::from_secs(self.config.governance.approval_timeout_secs);
        let new = NewApproval {
            action: if req.intent == Intent::Rollback {
                Action::Rollback
            } else {
                Action::Deploy
            },
            service: service.clone(),
            environment: environment.clone(),
            version: req.version.clone(),
            strategy: strategy.as_str().into(),
            percent: req.percent,
            requested_by: actor.name().into(),
            thread: msg.thread.clone(),
            required,
            note: note.clone(),
            created_at: now,
            expires_at: now + timeout.as_millis() as i64,
        };
        let id = match self.store.create_approval(&new).await {
            Ok(id) => id,
            Err(e) => return out.reply(session, fault("creating the approval request", &e)),
        };
        self.audit.note(actor.name(), "approval.requested", &format!("approval {id}"), serde_json::json!({"required": required, "request": subject, "expires_at": new.expires_at})).await;
        let what = describe_request(
            new.action,
            &service,
            &environment,
            new.version.as_deref(),
            &new.strategy,
            req.percent.map(i64::from),
        );
        let text = format!(
            "🔐 Approval needed (request #{id}): {} asks to {what}.{}\nNeeds {required} approval{} from {} other than {}. Reply \"approve\" or \"reject\" in this thread within {} (until {}).",
            actor.name(),
            if note.is_empty() { String::new() } else { format!("\n{note}") },
            if required == 1 { "" } else { "s" },
            roles_text(&self.governance.approver_roles(&service, &environment)),
            actor.name(),
            timefmt_span(timeout),
            utc(new.expires_at),
        );
        session.record("deckhand", &text);
        out.sink.emit(BotEvent::ApprovalRequest {
            thread: msg.thread.clone(),
            approval_id: id,
            text,
            requested_by: actor.name().into(),
            required: i64::from(required),
        });
    }

    /// "approve"/"reject" typed in a thread: applies to the newest request made there.
    /// Returns false when the thread has no approval request at all.
    pub(super) async fn decide_in_thread(
        &self,
        thread: &ThreadKey,
        actor: &Actor,
        approve: bool,
        session: &mut Session,
        out: &Out,
    ) -> bool {
        match self.store.latest_approval_in_thread(thread).await {
            Ok(Some(a)) => {
                let text = self.decide_on(a, actor, approve, out.sink.clone()).await;
                out.reply(session, text);
                true
            }
            Ok(None) => false,
            Err(e) => {
                out.reply(session, fault("reading approval requests", &e));
                true
            }
        }
    }

    /// A decision on request `approval_id` by a platform user (e.g. a button click). Replies
    /// go to `sink` in the request's thread.
    pub async fn decide(
        &self,
        approval_id: i64,
        platform: &str,
        user: &str,
        decision: Decision,
        sink: Arc<dyn EventSink>,
    ) {
        let approve = decision == Decision::Approve;
        let actor = self.governance.actor(platform, user);
        let text = match self.store.approval(approval_id).await {
            Ok(Some(a)) => {
                let thread = a.thread.clone();
                let text = self.decide_on(a, &actor, approve, sink.clone()).await;
                sink.emit(BotEvent::Reply {
                    thread,
                    text,
                    intent: Some(if approve {
                        Intent::Approve
                    } else {
                        Intent::Reject
                    }),
                });
                return;
            }
            Ok(None) => format!("There is no approval request #{approval_id}."),
            Err(e) => fault("reading approval requests", &e),
        };
        tracing::warn!(approval_id, "{text}");
    }

    async fn decide_on(
        &self,
        a: ApprovalRecord,
        actor: &Actor,
        approve: bool,
        sink: Arc<dyn EventSink>,
    ) -> String {
        let now = crate::clock::now_ms();
        let subject = format!("approval {}", a.id);
        let what = describe_request(
            a.action,
            &a.service,
            &a.environment,
            a.version.as_deref(),
            &a.strategy,
            a.percent,
        );
        if a.status != "pending" {
            return self.closed_request_text(&a).await;
        }
        if now >= a.expires_at {
            return match self.expire(&a).await {
                Ok(false) => self.closed_request_text(&a).await,
                Ok(true) => format!(
                    "Request #{} expired at {}, so nothing ran; {} can ask again.",
                    a.id,
                    utc(a.expires_at),
                    a.requested_by
                ),
                Err(e) => fault("expiring the approval request", &e),
            };
        }
        let scope = Some(a.service.as_str());
        if actor.person.as_deref() == Some(a.requested_by.as_str()) {
            let text = if approve {
                format!(
                    "You can't approve your own request (four-eyes rule): {} must. To withdraw it, say \"cancel\".",
                    roles_text(&self.governance.approver_roles(&a.service, &a.environment))
                )
            } else {
                "To withdraw your own request, say \"cancel\".".to_string()
            };
            self.audit
                .note(
                    actor.name(),
                    "refusal",
                    &subject,
                    serde_json::json!({"reason": text, "identity": actor.identity}),
                )
                .await;
            return text;
        }
        if let Err(refusal) = self
            .governance
            .authorize(actor, Verb::Approve, scope, &a.environment)
        {
            self.audit
                .note(
                    actor.name(),
                    "refusal",
                    &subject,
                    serde_json::json!({"reason": refusal, "identity": actor.identity}),
                )
                .await;
            return refusal;
        }
        let decision = DecisionRecord {
            person: actor.name().into(),
            identity: actor.identity.clone(),
            decision: if approve { "approve" } else { "reject" }.into(),
            decided_at: now,
        };
        match self.store.record_decision(a.id, &decision).await {
            Ok(true) => {}
            Ok(false) => {
                return format!(
                    "You already decided on request #{}; your first decision stands.",
                    a.id
                )
            }
            Err(e) => return fault("recording the decision", &e),
        }
        self.audit
            .note(
                actor.name(),
                "approval.decision",
                &subject,
                serde_json::json!({"decision": decision.decision, "identity": actor.identity}),
            )
            .await;
        if !approve {
            return match self.store.close_approval(a.id, "rejected", now).await {
                Ok(true) => {
                    self.audit
                        .note(
                            actor.name(),
                            "approval.rejected",
                            &subject,
                            serde_json::json!({}),
                        )
                        .await;
                    format!(
                        "❌ Rejected by {}: {}'s request to {what} will not run.",
                        actor.name(),
                        a.requested_by
                    )
                }
                Ok(false) => self.closed_request_text(&a).await,
                Err(e) => fault("closing the approval request", &e),
            };
        }
        let approvals = match self.store.decisions(a.id).await {
            Ok(d) => d.iter().filter(|d| d.decision == "approve").count() as i64,
            Err(e) => return fault("counting approvals", &e),
        };
        if approvals < a.required {
            return format!(
                "👍 {} approved request #{} ({approvals} of {}); waiting for {} more.",
                actor.name(),
                a.id,
                a.required,
                a.required - approvals
            );
        }
        // Single use: only the decision that moves it out of `pending` starts the run.
        match self.store.close_approval(a.id, "approved", now).await {
            Ok(true) => {}
            Ok(false) => return self.closed_request_text(&a).await,
            Err(e) => return fault("closing the approval request", &e),
        }
        self.audit
            .note(
                actor.name(),
                "approval.approved",
                &subject,
                serde_json::json!({"approvals": approvals}),
            )
            .await;
        let req = Request {
            intent: if a.action == Action::Rollback {
                Intent::Rollback
            } else {
                Intent::Deploy
            },
            service: Some(a.service.clone()),
            environment: Some(a.environment.clone()),
            version: a.version.clone(),
            strategy: crate::config::Strategy::parse(&a.strategy),
            percent: a.percent.and_then(|p| u8::try_from(p).ok()),
            lock: None,
            promote_from: None,
        };
        // The requester's permission and the locks are checked again: things change in 30 min.
        let requester = self.governance.actor_for_person(&a.requested_by);
        match self.precheck(&requester, &req).await {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                self.audit
                    .note(
                        actor.name(),
                        "approval.not_started",
                        &subject,
                        serde_json::json!({"reason": refusal}),
                    )
                    .await;
                return format!(
                    "Approved by {}, but it can't run now: {refusal}",
                    actor.name()
                );
            }
            Err(e) => return fault("checking permissions", &e),
        }
        match self.start_run(req, &a.requested_by, &a.thread, sink).await {
            Ok(run_id) => {
                if let Err(e) = self.store.set_approval_run(a.id, run_id).await {
                    tracing::error!(error = %e, approval_id = a.id, run_id, "could not link the approval to its run");
                }
                format!("✅ Approved by {}. Starting: {what}.", actor.name())
            }
            Err(problem) => {
                self.audit
                    .note(
                        actor.name(),
                        "approval.not_started",
                        &subject,
                        serde_json::json!({"reason": problem}),
                    )
                    .await;
                format!(
                    "Approved by {}, but the run did not start: {problem}",
                    actor.name()
                )
            }
        }
    }

    async fn closed_request_text(&self, a: &ApprovalRecord) -> String {
        let fresh = self
            .store
            .approval(a.id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| a.clone());
        let deciders = self.store.decisions(a.id).await.unwrap_or_default();
        let by = |d: &str| {
            let names: Vec<String> = deciders
                .iter()
                .filter(|x| x.decision == d)
                .map(|x| x.person.clone())
                .collect();
            if names.is_empty() {
                "nobody".to_string()
            } else {
                names.join(", ")
            }
        };
        let when = fresh.decided_at.map(utc).unwrap_or_default();
        match fresh.status.as_str() {
            "approved" => format!(
                "Request #{} was already approved by {} at {when}{}; nothing changed.",
                a.id,
                by("approve"),
                fresh
                    .run_id
                    .map(|r| format!(" and run {r} started"))
                    .unwrap_or_default()
            ),
            "rejected" => format!(
                "Request #{} was already rejected by {} at {when}; nothing changed.",
                a.id,
                by("reject")
            ),
            "expired" => format!(
                "Request #{} expired at {}; {} can ask again.",
                a.id,
                utc(a.expires_at),
                a.requested_by
            ),
            _ => format!(
                "Request #{} was withdrawn by {}; nothing to decide.",
                a.id, a.requested_by
            ),
        }
    }

    /// Closes a request as expired; true only when this call closed it (another process or a
    /// racing approval may have got there first).
    async fn expire(&self, a: &ApprovalRecord) -> Result<bool, StoreError> {
        let closed = self
            .store
            .close_approval(a.id, "expired", crate::clock::now_ms())
            .await?;
        if closed {
            self.audit
                .note(
                    "deckhand",
                    "approval.expired",
                    &format!("approval {}", a.id),
                    serde_json::json!({"requested_by": a.requested_by}),
                )
                .await;
        }
        Ok(closed)
    }

    /// Expires pending approval requests whose time is up and says so in their threads;
    /// returns how many. Runs periodically in the background (see [`Bot::spawn_background`]).
    pub async fn expire_approvals(&self) -> usize {
        let due = match self
            .store
            .expired_pending_approvals(crate::clock::now_ms())
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "could not read approval requests to expire");
                return 0;
            }
        };
        let mut n = 0;
        for a in due {
            match self.expire(&a).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(error = %e, approval_id = a.id, "could not expire the approval request");
                    continue;
                }
            }
            n += 1;
            let text = format!(
                "⌛ Request #{} ({}'s request to {}) expired after {} without enough approvals; nothing ran. Ask again if it is still needed.",
                a.id,
                a.requested_by,
                describe_request(a.action, &a.service, &a.environment, a.version.as_deref(), &a.strategy, a.percent),
                timefmt_span(Duration::from_millis((a.expires_at - a.created_at).max(0) as u64)),
            );
            match self.sink_for(&a.thread.platform) {
                Some(sink) => sink.emit(BotEvent::Reply {
                    thread: a.thread.clone(),
                    text,
                    intent: None,
                }),
                None => tracing::warn!(
                    approval_id = a.id,
                    "no adapter connected for {}; expiry not announced",
                    a.thread.platform
                ),
            }
        }
        n
    }

    /// Starts the periodic work (approval expiry). Adapters call it once after creating the bot.
    pub fn spawn_background(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let bot = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(15));
            loop {
                every.tick().await;
                bot.expire_approvals().await;
                let day_ago = crate::clock::now_ms() - 86_400_000;
                if let Err(e) = bot.store.prune_deliveries(day_ago).await {
                    tracing::warn!(error = %e, "could not prune delivered events");
                }
                let quarter_ago = crate::clock::now_ms() - 90 * 86_400_000;
                if let Err(e) = bot.store.prune_threads(quarter_ago).await {
                    tracing::warn!(error = %e, "could not prune bot threads");
                }
            }
        })
    }

    /// "cancel" from the requester withdraws their pending approval request in this thread.
    pub(super) async fn withdraw_pending_approval(
        &self,
        thread: &ThreadKey,
        actor: &Actor,
    ) -> Result<Option<String>, StoreError> {
        let Some(a) = self.store.latest_approval_in_thread(thread).await? else {
            return Ok(None);
        };
        if a.status != "pending" || actor.person.as_deref() != Some(a.requested_by.as_str()) {
            return Ok(None);
        }
        if !self
            .store
            .close_approval(a.id, "cancelled", crate::clock::now_ms())
            .await?
        {
            // An approval or expiry won the race; say what actually happened.
            return Ok(Some(self.closed_request_text(&a).await));
        }
        {
            self.audit
                .note(
                    actor.name(),
                    "approval.withdrawn",
                    &format!("approval {}", a.id),
                    serde_json::json!({}),
                )
                .await;
        }
        Ok(Some(format!(
            "OK, request #{} is withdrawn; nothing ran.",
            a.id
        )))
    }
}
