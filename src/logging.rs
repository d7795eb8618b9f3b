//! Logging: placeholder.
