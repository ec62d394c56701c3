use super::*;

const GOOD: &str = r#"
services:
  - name: billionmail
    aliases: [bm]
    pipeline: p
environments:
  - name: staging
    aliases: [stg]
    order: 2
pipelines:
  p:
    stages:
      - name: build
        command: "true"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(text, Path::new("test.yaml"), Path::new("/base"))
}

#[test]
fn defaults_are_applied() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.session.ttl_secs, 3600);
    assert_eq!(c.session.max_history, 20);
    assert_eq!(c.pipelines["p"].stages[0].timeout_secs, 600);
    assert_eq!(c.environments[0].default_strategy, Strategy::Direct);
    assert!(!c.environments[0].auto_rollback);
    assert_eq!(
        c.store_url(),
        "sqlite:///base/.deckhand/deckhand.db?mode=rwc"
    );
}

#[test]
fn the_intake_limit_defaults_to_2000_and_zero_is_refused() {
    assert_eq!(parse(GOOD).unwrap().serve.max_pending_events, 2000);
    let set = format!("{GOOD}serve:\n  max_pending_events: 50\n");
    assert_eq!(parse(&set).unwrap().serve.max_pending_events, 50);
    let zero = format!("{GOOD}serve:\n  max_pending_events: 0\n");
    let err = parse(&zero).unwrap_err().to_string();
    assert!(err.contains("serve.max_pending_events is 0"), "{err}");
}

#[test]
fn unknown_field_is_named_with_its_line() {
    let bad = GOOD.replace("    aliases: [bm]", "    alias: [bm]");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(err.contains("unknown field `alias`"), "{err}");
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn missing_pipeline_and_duplicate_alias_are_reported() {
    let bad = GOOD
        .replace("pipeline: p", "pipeline: nope")
        .replace("aliases: [stg]", "aliases: [bm]");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(err.contains("pipeline `nope`"), "{err}");
    assert!(
        err.contains("`bm` is used by both service `billionmail` and environment `staging`"),
        "{err}"
    );
}

#[test]
fn unsafe_names_are_rejected() {
    let bad = GOOD.replace("name: billionmail", "name: \"bill;rm -rf\"");
    assert!(parse(&bad)
        .unwrap_err()
        .to_string()
        .contains("must be lowercase"));
}

#[test]
fn store_urls_are_anchored() {
    let base = Path::new("/etc/deckhand");
    assert_eq!(
        resolve_store_url("sqlite://x.db", base),
        "sqlite:///etc/deckhand/x.db?mode=rwc"
    );
    assert_eq!(
        resolve_store_url("sqlite:///abs.db?mode=ro", base),
        "sqlite:///abs.db?mode=ro"
    );
    assert_eq!(
        resolve_store_url("postgres://u@h/db", base),
        "postgres://u@h/db"
    );
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
    let c = Config::load(&path).unwrap();
    assert_eq!(c.service_names().len(), 5);
    assert_eq!(c.environment_names(), vec!["dev", "staging", "production"]);
}

#[test]
fn duplicates_and_bad_urls_are_reported() {
    let bad = GOOD.replace(
        "services:\n  - name: billionmail\n",
        "store:\n  url: mysql://x\nservices:\n  - name: api\n    pipeline: p\n  - name: api\n    pipeline: p\n  - name: billionmail\n",
    )
    .replace("        command: \"true\"\n", "        command: \"true\"\n      - name: build\n        command: \"true\"\n    rollback_from: deploy\n");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("store.url `mysql://x` is not supported"),
        "{err}"
    );
    assert!(err.contains("`api` is defined twice"), "{err}");
    assert!(err.contains("two stages named `build`"), "{err}");
    assert!(
        err.contains("rollback_from `deploy`, which is not one of its stages"),
        "{err}"
    );
}

#[test]
fn approval_policies_nobody_can_satisfy_are_reported() {
    let base = GOOD.replace(
        "    order: 2\n",
        "    order: 2\n    policy: {approvals: 1}\n",
    );
    let err = parse(&base).unwrap_err().to_string();
    assert!(
        err.contains("staging needs 1 approval(s) but its policy names no `approve` roles"),
        "{err}"
    );
    let two = GOOD.replace(
        "    order: 2\n",
        "    order: 2\n    policy: {approvals: 2, approve: [approver]}\n",
    ) + "people:\n  alice: {identities: [\"console:alice\"], roles: [approver]}\n";
    let err = parse(&two).unwrap_err().to_string();
    assert!(
        err.contains("needs 2 approval(s) from approver but only 1 person(s) have those roles"),
        "{err}"
    );
}

/// A config whose staging policy names `roles` for each action and whose people hold `held`.
fn with_roles(policy_roles: &[&str], held: &[&str], approvals: bool) -> String {
    let list = policy_roles.join(", ");
    let approve = if approvals {
        // The approvals check needs one eligible approver besides the requester.
        format!(", approve: [{list}], approvals: 1")
    } else {
        String::new()
    };
    let policy =
        format!("    order: 2\n    policy: {{deploy: [{list}], rollback: [{list}], lock: [{list}]{approve}}}\n");
    format!(
        "{}people:\n  ann: {{identities: [\"console:ann\"], roles: [{}]}}\n  ben: {{identities: [\"console:ben\"], roles: [{}]}}\n",
        GOOD.replace("    order: 2\n", &policy),
        held.join(", "),
        held.join(", ")
    )
}

