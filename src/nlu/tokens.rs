//! Splits chat text into lowercase tokens, keeping the characters that matter inside
//! versions (`2.3.1`), names (`auth-service`) and `service@version`.

use std::ops::Range;

/// One word of the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Lowercased text with surrounding punctuation removed.
    pub text: String,
    /// Byte offset of the token in the original text.
    pub start: usize,
    /// Byte range of the token's text as typed (case kept, edge punctuation and a
    /// possessive `'s` removed): versions are taken from here, exactly as typed.
    pub span: Range<usize>,
    /// Byte range of the whitespace-delimited chunk the token is part of. A version must
    /// be its chunk's only content (besides quotes and sentence punctuation): `1.0;id`
    /// splits into `1.0` and `id`, but the chunk shows the junk.
    pub chunk: Range<usize>,
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';' | '!' | '?' | '(' | ')' | '"' | '`' | '*' | '[' | ']' | '{' | '}' | '<' | '>'
        )
}

fn is_edge_punct(c: char) -> bool {
    matches!(
        c,
        '.' | ':' | '\'' | '’' | '‘' | '“' | '”' | '/' | '_' | '~'
    )
}

/// Tokenizes `text` in one pass (linear in its length). Edge punctuation is trimmed
/// (`staging.` -> `staging`) and a possessive `'s` is dropped (`billionmail's` ->
/// `billionmail`); `?` alone is kept so "?" can ask for help.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    let push = |s: usize, e: usize, out: &mut Vec<Token>| {
        let raw = &text[s..e];
        let lead = raw.len() - raw.trim_start_matches(is_edge_punct).len();
        let trimmed = raw.trim_matches(is_edge_punct);
        let typed = ["'s", "'S", "’s", "’S"]
            .iter()
            .find_map(|p| trimmed.strip_suffix(p))
            .unwrap_or(trimmed);
        if !typed.is_empty() {
            let from = s + lead;
            out.push(Token {
                text: typed.to_lowercase(),
                start: s,
                span: from..from + typed.len(),
                // Set when the chunk ends.
                chunk: 0..0,
            });
        }
    };
    // Tokens from `chunk_first` on belong to the chunk that started at `chunk_start`.
    let (mut chunk_start, mut chunk_first, mut in_chunk) = (0, 0, false);
    let close_chunk = |from: usize, to: usize, first: usize, out: &mut Vec<Token>| {
        for t in &mut out[first..] {
            t.chunk = from..to;
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_chunk {
                if let Some(s) = start.take() {
                    push(s, i, &mut out);
                }
                close_chunk(chunk_start, i, chunk_first, &mut out);
                in_chunk = false;
            }
            continue;
        }
        if !in_chunk {
            (chunk_start, chunk_first, in_chunk) = (i, out.len(), true);
        }
        if is_separator(c) {
            if let Some(s) = start.take() {
                push(s, i, &mut out);
            }
            if c == '?' {
                out.push(Token {
                    text: "?".into(),
                    start: i,
                    span: i..i + 1,
                    chunk: 0..0,
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        push(s, text.len(), &mut out);
    }
    if in_chunk {
        close_chunk(chunk_start, text.len(), chunk_first, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn keeps_versions_and_names_whole() {
        assert_eq!(
            texts("Deploy Auth-Service v2.5.0-rc.1 to prod."),
            vec!["deploy", "auth-service", "v2.5.0-rc.1", "to", "prod"]
        );
        assert_eq!(
            texts("ship billionmail@2.3.1, thx!"),
            vec!["ship", "billionmail@2.3.1", "thx"]
        );
    }

    #[test]
    fn trims_punctuation_and_possessives() {
        assert_eq!(
            texts("what's billionmail's status?"),
            vec!["what", "billionmail", "status", "?"]
        );
        assert_eq!(texts(":+1:"), vec!["+1"]);
        assert!(texts("  ... ").is_empty());
    }

    #[test]
    fn spans_keep_the_typed_text_and_chunks_show_what_is_glued_on() {
        let text = "Ship `V2.4.1` to prod, then 1.0;id and BM's 2.0.";
        let toks = tokenize(text);
        let typed: Vec<&str> = toks.iter().map(|t| &text[t.span.clone()]).collect();
        assert_eq!(
            typed,
            vec!["Ship", "V2.4.1", "to", "prod", "then", "1.0", "id", "and", "BM", "2.0"]
        );
        let chunks: Vec<&str> = toks.iter().map(|t| &text[t.chunk.clone()]).collect();
        assert_eq!(
            chunks,
            vec![
                "Ship", "`V2.4.1`", "to", "prod,", "then", "1.0;id", "1.0;id", "and", "BM's",
                "2.0."
            ]
        );
        for t in &toks {
            assert!(t.chunk.start <= t.span.start && t.span.end <= t.chunk.end);
        }
    }

    #[test]
    fn every_span_is_inside_its_chunk_for_odd_text() {
        for text in [
            "",
            " ",
            "?",
            "a?b",
            "'s",
            "x's?",
            "日本語 テキスト",
            "\u{200b}\u{feff}",
            "((()))",
            "...a...",
            "  2.4.0`id`  ",
        ] {
            for t in tokenize(text) {
                assert!(t.chunk.start <= t.span.start, "{text:?}: {t:?}");
                assert!(t.span.end <= t.chunk.end, "{text:?}: {t:?}");
                assert!(text.is_char_boundary(t.span.start) && text.is_char_boundary(t.span.end));
            }
        }
    }
}
