//! `order` and `Dependencies::cycle`: fixed cases plus generated plans and graphs.

use deckhand::plan::{order, read_order, Dependencies, OrderError, OrderWish};

fn deps(pairs: &[(&str, &[&str])]) -> Dependencies {
    Dependencies::new(
        pairs
            .iter()
            .map(|(s, on)| (s.to_string(), on.iter().map(|d| d.to_string()).collect())),
    )
}
fn none() -> Dependencies {
    Dependencies::new(Vec::new())
}
fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}
fn first(n: &str) -> OrderWish {
    OrderWish::First(n.to_string())
}
fn last(n: &str) -> OrderWish {
    OrderWish::Last(n.to_string())
}
fn before(a: &str, b: &str) -> OrderWish {
    OrderWish::Before(a.to_string(), b.to_string())
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let head = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, head.clone());
            all.push(tail);
        }
    }
    all
}

/// Deterministic xorshift, so generated cases are the same on every run.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const FIVE: &[&str] = &[
    "redis",
    "billionmail",
    "wix-backend",
    "gateway",
    "mail-relay",
];

#[test]
fn no_deps_no_wishes_keeps_every_permutation_unchanged() {
    for p in permutations(FIVE) {
        assert_eq!(order(&p, &none(), &[]), Ok(strings(&p)));
        // Dependencies between services outside the plan change nothing and add nothing.
        let outside = deps(&[("x", &["y"]), ("y", &["z"])]);
        assert_eq!(order(&p, &outside, &[]), Ok(strings(&p)));
    }
}

#[test]
fn a_service_named_twice_is_deployed_once_at_its_first_mention() {
    let got = order(&["redis", "billionmail", "redis"], &none(), &[]);
    assert_eq!(got, Ok(strings(&["redis", "billionmail"])));
}

#[test]
fn a_chain_is_followed_whatever_the_listing() {
    let d = deps(&[("a", &["b"]), ("b", &["c"])]);
    for p in permutations(&["a", "b", "c"]) {
        assert_eq!(
            order(&p, &d, &[]),
            Ok(strings(&["c", "b", "a"])),
            "listing {p:?}"
        );
    }
}

#[test]
fn a_diamond_puts_the_root_first_and_the_top_last_keeping_the_middle_stable() {
    let d = deps(&[
        ("top", &["left", "right"]),
        ("left", &["root"]),
        ("right", &["root"]),
    ]);
    for p in permutations(&["top", "left", "right", "root"]) {
        let got = order(&p, &d, &[]).unwrap();
        let pos = |n: &str| p.iter().position(|x| *x == n).unwrap();
        let middle = if pos("left") < pos("right") {
            ["left", "right"]
        } else {
            ["right", "left"]
        };
        assert_eq!(
            got,
            strings(&["root", middle[0], middle[1], "top"]),
            "listing {p:?}"
        );
    }
}

#[test]
fn unrelated_services_keep_their_places_around_a_dependency() {
    let d = deps(&[("billionmail", &["redis"])]);
    let got = order(&["gateway", "billionmail", "wix-backend", "redis"], &d, &[]);
    assert_eq!(
        got,
        Ok(strings(&["gateway", "wix-backend", "redis", "billionmail"]))
    );
}

#[test]
fn dependencies_outside_the_plan_are_not_added_but_are_looked_through() {
    let d = deps(&[("app", &["lib", "redis"]), ("lib", &["db"])]);
    assert_eq!(order(&["app"], &d, &[]), Ok(strings(&["app"])));
    // app needs lib (not deployed here), and lib needs db: db still goes before app.
    assert_eq!(order(&["app", "db"], &d, &[]), Ok(strings(&["db", "app"])));
}

#[test]
fn wishes_alone_order_the_plan() {
    let plan = ["redis", "billionmail", "wix-backend"];
    let cases: Vec<(Vec<OrderWish>, [&str; 3])> = vec![
        (
            vec![first("wix-backend")],
            ["wix-backend", "redis", "billionmail"],
        ),
        (vec![last("redis")], ["billionmail", "wix-backend", "redis"]),
        (
            vec![before("wix-backend", "redis")],
            ["billionmail", "wix-backend", "redis"],
        ),
        (
            vec![OrderWish::Sequence(strings(&[
                "wix-backend",
                "billionmail",
                "redis",
            ]))],
            ["wix-backend", "billionmail", "redis"],
        ),
        (
            vec![first("billionmail"), last("redis")],
            ["billionmail", "wix-backend", "redis"],
        ),
        (vec![OrderWish::Sequence(strings(&["billionmail"]))], plan),
    ];
    for (wishes, expected) in cases {
        assert_eq!(
            order(&plan, &none(), &wishes),
            Ok(strings(&expected)),
            "wishes {wishes:?}"
        );
    }
}

