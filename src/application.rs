//! The application: the case store, a Temporal client, and the worker and/or HTTP API built on
//! them. `homeward dev`, `homeward api`, `homeward worker` and the tests all go through
//! [`Application::build_with`] (or [`Application::build`]), so what the tests exercise is what
//! production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use homeward_activities::notices::Templates;
use homeward_activities::{CaseStore, Partners};
use homeward_api::{ApiMetrics, AppState};
use homeward_devkit::ledger::{LocalLedger, local_partners_with};
use homeward_worker::{ExtraRegistrations, TemporalConnection, WorkerTuning};

use crate::settings::{PartnerMode, PartnerOverride, Settings};
use homeward_activities::http_partners::{Endpoint, HttpPartner};

/// Which parts this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Only the HTTP API (scale out behind a load balancer).
    Api,
    /// Only the Temporal worker (scale out for throughput).
    Worker,
    /// Both, in one process: the embedded stack and the tests.
    Both,
}

/// A built application, bound to its port and connected, ready to run.
pub struct Application {
    /// What this process runs.
    role: Role,
    /// The SDK runtime; kept alive for the worker and its metrics exporter.
    runtime: homeward_worker::TemporalRuntime,
    /// The bound listener of the API (or of a worker's health and metrics endpoints).
    listener: TcpListener,
    /// The shared state of the HTTP routes.
    state: AppState,
    /// The worker, if this role runs one.
    worker: Option<temporalio_sdk::Worker>,
}

impl Application {
    /// Connects to the database (migrating it when `migrate` is set) and to Temporal, builds the
    /// worker if the role has one, and binds the HTTP port (port 0 picks a free one).
    pub async fn build(settings: &Settings, role: Role, migrate: bool) -> anyhow::Result<Self> {
        let partners = partners_from(settings)?;
        Self::build_with(settings, role, migrate, partners, None).await
    }

