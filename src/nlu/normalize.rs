//! Text normalisation before anything reads a message: Unicode NFKC (full-width letters,
//! ligatures and compatibility forms become plain ones), and removal of the characters a
//! reader cannot see but a parser would: zero-width characters, the byte-order mark, bidi
//! controls, variation selectors and other control characters.
//!
//! Without it "no\u{200B}" is not "no", and a BOM in front of "yes" hides the word.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// Characters dropped outright: they carry no letters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'       // Mongolian selectors and vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                    // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FEFF}'                    // byte-order mark / zero-width no-break space
        | '\u{FFA0}'
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{E0000}'..='\u{E007F}'     // tags
        | '\u{E0100}'..='\u{E01EF}'     // variation selectors supplement
    )
}

/// Normalises one message: NFKC, invisible characters removed, control characters (NUL,
/// escape, ...) turned into spaces so they still separate words, line breaks kept.
pub fn normalize(text: &str) -> Cow<'_, str> {
    let plain = text.is_ascii()
        && !text
            .bytes()
            .any(|b| b.is_ascii_control() && b != b'\n' && b != b'\t');
    if plain {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        if is_invisible(c) {
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_removed_wherever_they_are() {
        let invisible = [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{FEFF}', '\u{2060}',
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{061C}', '\u{00AD}', '\u{FE0F}',
        ];
        for c in invisible {
            for word in ["no", "yes", "deploy billionmail"] {
                let chars: Vec<char> = word.chars().collect();
                for at in 0..=chars.len() {
                    let mut s: String = chars[..at].iter().collect();
                    s.push(c);
                    s.extend(&chars[at..]);
                    assert_eq!(normalize(&s), word, "{c:?} at {at} in {word:?}");
                }
            }
        }
    }

    #[test]
    fn control_characters_separate_words() {
        assert_eq!(normalize("no\u{0}"), "no ");
        assert_eq!(normalize("yes\u{1b}[31m"), "yes [31m");
        assert_eq!(normalize("a\nb\tc"), "a\nb\tc");
    }

    #[test]
    fn compatibility_forms_become_plain() {
        assert_eq!(normalize("ｙｅｓ"), "yes");
        assert_eq!(normalize("ﬁx"), "fix");
        assert_eq!(normalize("billionmail™"), "billionmailTM");
        assert_eq!(normalize("Ｄｅｐｌｏｙ　billionmail"), "Deploy billionmail");
        // Letters of other scripts stay what they are: a Cyrillic Ь is not a Latin b.
        assert_eq!(normalize("Ьillionmail"), "Ьillionmail");
    }
}
