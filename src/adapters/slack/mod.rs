//! Slack adapter (in progress): request signature verification for the Events API,
//! interactivity and slash commands. Slack types stay inside this module.

pub mod signature;
