//! Log lines in a terminal session: while `deckhand chat` draws its live progress block, a
//! log line written straight to stderr would land inside it. [`LogWriter`] (the tracing
//! writer `main` installs for `chat`) hands each formatted line to the console's renderer
//! instead, which prints it as a permanent line above the block; otherwise it is stderr.

use super::render::{Output, Stream};
use std::io::Write;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// The interactive console's output channel, while one runs.
static CONSOLE: Mutex<Option<UnboundedSender<Output>>> = Mutex::new(None);

/// Routes log lines through `tx` until [`detach`] (interactive sessions only).
pub(super) fn attach(tx: UnboundedSender<Output>) {
    *CONSOLE.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
}

/// Log lines go to stderr again.
pub(super) fn detach() {
    *CONSOLE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A `tracing_subscriber` writer: one formatted event per writer, delivered when dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogWriter;

/// One event's text, collected until the formatter is done with it.
#[derive(Debug, Default)]
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let console = CONSOLE.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(tx) = console {
            let text = String::from_utf8_lossy(&self.0);
            let text = text.trim_end_matches('\n').to_string();
            if tx.send(Output::Notice(text, Stream::Stderr)).is_ok() {
                return;
            }
        }
        let _ = std::io::stderr().lock().write_all(&self.0);
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_the_attached_console_then_back_to_stderr() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        attach(tx);
        for i in 0..3 {
            let mut line = LogWriter.make_writer_for_test();
            writeln!(line, "WARN heartbeat failed {i}").unwrap();
        }
        detach();
        let mut got = Vec::new();
        while let Ok(o) = rx.try_recv() {
            match o {
                Output::Notice(text, Stream::Stderr) => got.push(text),
                _ => panic!("only notices"),
            }
        }
        assert_eq!(
            got,
            (0..3)
                .map(|i| format!("WARN heartbeat failed {i}"))
                .collect::<Vec<_>>()
        );
        // Detached: nothing more arrives (the line went to stderr).
        drop(LogWriter.make_writer_for_test());
        let mut late = LogWriter.make_writer_for_test();
        writeln!(late, "after").unwrap();
        drop(late);
        assert!(rx.try_recv().is_err());
    }

    impl LogWriter {
        fn make_writer_for_test(&self) -> LogLine {
            tracing_subscriber::fmt::MakeWriter::make_writer(self)
        }
    }
}