#[test]
fn a_wish_that_inverts_a_dependency_wins() {
    let d = deps(&[("billionmail", &["redis"])]);
    let plan = ["redis", "billionmail"];
    let flipped = Ok(strings(&["billionmail", "redis"]));
    assert_eq!(order(&plan, &d, &[first("billionmail")]), flipped);
    assert_eq!(order(&plan, &d, &[last("redis")]), flipped);
    assert_eq!(order(&plan, &d, &[before("billionmail", "redis")]), flipped);
}

#[test]
fn a_wish_overrides_only_the_dependencies_it_contradicts() {
    // web -> app -> redis; "app first" flips app/redis but web still waits for app.
    let d = deps(&[("web", &["app"]), ("app", &["redis"])]);
    let got = order(&["web", "redis", "app"], &d, &[first("app")]);
    assert_eq!(got, Ok(strings(&["app", "web", "redis"])));
    let got = order(&["web", "redis", "app"], &d, &[last("redis")]);
    assert_eq!(got, Ok(strings(&["app", "web", "redis"])));
}

#[test]
fn contradicting_wishes_are_an_error_naming_them() {
    let plan = ["redis", "billionmail", "wix-backend"];
    let cases: Vec<Vec<OrderWish>> = vec![
        vec![
            before("redis", "billionmail"),
            before("billionmail", "redis"),
        ],
        vec![first("redis"), first("billionmail")],
        vec![first("redis"), last("redis")],
        vec![
            OrderWish::Sequence(strings(&["redis", "billionmail"])),
            before("billionmail", "redis"),
        ],
        vec![
            before("redis", "billionmail"),
            before("billionmail", "wix-backend"),
            first("wix-backend"),
        ],
    ];
    for wishes in cases {
        match order(&plan, &none(), &wishes) {
            Err(OrderError::Contradiction(names)) => {
                assert!(
                    names.len() >= 3 && names.first() == names.last(),
                    "{names:?}"
                );
                assert!(
                    names.contains(&"redis".to_string()),
                    "{names:?} for {wishes:?}"
                );
            }
            other => panic!("{wishes:?} gave {other:?}"),
        }
    }
    let got = order(&plan, &none(), &[before("redis", "redis")]);
    assert_eq!(
        got,
        Err(OrderError::Contradiction(strings(&["redis", "redis"])))
    );
}

#[test]
fn a_wish_against_a_chain_of_dependencies_is_a_contradiction() {
    // redis <- app <- web; "web before redis" cannot hold with both links, and which link the
    // user meant to break is theirs to say.
    let d = deps(&[("web", &["app"]), ("app", &["redis"])]);
    match order(&["redis", "app", "web"], &d, &[before("web", "redis")]) {
        Err(OrderError::Contradiction(names)) => {
            let mut sorted = names[..names.len() - 1].to_vec();
            sorted.sort();
            assert_eq!(sorted, strings(&["app", "redis", "web"]));
        }
        other => panic!("got {other:?}"),
    }
}

#[test]
fn a_wish_about_a_service_not_in_the_plan_is_an_error() {
    let plan = ["redis", "billionmail"];
    for wish in [
        first("postgres"),
        last("postgres"),
        before("redis", "postgres"),
    ] {
        assert_eq!(
            order(&plan, &none(), &[wish]),
            Err(OrderError::NotInPlan("postgres".to_string()))
        );
    }
}

#[test]
fn cycles_of_one_two_and_three_are_found() {
    let cases: Vec<(Dependencies, Vec<&str>)> = vec![
        (deps(&[("a", &["a"])]), vec!["a", "a"]),
        (deps(&[("a", &["b"]), ("b", &["a"])]), vec!["a", "b", "a"]),
        (
            deps(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]),
            vec!["a", "b", "c", "a"],
        ),
        (
            deps(&[("x", &["a"]), ("a", &["b"]), ("b", &["a"])]),
            vec!["a", "b", "a"],
        ),
    ];
    for (d, expected) in cases {
        assert_eq!(d.cycle(), Some(strings(&expected)));
        let plan: Vec<&str> = expected[..1].to_vec();
        assert_eq!(
            order(&plan, &d, &[]),
            Err(OrderError::Cycle(strings(&expected)))
        );
    }
}

#[test]
fn acyclic_graphs_have_no_cycle_and_unreachable_cycles_do_not_block_a_plan() {
    assert_eq!(none().cycle(), None);
    let diamond = deps(&[("top", &["l", "r"]), ("l", &["root"]), ("r", &["root"])]);
    assert_eq!(diamond.cycle(), None);
    let d = deps(&[("redis", &[]), ("x", &["y"]), ("y", &["x"])]);
    assert!(d.cycle().is_some());
    assert_eq!(order(&["redis"], &d, &[]), Ok(strings(&["redis"])));
}

