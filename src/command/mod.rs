//! The command layer: every surface (chat, slash commands and buttons, REST API, CLI, MCP,
//! webhooks, schedules) hands Deckhand a typed [`Command`] with an [`Actor`] and an
//! [`Origin`]; one entry point checks it (rate limit, roles, locks and freezes, approvals,
//! deploy memory) and applies it, recording the audit trail, and answers with an [`Outcome`].
//! A refusal is a value ([`Refusal`]), rendered to words only at each surface's edge.

mod names;
mod refusal;
pub mod reports;

pub use crate::governance::Actor;
pub use crate::origin::Origin;
pub use names::{EnvName, ServiceName};
pub use refusal::{Refusal, RefusalKind};
