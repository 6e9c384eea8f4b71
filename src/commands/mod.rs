//! What each subcommand does, a module per family (clap's definitions are in `cli.rs`).

pub mod bench;
pub mod client;
pub mod keys;
pub mod serve;
pub mod users;
