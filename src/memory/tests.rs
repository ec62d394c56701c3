use super::*;
use crate::config::MemoryRule;

const MIN: i64 = 60_000;

fn outcome(
    run_id: i64,
    service: &str,
    ok: bool,
    stage: Option<&str>,
    at_min: i64,
) -> DeployOutcome {
    DeployOutcome {
        run_id,
        service: service.into(),
        environment: "production".into(),
        succeeded: ok,
        failed_stage: stage.map(str::to_string),
        at: at_min * MIN,
        live_problem: None,
    }
}

fn cfg() -> MemoryConfig {
    MemoryConfig {
        window: 5,
        co_deploy_window_secs: 1800,
        rules: vec![
            MemoryRule {
                min_failures: 2,
                recommend: Strategy::Canary,
                percent: Some(10),
            },
            MemoryRule {
                min_failures: 4,
                recommend: Strategy::BlueGreen,
                percent: None,
            },
        ],
    }
}

#[test]
fn two_failures_in_five_recommend_canary_with_the_failing_stage() {
    let h = vec![
        outcome(1, "billionmail", true, None, 0),
        outcome(2, "billionmail", false, Some("verify"), 100),
        outcome(3, "billionmail", true, None, 200),
        outcome(4, "billionmail", false, Some("verify"), 300),
        outcome(5, "billionmail", true, None, 400),
        outcome(6, "billionmail", true, None, 500),
    ];
    let f = facts(&h, "billionmail", "production", &cfg());
    assert_eq!((f.considered, f.failures), (5, 2));
    assert_eq!(f.last_success_at, Some(500 * MIN));
    let r = recommend(&f, &cfg()).unwrap();
    assert_eq!((r.strategy, r.percent), (Strategy::Canary, Some(10)));
    assert_eq!(r.reason, "billionmail failed 2 of its last 5 production deploys (verify stage); recommending canary 10%");
}

#[test]
fn old_failures_outside_the_window_do_not_count() {
    let mut h: Vec<DeployOutcome> = (0..5)
        .map(|i| outcome(10 + i, "redis", true, None, 1000 + i))
        .collect();
    h.push(outcome(1, "redis", false, Some("test"), 0));
    h.push(outcome(2, "redis", false, Some("test"), 1));
    let f = facts(&h, "redis", "production", &cfg());
    assert_eq!(f.failures, 0);
    assert_eq!(recommend(&f, &cfg()), None);
    assert_eq!(f.summary(2000 * MIN), None);
}

#[test]
fn the_strongest_matching_rule_wins_and_stages_are_listed_by_count() {
    let h = vec![
        outcome(1, "auth-service", false, Some("test"), 0),
        outcome(2, "auth-service", false, Some("verify"), 10),
        outcome(3, "auth-service", false, Some("verify"), 20),
        outcome(4, "auth-service", false, None, 30),
    ];
    let f = facts(&h, "auth-service", "production", &cfg());
    let r = recommend(&f, &cfg()).unwrap();
    assert_eq!(r.strategy, Strategy::BlueGreen);
    assert_eq!(r.percent, None);
    assert_eq!(r.reason, "auth-service failed 4 of its last 4 production deploys (verify, test stages); recommending blue-green");
    assert_eq!(f.last_success_at, None);
    assert!(f
        .summary(40 * MIN)
        .unwrap()
        .contains("no successful deploy on record"));
}

#[test]
fn services_failing_in_the_same_window_are_a_co_deploy_pattern() {
    let h = vec![
        outcome(1, "billionmail", false, Some("verify"), 100),
        outcome(2, "payments-api", false, Some("deploy"), 110),
        outcome(3, "billionmail", false, Some("verify"), 500),
        outcome(4, "payments-api", false, Some("test"), 520),
        outcome(5, "redis", false, Some("test"), 900), // too far from either
        outcome(6, "wix-backend", true, None, 505),    // succeeded: not a pattern
        outcome(7, "billionmail", true, None, 1000),
    ];
    let f = facts(&h, "billionmail", "production", &cfg());
    assert_eq!(
        f.co_failures,
        BTreeMap::from([("payments-api".to_string(), 2)])
    );
    let s = f.summary(1060 * MIN).unwrap();
    assert_eq!(
        s,
        "billionmail failed 2 of its last 3 production deploys (verify stage); last success 60 min ago; payments-api also failed around the same time 2 times"
    );
}

#[test]
fn other_environments_and_services_are_ignored() {
    let mut staging = outcome(1, "billionmail", false, Some("verify"), 0);
    staging.environment = "staging".into();
    let h = vec![staging, outcome(2, "redis", false, Some("verify"), 0)];
    let f = facts(&h, "billionmail", "production", &cfg());
    assert_eq!((f.considered, f.failures), (0, 0));
}

#[test]
fn a_broken_release_left_live_leads_the_summary() {
    let mut broken = outcome(2, "payments-api", false, Some("verify"), 100);
    broken.live_problem = Some("3.2.0-rc.1 is live (its verify failed)".into());
    let h = vec![outcome(1, "payments-api", true, None, 0), broken];
    let f = facts(&h, "payments-api", "production", &cfg());
    assert_eq!(
        f.summary(160 * MIN).unwrap(),
        "3.2.0-rc.1 is live (its verify failed); payments-api failed 1 of its last 2 production deploys (verify stage); last success 3 h ago"
    );
    // One failure is below every rule: no strategy is pushed, but the warning stands.
    assert_eq!(recommend(&f, &cfg()), None);
    // Without the live problem the same history reads as before.
    let plain = facts(
        &[
            h[0].clone(),
            outcome(2, "payments-api", false, Some("verify"), 100),
        ],
        "payments-api",
        "production",
        &cfg(),
    );
    assert!(plain
        .summary(160 * MIN)
        .unwrap()
        .starts_with("payments-api failed 1"));
}

#[test]
fn a_live_problem_is_reported_even_outside_the_failure_window() {
    let mut broken = outcome(1, "redis", false, Some("verify"), 0);
    broken.live_problem = Some("7.2.5 is live (its verify failed)".into());
    let mut h: Vec<DeployOutcome> = vec![broken];
    // Newer successful deploys of redis elsewhere in time do not hide what runs now.
    h.extend((0..5).map(|i| outcome(10 + i, "redis", true, None, 1000 + i)));
    let f = facts(&h, "redis", "production", &cfg());
    assert_eq!(f.failures, 0);
    assert!(f
        .summary(2000 * MIN)
        .unwrap()
        .starts_with("7.2.5 is live (its verify failed)"));
}
