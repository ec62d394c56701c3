//! Splits chat text into lowercase tokens, keeping the characters that matter inside
//! versions (`2.3.1`), names (`auth-service`) and `service@version`.

/// One word of the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Lowercased text with surrounding punctuation removed.
    pub text: String,
    /// Byte offset of the token in the original text.
    pub start: usize,
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

/// Tokenizes `text`. Edge punctuation is trimmed (`staging.` -> `staging`) and a possessive
/// `'s` is dropped (`billionmail's` -> `billionmail`); `?` alone is kept so "?" can ask for help.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    let push = |s: usize, e: usize, out: &mut Vec<Token>| {
        let raw = &text[s..e];
        let trimmed = raw.trim_matches(is_edge_punct);
        let lower = trimmed.to_lowercase();
        let lower = lower
            .strip_suffix("'s")
            .or_else(|| lower.strip_suffix("’s"))
            .map(str::to_string)
            .unwrap_or(lower);
        if !lower.is_empty() {
            out.push(Token {
                text: lower,
                start: s,
            });
        }
    };
    for (i, c) in text.char_indices() {
        if is_separator(c) {
            if let Some(s) = start.take() {
                push(s, i, &mut out);
            }
            if c == '?' {
                out.push(Token {
                    text: "?".into(),
                    start: i,
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        push(s, text.len(), &mut out);
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
}
