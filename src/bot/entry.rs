//! The entry points besides typed text: a request already structured (a slash command's
//! options) and a button press. Both skip the NLU; both are de-duplicated like messages.

use super::{fault, Bot, Structured};
use crate::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use crate::nlu::{Intent, Parsed, Reply};
use crate::store::StoreError;
use std::sync::Arc;
use tracing::Instrument;

impl Bot {
    /// Handles a request that arrives already structured (a slash command's options): it
    /// skips the NLU and enters the dialogue as if its words had been understood exactly, so
    /// anything missing is asked for and actions are confirmed as usual. `msg.text` is what
    /// the thread's history records (the command as typed).
    pub async fn handle_structured(
        &self,
        msg: Incoming,
        request: Structured,
        sink: Arc<dyn EventSink>,
    ) -> Intent {
        let parsed = Parsed {
            intent: request.intent,
            confidence: 1.0,
            services: request.slots.service.iter().cloned().collect(),
            slots: request.slots,
            unknown: Vec::new(),
            invalid: Vec::new(),
            negated: false,
            parts: Default::default(),
            reply: None,
            other_words: 0,
        };
        self.handle_understood(msg, parsed, sink).await
    }

    /// Handles a message whose meaning is already known (no NLU pass).
    pub(super) async fn handle_understood(
        &self,
        msg: Incoming,
        parsed: Parsed,
        sink: Arc<dyn EventSink>,
    ) -> Intent {
        let span = tracing::info_span!("message", platform = %msg.thread.platform, session = %msg.thread, user = %msg.user);
        if !self.first_time(&msg, &span, &sink).await {
            return Intent::None;
        }
        let intent = parsed.intent;
        self.handle_parsed(msg, parsed, sink).instrument(span).await;
        intent
    }

    /// Records platform event `event_id` as delivered; false when it was delivered before.
    /// The one place events with an id are claimed (here for messages, through the intake for
    /// what an adapter acts on first), so it counts them: received, and duplicate.
    pub async fn first_delivery(&self, platform: &str, event_id: &str) -> Result<bool, StoreError> {
        self.metrics().event_received(platform);
        let first = self
            .store
            .first_delivery(platform, event_id, crate::clock::now_ms())
            .await?;
        if !first {
            self.metrics().event_duplicate(platform);
        }
        Ok(first)
    }

    /// Platforms redeliver events; act on each one once. Recorded in the store, so a retry is
    /// caught after a restart or by another replica. False: seen before (or unknowable).
    pub(super) async fn first_time(
        &self,
        msg: &Incoming,
        span: &tracing::Span,
        sink: &Arc<dyn EventSink>,
    ) -> bool {
        let Some(id) = &msg.event_id else {
            return true;
        };
        match self.first_delivery(&msg.thread.platform, id).await {
            Ok(true) => true,
            Ok(false) => {
                span.in_scope(|| tracing::info!(event_id = %id, "duplicate delivery ignored"));
                false
            }
            Err(e) => {
                // Without the record we cannot tell a retry from a first delivery; acting
                // twice is worse than asking the user to repeat.
                let text = fault("checking for a repeated delivery", &e);
                sink.emit(BotEvent::Reply {
                    thread: msg.thread.clone(),
                    text,
                    intent: None,
                    refusal: None,
                });
                false
            }
        }
    }

    /// Handles a button press by `user` in `thread` (Confirm/Cancel answer the thread's open
    /// question; Approve/Reject decide an approval request). Returns the intent it stood for.
    pub async fn click(
        &self,
        thread: ThreadKey,
        user: &str,
        click: crate::chat::Click,
        event_id: Option<String>,
        sink: Arc<dyn EventSink>,
    ) -> Intent {
        use crate::chat::Click;
        use crate::store::Decision;
        let (approval_id, decision) = match click {
            Click::Confirm | Click::Cancel => {
                // The button is the explicit answer itself: no words to read.
                let (intent, reply, text) = match click {
                    Click::Confirm => (Intent::Affirm, Reply::Yes, "yes"),
                    _ => (Intent::Negate, Reply::No, "no"),
                };
                let msg = Incoming {
                    thread,
                    user: user.to_string(),
                    text: text.into(),
                    event_id,
                };
                let parsed = Parsed {
                    intent,
                    confidence: 1.0,
                    slots: Default::default(),
                    unknown: Vec::new(),
                    invalid: Vec::new(),
                    services: Vec::new(),
                    negated: false,
                    parts: Default::default(),
                    reply: Some(reply),
                    other_words: 0,
                };
                return self.handle_understood(msg, parsed, sink).await;
            }
            Click::Approve(id) => (id, Decision::Approve),
            Click::Reject(id) => (id, Decision::Reject),
        };
        self.decide(approval_id, &thread, user, decision, sink)
            .await;
        match decision {
            Decision::Approve => Intent::Approve,
            Decision::Reject => Intent::Reject,
        }
    }
}
