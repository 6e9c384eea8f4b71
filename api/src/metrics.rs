//! `/metrics`: the app's own counters plus the Temporal SDK runtime's, in one Prometheus text.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

/// The API's own metrics.
#[derive(Clone)]
pub struct ApiMetrics {
    /// The registry `/metrics` renders.
    registry: Registry,
    /// Requests by route and status class.
    pub requests: IntCounterVec,
    /// Cases opened through the API.
    pub cases_opened: prometheus::IntCounter,
}

impl ApiMetrics {
    /// Registers the metrics in a fresh registry.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("homeward".into()), None).unwrap_or_else(|_| Registry::new());
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition is valid: {e}"));
        let cases_opened =
            prometheus::IntCounter::new("cases_opened_total", "Cases opened through the API")
                .unwrap_or_else(|e| unreachable!("static metric definition is valid: {e}"));
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(cases_opened.clone()));
        Self {
            registry,
            requests,
            cases_opened,
        }
    }

    /// The registry's metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}
