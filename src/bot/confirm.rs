//! The question before an action ("Deploy billionmail (2.3.1) to staging, direct? [yes/no]"),
//! with what the user should know first (deploy memory, what is live, approvals needed), or
//! the refusal when it could not run anyway.

use super::Bot;
use crate::dialogue::{render, Flow, Request, Session};
use crate::governance::Actor;
use crate::nlu::{version_order_key, Intent};
use crate::store::StoreError;
use std::collections::BTreeMap;

impl Bot {
    /// The confirmation text, or a refusal when the request cannot go ahead.
    pub(super) async fn confirmation(
        &self,
        req: &Request,
        actor: &Actor,
        session: &mut Session,
    ) -> Result<Result<String, String>, StoreError> {
        if matches!(req.intent, Intent::Lock | Intent::Unlock) {
            return self.lock_confirmation(req, actor).await;
        }
        // Refuse before asking "yes/no" for something that could not run anyway.
        if let Err(refusal) = self.precheck(actor, req).await? {
            let subject = format!(
                "{}/{}",
                req.service.as_deref().unwrap_or_default(),
                req.environment.as_deref().unwrap_or_default()
            );
            self.audit.note(actor.name(), "refusal", &subject, serde_json::json!({"intent": req.intent.as_str(), "identity": actor.identity, "reason": refusal})).await;
            return Ok(Err(refusal));
        }
        let mut req = req.clone();
        let promoted_from = match self.promotion(&mut req, session).await? {
            Ok(source) => source,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let notes = self.notes(&mut req, session).await?;
        let flow = self
            .dialogue
            .flows()
            .get(req.intent)
            .expect("confirmed intents have flows");
        let mut vars = self.vars(&req, flow);
        if req.intent == Intent::Rollback {
            if let Err(refusal) = self.rollback_vars(&req, session, &mut vars).await? {
                return Ok(Err(refusal));
            }
        }
        let mut text = match &promoted_from {
            Some(source) => format!(
                "Promote {} {} (what {source} runs) to {}, {}? [yes/no]",
                vars["service"], vars["version"], vars["environment"], vars["strategy"]
            ),
            None => render(flow.confirm.as_deref().unwrap_or_default(), &vars),
        };
        for n in notes {
            text.push('\n');
            text.push_str(&n);
        }
        Ok(Ok(text))
    }

    /// What to say under the question: deploy memory (whose recommended strategy applies
    /// when none was asked for), a live release whose checks failed, approvals needed.
    async fn notes(
        &self,
        req: &mut Request,
        session: &mut Session,
    ) -> Result<Vec<String>, StoreError> {
        let mut notes: Vec<String> = Vec::new();
        let (Some(service), Some(environment)) = (req.service.clone(), req.environment.clone())
        else {
            return Ok(notes);
        };
        if req.intent == Intent::Deploy {
            if let (_, Some(rec)) = self.memory(&service, &environment).await? {
                // The user's explicit strategy wins; the warning stays.
                if req.strategy.is_none() {
                    req.strategy = Some(rec.strategy);
                    req.percent = rec.percent;
                    if let Some(p) = session.pending.as_mut() {
                        p.slots.strategy = Some(rec.strategy);
                        p.slots.percent = rec.percent;
                    }
                }
                notes.push(format!("⚠ {}", rec.reason));
            }
            // What the target really runs, when its checks did not pass.
            let live = self
                .store
                .live_versions(Some(&service), Some(&environment))
                .await?;
            if let Some(d) = live.first().filter(|d| d.live_note().is_some()) {
                if !notes.iter().any(|n| n.contains(&d.live_phrase())) {
                    notes.push(format!("⚠ Now: {}.", d.live_phrase_on()));
                }
            }
        }
        let n = self.governance.approvals_required(&service, &environment);
        if n > 0 {
            let roles = self
                .governance
                .approver_roles(&service, &environment)
                .map(|r| {
                    let names: Vec<String> = r.iter().map(|x| format!("`{x}`")).collect();
                    format!(" with the role {}", names.join(" or "))
                })
                .unwrap_or_default();
            notes.push(format!(
                "After you confirm, {n} approval{} from someone else{roles} is needed before it runs.",
                if n == 1 { "" } else { "s" },
            ));
        }
        Ok(notes)
    }

    /// The template's values: names, version (or the flow's default), strategy.
    fn vars(&self, req: &Request, flow: &Flow) -> BTreeMap<&'static str, String> {
        let environment = req.environment.clone().unwrap_or_default();
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("service", req.service.clone().unwrap_or_default());
        vars.insert("environment", environment.clone());
        for (k, v) in &flow.defaults {
            if let Some(key) = ["version", "strategy", "percent"]
                .into_iter()
                .find(|n| n == k)
            {
                vars.insert(key, v.clone());
            }
        }
        if let Some(v) = &req.version {
            vars.insert("version", v.clone());
        }
        let strategy = req.strategy.unwrap_or_else(|| {
            self.config
                .environment(&environment)
                .map(|e| e.default_strategy)
                .unwrap_or_default()
        });
        vars.insert(
            "strategy",
            match req.percent {
                Some(p) => format!("{strategy} {p}%"),
                None => strategy.to_string(),
            },
        );
        vars
    }

    /// A rollback's current and target versions, or why there is nothing to roll back.
    async fn rollback_vars(
        &self,
        req: &Request,
        session: &mut Session,
        vars: &mut BTreeMap<&'static str, String>,
    ) -> Result<Result<(), String>, StoreError> {
        let service = req.service.clone().unwrap_or_default();
        let environment = req.environment.clone().unwrap_or_default();
        let live = self
            .store
            .live_versions(Some(&service), Some(&environment))
            .await?;
        let current = live.first().and_then(|d| d.version.clone());
        let target = match &req.version {
            Some(v) => Some(v.clone()),
            None => self.store.rollback_target(&service, &environment).await?,
        };
        let Some(target) = target else {
            return Ok(Err(match current {
                Some(c) => format!("{service} has no earlier successful deploy in {environment} to roll back to (it is on {c}). Name a version, e.g. \"rollback {service} in {environment} to 1.2.3\"."),
                None => format!("{service} has no successful deploy in {environment} on record, so there is nothing to roll back to."),
            }));
        };
        // `2.4.1` asked while `v2.4.1` runs is the same release: name the live tag.
        if let Some(c) = current
            .as_ref()
            .filter(|c| **c == target || version_order_key(c) == version_order_key(&target))
        {
            return Ok(Err(format!(
                "{service} is already on {c} in {environment}; nothing to roll back."
            )));
        }
        vars.insert(
            "current",
            current.unwrap_or_else(|| "the current release".into()),
        );
        vars.insert("version", target.clone());
        if let Some(p) = session.pending.as_mut() {
            p.slots.version = Some(target);
        }
        Ok(Ok(()))
    }
}
