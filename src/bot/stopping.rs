//! Stopping runs: "cancel" in a run's thread, or "stop run 12" / "cancel run 12" from any
//! thread. Both ask "Stop run N (...)? [yes/no]" first, and both check who may stop it.

use super::{ago, fault, Bot, Out};
use crate::chat::{BotEvent, Incoming};
use crate::dialogue::Session;
use crate::governance::Actor;
use crate::nlu::Intent;

impl Bot {
    /// Asks whether to stop the runs of this thread, or the run named; nothing stops yet.
    pub(super) async fn ask_to_stop(
        &self,
        named: Option<i64>,
        msg: &Incoming,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        if named.is_none() {
            match self.withdraw_pending_approval(&msg.thread, actor).await {
                Ok(Some(text)) => return out.reply(session, text),
                Ok(None) => {}
                Err(e) => return out.reply(session, fault("reading approval requests", &e)),
            }
        }
        let candidates = match named {
            Some(id) if self.executor.active_runs().contains(&id) => vec![id],
            Some(id) => {
                let text = match self.store.run(id).await {
                    Ok(Some(r)) => format!(
                        "Run {id} ({}) is not running (it is {}); nothing to stop.",
                        r.describe(),
                        r.status.as_str()
                    ),
                    Ok(None) => format!("There is no run {id}; nothing to stop."),
                    Err(e) => fault("reading the run", &e),
                };
                return out.reply(session, text);
            }
            None => self.executor.runs_from(&msg.thread.clone().into()),
        };
        let mut ids = Vec::new();
        let mut refusal = None;
        for id in candidates {
            match self.may_stop(actor, id).await {
                Ok(()) => ids.push(id),
                Err(why) => refusal = Some(why),
            }
        }
        if ids.is_empty() {
            return match refusal {
                Some(why) => {
                    self.refuse(actor, Intent::Cancel, "cancel", why, session, out)
                        .await
                }
                None => out.reply(session, "There's nothing to cancel in this thread.".into()),
            };
        }
        let mut described = Vec::new();
        for id in &ids {
            match self.store.run(*id).await {
                Ok(Some(r)) => described.push(format!(
                    "run {} ({}, started by {} {})",
                    r.id,
                    r.describe(),
                    r.requested_by,
                    ago(r.started_at)
                )),
                _ => described.push(format!("run {id}")),
            }
        }
        session.pending_stop = Some(ids);
        let text = format!("Stop {}? [yes/no]", described.join(" and "));
        session.record("deckhand", &text);
        out.sink.emit(BotEvent::Confirm {
            thread: out.thread.clone(),
            text,
            intent: Intent::Cancel,
        });
    }

    /// The explicit yes to "Stop run N?": stops what the person may still stop.
    pub(super) async fn stop_runs(
        &self,
        ids: Vec<i64>,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let mut stopped: Vec<String> = Vec::new();
        for id in ids {
            // Permission is checked again: the question may have been answered by someone else.
            if self.may_stop(actor, id).await.is_ok() && self.executor.cancel_run(id) {
                self.audit
                    .note(
                        actor.name(),
                        "run.cancelled",
                        &format!("run {id}"),
                        serde_json::json!({"identity": actor.identity}),
                    )
                    .await;
                stopped.push(id.to_string());
            }
        }
        let text = match stopped.as_slice() {
            [] => "That run has already finished; nothing to stop.".to_string(),
            [one] => format!("Cancelling run {one}: stopping its current stage."),
            many => format!("Cancelling runs {}.", many.join(", ")),
        };
        out.reply(session, text);
    }
}