#[test]
fn policy_roles_that_nobody_holds_are_warnings_naming_them() {
    let pool = [
        "deployer",
        "sre",
        "approver",
        "releaser",
        "deployers",
        "Deployer",
        "ops-1",
    ];
    let mut checked = 0;
    // Every split of a role pool into "named by the policy" and "held by someone".
    for named_mask in 1u32..(1 << pool.len()) {
        let held_mask = named_mask.rotate_left(3) & ((1 << pool.len()) - 1);
        let named: Vec<&str> = (0..pool.len())
            .filter(|i| named_mask & (1 << i) != 0)
            .map(|i| pool[i])
            .collect();
        let held: Vec<&str> = (0..pool.len())
            .filter(|i| held_mask & (1 << i) != 0)
            .map(|i| pool[i])
            .collect();
        let approvals = named.iter().any(|r| held.contains(r));
        let config = parse(&with_roles(&named, &held, approvals)).unwrap_or_else(|e| {
            panic!("named {named:?}, held {held:?}: {e}");
        });
        let warnings = config.warnings();
        let unheld: Vec<&str> = named
            .iter()
            .copied()
            .filter(|r| !held.contains(r))
            .collect();
        assert_eq!(
            warnings.len(),
            unheld.len(),
            "{named:?} / {held:?}: {warnings:?}"
        );
        for role in &unheld {
            let w = warnings
                .iter()
                .find(|w| w.contains(&format!("role `{role}` is held by nobody")))
                .unwrap_or_else(|| panic!("no warning for {role}: {warnings:?}"));
            assert!(
                w.contains("deploy in staging") && w.contains("lock in staging"),
                "{w}"
            );
            assert_eq!(w.contains("approve in staging"), approvals, "{w}");
        }
        checked += 1;
    }
    assert_eq!(checked, 127);
}

#[test]
fn service_policies_are_checked_and_a_config_without_policies_has_no_warnings() {
    assert!(parse(GOOD).unwrap().warnings().is_empty());
    let text = GOOD.replace(
        "    pipeline: p\n",
        "    pipeline: p\n    policies:\n      staging: {deploy: [payments]}\n",
    );
    let w = parse(&text).unwrap().warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("role `payments` is held by nobody")
            && w[0].contains("deploy in staging (for billionmail)"),
        "{w:?}"
    );
}

#[test]
fn stages_are_process_stages_unless_typed_otherwise() {
    let typed = GOOD.replace(
        "      - name: build\n        command: \"true\"",
        "      - name: build\n        type: process\n        command: \"true\"",
    );
    for text in [GOOD, typed.as_str()] {
        let c = parse(text).unwrap();
        assert_eq!(
            c.pipelines["p"].stages[0].kind,
            StageKind::Process {
                command: "true".into()
            }
        );
    }
    let no_command = GOOD.replace("        command: \"true\"\n", "");
    let err = parse(&no_command).unwrap_err().to_string();
    assert!(err.contains("missing field `command`"), "{err}");
    let unknown = typed.replace("type: process", "type: kubernetes");
    let err = parse(&unknown).unwrap_err().to_string();
    assert!(err.contains("kubernetes"), "{err}");
}

#[test]
fn freeze_windows_and_time_zones_are_checked() {
    let good = GOOD.replace(
        "    order: 2\n",
        "    order: 2\n    windows:\n      - {deny: \"0 16 * * 5\", duration: 64h, tz: Europe/Berlin, reason: weekend}\n      - {deny: \"0 9 * * *\", duration: 1h, reason: standup, services: [billionmail], rollbacks: deny}\n",
    );
    let c = parse(&good).unwrap();
    assert_eq!(c.timezone, "UTC");
    assert_eq!(c.environments[0].windows.len(), 2);
    assert_eq!(c.environments[0].windows[0].rollbacks, RollbackRule::Allow);
    assert_eq!(c.environments[0].windows[1].rollbacks, RollbackRule::Deny);
    let bad = format!(
        "timezone: Mars/Olympus\npeople:\n  ann: {{identities: [\"console:ann\"], timezone: Nowhere/City}}\n{}",
        good.replace("\"0 16 * * 5\"", "\"0 16 * * fri-day\"")
            .replace("duration: 1h", "duration: a while")
            .replace("services: [billionmail]", "services: [nosuch]")
    );
    let err = parse(&bad).unwrap_err().to_string();
    for needle in [
        "timezone: unknown time zone `Mars/Olympus`",
        "person `ann`: unknown time zone `Nowhere/City`",
        "environment `staging` window 1: deny `0 16 * * fri-day` is not a cron line",
        "environment `staging` window 2: duration `a while` does not read",
        "environment `staging` window 2: unknown service `nosuch`",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }
}
