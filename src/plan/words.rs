//! Reading the user's order words ("yes but redis first") into [`OrderWish`]es.
//!
//! The reader looks for order cues ("first", "last", "start with", "finish with", "then",
//! "before", "after", "in this order") and, around each, for the word in the name position,
//! skipping filler ("do", "goes", "should be", "please"). A known name there makes a wish; any
//! other word there is taken as a service the plan lacks and reported, because an order request
//! that is quietly ignored deploys in an order the user did not ask for.

mod reader;

use super::{OrderError, OrderWish};
use reader::Reader;

/// Words that are never service names: skipped when looking for the name next to a cue, and they
/// end a list. Kept to words that turn up around order requests in chat; a word missing here that
/// lands in a name position is reported as not in the plan, which is the safe way to be wrong.
const FILLER: &str = "\
    a an the it its it's this that these those them they we you i me my our us do does did \
    doing done is are was were be been being am should must can could would will shall may \
    might need needs has have had to deploy deploys deployed deploying redeploy roll rolling \
    release ship start begin run running launch bring up out put go goes going come comes \
    coming make sure let let's lets please pls plz kindly thanks thank thx yes yeah yep yup ok \
    okay k fine good great cool alright right correct perfect but so also just only actually \
    really though however or service services one ones everything anything all other others \
    rest remaining else thing things now today tomorrow later soon asap here there of for on \
    in at by with from as what which whatever whichever tell ping notify listed given shown \
    above below said";

/// List glue: skipped like filler, and it joins names into a group ("redis and billionmail").
const JOINERS: &str = "and & plus";

/// Words that turn the request around; a cue behind one of them is not read at all (there is no
/// wish for "not first"), rather than read the wrong way round.
const NEGATIONS: &str = "\
    not don't dont never no nope without except doesn't shouldn't can't cannot won't";

/// Words after "before"/"after"/"then" that mean "every other service" ("before the rest").
const REST: &str = "anything everything rest others else";

/// Whether `word` is one of the space-separated words of `list` (lists stay short as text).
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// Reads order wishes from `text`, given the known service names of the plan (`names`, canonical,
/// lowercase; a name may contain '-' like "wix-backend"). Matching is case-insensitive, ignores
/// punctuation like ',', '.', '!', ':' around words. Returns the wishes found, or an error naming
/// a word that looks like an order request about a service not in `names` ("postgres first" when
/// postgres is not in the plan -> Err(OrderError::NotInPlan("postgres"))).
/// Text with no order words -> Ok(vec![]).
///
/// Wishes come in the order their cues appear, each once. Several names on one side of a cue
/// ("redis and billionmail before wix-backend") give one `Before` per pair; a comma-only list in
/// front of "then" ("redis, billionmail, then wix-backend") is read as a chain. "->" reads as
/// "then". Cues that are idioms ("first of all", "at last", "after all", "in order to") and cues
/// behind a negation ("not redis first") are not read.
pub fn read_order(text: &str, names: &[&str]) -> Result<Vec<OrderWish>, OrderError> {
    let tokens = tokenize(text);
    let cues = find_cues(&tokens);
    let roles = roles(&tokens, &cues, names);
    let reader = Reader {
        tokens: &tokens,
        roles: &roles,
        names,
    };
    let mut wishes = Vec::new();
    for cue in &cues {
        reader.read_cue(cue, &mut wishes)?;
    }
    let mut unique: Vec<OrderWish> = Vec::with_capacity(wishes.len());
    for wish in wishes {
        if !unique.contains(&wish) {
            unique.push(wish);
        }
    }
    Ok(unique)
}

/// One lowercased word and the punctuation between it and the next word.
#[derive(Debug, Default)]
struct Token {
    word: String,
    /// ',' ':' and the like: a soft break inside a sentence.
    comma_after: bool,
    /// '.' '!' '?' ';': nothing is read across it.
    stop_after: bool,
}

/// Splits on anything that cannot be in a service name, keeping '-' inside words.
fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let arrow = c == '→' || (matches!(c, '-' | '=') && chars.peek() == Some(&'>'));
        if c.is_alphanumeric() || (matches!(c, '-' | '_' | '\'' | '’') && !arrow) {
            word.extend(c.to_lowercase().map(|c| if c == '’' { '\'' } else { c }));
            continue;
        }
        push_word(&mut tokens, &mut word);
        if arrow {
            if c != '→' {
                chars.next();
            }
            tokens.push(Token {
                word: "then".to_string(),
                ..Token::default()
            });
        } else if let Some(last) = tokens.last_mut() {
            last.comma_after |= matches!(c, ',' | ':' | '(' | ')' | '—' | '–');
            last.stop_after |= matches!(c, '.' | '!' | '?' | ';');
        }
    }
    push_word(&mut tokens, &mut word);
    tokens
}

