//! Reading the name positions around each cue found by the parent module.

use super::{listed, Cue, CueKind, Role, Token, REST};
use crate::plan::{OrderError, OrderWish};

/// Which way to walk from a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Left,
    Right,
}

/// What sits in a name position next to a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    Name(usize),
    Unknown(usize),
}

/// The cue-by-cue reading of one message.
pub(super) struct Reader<'a> {
    pub(super) tokens: &'a [Token],
    pub(super) roles: &'a [Role],
    pub(super) names: &'a [&'a str],
}

impl Reader<'_> {
    /// Adds the wishes `cue` expresses to `out`, or says which word names no plan service.
    pub(super) fn read_cue(&self, cue: &Cue, out: &mut Vec<OrderWish>) -> Result<(), OrderError> {
        if self.negated(cue) {
            return Ok(());
        }
        let (before, after) = (cue.start, cue.end - 1);
        match cue.kind {
            // "redis first" beats "first redis", and both beat a name behind a comma
            // ("redis, and it should go first"): nearest reading first.
            CueKind::First | CueKind::Last => {
                let first = cue.kind == CueKind::First;
                let tries = [
                    (before, Dir::Left, 0),
                    (after, Dir::Right, 1),
                    (before, Dir::Left, 1),
                ];
                for (edge, dir, commas) in tries {
                    match self.seek(edge, dir, commas, false) {
                        Slot::Empty => continue,
                        slot => return self.rank(slot, dir, first, out),
                    }
                }
                Ok(())
            }
            CueKind::StartWith | CueKind::FinishWith => {
                let slot = self.seek(after, Dir::Right, 1, false);
                self.rank(slot, Dir::Right, cue.kind == CueKind::StartWith, out)
            }
            CueKind::Then | CueKind::BeforeThat | CueKind::Before | CueKind::After => {
                self.pair(cue, out)
            }
            CueKind::InOrder { explicit } => self.sequence(cue, explicit, out),
        }
    }

    /// A negation earlier in the cue's clause ("don't do redis first", "redis not last")
    /// cancels the cue; a comma ends the clause, so "no, redis first" still counts.
    fn negated(&self, cue: &Cue) -> bool {
        let mut at = cue.start;
        while let Some(prev) = at.checked_sub(1) {
            let gap = &self.tokens[prev];
            if gap.stop_after || gap.comma_after {
                return false;
            }
            match self.roles[prev] {
                Role::Negation => return true,
                Role::Cue { .. } => return false,
                _ => at = prev,
            }
        }
        false
    }

    /// "a before b" and relatives: both sides must be names; a known name opposite an unknown
    /// word reports the word. Two unknown words right next to "before"/"after" ("postgres before
    /// mysql") are taken as two missing services; farther off, or around "then", as ordinary
    /// prose ("sounds good, do it after lunch", "lunch, then coffee").
    fn pair(&self, cue: &Cue, out: &mut Vec<OrderWish>) -> Result<(), OrderError> {
        let left = self.seek(cue.start, Dir::Left, 1, true);
        let right = self.seek(cue.end - 1, Dir::Right, 1, true);
        let strict = matches!(cue.kind, CueKind::Before | CueKind::After);
        let towards_first = cue.kind != CueKind::After;
        let (l, r) = match (left, right) {
            (Slot::Name(l), Slot::Name(r)) => (l, r),
            (Slot::Name(_), Slot::Unknown(u)) | (Slot::Unknown(u), Slot::Name(_)) => {
                return Err(self.missing(u));
            }
            (Slot::Unknown(u), Slot::Unknown(v))
                if strict && u + 1 == cue.start && v == cue.end =>
            {
                return Err(self.missing(u));
            }
            // "redis before everything else" is "redis first", "redis after the rest" is last.
            (Slot::Name(_), Slot::Empty)
                if cue.kind != CueKind::BeforeThat && self.rest_follows(cue.end) =>
            {
                return self.rank(left, Dir::Left, towards_first, out);
            }
            // "..., but before that, redis": before the whole plan.
            (Slot::Empty, Slot::Name(_)) if cue.kind == CueKind::BeforeThat => {
                return self.rank(right, Dir::Right, true, out);
            }
            _ => return Ok(()),
        };
        let (lefts, joined) = self.group(l, Dir::Left)?;
        let (rights, _) = self.group(r, Dir::Right)?;
        let (earlier, later) = match cue.kind {
            CueKind::Then | CueKind::Before => (lefts, rights),
            _ => (rights, lefts),
        };
        // "redis, billionmail, then wix-backend" lists an order; "redis and billionmail, then
        // wix-backend" only says both come before.
        let chain = cue.kind == CueKind::Then && !joined;
        if chain {
            for w in earlier.windows(2) {
                out.push(self.before(w[0], w[1]));
            }
        }
        let from = if chain {
            &earlier[earlier.len() - 1..]
        } else {
            &earlier[..]
        };
        for &a in from {
            for &b in &later {
                out.push(self.before(a, b));
            }
        }
        Ok(())
    }

    /// "in this order: a, b, c" (list after) or "a, b and c in that order" (list before).
    fn sequence(
        &self,
        cue: &Cue,
        explicit: bool,
        out: &mut Vec<OrderWish>,
    ) -> Result<(), OrderError> {
        let mut items = self.list(cue.end - 1, Dir::Right);
        if items.is_empty() {
            items = self.list(cue.start, Dir::Left);
            items.reverse();
        }
        let mut seq = Vec::with_capacity(items.len());
        let mut unknown = None;
        for &i in &items {
            match self.roles[i] {
                Role::Name(n) => seq.push(self.names[n].to_string()),
                _ => unknown = unknown.or(Some(i)),
            }
        }
        match unknown {
            // A bare "in order" with no known name near it is prose ("is everything in order").
            Some(u) if explicit || !seq.is_empty() => Err(self.missing(u)),
            Some(_) => Ok(()),
            None if seq.is_empty() => Ok(()),
            None => {
                out.push(OrderWish::Sequence(seq));
                Ok(())
            }
        }
    }

    /// First/Last for the name in `slot` and the names grouped with it; a group of several
    /// ("redis and billionmail first") becomes `Before` pairs against every other service,
    /// because two `First`s would contradict each other.
    fn rank(
        &self,
        slot: Slot,
        dir: Dir,
        first: bool,
        out: &mut Vec<OrderWish>,
    ) -> Result<(), OrderError> {
        let i = match slot {
            Slot::Empty => return Ok(()),
            Slot::Unknown(u) => return Err(self.missing(u)),
            Slot::Name(i) => i,
        };
        let (group, _) = self.group(i, dir)?;
        let members: Vec<usize> = group.iter().map(|&g| self.name_of(g)).collect();
        if let [only] = members[..] {
            let name = self.names[only].to_string();
            out.push(if first {
                OrderWish::First(name)
            } else {
                OrderWish::Last(name)
            });
            return Ok(());
        }
        for &m in &members {
            for o in (0..self.names.len()).filter(|o| !members.contains(o)) {
                let (a, b) = if first { (m, o) } else { (o, m) };
                out.push(OrderWish::Before(
                    self.names[a].to_string(),
                    self.names[b].to_string(),
                ));
            }
        }
        Ok(())
    }

    /// The first word in a name position walking from token `edge` in `dir`: filler is skipped;
    /// a sentence end, a negation or another cue ends the search (the pair cues look past
    /// "first"/"last" when `past_rank`); at most `commas` commas are crossed.
    fn seek(&self, edge: usize, dir: Dir, mut commas: usize, past_rank: bool) -> Slot {
        let mut at = edge;
        while let Some(next) = self.step(at, dir) {
            let gap = &self.tokens[at.min(next)];
            if gap.stop_after {
                return Slot::Empty;
            }
            if gap.comma_after {
                if commas == 0 {
                    return Slot::Empty;
                }
                commas -= 1;
            }
            match self.roles[next] {
                Role::Filler | Role::Joiner => {}
                Role::Cue { rank: true } if past_rank => {}
                Role::Cue { .. } | Role::Negation => return Slot::Empty,
                Role::Name(_) => return Slot::Name(next),
                Role::Unknown => return Slot::Unknown(next),
            }
            at = next;
        }
        Slot::Empty
    }

    /// The names listed together with the name at token `i`, walking away from the cue in `dir`:
    /// joined by "and" or by commas. An unknown word after "and" is a missing service; after a
    /// bare comma it may as well start a new clause, so the group just ends there. Also says
    /// whether "and" joined any of them (see [`Reader::pair`]). Tokens come back in text order.
    fn group(&self, i: usize, dir: Dir) -> Result<(Vec<usize>, bool), OrderError> {
        let mut group = vec![i];
        let mut joined = false;
        let mut at = i;
        while let Some(next) = self.step(at, dir) {
            let gap = &self.tokens[at.min(next)];
            if gap.stop_after {
                break;
            }
            match self.roles[next] {
                Role::Name(_) if gap.comma_after => at = next,
                Role::Joiner => {
                    let Some(after) = self.step(next, dir) else {
                        break;
                    };
                    if self.tokens[next.min(after)].stop_after {
                        break;
                    }
                    match self.roles[after] {
                        Role::Name(_) => at = after,
                        Role::Unknown => return Err(self.missing(after)),
                        _ => break,
                    }
                    joined = true;
                }
                _ => break,
            }
            if !group.iter().any(|&g| self.name_of(g) == self.name_of(at)) {
                group.push(at);
            }
        }
        group.sort_unstable();
        Ok((group, joined))
    }

    /// List items (names or unknown words) walking from token `edge`: items may be separated by
    /// commas, "and" or "then", or nothing between two names. An unknown word counts only as the
    /// first item or after a separator, so "I want redis, billionmail in that order" stops at
    /// "want".
    fn list(&self, edge: usize, dir: Dir) -> Vec<usize> {
        let mut items = Vec::new();
        let mut separated = true;
        let mut at = edge;
        while let Some(next) = self.step(at, dir) {
            let gap = &self.tokens[at.min(next)];
            if gap.stop_after {
                break;
            }
            separated |= gap.comma_after;
            match self.roles[next] {
                Role::Name(_) => items.push(next),
                Role::Unknown if separated => items.push(next),
                Role::Joiner | Role::Cue { .. } if !items.is_empty() && self.is_list_glue(next) => {
                    separated = true;
                    at = next;
                    continue;
                }
                _ => break,
            }
            separated = false;
            at = next;
        }
        items
    }

    /// "and", "then", "first", "last" may sit between list items; other cues end the list.
    fn is_list_glue(&self, i: usize) -> bool {
        self.roles[i] == Role::Joiner
            || matches!(self.tokens[i].word.as_str(), "then" | "first" | "last")
    }

    /// Whether "everything else", "the rest", "all others" follows token `end`.
    fn rest_follows(&self, end: usize) -> bool {
        self.tokens[end..]
            .iter()
            .take(3)
            .any(|t| listed(REST, &t.word))
    }

    fn step(&self, at: usize, dir: Dir) -> Option<usize> {
        match dir {
            Dir::Left => at.checked_sub(1),
            Dir::Right => Some(at + 1).filter(|&n| n < self.tokens.len()),
        }
    }

    fn name_of(&self, token: usize) -> usize {
        match self.roles[token] {
            Role::Name(n) => n,
            role => unreachable!("token {token} is {role:?}, not a name"),
        }
    }

    fn before(&self, a: usize, b: usize) -> OrderWish {
        let name = |t| self.names[self.name_of(t)].to_string();
        OrderWish::Before(name(a), name(b))
    }

    fn missing(&self, token: usize) -> OrderError {
        OrderError::NotInPlan(self.tokens[token].word.clone())
    }
}
