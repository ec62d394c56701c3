//! After a crash (`kill -9`, power loss): runs the dead process left `running` are marked
//! interrupted, their stage processes stopped, the interruption written to the audit log, and
//! each run's thread told what its target runs now. Where the environment has `auto_rollback`
//! and the target may be on the new release, the thread gets a rollback question, answered
//! like any confirmation by the person who asked for the run: nothing runs unasked.

use super::Bot;
use crate::audit::Audit;
use crate::chat::{BotEvent, EventSink, ThreadKey};
use crate::config::Config;
use crate::dialogue::{Awaiting, Pending};
use crate::nlu::{Intent, Slots};
use crate::store::{Action, RunRecord, Store, StoreError};
use std::sync::Arc;

/// A message for the thread of an interrupted run, waiting for a sink of its platform.
pub(super) struct Notice {
    thread: ThreadKey,
    text: String,
    /// The rollback to ask about; answered by `offer.requested_by`.
    offer: Option<Pending>,
}

impl Notice {
    /// A plain message for `thread` (a plan a restart interrupted).
    pub(super) fn reply(thread: ThreadKey, text: String) -> Notice {
        Notice {
            thread,
            text,
            offer: None,
        }
    }
}

/// The messages for the threads of plans a restart marked interrupted: what was done and
/// what was not run.
pub(super) async fn interrupted_plans(store: &Store, ids: &[i64]) -> Vec<Notice> {
    let mut notices = Vec::new();
    for id in ids {
        match store.plan(*id).await {
            Ok(Some(plan)) => notices.push(Notice::reply(
                plan.origin.to_key(),
                format!(
                    "⚠ Deckhand restarted while plan #{id} was running; it is marked interrupted and nothing more of it runs. {}. {}",
                    super::plan_text::summary(&plan),
                    super::plan_text::after_interruption(&plan)
                ),
            )),
            Ok(None) => {}
            Err(e) => tracing::warn!(plan_id = id, error = %e, "cannot read an interrupted plan"),
        }
    }
    notices
}

/// How far an interrupted run got, as the store knows it.
struct Progress {
    /// Switches the run recorded.
    switched: bool,
    /// The target may run something else than before the run.
    may_have_switched: bool,
    /// "at its verify stage" / "in the automatic rollback, at verify" / "before its first stage".
    place: String,
}

fn progress(run: &RunRecord, switched: bool, config: &Config) -> Progress {
    let stage = run.stage.as_deref();
    let in_rollback = run.stage_phase == Some(crate::pipeline::Phase::Rollback);
    let place = match (stage, in_rollback) {
        (None, _) => "before its first stage".to_string(),
        (Some(s), true) => format!("in the automatic rollback, at {s}"),
        (Some(s), false) => format!("at its {s} stage"),
    };
    // The main phase's pipeline and the stage of it that switches the target.
    let pipeline = config
        .service(&run.service)
        .and_then(|s| config.pipelines.get(&s.pipeline));
    let main = match run.action {
        Action::Deploy => pipeline,
        Action::Rollback => pipeline
            .and_then(|p| p.rollback.as_ref())
            .and_then(|r| config.pipelines.get(r)),
    };
    let at_or_after_switch = match (stage, main) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(s), Some(p)) => match &p.rollback_from {
            // Without a switching stage, any stage may have changed the target.
            None => true,
            Some(first) => {
                let pos = |name: &str| p.stages.iter().position(|x| x.name == name);
                pos(s).is_none() || pos(s) >= pos(first)
            }
        },
    };
    Progress {
        switched,
        may_have_switched: switched || in_rollback || at_or_after_switch,
        place,
    }
}

/// The platform id that `person` uses on `platform` (what a session's owner is), or the
/// person's name when they have none there.
fn platform_user(config: &Config, person: &str, platform: &str) -> String {
    let prefix = format!("{platform}:");
    config
        .people
        .get(person)
        .and_then(|p| p.identities.iter().find_map(|i| i.strip_prefix(&prefix)))
        .unwrap_or(person)
        .to_string()
}

