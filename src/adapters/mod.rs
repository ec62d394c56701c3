//! Chat adapters: each turns its platform's messages into [`crate::chat::Incoming`] and renders
//! [`crate::chat::BotEvent`]s. Platform types never leave their adapter.

pub mod adapter;
pub mod console;
pub mod delivery;
pub mod discord;
pub mod serve;
pub mod shutdown;
pub mod signals;
pub mod signed_request;
pub mod slack;
