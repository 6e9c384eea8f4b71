//! Limits on what one client can ask of the API (GCRA rate limiters from the `governor`
//! crate): requests per client address and per API key, a back-off after failed
//! authentications, and a gate on heavy reads (statistics, audit exports). A refused request is
//! a 429 with `Retry-After`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::state::AppState;

/// The limits, from `[api]`.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Sustained requests per second per client address and per key.
    pub per_second: u32,
    /// The burst above it.
    pub burst: u32,
    /// Failed authentications per client address per minute.
    pub failed_auth_per_minute: u32,
    /// Heavy reads at once.
    pub heavy_reads: usize,
}

/// The limiters of one API process.
pub struct Limits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_key: DefaultKeyedRateLimiter<[u8; 32]>,
    failed_auth: DefaultKeyedRateLimiter<IpAddr>,
    /// Permits for heavy reads (held for the whole of a streamed export).
    pub heavy: Arc<Semaphore>,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Limits {
    /// Limiters for these settings.
    pub fn new(s: LimitSettings) -> Arc<Self> {
        let rate = Quota::per_second(nonzero(s.per_second)).allow_burst(nonzero(s.burst));
        let failed = Quota::per_minute(nonzero(s.failed_auth_per_minute))
            .allow_burst(nonzero(s.failed_auth_per_minute));
        Arc::new(Self {
            per_client: RateLimiter::keyed(rate),
            per_key: RateLimiter::keyed(rate),
            failed_auth: RateLimiter::keyed(failed),
            heavy: Arc::new(Semaphore::new(s.heavy_reads.max(1))),
        })
    }

    /// Forgets clients that have been quiet long enough to be back at full allowance (called
    /// periodically, so the limiters' memory stays bounded).
    pub fn forget_quiet_clients(&self) {
        self.per_client.retain_recent();
        self.per_key.retain_recent();
        self.failed_auth.retain_recent();
    }

    /// Counts a failed authentication from `ip`: `Err(wait)` once it is over its allowance.
    pub fn failed_authentication(&self, ip: IpAddr) -> Result<(), Duration> {
        self.failed_auth
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The client's address (the peer; behind a proxy, the proxy's: terminate TLS and rate-limit at
/// the proxy too, see config/production.example.toml).
pub fn client_ip(req_ext: &axum::http::Extensions) -> IpAddr {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The middleware: per client address, then per API key (hashed: the limiter never holds one).
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &state.limits;
    let now = DefaultClock::default().now();
    if let Err(not_until) = limits.per_client.check_key(&client_ip(req.extensions())) {
        return ApiError::TooManyRequests {
            retry_after: not_until.wait_time_from(now),
        }
        .into_response();
    }
    if let Some(auth) = req.headers().get(AUTHORIZATION) {
        let key: [u8; 32] = Sha256::digest(auth.as_bytes()).into();
        if let Err(not_until) = limits.per_key.check_key(&key) {
            return ApiError::TooManyRequests {
                retry_after: not_until.wait_time_from(now),
            }
            .into_response();
        }
    }
    next.run(req).await
}