/// Marks the runs a dead process left behind as interrupted, stops their stages, audits the
/// interruption and prepares the message for each run's thread.
pub(super) async fn recover(store: &Store, config: &Config) -> Result<Vec<Notice>, StoreError> {
    let audit = Audit::new(store.clone());
    let mut notices = Vec::new();
    for run in store.mark_interrupted().await? {
        tracing::warn!(run_id = run.id, service = %run.service, environment = %run.environment, stage = ?run.stage, "run was interrupted by a restart");
        crate::pipeline::stop_orphaned_stage(&run);
        let switches = store.switches_of_run(run.id).await?;
        let live = store
            .live_versions(Some(&run.service), Some(&run.environment))
            .await?
            .into_iter()
            .next();
        let p = progress(&run, !switches.is_empty(), config);
        let auto = config
            .environment(&run.environment)
            .is_some_and(|e| e.auto_rollback);
        let restore = store.restore_point(&run.service, &run.environment).await?;
        let offer_to = restore
            .clone()
            .filter(|_| auto && p.may_have_switched && run.action == Action::Deploy);
        audit
            .log(
                "deckhand",
                crate::audit::AuditEvent::RunInterrupted {
                    run: run.id,
                    facts: serde_json::json!({
                        "stage": run.stage, "phase": run.stage_phase, "switched": p.switched,
                        "may_have_switched": p.may_have_switched,
                        "live": live.as_ref().and_then(|d| d.version.clone()),
                        "rollback_offered_to": offer_to,
                    }),
                },
            )
            .await;
        let env = &run.environment;
        let mut text = format!(
            "⚠ Deckhand was stopped while run {} ({}, asked by {}) was {}; the run is marked interrupted.",
            run.id,
            run.describe(),
            run.requested_by,
            p.place
        );
        let live_now = live
            .as_ref()
            .map(|d| d.live_phrase())
            .unwrap_or_else(|| "nothing Deckhand deployed is live".into());
        if p.switched {
            text.push_str(&format!(" {env} is on the new release: {live_now}."));
        } else if p.may_have_switched {
            text.push_str(&format!(" {env} may be on the new release: the run had reached the stage that switches it, which did not report back. By my records, {live_now}."));
        } else {
            text.push_str(&format!(" {env} had not changed yet; {live_now}."));
        }
        let offer = match (
            &offer_to,
            auto && p.may_have_switched && run.action == Action::Deploy,
        ) {
            (Some(target), _) => {
                text.push_str(&format!(
                    "\nI did not roll back on my own. Roll back {} in {env} to {target}? [yes/no]",
                    run.service
                ));
                Some(Pending {
                    intent: Intent::Rollback,
                    slots: Slots {
                        service: Some(run.service.clone()),
                        environment: Some(env.clone()),
                        version: Some(target.clone()),
                        ..Slots::default()
                    },
                    awaiting: Awaiting::Confirmation,
                    requested_by: platform_user(config, &run.requested_by, run.origin.platform()),
                    suggestion: None,
                    checked: false,
                })
            }
            (None, true) => {
                text.push_str(&format!(" There is no earlier release known to be good to roll back to; check {env} by hand."));
                None
            }
            (None, false) => {
                if p.may_have_switched {
                    text.push_str(&format!(
                        " Say \"rollback {} in {env}\" if it should go back.",
                        run.service
                    ));
                }
                None
            }
        };
        notices.push(Notice {
            thread: run.origin.to_key(),
            text,
            offer,
        });
    }
    Ok(notices)
}

impl Bot {
    /// Delivers the messages about runs a crash interrupted to the threads of `platform`
    /// (once; adapters call it as soon as their sink exists, and the first message of a
    /// platform does too). A rollback offer becomes the thread's pending confirmation.
    pub async fn deliver_recovery(&self, platform: &str, sink: Arc<dyn EventSink>) {
        let notices: Vec<Notice> = {
            let mut all = self.recovery.lock().unwrap_or_else(|e| e.into_inner());
            let (mine, rest) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|n| n.thread.platform == platform);
            *all = rest;
            mine
        };
        for n in notices {
            let session = self.sessions.get(&n.thread).await;
            let mut session = session.lock().await;
            session.record("deckhand", &n.text);
            match n.offer {
                // A question typed since the restart is not replaced.
                Some(offer) if session.pending.is_none() => {
                    session.pending = Some(offer);
                    sink.emit(BotEvent::Confirm {
                        thread: n.thread,
                        text: n.text,
                        intent: Intent::Rollback,
                    });
                }
                _ => sink.emit(BotEvent::Reply {
                    thread: n.thread,
                    text: n.text,
                    intent: None,
                    refusal: None,
                }),
            }
        }
    }
}
