//! How much of a message Deckhand reads. A chat message is a request, not a document: Slack
//! caps a message's text at 4,000 characters, and so does Deckhand, so one pasted log or a
//! hostile 100 MB line costs bounded time and memory everywhere it is read.

/// The most characters of one message that are read (Slack's limit for a message's text).
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// A message cut to the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capped<'a> {
    /// The part that is read.
    pub text: &'a str,
    /// True when something was cut off (the reply should say so).
    pub cut: bool,
}

/// Cuts `text` to [`MAX_MESSAGE_CHARS`] characters (see [`cap_to`]).
pub fn cap_message(text: &str) -> Capped<'_> {
    cap_to(text, MAX_MESSAGE_CHARS)
}

/// Cuts `text` to at most `max` characters, on a char boundary. A cut inside a word drops
/// that word's start too, so a cut never leaves half a version or name behind (`2.4.10` is
/// never read as `2.4.1`). Reads at most `max + 1` characters of `text`, whatever its length.
pub fn cap_to(text: &str, max: usize) -> Capped<'_> {
    let Some((end, next)) = text.char_indices().nth(max) else {
        return Capped { text, cut: false };
    };
    let kept = &text[..end];
    let mid_word =
        !next.is_whitespace() && kept.chars().next_back().is_some_and(|c| !c.is_whitespace());
    let kept = if mid_word {
        kept.rfind(char::is_whitespace).map_or("", |i| &kept[..i])
    } else {
        kept
    };
    Capped {
        text: kept,
        cut: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        for text in ["", "deploy billionmail", &"x".repeat(MAX_MESSAGE_CHARS)] {
            assert_eq!(cap_message(text), Capped { text, cut: false });
        }
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_and_never_mid_word() {
        // Multi-byte characters of every width, words of every length around the limit.
        for unit in ["a", "é", "日", "🚀", "ab ", "ü 2.4.10 ", "x\u{200b}"] {
            for extra in 1..40 {
                let text = unit.repeat(MAX_MESSAGE_CHARS / unit.chars().count() + extra);
                let c = cap_message(&text);
                assert!(c.cut, "{unit:?} x{extra}");
                assert!(c.text.chars().count() <= MAX_MESSAGE_CHARS);
                assert!(text.starts_with(c.text));
                let rest = &text[c.text.len()..];
                let glued = c
                    .text
                    .chars()
                    .next_back()
                    .is_some_and(|ch| !ch.is_whitespace())
                    && rest.chars().next().is_some_and(|ch| !ch.is_whitespace());
                assert!(!glued, "{unit:?} x{extra}: cut inside a word");
            }
        }
    }

    #[test]
    fn a_cut_version_is_dropped_not_shortened() {
        let text = format!(
            "{} deploy billionmail 2.4.10",
            "a".repeat(MAX_MESSAGE_CHARS - 24)
        );
        let c = cap_message(&text);
        assert!(c.cut);
        assert!(
            c.text.ends_with("billionmail"),
            "{:?}",
            &c.text[c.text.len() - 20..]
        );
    }

    #[test]
    fn one_huge_word_is_dropped_entirely() {
        let text = "z".repeat(5 * MAX_MESSAGE_CHARS);
        assert_eq!(
            cap_message(&text),
            Capped {
                text: "",
                cut: true
            }
        );
    }

    fn nlu() -> crate::nlu::Nlu {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
        crate::nlu::Nlu::new(&crate::config::Config::load(&path).unwrap()).unwrap()
    }

    /// `n` words of chat: names, aliases, typos, versions, percents, unknown words, filler.
    fn chatter(n: usize) -> String {
        const WORDS: [&str; 24] = [
            "please",
            "deploy",
            "billionmail",
            "2.3.1",
            "to",
            "staging",
            "with",
            "a",
            "10%",
            "canary",
            "also",
            "auth",
            "service",
            "looked",
            "fine",
            "on",
            "live",
            "yesterday",
            "bilionmail",
            "wix-backend",
            "foo-bar",
            "don't",
            "redis",
            "v2.4.0-rc.1",
        ];
        WORDS
            .iter()
            .cycle()
            .take(n)
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_1_9_mb_slack_mention_is_read_up_to_the_cap_only() {
        let nlu = nlu();
        let mut text = String::from("<@U0DECKHAND> ");
        while text.len() < 1_900_000 {
            text.push_str("thinking out loud about the weekend again ");
        }
        // A command past the cap is never read.
        text.push_str("deploy redis 9.9.9 to production");
        let p = nlu.parse(&text);
        assert!(!p.intent.is_action(), "{:?}", p.intent);
        assert_eq!(p.slots, crate::nlu::Slots::default());
        assert!(p.other_words <= MAX_MESSAGE_CHARS / 2, "{}", p.other_words);
    }

    #[test]
    fn a_100k_word_message_is_capped_and_parsed() {
        let nlu = nlu();
        let text = chatter(100_000);
        let p = nlu.parse(&text);
        // Only the words of the first 4,000 characters count.
        let read = cap_message(&text).text;
        assert!(p.other_words < read.split_whitespace().count());
        assert_eq!(p.slots.service.as_deref(), Some("billionmail"));
        assert!(
            matches!(p.slots.version.as_deref(), Some("2.3.1" | "v2.4.0-rc.1")),
            "{:?}",
            p.slots.version
        );
    }

    #[test]
    fn without_the_cap_100k_words_still_parse_completely() {
        // The parse is linear: a quadratic step would not finish here in any reasonable time.
        let nlu = nlu().with_max_chars(usize::MAX);
        let text = chatter(100_000);
        let p = nlu.parse(&text);
        let mut services = p.services.clone();
        services.sort();
        assert_eq!(
            services,
            ["auth-service", "billionmail", "redis", "wix-backend"],
            "every service in the message is seen, to its end"
        );
        // "foo-bar" every 24 words is an unknown name.
        assert_eq!(
            p.unknown.len(),
            100_000 / 24 + usize::from(100_000 % 24 > 20)
        );
        // "don't redis v2.4.0-rc.1 please deploy": the action word is too far to be negated.
        assert!(!p.negated);
        // A lock with a 100k-word reason: the lock-scope reading is linear too.
        let p = nlu.parse(&format!("lock staging because {text}"));
        assert_eq!(p.intent, crate::nlu::Intent::Lock);
        assert_eq!(p.slots.environment.as_deref(), Some("staging"));
        assert_eq!(
            p.slots.service, None,
            "names in the reason never narrow the scope"
        );
    }
}
