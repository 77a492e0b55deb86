//! Rebuilding an image from a clean base when a change cannot go live (issue: rebuild fallback).

mod agent;

pub use agent::{SQUEAK_PACKAGES, agent_filein};