    /// Like [`Application::build`], with the partners the worker talks to, and workflows and
    /// activities to register beside Homeward's own (the benchmark's twin; `None` in
    /// production).
    pub async fn build_with(
        settings: &Settings,
        role: Role,
        migrate: bool,
        partners: Partners,
        extra: Option<ExtraRegistrations>,
    ) -> anyhow::Result<Self> {
        let programmes = crate::programmes::load(&settings.programmes.dir)?;
        let keys = crate::keys::Keys::from_settings(settings)?;
        let store = CaseStore::connect(
            settings.database.url.expose_secret(),
            settings.database.max_connections,
        )
        .await
        .context("failed to open the case store (database.url)")?;
        if migrate {
            store
                .migrate()
                .await
                .context("failed to migrate the case store")?;
        }
        let vault = homeward_activities::vault::Vault::new(
            store.clone(),
            keys.kek.clone(),
            keys.index.clone(),
        );
        // A key that does not open the data already stored stops the process here.
        vault
            .check_keys()
            .await
            .map_err(crate::keys::vault_start_error)?;
        let runtime = homeward_worker::start_runtime()?;
        let connection = temporal_connection(settings, &keys, &format!("{role:?}"));
        let client = homeward_worker::connect(&connection).await?;
        let worker = match role {
            Role::Api => None,
            Role::Worker | Role::Both => Some(homeward_worker::build_worker(
                &runtime.runtime,
                client.clone(),
                homeward_worker::WorkerParts {
                    store: store.clone(),
                    partners,
                    vault: vault.clone(),
                    retention: programmes
                        .iter()
                        .map(|(id, rules)| (id.to_string(), rules.personal_data_retention))
                        .collect(),
                    overdue_grace: programmes
                        .iter()
                        .map(|(id, rules)| (id.to_string(), rules.deadlines.overdue_grace))
                        .collect(),
                    decisions: keys.decisions.clone(),
                },
                &WorkerTuning {
                    task_queue: settings.temporal.task_queue.clone(),
                    max_cached_workflows: settings.worker.max_cached_workflows,
                },
                extra,
            )?),
        };
        if worker.is_some()
            && let Err(e) = homeward_worker::ensure_sweep_schedules(
                &client,
                &settings.temporal.task_queue,
                homeward_worker::SweepIntervals {
                    retention: settings.worker.retention_sweep_every,
                    overdue: settings.worker.overdue_sweep_every,
                },
            )
            .await
        {
            // A server without schedules (the time-skipping test server) runs no sweep; say so.
            tracing::warn!(error = %e, "the sweeps are not scheduled");
        }
        let port = match role {
            Role::Worker => settings.worker.metrics_port,
            Role::Api | Role::Both => settings.api.port,
        };
        let listener = TcpListener::bind(SocketAddr::new(settings.api.host, port))
            .await
            .with_context(|| format!("failed to bind {}:{port}", settings.api.host))?;
        let state = AppState {
            temporal: client,
            store,
            task_queue: settings.temporal.task_queue.clone(),
            max_body_bytes: settings.api.max_body_bytes,
            metrics: ApiMetrics::new(),
            sdk_metrics_addr: Some(runtime.metrics_addr),
            programmes: Arc::new(programmes),
            payment_webhook_secret: settings.partners.webhook_secret().map(Arc::from),
            decision_key: keys.decisions.clone(),
            payload_keys: keys.payloads.clone(),
            vault: vault.clone(),
            codec_origins: Arc::new(settings.api.codec_origins.clone()),
            dev_codec_token: settings.dev_codec_token.clone().map(Arc::from),
            oidc: settings
                .web
                .oidc
                .as_ref()
                .map(|o| {
                    homeward_api::web::oidc::Oidc::new(homeward_api::web::oidc::OidcConfig {
                        issuer: o.issuer.clone(),
                        client_id: o.client_id.clone(),
                        client_secret: o
                            .client_secret
                            .as_ref()
                            .map(|s| s.expose_secret().to_owned()),
                        redirect_url: o.redirect_url.to_string(),
                        label: o.label.clone(),
                    })
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("key {e}"))
                })
                .transpose()?,
            limits: homeward_api::limits::Limits::new(homeward_api::limits::LimitSettings {
                per_second: settings.api.rate_limit_per_second,
                burst: settings.api.rate_limit_burst,
                failed_auth_per_minute: settings.api.failed_auth_per_minute,
                heavy_reads: settings.api.heavy_reads,
            }),
        };
        Ok(Self {
            role,
            runtime,
            listener,
            state,
            worker,
        })
    }

    /// The address the HTTP API (or the worker's health endpoints) listens on.
    pub fn http_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Runs until `shutdown` completes or the worker stops on its own, then drains: the API
    /// finishes requests in flight and the worker its tasks.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let token = CancellationToken::new();
        let http = {
            let token = token.clone();
            let state = self.state.clone();
            let listener = self.listener;
            let router = match self.role {
                Role::Worker => homeward_api::health_app(state),
                Role::Api | Role::Both => homeward_api::app(state),
            };
            tokio::spawn(async move {
                homeward_api::serve(listener, router, async move { token.cancelled().await }).await
            })
        };
        let store = self.state.store.clone();
        let limits = self.state.limits.clone();
        let forget = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.forget_quiet_clients();
            }
        });
        let _runtime = self.runtime;
        let result = match self.worker {
            Some(mut worker) => {
                let stop_worker = worker.shutdown_handle();
                let run = worker.run();
                tokio::pin!(run);
                tokio::pin!(shutdown);
                tokio::select! {
                    result = &mut run => {
                        token.cancel();
                        result.context("the worker stopped unexpectedly")
                    }
                    () = &mut shutdown => {
                        tracing::info!("shutting down: draining the worker");
                        stop_worker();
                        token.cancel();
                        run.await.context("the worker failed while draining")
                    }
                }
            }
            None => {
                shutdown.await;
                token.cancel();
                Ok(())
            }
        };
        match tokio::time::timeout(Duration::from_secs(15), http).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP server stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server task failed"),
            Err(_) => tracing::warn!("the HTTP server did not drain within 15s"),
        }
        forget.abort();
        store.close().await;
        tracing::info!(role = ?self.role, "stopped");
        result
    }
}

