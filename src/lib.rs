//! Deckhand: a chat-ops bot that understands deploy requests in natural language, fills in
//! what is missing through dialogue, runs real pipelines and reports progress in the thread.
//!
//! Modules, in the order a message flows through them:
//! - [`config`]: `deckhand.yaml` schema, validation and look-ups.
//! - [`chat`]: platform-neutral messages and the [`chat::EventSink`] adapters implement.
//! - [`nlu`]: intent classifier and entity extraction; `deckhand eval`.
//! - [`dialogue`]: per-thread sessions, slot filling, corrections, confirmation.
//! - [`pipeline`]: runs stages as child processes, timeouts, cancel, auto-rollback.
//! - [`store`]: runs, stage results and deployments in SQLite or PostgreSQL.
//! - [`bot`]: [`bot::Bot::handle`], the one entry point every adapter calls.
//! - [`adapters`]: the console adapter (`deckhand chat`).

pub mod adapters;
pub mod audit;
pub mod bot;
pub mod chat;
pub mod clock;
pub mod command;
pub mod config;
pub mod dialogue;
pub mod governance;
pub mod memory;
pub mod nlu;
pub mod origin;
pub mod pipeline;
pub mod store;
pub mod timefmt;
