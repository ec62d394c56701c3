use super::*;
use std::path::Path;

fn nlu() -> Nlu {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
    Nlu::new(&Config::load(&path).unwrap()).unwrap()
}

#[test]
fn transcript_messages_are_understood() {
    let nlu = nlu();
    let p = nlu.parse("deploy billionmail");
    assert_eq!(p.intent, Intent::Deploy);
    assert_eq!(p.slots.service.as_deref(), Some("billionmail"));
    assert_eq!(nlu.parse("yes").intent, Intent::Affirm);
    let s = nlu.parse("status billionmail");
    assert_eq!(s.intent, Intent::Status);
    let r = nlu.parse("rollback billionmail in staging");
    assert_eq!(r.intent, Intent::Rollback);
    assert_eq!(r.slots.environment.as_deref(), Some("staging"));
}

#[test]
fn small_talk_never_becomes_an_action() {
    let nlu = nlu();
    for text in [
        "deploys on a friday are scary",
        "let's roll back to basics in the retro",
        "good morning",
        "",
    ] {
        let p = nlu.parse(text);
        assert!(
            !p.intent.is_action(),
            "{text:?} became {:?} ({})",
            p.intent,
            p.confidence
        );
    }
}

#[test]
fn corrections_carry_slots() {
    let p = nlu().parse("no, production");
    assert_eq!(p.intent, Intent::Negate);
    assert_eq!(p.slots.environment.as_deref(), Some("production"));
}

#[test]
fn promotion_targets_the_environment_after_to() {
    let p = nlu().parse("promote billionmail from staging to prod");
    assert_eq!(p.slots.environment.as_deref(), Some("production"));
}

#[test]
fn every_intent_name_round_trips() {
    for i in Intent::ALL {
        assert_eq!(Intent::parse(i.as_str()), Some(i));
        assert_eq!(Intent::ALL[i.index()], i);
    }
}
