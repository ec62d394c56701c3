//! Plans (issue 13, item 2; the ordering so far): in which order a plan's services are deployed.
//!
//! Two halves: [`read_order`] turns what the user typed ("yes but redis first") into
//! [`OrderWish`]es, and [`order`] combines those wishes with the config's `depends_on`
//! ([`Dependencies`]) into the final order. Neither half drops anything silently: a name that is
//! not in the plan, wishes that contradict each other, or a dependency cycle come back as an
//! [`OrderError`] naming what is wrong, so the bot can ask instead of guessing.

mod order;
mod words;

pub use order::{order, Dependencies};
pub use words::read_order;

/// What the user said about order, read from words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderWish {
    /// "redis first" / "start with redis"
    First(String),
    /// "redis last" / "finish with redis"
    Last(String),
    /// "a before b", "b after a", "a then b", "a, then b"  => Before(a, b)
    Before(String, String),
    /// "in this order: a, b, c" / "a, b and c in that order" => Sequence(vec![a,b,c])
    Sequence(Vec<String>),
}

/// Why an order could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// An order request names a service that is not in the plan (the word as the user wrote it,
    /// lowercased).
    NotInPlan(String),
    /// The wishes contradict each other or the dependencies cannot be satisfied together with them
    /// ("a before b" and "b before a"); the names involved, around the loop in order with the
    /// first repeated at the end (`["a", "b", "a"]`).
    Contradiction(Vec<String>),
    /// A dependency cycle in the config, in the same form (`["a", "b", "a"]`: a depends on b,
    /// which depends on a).
    Cycle(Vec<String>),
}