/// How this process reaches Temporal: the configured cluster, with the payload codec (unless
/// the benchmark's comparison turned it off); `who` names the process in the server's records.
pub fn temporal_connection(
    settings: &Settings,
    keys: &crate::keys::Keys,
    who: &str,
) -> TemporalConnection {
    TemporalConnection {
        address: settings.temporal.address.clone(),
        namespace: settings.temporal.namespace.clone(),
        api_key: settings.temporal_api_key().map(Into::into),
        connect_timeout: settings.temporal.connect_timeout,
        identity: format!("homeward-{who}-{}", std::process::id()).to_lowercase(),
        codec: if settings.plain_payloads {
            tracing::warn!("payloads are NOT encrypted (--bench-plain-payloads: benchmarks only)");
            None
        } else {
            Some(keys.payloads.clone())
        },
    }
}

/// The notice texts named by `[notifications]`, checked (every notice has a text in the staff
/// language).
pub fn templates_from(settings: &Settings) -> anyhow::Result<Templates> {
    let n = &settings.notifications;
    let staff = n.staff_language.to_ascii_lowercase();
    let templates = match &n.templates {
        Some(path) => Templates::load(path, &staff)
            .map_err(|e| anyhow::anyhow!("key notifications.templates: {e}"))?,
        None => Templates::parse(Templates::BUILTIN, &staff)
            .map_err(|e| anyhow::anyhow!("key notifications.staff_language: {e}"))?,
    };
    Ok(templates.with_consulate_languages(n.consulate_languages.clone()))
}

/// The partners named by `[partners]`, with the notice texts of `[notifications]`.
pub fn partners_from(settings: &Settings) -> anyhow::Result<Partners> {
    let p = &settings.partners;
    let templates = Arc::new(templates_from(settings)?);
    match p.mode {
        // The devkit's in-process ledger: for development only (nothing leaves the process).
        PartnerMode::Local => Ok(Partners {
            routes: Arc::new(settings.travel.routes()),
            offices: Arc::new(settings.offices.clone()),
            ..local_partners_with(Arc::new(LocalLedger::new()), templates)
        }),
        PartnerMode::Http => {
            let endpoint = |url: &url::Url, own: &PartnerOverride| Endpoint {
                base_url: url.clone(),
                token: p.token_for(own).map(Into::into),
                timeout: own.timeout.unwrap_or(p.timeout),
            };
            let travel = HttpPartner::new("travel", endpoint(&p.travel_url, &p.travel))?;
            let payments = HttpPartner::new("payments", endpoint(&p.payments_url, &p.payments))?;
            let outreach = HttpPartner::new("outreach", endpoint(&p.outreach_url, &p.outreach))?;
            Ok(Partners {
                travel: Arc::new(travel),
                payments: Arc::new(payments),
                outreach: Arc::new(outreach),
                templates,
                routes: Arc::new(settings.travel.routes()),
                offices: Arc::new(settings.offices.clone()),
            })
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_texts_missing_in_the_staff_language_are_a_config_error_naming_the_key() {
        let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut settings = Settings::load(&config, None).expect("defaults load");
        settings.notifications.templates = Some(config.join("notices.toml"));
        templates_from(&settings).expect("the shipped texts cover English");
        settings.notifications.staff_language = "de".into();
        let err = templates_from(&settings).unwrap_err().to_string();
        assert!(
            err.starts_with("key notifications.templates:")
                && err.contains("[consent_expired.de] is missing"),
            "{err}"
        );
        settings.notifications.templates = None;
        let err = templates_from(&settings).unwrap_err().to_string();
        assert!(
            err.starts_with("key notifications.staff_language:"),
            "{err}"
        );
    }
}
