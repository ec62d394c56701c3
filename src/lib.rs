//! Deckhand: a chat-ops bot that understands deploy requests in natural language, fills in
//! what is missing through dialogue, checks who may do it, runs real pipelines and reports
//! progress in the thread.
//!
//! # Layout
//!
//! Every surface hands the [`command`] layer a typed command; nothing below it knows chat.
//!
//! - Surfaces and chat, top down:
//!   - [`cli`]: the `deckhand` subcommands that are clients of a running server's HTTP API
//!     (deploy, rollback, status, runs, approvals, locks, ...), completions, healthcheck.
//!   - [`adapters`]: the console (`deckhand chat`), `deckhand serve` (HTTP listener, Slack's
//!     Events API and Socket Mode, Discord's interactions endpoint and gateway), the shared
//!     delivery layer (per-thread outbox, coalescing status editor) and signal handling.
//!   - [`bot`]: [`bot::Bot`], the chat client of the command layer: de-duplication, NLU,
//!     dialogue, sessions, and the one edge where outcomes, refusals and reports become text.
//!   - [`chat`]: platform-neutral messages and events ([`chat::BotEvent`],
//!     [`chat::EventSink`], [`chat::Click`]).
//!   - [`nlu`]: intent classifier and entity extraction (lexical; embeddings behind the
//!     `semantic` feature); `deckhand eval`.
//!   - [`dialogue`]: flows from `dialogues/*.yaml`, per-thread sessions, slot filling,
//!     corrections, confirmation.
//! - The command layer:
//!   - [`command`]: [`command::Command`], [`command::Outcome`], [`command::Refusal`] and the
//!     [`command::Commander`] that checks and applies commands (rate limit, roles, locks,
//!     approvals, deploy memory, audit); typed reports for the questions.
//!   - [`origin`]: where a command came from ([`origin::Origin`]: a chat thread, an API or MCP
//!     client, a schedule, a webhook).
//! - The domain below it:
//!   - [`governance`]: people and roles, policies, locks, rate limits.
//!   - [`memory`]: deploy history → facts → recommended strategy.
//!   - [`pipeline`]: runs stages as child processes, timeouts, cancel, auto-rollback.
//!   - [`store`]: runs, stages, deployments, approvals, locks, audit rows in SQLite or
//!     PostgreSQL.
//!   - [`audit`]: typed audit events, the hash chain, verify, export.
//! - Operations: [`metrics`] (Prometheus `/metrics`, the DORA measures from the store, and
//!   the `/healthz` and `/readyz` endpoints).
//! - Utilities: [`config`] (schema, validation, look-ups), [`clock`] (one injectable clock),
//!   [`timefmt`] (human time spans and UTC times), [`shutdown`] (the one stop signal every
//!   long-running task takes).

pub mod adapters;
pub mod api;
pub mod audit;
pub mod bot;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod dialogue;
pub mod governance;
pub mod memory;
pub mod metrics;
pub mod nlu;
pub mod origin;
pub mod pipeline;
pub mod plan;
pub mod schedule;
pub mod shutdown;
pub mod store;
pub mod timefmt;
pub mod versions;
