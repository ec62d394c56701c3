//! "what's new" in the thread: the newest version of each service against what runs where.

use crate::command::reports::{UpdateEntry, UpdatesReport};

fn entry_line(e: &UpdateEntry, with_env: bool) -> String {
    let place = if with_env {
        format!("{} in {}", e.service, e.environment)
    } else {
        e.service.clone()
    };
    if let Some(p) = &e.problem {
        return format!("{place}: can't tell ({p})");
    }
    match (&e.live, &e.newest, e.update) {
        (Some(live), Some(newest), true) => format!("{place}: {live} → {newest}"),
        (None, Some(newest), true) => format!("{place}: not deployed yet; newest {newest}"),
        // The target runs something newer than what would be deployed: said, never hidden
        // as "no changes", and never downgraded.
        (Some(live), Some(newest), false) if crate::versions::is_numbered_newer(live, newest) => {
            format!("{place}: runs {live}, newer than {newest}; not downgraded")
        }
        (Some(live), _, false) => format!("{place}: no changes ({live})"),
        (None, None, _) => {
            format!("{place}: no versions found (no `versions` command and nothing built yet)")
        }
        (_, _, _) => format!("{place}: no changes"),
    }
}

/// The reply to "what's new".
pub(super) fn render_updates(r: &UpdatesReport) -> String {
    let one_env = r.query.environment.as_ref();
    let mut text = match one_env {
        Some(env) => format!("Checking for updates in {env}:"),
        None => "Checking for updates:".to_string(),
    };
    let mut entries: Vec<&UpdateEntry> = r.entries.iter().collect();
    if one_env.is_none() {
        // Across environments, the places with something new are the ones worth reading.
        entries.retain(|e| e.update || e.problem.is_some());
        if entries.is_empty() {
            return "Everything runs the newest version it has, everywhere.".into();
        }
    }
    for e in &entries {
        text.push_str("\n- ");
        text.push_str(&entry_line(e, one_env.is_none()));
    }
    // One update: the request that deploys it (several wait for plans: one request each).
    let mut updates = r.updates();
    if let (Some(e), None) = (updates.next(), updates.next()) {
        if let Some(newest) = &e.newest {
            text.push_str(&format!(
                "\nSay \"deploy {} {newest} to {}\" to deploy it.",
                e.service, e.environment
            ));
        }
    }
    text
}

impl super::Bot {
    /// "what's new [for SERVICE] [in ENV]": names read as everywhere; one that does not
    /// resolve is refused with suggestions, never widened to all.
    pub(super) async fn whats_new(
        &self,
        parsed: &crate::nlu::Parsed,
        actor: &crate::governance::Actor,
        session: &mut crate::dialogue::Session,
        out: &super::Out,
    ) {
        use crate::command::reports::UpdatesQuery;
        use crate::command::{Command, EnvName, Query, ServiceName};
        let config = self.commander.config();
        // A name that does not resolve never widens the question to everything.
        let unknown = parsed
            .unknown
            .iter()
            .find(|t| !crate::nlu::update_words::is_phrase_word(&t.text));
        if let Some(term) = unknown {
            let refusal = if term.after_preposition && parsed.slots.environment.is_none() {
                crate::command::Refusal::UnknownEnvironment {
                    name: term.text.clone(),
                    suggestions: config.environments.iter().map(|e| e.name.clone()).collect(),
                }
            } else {
                crate::command::Refusal::UnknownService {
                    name: term.text.clone(),
                    suggestions: config.service_names(),
                }
            };
            return out.refuse(session, &refusal);
        }
        let mut services = Vec::new();
        for name in parsed.services.iter().chain(parsed.slots.service.iter()) {
            match ServiceName::resolve(config, name) {
                Ok(s) if !services.contains(&s) => services.push(s),
                Ok(_) => {}
                Err(refusal) => return out.refuse(session, &refusal),
            }
        }
        let environment = match parsed.slots.environment.as_deref() {
            Some(e) => match EnvName::resolve(config, e) {
                Ok(e) => Some(e),
                Err(refusal) => return out.refuse(session, &refusal),
            },
            None => None,
        };
        let query = UpdatesQuery {
            services: (!services.is_empty()).then_some(services),
            environment,
        };
        let origin = crate::origin::Origin::Thread(out.thread.clone());
        match self
            .commander
            .apply(
                Command::Query(Query::Updates(query)),
                actor,
                &origin,
                out.progress(),
            )
            .await
        {
            Ok(outcome) => super::outcomes::show(&outcome, session, out),
            Err(e) => out.reply(session, super::fault("listing the versions", &e)),
        }
    }
}
