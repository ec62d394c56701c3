//! Versions as typed: recognition (`2.3.1`, `v2.5.0-rc.1`, `V1.2`, git shas), an ordering
//! key for "newest" comparisons, and the check that refuses a version with junk glued to
//! it (`1.0;id`, ``2.4.0`id` ``, `2.4.0$(id)`).

use crate::nlu::tokens::Token;
use std::cmp::Ordering;

/// Parses a version: `2.3.1`, `v2.5.0-rc.1`, `V1.2`, `2.4.0+build.7`, or a git sha (7-40 hex
/// with a digit and a letter). Returns it exactly as given: tags and image names are exact
/// strings, so `v2.4.1` stays `v2.4.1` (use [`version_order_key`] to compare releases).
pub fn parse_version(w: &str) -> Option<String> {
    (numeric_version(w).is_some() || is_sha(w)).then(|| w.to_string())
}

/// The numeric core and the pre-release / build suffix of `1.2.3-rc.1+b7` (leading `v` or
/// `V` allowed), or None when `w` is not such a version.
fn numeric_version(w: &str) -> Option<(Vec<u64>, Option<&str>, Option<&str>)> {
    let body = w.strip_prefix(['v', 'V']).unwrap_or(w);
    let (rest, build) = match body.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (body, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|c| c.is_ascii_digit()));
    let suffix_ok = |s: Option<&str>| {
        s.is_none_or(|s| {
            !s.is_empty()
                && s.split('.').all(|id| !id.is_empty())
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        })
    };
    if !(numeric && suffix_ok(pre) && suffix_ok(build)) {
        return None;
    }
    let core = parts.iter().filter_map(|p| p.parse().ok()).collect();
    Some((core, pre, build))
}

fn is_sha(w: &str) -> bool {
    (7..=40).contains(&w.len())
        && w.bytes().all(|c| c.is_ascii_hexdigit())
        && w.bytes().any(|c| c.is_ascii_digit())
        && w.bytes().any(|c| c.is_ascii_alphabetic())
}

/// Ordering key of a version string (see [`version_order_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionKey {
    class: u8,
    core: Vec<u64>,
    pre: Option<Vec<PreId>>,
    rest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreId {
    // Numeric identifiers sort before alphanumeric ones (semver 2.0 rule 11).
    Num(u64),
    Text(String),
}

impl Ord for VersionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let core = |k: &VersionKey, i: usize| k.core.get(i).copied().unwrap_or(0);
        let len = self.core.len().max(other.core.len());
        self.class
            .cmp(&other.class)
            .then_with(|| {
                (0..len)
                    .map(|i| core(self, i).cmp(&core(other, i)))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| match (&self.pre, &other.pre) {
                // A release sorts after its pre-releases.
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then_with(|| self.rest.cmp(&other.rest))
    }
}

impl PartialOrd for VersionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A normalised key for ordering versions ("newest build", "the release before"), for use
/// internally only: the version shown, stored and handed to stages is always the exact
/// string. `v2.4.1`, `V2.4.1` and `2.4.1` get equal keys (so do `1.2` and `1.2.0`); numeric
/// parts compare as numbers (`1.10.0` > `1.9.0`); a pre-release sorts before its release
/// (`2.5.0-rc.1` < `2.5.0`); build metadata (`+b7`) only breaks ties. Shas and other strings
/// sort before numbered versions, among themselves by their lowercased text.
pub fn version_order_key(v: &str) -> VersionKey {
    version_key(v)
}

impl VersionKey {
    /// Whether the version is a numbered release (`2.4.1`, `v1.2-rc.1`), which has a real
    /// order; shas and other strings only have a stable one.
    pub fn is_numbered(&self) -> bool {
        self.class == 2
    }
}

fn version_key(v: &str) -> VersionKey {
    match numeric_version(v) {
        Some((mut core, pre, build)) => VersionKey {
            class: 2,
            core: {
                // `1.2` and `1.2.0` are the same number.
                while core.len() > 1 && core.last() == Some(&0) {
                    core.pop();
                }
                core
            },
            pre: pre.map(|p| {
                p.split('.')
                    .map(|id| match id.parse() {
                        Ok(n) if id.bytes().all(|c| c.is_ascii_digit()) => PreId::Num(n),
                        _ => PreId::Text(id.to_ascii_lowercase()),
                    })
                    .collect()
            }),
            rest: build.unwrap_or_default().to_ascii_lowercase(),
        },
        None => VersionKey {
            class: u8::from(is_sha(v)),
            core: Vec::new(),
            pre: None,
            rest: v.to_ascii_lowercase(),
        },
    }
}

/// Characters that may open a version's chunk: quotes, brackets, markdown marks.
fn is_opener(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '<' | '"' | '\'' | '`' | '*' | '_' | '~' | '“' | '‘'
    )
}

