//! metanas: meta neural architecture search in Rust.
//!
//! This facade will hold the pipelines users call (MetaD2A search, TANS retrieval, BASE
//! adaptation), the CLI and the pretrained bundle. Today it re-exports the search space.

pub use search_space;
