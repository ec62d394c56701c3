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
