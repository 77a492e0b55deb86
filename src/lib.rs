//! hotpatch: put Tonel source changes into a running Smalltalk image, or rebuild it when a change
//! cannot go live safely.
//!
//! The data takes one road: Tonel files ─[`tonel`]→ [`model`] ─[`syntax`] (every method
//! source checked)─[`diff`]→ changes ─[`plan`]→ ordered batch ─[`image`]→ agent; [`rebuild`]
//! takes over when a change cannot go live;
//! [`fleet`] rolls one change across a group of images, built from single pushes; [`drift`]
//! sets what the image changed by other means against the local sources (status, the push
//! guard, pull); [`revision`] gives the sources as they are at a git commit (`push --ref`).
//! [`term`] shows text from outside to people with its control characters escaped.

pub mod cli;
pub mod config;
pub mod diff;
pub mod drift;
pub mod fleet;
pub mod image;
pub mod model;
pub mod ops;
pub mod plan;
pub mod rebuild;
pub mod revision;
pub mod syntax;
pub mod term;
pub mod tonel;
