//! One module per resource; each exposes `fn router() -> Router<AppState>`.

pub mod access;
pub mod cases;
pub mod codec;
pub mod health;
pub mod inbox;
pub mod links;
pub mod people;
pub mod programmes;
pub mod reports;
pub mod suppliers;
pub mod tasks;
pub mod webhooks;