/// Ends the current word; quotes and dashes at its edges are punctuation, not part of it.
fn push_word(tokens: &mut Vec<Token>, word: &mut String) {
    let trimmed = word.trim_matches(|c| matches!(c, '-' | '_' | '\''));
    if !trimmed.is_empty() {
        tokens.push(Token {
            word: trimmed.to_string(),
            ..Token::default()
        });
    }
    word.clear();
}

/// The order cues the reader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CueKind {
    First,
    Last,
    /// "start with x": the name can only follow.
    StartWith,
    /// "finish with x"
    FinishWith,
    /// "a then b", "a, after that b", "a followed by b"
    Then,
    /// "b, but before that a"
    BeforeThat,
    Before,
    After,
    /// "in this order" (`explicit`) or a bare "in order".
    InOrder {
        explicit: bool,
    },
}

/// A cue and the tokens `start..end` it covers.
#[derive(Debug)]
struct Cue {
    kind: CueKind,
    start: usize,
    end: usize,
}

/// Finds the cues left to right, longest phrase first, skipping idioms.
fn find_cues(tokens: &[Token]) -> Vec<Cue> {
    // Words that make an idiom of the cue in front of them ("first of all", "last time").
    const NOT_AFTER_FIRST: &str = "of off time times thing things place hand";
    const NOT_AFTER_LAST: &str = "time times night week weekend month year minute";
    // Words that make an idiom of a "then" after them ("by then", "since then").
    const NOT_BEFORE_THEN: &str = "by since until till back";
    let word = |i: usize| tokens.get(i).map(|t| t.word.as_str()).unwrap_or("");
    let mut cues = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (prev, next) = (if i == 0 { "" } else { word(i - 1) }, word(i + 1));
        let found = match word(i) {
            "first" if prev != "at" && !listed(NOT_AFTER_FIRST, next) => Some((CueKind::First, 1)),
            "last" if prev != "at" && !listed(NOT_AFTER_LAST, next) => Some((CueKind::Last, 1)),
            "start" | "starting" | "begin" | "beginning" | "lead" if next == "with" => {
                Some((CueKind::StartWith, 2))
            }
            "finish" | "finishing" | "end" | "ending" if next == "with" => {
                Some((CueKind::FinishWith, 2))
            }
            "then" if !listed(NOT_BEFORE_THEN, prev) => Some((CueKind::Then, 1)),
            "afterwards" => Some((CueKind::Then, 1)),
            "followed" if next == "by" => Some((CueKind::Then, 2)),
            "after" if listed("that which this", next) => Some((CueKind::Then, 2)),
            "after" if next != "all" => Some((CueKind::After, 1)),
            "before" if listed("that this", next) => Some((CueKind::BeforeThat, 2)),
            "before" => Some((CueKind::Before, 1)),
            "in" => in_order(tokens, i),
            _ => None,
        };
        match found {
            Some((kind, len)) => {
                cues.push(Cue {
                    kind,
                    start: i,
                    end: i + len,
                });
                i += len;
            }
            None => i += 1,
        }
    }
    cues
}

/// "in [this|that|the following|...] order" at `i`, but not "in order to/of/for".
fn in_order(tokens: &[Token], i: usize) -> Option<(CueKind, usize)> {
    const DETERMINERS: &str = "this that the following same exact exactly";
    let mut j = i + 1;
    while j < i + 4 && tokens.get(j).is_some_and(|t| listed(DETERMINERS, &t.word)) {
        j += 1;
    }
    if tokens.get(j)?.word != "order" {
        return None;
    }
    let next = tokens.get(j + 1).map(|t| t.word.as_str());
    if matches!(next, Some("to" | "of" | "for")) {
        return None;
    }
    Some((
        CueKind::InOrder {
            explicit: j > i + 1,
        },
        j + 1 - i,
    ))
}

/// What a token can be to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A service of the plan: the index into `names`.
    Name(usize),
    Filler,
    Joiner,
    Negation,
    /// Part of a cue; "first"/"last" are told apart because the pair cues look past them
    /// ("redis first, then billionmail").
    Cue {
        rank: bool,
    },
    /// Anything else: in a name position, a service the plan does not have.
    Unknown,
}

/// Each token's role; a plan name wins over the word lists (a service may be called "mail" or
/// "relay"), and a cue's words are the cue whatever else they could be.
fn roles(tokens: &[Token], cues: &[Cue], names: &[&str]) -> Vec<Role> {
    let mut roles: Vec<Role> = tokens
        .iter()
        .map(|t| {
            let w = t.word.as_str();
            if let Some(n) = names.iter().position(|n| n.eq_ignore_ascii_case(w)) {
                Role::Name(n)
            } else if listed(JOINERS, w) {
                Role::Joiner
            } else if listed(NEGATIONS, w) {
                Role::Negation
            } else if listed(FILLER, w) {
                Role::Filler
            } else {
                Role::Unknown
            }
        })
        .collect();
    for cue in cues {
        let rank = matches!(cue.kind, CueKind::First | CueKind::Last);
        roles[cue.start..cue.end].fill(Role::Cue { rank });
    }
    roles
}
