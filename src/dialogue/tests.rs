use super::*;
use std::path::Path;

struct Fixture {
    nlu: Nlu,
    dialogue: Dialogue,
    session: Session,
}

impl Fixture {
    fn new() -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
        let config = Arc::new(Config::load(&path).unwrap());
        Fixture {
            nlu: Nlu::new(&config).unwrap(),
            dialogue: Dialogue::new(Flows::load(None).unwrap(), config),
            session: Session::new(20),
        }
    }

    fn say(&mut self, text: &str) -> Step {
        let parsed = self.nlu.parse(text);
        self.dialogue
            .step(&mut self.session, &parsed, "alice", &self.nlu)
    }
}

fn deploy(service: &str, env: &str) -> Request {
    Request {
        intent: Intent::Deploy,
        service: Some(service.into()),
        environment: Some(env.into()),
        version: None,
        strategy: None,
        percent: None,
        lock: None,
        promote_from: None,
        when: None,
    }
}

#[test]
fn fills_slots_across_turns_then_confirms_and_runs() {
    let mut f = Fixture::new();
    match f.say("deploy billionmail") {
        Step::Ask {
            slot,
            text,
            choices,
            ..
        } => {
            assert_eq!(slot, SlotKind::Environment);
            assert_eq!(text, "Which environment: dev, staging or production?");
            assert_eq!(choices, vec!["dev", "staging", "production"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        f.say("staging"),
        Step::Confirm(deploy("billionmail", "staging"))
    );
    assert_eq!(f.say("yes"), Step::Run(deploy("billionmail", "staging")));
    assert!(f.session.pending.is_none());
}

#[test]
fn a_correction_at_confirmation_changes_the_slot_and_asks_again() {
    let mut f = Fixture::new();
    f.say("deploy billionmail to staging");
    assert_eq!(
        f.say("no, production"),
        Step::Confirm(deploy("billionmail", "production"))
    );
    assert_eq!(f.say("yes"), Step::Run(deploy("billionmail", "production")));
}

#[test]
fn no_and_cancel_drop_the_request() {
    let mut f = Fixture::new();
    f.say("deploy redis to dev");
    assert!(matches!(f.say("no"), Step::Reply(t) if t.contains("won't deploy redis to dev")));
    assert!(f.session.pending.is_none());
    f.say("deploy redis");
    assert!(matches!(f.say("nevermind"), Step::Reply(t) if t.starts_with("OK, cancelled")));
    assert!(f.session.pending.is_none());
    assert_eq!(f.say("cancel"), Step::CancelRuns(None));
}

#[test]
fn an_unknown_service_gets_a_suggestion_and_no_action() {
    let mut f = Fixture::new();
    match f.say("deploy billonmale to staging") {
        Step::Reply(t) => assert_eq!(t, "I don't know `billonmale`; did you mean `billionmail`?"),
        other => panic!("{other:?}"),
    }
    // "yes" accepts the suggestion; nothing runs before the confirmation.
    assert_eq!(
        f.say("yes"),
        Step::Confirm(deploy("billionmail", "staging"))
    );
    let mut f = Fixture::new();
    match f.say("deploy foo to staging") {
        Step::Reply(t) => assert!(
            t.contains("I don't know `foo`") && t.contains("billionmail"),
            "{t}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unknown_environment_lists_the_choices() {
    let mut f = Fixture::new();
    match f.say("deploy billionmail to qa") {
        Step::Reply(t) => assert_eq!(
            t,
            "I don't know the environment `qa`. Choose dev, staging or production."
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        f.say("stg"),
        Step::Confirm(deploy("billionmail", "staging"))
    );
}

#[test]
fn a_new_command_replaces_the_pending_one() {
    let mut f = Fixture::new();
    f.say("deploy billionmail");
    assert_eq!(
        f.say("deploy redis to dev"),
        Step::Confirm(deploy("redis", "dev"))
    );
    assert!(matches!(f.say("status"), Step::Query(r) if r.intent == Intent::Status));
}

#[test]
fn percent_implies_canary() {
    let mut f = Fixture::new();
    let Step::Confirm(r) = f.say("deploy auth 1.9.2 to prod with a 5% canary") else {
        panic!()
    };
    assert_eq!(
        (r.strategy, r.percent, r.version.as_deref()),
        (Some(Strategy::Canary), Some(5), Some("1.9.2"))
    );
    let Step::Confirm(r) = f.say("no, blue-green") else {
        panic!()
    };
    assert_eq!((r.strategy, r.percent), (Some(Strategy::BlueGreen), None));
}

#[test]
fn yes_without_a_question_does_nothing() {
    let mut f = Fixture::new();
    assert!(matches!(f.say("yes"), Step::Reply(t) if t.contains("nothing waiting")));
    assert!(matches!(
        f.say("deploys on a friday are scary"),
        Step::Reply(_)
    ));
    assert!(f.session.pending.is_none());
}

#[test]
fn queries_answer_without_confirmation() {
    let mut f = Fixture::new();
    assert!(
        matches!(f.say("status billionmail"), Step::Query(r) if r.service.as_deref() == Some("billionmail"))
    );
    assert!(matches!(
        f.say("explain"),
        Step::Ask {
            slot: SlotKind::Service,
            ..
        }
    ));
    assert!(matches!(f.say("payments-api"), Step::Query(r) if r.intent == Intent::Explain));
}
