//! Help about one command ("help lock", "how do I roll back"): its usage, what it does and
//! how it is confirmed. Asking for help never starts the command.

use crate::config::Config;
use crate::dialogue::Flows;
use crate::nlu::Intent;

/// The help text for `topic`.
pub fn topic_help(flows: &Flows, config: &Config, topic: Intent) -> String {
    let extra = match topic {
        Intent::Deploy => Some("Deploys are confirmed with yes/no before anything runs; \"promote X to staging\" deploys what the previous environment runs."),
        Intent::Rollback => Some("Without a version, it returns to the version that was live before the current one; \"undo last deployment\" rolls back the last deploy made in this thread (or by you); \"roll back the whole plan\" (or \"roll back plan 3\") undoes what a plan deployed, last step first. Confirmed with yes/no."),
        Intent::Lock => Some("The scope (an environment, or one service in it) comes before the reason: \"lock staging while redis is migrated\" locks all of staging. Durations: \"for 30 min\", \"for 1h30\", \"for 2 days\" (1 minute to 90 days). Every lock is confirmed with yes/no."),
        Intent::Unlock => Some("Lifts the lock on exactly that scope; confirmed with yes/no."),
        Intent::Readiness => Some("A question: it never starts anything."),
        _ => None,
    };
    match flows.get(topic) {
        Some(f) => {
            let mut text = format!("`{}`: {}.", f.usage, f.description);
            if let Some(e) = extra {
                text.push(' ');
                text.push_str(e);
            }
            if f.uses(crate::nlu::SlotKind::Service) {
                text.push_str(&format!(" Services: {}.", config.service_names().join(", ")));
            }
            text.push_str(&format!(
                " Environments: {}.",
                config.environment_names().join(", ")
            ));
            text
        }
        None => match topic {
            Intent::Cancel => "`cancel`: drops the request being discussed in this thread, or asks \"Stop run N? [yes/no]\" for its running pipeline (\"Stop plan #N? [yes/no]\" for a running plan: no step after the running one would run); `stop run 12` names a run from any thread. Only the person who asked, or someone allowed to deploy or roll back there, may stop a run or a plan.".into(),
            Intent::Approve | Intent::Reject => "In a thread with an approval request, reply with just \"approve\" (or \"lgtm\", \"+1\") or \"reject\" (or \"do not approve\"). The requester can't approve their own request; a question or a longer sentence is never taken as a decision.".into(),
            _ => super::answers::help(flows, config),
        },
    }
}
