//! Typed approval decisions: only a short explicit reply ("approve", "lgtm", "+1", "reject",
//! "do not approve") decides the thread's approval request; "I approve of this plan" or
//! "should I approve?" does not, and is told how to decide.

use super::outcomes;
use super::{fault, Bot, Out};
use crate::chat::Incoming;
use crate::command::{ApprovalRef, Command, Decide, Origin, Outcome, RefusalKind};
use crate::dialogue::Session;
use crate::governance::Actor;
use crate::nlu::{Intent, Parsed, Reply};
use crate::store::{ApprovalStatus, Decision};

/// Words that show a message is about deciding ("should I approve?").
const DECISION_WORDS: [&str; 14] = [
    "approve",
    "approved",
    "approving",
    "approval",
    "reject",
    "rejected",
    "rejecting",
    "lgtm",
    "+1",
    "-1",
    "deny",
    "denied",
    "veto",
    "decline",
];

impl Bot {
    /// Decides on the thread's approval request when the message is an explicit decision;
    /// true when the message was answered here.
    pub(super) async fn take_decision(
        &self,
        parsed: &mut Parsed,
        decision: Option<Reply>,
        msg: &Incoming,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) -> bool {
        if let Some(d) = decision {
            let decision = if d == Reply::Approve {
                Decision::Approve
            } else {
                Decision::Reject
            };
            let command = Command::Decide(Decide {
                approval: ApprovalRef::LatestFrom {
                    origin: Origin::Thread(msg.thread.clone()),
                },
                decision,
            });
            match self.apply(command, actor, session, out).await {
                // No request in this thread: the words are read as anything else would be.
                Some(Outcome::Refused(r)) if r.kind() == RefusalKind::NoApprovalHere => {}
                Some(outcome) => {
                    outcomes::show(&outcome, session, out);
                    return true;
                }
                None => return true,
            }
        }
        let lower = msg.text.to_lowercase();
        let talks_of_deciding = lower
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '?' | '!' | '.'))
            .any(|w| DECISION_WORDS.contains(&w));
        let about_deciding =
            matches!(parsed.intent, Intent::Approve | Intent::Reject) || talks_of_deciding;
        if decision.is_some() || !about_deciding {
            return false;
        }
        let origin = Origin::Thread(msg.thread.clone());
        match self.store.latest_approval_from(&origin).await {
            Ok(Some(a)) if a.status == ApprovalStatus::Pending => {
                out.reply(
                    session,
                    "If you mean to decide on the approval request here, reply with just \"approve\" (or \"lgtm\", \"+1\") or \"reject\" (or \"do not approve\"); I don't take a question or a longer sentence as a decision.".into(),
                );
                true
            }
            // Talk about approving, with nothing to decide: not a command.
            Ok(_) => {
                if matches!(parsed.intent, Intent::Approve | Intent::Reject) {
                    parsed.intent = Intent::None;
                }
                false
            }
            Err(e) => {
                out.reply(session, fault("reading approval requests", &e));
                true
            }
        }
    }
}