#[test]
fn generated_cycles_are_real_cycles() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..200 {
        let n = 1 + rng.below(6) as usize;
        let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        // A ring through all n names plus random extra edges: always cyclic.
        let mut pairs: Vec<(String, Vec<String>)> = (0..n)
            .map(|i| (names[i].clone(), vec![names[(i + 1) % n].clone()]))
            .collect();
        for _ in 0..rng.below(4) {
            let (a, b) = (rng.below(n as u64) as usize, rng.below(n as u64) as usize);
            pairs[a].1.push(names[b].clone());
        }
        let d = Dependencies::new(pairs.clone());
        let cycle = d.cycle().expect("a ring is a cycle");
        assert_eq!(cycle.first(), cycle.last());
        for w in cycle.windows(2) {
            let on = &pairs.iter().find(|(s, _)| *s == w[0]).unwrap().1;
            assert!(
                on.contains(&w[1]),
                "{} does not depend on {} in {cycle:?}",
                w[0],
                w[1]
            );
        }
    }
}

/// For random acyclic graphs over small plans, the result is the earliest-listed-first
/// topological order: checked against every permutation by brute force.
#[test]
fn generated_dags_give_the_stable_topological_order() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..300 {
        let n = 1 + rng.below(5) as usize;
        let listing: Vec<String> = (0..n)
            .map(|i| format!("svc-{}", (i * 7 + 3) % 11))
            .collect();
        // Edges only from a later "rank" to an earlier one, shuffled over the listing: acyclic.
        let rank: Vec<u64> = (0..n).map(|_| rng.below(100)).collect();
        let mut pairs = Vec::new();
        let mut edges = Vec::new();
        for s in 0..n {
            let on: Vec<String> = (0..n)
                .filter(|&d| rank[d] < rank[s] && rng.below(3) == 0)
                .map(|d| listing[d].clone())
                .collect();
            edges.extend(on.iter().map(|d| (d.clone(), listing[s].clone())));
            pairs.push((listing[s].clone(), on));
        }
        let plan: Vec<&str> = listing.iter().map(String::as_str).collect();
        let got = order(&plan, &Dependencies::new(pairs), &[]).unwrap();
        let valid = |p: &Vec<&str>| {
            edges.iter().all(|(d, s)| {
                let at = |x: &str| p.iter().position(|y| *y == x);
                at(d) < at(s)
            })
        };
        let index = |p: &Vec<&str>| -> Vec<usize> {
            p.iter()
                .map(|x| plan.iter().position(|y| y == x).unwrap())
                .collect()
        };
        let best = permutations(&plan)
            .into_iter()
            .filter(valid)
            .min_by_key(index)
            .unwrap();
        assert_eq!(got, strings(&best), "edges {edges:?}");
    }
}

#[test]
fn words_to_order_end_to_end() {
    let plan = ["redis", "billionmail", "wix-backend"];
    let d = deps(&[
        ("billionmail", &["redis"]),
        ("wix-backend", &["billionmail"]),
    ]);
    let run = |text: &str| order(&plan, &d, &read_order(text, &plan)?);
    assert_eq!(
        run("yes"),
        Ok(strings(&["redis", "billionmail", "wix-backend"]))
    );
    assert_eq!(
        run("yes, redis last"),
        Ok(strings(&["billionmail", "wix-backend", "redis"]))
    );
    assert_eq!(
        run("in this order: wix-backend, billionmail, redis"),
        Ok(strings(&["wix-backend", "billionmail", "redis"]))
    );
    assert_eq!(
        run("postgres first"),
        Err(OrderError::NotInPlan("postgres".to_string()))
    );
    assert!(matches!(
        run("redis before billionmail. billionmail before redis"),
        Err(OrderError::Contradiction(_))
    ));
}

/// `depends_on` in the config: unknown names and cycles are config errors.
#[test]
fn config_dependencies_are_checked() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = deckhand::config::Config::load(&root.join("examples/deckhand.yaml")).unwrap();
    let set = |c: &mut deckhand::config::Config, service: &str, on: &[&str]| {
        c.services
            .iter_mut()
            .find(|s| s.name == service)
            .unwrap()
            .depends_on = on.iter().map(|d| d.to_string()).collect();
    };
    set(&mut config, "billionmail", &["redis", "auth"]);
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    set(&mut config, "redis", &["nosuch"]);
    let problems = config.problems().join("\n");
    assert!(
        problems.contains("depends_on names unknown service `nosuch`"),
        "{problems}"
    );
    set(&mut config, "redis", &[]);
    set(&mut config, "auth-service", &["billionmail"]);
    let problems = config.problems().join("\n");
    assert!(problems.contains("depends_on has a cycle"), "{problems}");
    assert!(
        problems.contains("auth-service → billionmail → auth-service"),
        "{problems}"
    );
}
