//! Typed answers to the read-only commands (status, history, explain, context, readiness):
//! built from the store and the config, serialisable to JSON, rendered to text by each surface.
