use super::*;
use crate::config::Config;
use std::path::Path;

const CONFIG: &str = r#"
services:
  - name: billionmail
    pipeline: p
  - name: payments-api
    pipeline: p
    policies:
      production: {deploy: [payments], approvals: 2}
environments:
  - name: dev
    order: 1
  - name: production
    order: 3
    policy: {deploy: [deployer], rollback: [deployer, oncall], lock: [sre], approve: [approver], approvals: 1}
pipelines:
  p:
    stages: [{name: build, command: "true"}]
people:
  alice: {identities: ["console:alice", "slack:U024BE7LH"], roles: [deployer, approver]}
  bob: {identities: ["console:bob"], roles: [approver, sre]}
  carol: {identities: ["discord:80351110224678912"], roles: [payments]}
  dave: {identities: ["console:dave"]}
"#;

fn gov() -> Governance {
    Governance::new(Arc::new(
        Config::from_yaml(CONFIG, Path::new("t.yaml"), Path::new("/")).unwrap(),
    ))
}

#[test]
fn identities_map_to_people_and_roles() {
    let g = gov();
    let a = g.actor("slack", "U024BE7LH");
    assert_eq!(a.person.as_deref(), Some("alice"));
    assert_eq!(a.identity, "slack:U024BE7LH");
    assert_eq!(g.actor("discord", "80351110224678912").name(), "carol");
    let stranger = g.actor("console", "mallory");
    assert_eq!(
        (stranger.person.clone(), stranger.name()),
        (None, "console:mallory")
    );
}

#[test]
fn role_by_environment_by_action_matrix() {
    let g = gov();
    let people = ["alice", "bob", "carol", "dave", "mallory"];
    let verbs = [Verb::Deploy, Verb::Rollback, Verb::Lock, Verb::Approve];
    // Expected permissions: (person, env, service) -> [deploy, rollback, lock, approve]
    let expect = |person: &str, env: &str, service: &str| -> [bool; 4] {
        match (person, env, service) {
            ("mallory", _, _) => [false; 4],
            (_, "dev", _) => [true; 4],
            ("alice", "production", "payments-api") => [false, true, false, true],
            ("alice", "production", _) => [true, true, false, true],
            ("bob", "production", _) => [false, false, true, true],
            ("carol", "production", "payments-api") => [true, false, false, false],
            ("carol", "production", _) => [false; 4],
            ("dave", "production", _) => [false; 4],
            _ => unreachable!(),
        }
    };
    let platform_user = |p: &str| match p {
        "carol" => ("discord", "80351110224678912".to_string()),
        other => ("console", other.to_string()),
    };
    for person in people {
        let (platform, user) = platform_user(person);
        let actor = g.actor(platform, &user);
        for env in ["dev", "production"] {
            for service in ["billionmail", "payments-api"] {
                let want = expect(person, env, service);
                for (i, verb) in verbs.iter().enumerate() {
                    let got = g.authorize(&actor, *verb, Some(service), env);
                    assert_eq!(
                        got.is_ok(),
                        want[i],
                        "{person} {verb:?} {service} in {env}: {got:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn denials_name_the_missing_role_and_the_policy_scope() {
    let g = gov();
    let deny = |who: &str, verb: Verb, service: Option<&str>, env: &str| {
        g.authorize(&g.actor("console", who), verb, service, env)
            .unwrap_err()
    };
    let not_permitted =
        |person: &str, verb, service: Option<&str>, env: &str, needed: &[&str], held: &[&str]| {
            Denial::NotPermitted {
                person: person.into(),
                verb,
                service: service.map(str::to_string),
                environment: env.into(),
                needed: needed.iter().map(|r| r.to_string()).collect(),
                held: held.iter().map(|r| r.to_string()).collect(),
            }
        };
    // The environment's policy refused: the service is not named.
    assert_eq!(
        deny("dave", Verb::Deploy, Some("billionmail"), "production"),
        not_permitted("dave", Verb::Deploy, None, "production", &["deployer"], &[])
    );
    assert_eq!(
        deny("bob", Verb::Rollback, Some("billionmail"), "production"),
        not_permitted(
            "bob",
            Verb::Rollback,
            None,
            "production",
            &["deployer", "oncall"],
            &["approver", "sre"]
        )
    );
    // The service's own policy refused: it is named.
    assert_eq!(
        deny("alice", Verb::Deploy, Some("payments-api"), "production"),
        not_permitted(
            "alice",
            Verb::Deploy,
            Some("payments-api"),
            "production",
            &["payments"],
            &["deployer", "approver"]
        )
    );
    assert_eq!(
        deny("mallory", Verb::Deploy, None, "dev"),
        Denial::UnknownIdentity {
            identity: "console:mallory".into(),
            verb: Verb::Deploy
        }
    );
}

#[test]
fn approvals_follow_service_overrides() {
    let g = gov();
    assert_eq!(g.approvals_required("billionmail", "production"), 1);
    assert_eq!(g.approvals_required("payments-api", "production"), 2);
    assert_eq!(g.approvals_required("billionmail", "dev"), 0);
}

#[test]
fn locks_block_their_scope_only() {
    let lock = |env: &str, svc: Option<&str>| LockRecord {
        id: 1,
        environment: env.into(),
        service: svc.map(str::to_string),
        holder: "bob".into(),
        reason: "incident".into(),
        created_at: 0,
        expires_at: None,
        starts_at: None,
        rollbacks: crate::config::RollbackRule::Deny,
    };
    let env_wide = [lock("staging", None)];
    assert!(blocking_lock(&env_wide, "billionmail", "staging", false).is_some());
    assert!(blocking_lock(&env_wide, "billionmail", "production", false).is_none());
    let one = [lock("production", Some("payments-api"))];
    assert!(blocking_lock(&one, "payments-api", "production", false).is_some());
    assert!(blocking_lock(&one, "billionmail", "production", false).is_none());
    // A rollback passes a lock only when the lock lets rollbacks through.
    assert!(blocking_lock(&one, "payments-api", "production", true).is_some());
    let mut window = one.clone();
    window[0].rollbacks = crate::config::RollbackRule::Allow;
    assert!(blocking_lock(&window, "payments-api", "production", true).is_none());
    assert!(blocking_lock(&window, "payments-api", "production", false).is_some());
    assert!(describe_lock(&one[0])
        .starts_with("payments-api in production is locked by bob since 1970-01-01 00:00 UTC"));
}
