//! "undo last deployment" / "revert my last deploy": the rollback of the last deployment made
//! in this thread, else the last one this person asked for. The confirmation names it.

use super::{fault, Bot, Out};
use crate::chat::Incoming;
use crate::dialogue::Session;
use crate::governance::Actor;
use crate::nlu::{Intent, Parsed};

impl Bot {
    /// Fills service and environment of a rollback that names none but refers to the last
    /// deployment. False when a reply was sent instead (nothing found, or a store fault).
    pub(super) async fn fill_last_deployment(
        &self,
        parsed: &mut Parsed,
        msg: &Incoming,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) -> bool {
        let pending_rollback = session
            .pending
            .as_ref()
            .is_some_and(|p| p.intent == Intent::Rollback && p.slots.service.is_some());
        if parsed.intent != Intent::Rollback
            || !parsed.parts.last_deployment
            || parsed.slots.service.is_some()
            || pending_rollback
        {
            return true;
        }
        let found = match self.store.latest_deploy_in_thread(&msg.thread).await {
            Ok(Some(run)) => Ok(Some(run)),
            Ok(None) => match actor.person.as_deref() {
                Some(person) => self.store.latest_deploy_by(person).await,
                None => Ok(None),
            },
            Err(e) => Err(e),
        };
        match found {
            Ok(Some(run)) => {
                parsed.slots.service = Some(run.service);
                if parsed.slots.environment.is_none() {
                    parsed.slots.environment = Some(run.environment);
                }
                true
            }
            Ok(None) => {
                out.reply(
                    session,
                    "I can't find a deployment made in this thread or by you, so I don't know what to undo; nothing was run. Say which, e.g. \"rollback billionmail in staging\".".into(),
                );
                false
            }
            Err(e) => {
                out.reply(session, fault("reading the last deployment", &e));
                false
            }
        }
    }
}
