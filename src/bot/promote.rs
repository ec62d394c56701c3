//! "promote wix from dev to staging" / "promote wix to staging": deploy the version the
//! source environment runs (the previous environment in `order` when none is named).

use super::Bot;
use crate::dialogue::{Request, Session};
use crate::nlu::PromoteFrom;
use crate::store::StoreError;

impl Bot {
    /// For a promotion, fills in the version the source environment runs and returns the
    /// source's name; Err is the reply when there is nothing to promote.
    pub(super) async fn promotion(
        &self,
        req: &mut Request,
        session: &mut Session,
    ) -> Result<Result<Option<String>, String>, StoreError> {
        let Some(from) = req.promote_from.clone() else {
            return Ok(Ok(None));
        };
        let service = req.service.clone().unwrap_or_default();
        let target = req.environment.clone().unwrap_or_default();
        let source = match from {
            PromoteFrom::Environment(e) => e,
            PromoteFrom::Previous => {
                match previous_environment(&self.config, &target) {
                    Some(e) => e,
                    None => {
                        return Ok(Err(format!(
                            "{target} is the first environment in the promotion order, so there is nothing to promote from. Say \"deploy {service} to {target}\" to deploy a build."
                        )))
                    }
                }
            }
        };
        if source == target {
            return Ok(Err(format!(
                "Promoting {service} from {source} to itself changes nothing; nothing was run."
            )));
        }
        if let Some(v) = &req.version {
            return Ok(Err(format!(
                "A promotion deploys what {source} runs, so it takes no version (you said {v}); nothing was run. Say \"deploy {service} {v} to {target}\" for that version, or \"promote {service} from {source} to {target}\"."
            )));
        }
        let live = self
            .store
            .live_versions(Some(&service), Some(&source))
            .await?;
        let Some(version) = live.first().and_then(|d| d.version.clone()) else {
            return Ok(Err(format!(
                "Nothing of {service} runs in {source} (no deployment on record), so there is nothing to promote; nothing was run."
            )));
        };
        // Never a downgrade, nor the same release again, in the name of a promotion.
        let there = self
            .store
            .live_versions(Some(&service), Some(&target))
            .await?
            .into_iter()
            .next()
            .and_then(|d| d.version);
        // Only a real order counts: shas and other strings are never taken as older.
        let how = there.and_then(|there| {
            if crate::versions::same_release(&there, &version) {
                Some(format!("already runs {there}, what {source} runs"))
            } else if crate::versions::is_numbered_newer(&there, &version) {
                Some(format!("runs {there}, newer than what {source} runs ({version}); a promotion never goes back"))
            } else {
                None
            }
        });
        if let Some(how) = how {
            return Ok(Err(format!(
                "{service} in {target} {how}, so nothing was run. Say \"deploy {service} {version} to {target}\" to deploy that version anyway."
            )));
        }
        req.version = Some(version.clone());
        if let Some(p) = session.pending.as_mut() {
            // The confirmed run deploys exactly this version, even if dev moves on meanwhile.
            p.slots.version = Some(version);
            p.slots.promote_from = None;
        }
        Ok(Ok(Some(source)))
    }
}

/// The environment before `target` in the promotion `order` (None: it is the first).
pub(super) fn previous_environment(config: &crate::config::Config, target: &str) -> Option<String> {
    let order = config.environment(target).map(|e| e.order)?;
    config
        .environments
        .iter()
        .filter(|e| e.order < order)
        .max_by_key(|e| e.order)
        .map(|e| e.name.clone())
}
