//! What the commands that work on sources and images do, as library functions that take a
//! configuration and return a result (printing is the CLI's job).

pub mod compare;
pub mod local;
pub mod push;
