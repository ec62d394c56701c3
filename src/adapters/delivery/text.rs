//! Cutting text to a platform's limits, by characters (never inside one).

/// The first `max` characters of `text`, with an ellipsis when cut.
pub fn head(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The last `max` characters of `text`, with an ellipsis when cut.
pub fn tail(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let mut out = String::from('…');
    out.extend(text.chars().skip(n - max.saturating_sub(1)));
    out
}
