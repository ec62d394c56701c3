//! Chat adapters: each turns its platform's messages into [`crate::chat::Incoming`] and renders
//! [`crate::chat::BotEvent`]s. Platform types never leave their adapter.
//!
//! `console` is the terminal; `slack` and `discord` are [`adapter::Adapter`]s that
//! [`serve::Server`] runs side by side, built from an [`adapter::AdapterContext`] and stopped by
//! one [`shutdown::Shutdown`]; `delivery` is what those two share (intake, outbox, retries).

pub mod adapter;
pub mod console;
pub mod delivery;
pub mod discord;
pub mod serve;
pub use crate::shutdown;
pub mod signals;
pub mod signed_request;
pub mod slack;
