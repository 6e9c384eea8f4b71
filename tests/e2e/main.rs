//! Every integration and end-to-end test of the `homeward` crate, in one test binary: one link
//! instead of one per file (each links the whole Temporal SDK), and the tests of all files run
//! in parallel with each other.

mod api_lists;
mod api_tasks;
mod bench;
mod browser_smoke;
mod cases_e2e;
mod cli;
mod cli_client;
mod fuzz;
mod lifecycle;
mod people;
mod replay_corpus;
mod security;
mod sentinel;
mod support;
mod web_oidc;
mod web_ui;
mod work;
