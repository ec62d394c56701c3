//! A small incremental Server-Sent Events parser (the `text/event-stream` format of the
//! WHATWG HTML standard): `data:`, `id:`, `event:` and `retry:` fields, multi-line data,
//! comments, and any of CRLF, LF or CR as line ends, fed chunk by chunk as bytes arrive.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The last event id seen on the stream when this event was dispatched (what a
    /// reconnection sends as `Last-Event-ID`).
    pub id: Option<String>,
    /// The event type (`message` when the stream named none).
    pub event: String,
    /// The data lines, joined with `\n`.
    pub data: String,
}

/// Parses a byte stream into [`SseEvent`]s; keeps a partial line between chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line not yet terminated.
    line: Vec<u8>,
    /// The last chunk ended with CR: a LF starting the next one belongs to it.
    after_cr: bool,
    /// Whether the first line has been seen (a leading BOM is dropped).
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    last_id: Option<String>,
    retry_ms: Option<u64>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// The reconnection delay the stream asked for with `retry:`, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// The last event id the stream set (also after events without data).
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Feeds the next bytes; returns the events they complete, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(tail) = rest.strip_prefix(b"\n") {
                rest = tail;
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..end]);
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut out);
            let crlf = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if crlf {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
        }
        self.line.extend_from_slice(rest);
        out
    }

    /// Handles one complete line (without its terminator).
    fn line_done(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) {
        let mut line = String::from_utf8_lossy(raw).into_owned();
        if !self.started {
            self.started = true;
            if let Some(stripped) = line.strip_prefix('\u{feff}') {
                line = stripped.to_string();
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return; // a comment (servers send them as keep-alives)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {} // unknown fields are ignored
        }
    }

    /// An empty line: the buffered event, if it has data, is complete.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.push(SseEvent {
            id: self.last_id.clone(),
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        chunks.iter().flat_map(|c| p.feed(c)).collect()
    }

    fn ev(id: Option<&str>, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: id.map(str::to_string),
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn fields_and_default_type() {
        let got = parse_all(&[b"id: 1\nevent: started\ndata: {\"a\":1}\n\ndata: plain\n\n"]);
        assert_eq!(
            got,
            vec![
                ev(Some("1"), "started", "{\"a\":1}"),
                ev(Some("1"), "message", "plain")
            ]
        );
    }

    #[test]
    fn multi_line_data_and_one_optional_space() {
        let got = parse_all(&[b"data: first\ndata:second\ndata:  third\ndata\n\n"]);
        assert_eq!(got, vec![ev(None, "message", "first\nsecond\n third\n")]);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let got = parse_all(&[b": keep-alive\n\nfoo: bar\ndata: x\n: inside\n\n"]);
        assert_eq!(got, vec![ev(None, "message", "x")]);
    }

    #[test]
    fn crlf_cr_and_lf_line_ends() {
        let got = parse_all(&[b"id: 7\r\nevent: output\r\ndata: a\r\n\r\ndata: b\rdata: c\r\r"]);
        assert_eq!(
            got,
            vec![
                ev(Some("7"), "output", "a"),
                ev(Some("7"), "message", "b\nc")
            ]
        );
    }

    #[test]
    fn lines_split_across_chunks_even_between_cr_and_lf() {
        let got = parse_all(&[
            b"id: 4\r",
            b"\nevent: stage_",
            b"started\r\nda",
            b"ta: {\"name\":\"b",
            "\u{fc}".as_bytes().split_at(1).0,
            "\u{fc}".as_bytes().split_at(1).1,
            b"ild\"}\r",
            b"\n\r",
            b"\n",
        ]);
        assert_eq!(
            got,
            vec![ev(Some("4"), "stage_started", "{\"name\":\"b\u{fc}ild\"}")]
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_but_its_id_counts() {
        let mut p = SseParser::new();
        assert!(p.feed(b"id: 3\nevent: ping\n\n").is_empty());
        assert_eq!(p.last_id(), Some("3"));
        // The type of the empty event does not leak into the next one.
        assert_eq!(p.feed(b"data: d\n\n"), vec![ev(Some("3"), "message", "d")]);
    }

    #[test]
    fn retry_bom_and_an_unterminated_event() {
        let mut p = SseParser::new();
        let got = p.feed("\u{feff}retry: 1500\nretry: soon\ndata: x\n\ndata: y".as_bytes());
        assert_eq!(got, vec![ev(None, "message", "x")]);
        assert_eq!(p.retry_ms(), Some(1500));
        // "y" waits for its blank line.
        assert_eq!(p.feed(b"\n"), vec![]);
        assert_eq!(p.feed(b"\n"), vec![ev(None, "message", "y")]);
    }

    #[test]
    fn an_id_with_nul_is_ignored() {
        let got = parse_all(&[b"id: 2\ndata: a\n\nid: x\0y\ndata: b\n\n"]);
        assert_eq!(
            got,
            vec![ev(Some("2"), "message", "a"), ev(Some("2"), "message", "b")]
        );
    }
}