/// Characters that may close a version's chunk: the above plus sentence punctuation.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        ')' | ']'
            | '}'
            | '>'
            | '"'
            | '\''
            | '`'
            | '*'
            | '_'
            | '~'
            | '”'
            | '’'
            | '.'
            | ','
            | ';'
            | ':'
            | '!'
            | '?'
    )
}

/// `1.2`, `v1.2`, `V10.0...`: the text starts the way a numbered version does.
fn starts_like_version(w: &str) -> bool {
    let b = w.strip_prefix(['v', 'V']).unwrap_or(w).as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && b.get(digits) == Some(&b'.') && b.get(digits + 1).is_some_and(u8::is_ascii_digit)
}

/// Markdown marks must close what they open: `~2.3.1~` is struck-through text, `~2.3.1` a
/// version range, `2.3.1*` a wildcard, `2.3.1>` a comparison.
fn unbalanced(chunk: &str) -> bool {
    let lead = chunk.chars().next();
    let trail = chunk
        .trim_end_matches(['.', ',', ';', ':', '!', '?'])
        .chars()
        .next_back();
    ['*', '_', '~', '^']
        .iter()
        .any(|m| (lead == Some(*m)) != (trail == Some(*m)))
        || (trail == Some('>') && lead != Some('<'))
        || lead == Some('^')
}

/// The version part of a token as typed: after the `@` of `service@version`, else all of it.
pub(super) fn typed_version<'a>(text: &'a str, tok: &Token) -> &'a str {
    let typed = &text[tok.span.clone()];
    typed.split_once('@').map_or(typed, |(_, v)| v)
}

/// When token `tok` is a version with something glued to it, the chunk to name in the
/// refusal (`1.0;id`, `v1.2|x`, `billionmail@2.4.0$(id)`). A version must be its chunk's
/// only content apart from quotes, brackets and sentence punctuation around it: the
/// tokenizer splits `1.0;id` into `1.0` and `id`, so the check reads the raw text.
pub(super) fn glued_junk<'a>(text: &'a str, tok: &Token) -> Option<&'a str> {
    let typed = &text[tok.span.clone()];
    let chunk = &text[tok.chunk.clone()];
    let mut candidates = [Some(typed), typed.split_once('@').map(|(_, v)| v)];
    let junk = candidates.iter_mut().flatten().any(|candidate| {
        if parse_version(candidate).is_some() {
            let inner = chunk
                .trim_start_matches(is_opener)
                .trim_end_matches(is_closer);
            let inner = ["'s", "'S", "’s", "’S"]
                .iter()
                .find_map(|p| inner.strip_suffix(p))
                .map_or(inner, |i| i.trim_end_matches(is_closer));
            return inner != typed || unbalanced(chunk);
        }
        // `v1.2|x`, `2.4.0$`: one token, a version followed by a character no version has.
        // (`12.5%` is a percentage and `1.5h` a duration: neither is flagged.)
        let Some((at, c)) = candidate
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
        else {
            return false;
        };
        let head = &candidate[..at];
        let percent = c == '%' && at + 1 == candidate.len();
        let versionish = |w: &str| parse_version(w).is_some() || starts_like_version(w);
        // `$2.4.0`, `id'2.4.0`: junk in front of a version.
        let tail = candidate
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '@')))
            .map(|i| &candidate[i..])
            .and_then(|t| t.get(t.chars().next().map_or(0, char::len_utf8)..))
            .unwrap_or("");
        (!percent && !head.is_empty() && versionish(head)) || parse_version(tail).is_some()
    });
    junk.then_some(chunk)
}

/// The sentence that refuses a version with junk, naming it (shortened when very long).
pub(super) fn junk_message(chunk: &str) -> String {
    const SHOWN: usize = 40;
    let shown: String = chunk.chars().take(SHOWN).collect();
    let more = if chunk.chars().nth(SHOWN).is_some() {
        "…"
    } else {
        ""
    };
    format!(
        "`{shown}{more}` is not a valid version: a version is letters, digits, `.`, `-` and `+` only (like `2.4.1` or `v2.4.1`), typed on its own."
    )
}
