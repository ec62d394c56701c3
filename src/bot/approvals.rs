//! Approval requests as the thread sees them: decisions by button or typed reply go to the
//! command layer; expiry notices go to the thread the request was made in.

use super::outcomes::{describe_request, describe_stored_request, refusal_kind, text_of};
use super::{fault, Bot};
use crate::chat::{BotEvent, EventSink};
use crate::command::{ApprovalRef, Command, Decide, Expired};
use crate::store::Decision;
use crate::timefmt::span;
use std::sync::Arc;
use std::time::Duration;

impl Bot {
    /// A decision on request `approval_id` by a platform user clicking in `clicked_in`. It goes
    /// through the command layer like a typed "approve" (rate limit included); the answer (and
    /// the run it starts) goes to `sink` in the request's thread, or, for a request made
    /// outside chat (the API with `notify`), in the thread of the click.
    pub async fn decide(
        &self,
        approval_id: i64,
        clicked_in: &crate::chat::ThreadKey,
        user: &str,
        decision: Decision,
        sink: Arc<dyn EventSink>,
    ) {
        let actor = self
            .commander
            .governance()
            .actor(&clicked_in.platform, user);
        let asked_in = match self.store.approval(approval_id).await {
            Ok(Some(a)) => a.origin.thread().cloned(),
            Ok(None) => {
                // A click naming a request that does not exist: bad input, not a fault.
                tracing::debug!(approval_id, "decision on an unknown approval request");
                return;
            }
            Err(e) => {
                fault("reading approval requests", &e);
                return;
            }
        };
        let thread = asked_in.unwrap_or_else(|| clicked_in.clone());
        let command = Command::Decide(Decide {
            approval: ApprovalRef::Id { id: approval_id },
            decision,
        });
        let origin = crate::command::Origin::Thread(thread.clone());
        let (text, refusal) = match self
            .commander
            .apply(
                command,
                &actor,
                &origin,
                Arc::new(super::progress::ChatProgress::in_thread(
                    sink.clone(),
                    thread.clone(),
                )),
            )
            .await
        {
            Ok(outcome) => (text_of(&outcome), refusal_kind(&outcome)),
            Err(e) => (Some(fault("recording the decision", &e)), None),
        };
        if let Some(text) = text {
            sink.emit(BotEvent::Reply {
                thread,
                text,
                intent: Some(match decision {
                    Decision::Approve => crate::nlu::Intent::Approve,
                    Decision::Reject => crate::nlu::Intent::Reject,
                }),
                refusal,
            });
        }
    }

    /// Expires pending approval requests whose time is up and says so in their threads;
    /// returns how many. Runs periodically in the background (see [`Bot::spawn_background`]).
    pub async fn expire_approvals(&self) -> usize {
        let expired = self.commander.expire_approvals().await;
        self.announce_expired(&expired);
        expired.len()
    }

    fn announce_expired(&self, expired: &[Expired]) {
        for Expired { approval: a, plan } in expired {
            let Some(thread) = a.origin.thread() else {
                continue;
            };
            let text = format!(
                "⌛ Request #{} ({}'s request to {}) expired after {} without enough approvals; nothing ran. Ask again if it is still needed.",
                a.id,
                a.requested_by,
                describe_stored_request(a.action, plan.as_deref(), || describe_request(a.action, &a.service, &a.environment, a.version.as_deref(), a.strategy.as_str(), a.percent)),
                span(Duration::from_millis((a.expires_at - a.created_at).max(0) as u64)),
            );
            match self.sink_for(&thread.platform) {
                Some(sink) => sink.emit(BotEvent::Reply {
                    thread: thread.clone(),
                    text,
                    intent: None,
                    refusal: None,
                }),
                None => tracing::warn!(
                    approval_id = a.id,
                    "no adapter connected for {}; expiry not announced",
                    thread.platform
                ),
            }
        }
    }

    /// Starts the periodic work (approval expiry, pruning) until `shutdown`. Adapters call
    /// it once after creating the bot.
    pub fn spawn_background(
        self: &Arc<Self>,
        shutdown: crate::shutdown::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let bot = self.clone();
        let scheduler = crate::schedule::Scheduler::new(
            self.commander.clone(),
            crate::store::instance_id(),
            crate::schedule::DEFAULT_GRACE,
        );
        tokio::spawn(async move {
            bot.sync_jobs().await;
            // Schedules are looked at every few seconds (one indexed query), the upkeep less
            // often.
            let mut fires = tokio::time::interval(Duration::from_secs(5));
            let mut upkeep = tokio::time::interval(Duration::from_secs(15));
            loop {
                tokio::select! {
                    _ = fires.tick() => {
                        bot.fire_schedules(&scheduler).await;
                    }
                    _ = upkeep.tick() => {
                        let expired = bot.commander.sweep().await;
                        bot.announce_expired(&expired);
                    }
                    _ = shutdown.triggered() => return,
                }
            }
        })
    }
}
