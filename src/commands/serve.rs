//! Running the stack: `homeward dev` (everything on this machine), `homeward api` and
//! `homeward worker` (against an external cluster), `homeward sandbox` (the partners' fake),
//! and `homeward migrate`.

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::application::{Application, Role, partners_from, shutdown_signal};
use crate::devserver::{DevServer, DevServerConfig, db_file_in};
use crate::settings::Settings;
use homeward_devkit::sandbox::{Sandbox, SandboxFaults, Webhook};
use homeward_worker::ExtraRegistrations;

/// `homeward migrate`: applies the case-store migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = homeward_activities::CaseStore::connect(settings.database.url.expose_secret(), 1)
        .await
        .context("failed to open the case store (database.url)")?;
    store.migrate().await.context("failed to migrate")?;
    println!("migrations applied ({:?})", store.backend());
    Ok(())
}

/// `homeward sandbox`: the partner sandbox alone, until Ctrl-C.
pub async fn sandbox(settings: &Settings) -> anyhow::Result<()> {
    let (addr, task) = start_sandbox(settings).await?;
    println!("partner sandbox on http://{addr} (ledger: http://{addr}/ledger)");
    shutdown_signal().await;
    task.abort();
    Ok(())
}

/// `homeward reindex`.
pub async fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let keys = crate::keys::Keys::from_settings(settings)?;
    let store = homeward_activities::CaseStore::connect(settings.database.url.expose_secret(), 2)
        .await
        .context("failed to open the case store (database.url)")?;
    store.migrate().await.context("failed to migrate")?;
    let client = homeward_worker::connect(&crate::application::temporal_connection(
        settings, &keys, "reindex",
    ))
    .await?;
    let done = crate::reindex::rebuild(&client, &store).await?;
    println!(
        "{} open cases, {} rewritten ({} open tasks); {} rows of closed cases dropped",
        done.cases, done.written, done.tasks, done.dropped
    );
    Ok(())
}

/// `homeward api`.
pub async fn api(settings: &Settings) -> anyhow::Result<()> {
    serve(settings, Role::Api, None).await
}

/// `homeward worker`; `bench_twin` also registers the benchmark's twin (its workers only).
pub async fn worker(settings: &Settings, bench_twin: bool) -> anyhow::Result<()> {
    let extra = bench_twin.then_some(homeward_devkit::twin::register as ExtraRegistrations);
    serve(settings, Role::Worker, extra).await
}

/// Starts the partner sandbox on sandbox.port (loopback).
async fn start_sandbox(
    settings: &Settings,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let sb = &settings.sandbox;
    let faults = SandboxFaults {
        error_rate: sb.error_rate,
        timeout_rate: sb.timeout_rate,
        hang: settings.partners.timeout + Duration::from_secs(5),
        latency: sb.latency,
        refuse_offers_containing: sb.refuse_offers_containing.clone(),
        refuse_keys_containing: sb.refuse_keys_containing.clone(),
        departs_in: sb.departs_in,
        confirm_after: sb.confirm_after,
        webhook: sb
            .webhook_url
            .clone()
            .zip(settings.partners.webhook_secret())
            .map(|(url, secret)| Webhook {
                url,
                secret: secret.into(),
            }),
        receipts: sb
            .receipts_url
            .clone()
            .zip(settings.partners.webhook_secret())
            .map(|(url, secret)| Webhook {
                url,
                secret: secret.into(),
            }),
    };
    let sandbox = if sb.ledger == "memory" {
        Sandbox::new(faults, sb.seed)
    } else {
        Sandbox::durable(faults, sb.seed, &sb.ledger)
            .await
            .map_err(|e| anyhow::anyhow!("key sandbox.ledger: {e}"))?
    };
    sandbox
        .serve(sb.port)
        .await
        .with_context(|| format!("failed to bind the sandbox on 127.0.0.1:{}", sb.port))
}

/// Runs the API or a worker against an external cluster; `extra` registers workflows and
/// activities beside Homeward's own (the benchmark's twin, on its workers only).
async fn serve(
    settings: &Settings,
    role: Role,
    extra: Option<ExtraRegistrations>,
) -> anyhow::Result<()> {
    // Outside `homeward dev`, the secrets published in config/default.toml are refused.
    settings.refuse_published_secrets()?;
    let partners = partners_from(settings)?;
    let app = Application::build_with(settings, role, false, partners, extra).await?;
    tracing::info!(addr = %app.http_addr(), ?role, "listening");
    app.run_until(shutdown_signal()).await
}

/// `homeward dev`: the embedded stack, until Ctrl-C.
/// Development only: a demo office (NLD, with a reception partner in IRQ) with one user per
/// role who sign in with one password, kept in the data folder (0600) so it survives
/// restarts. Users already there are left alone. The password, for printing.
async fn seed_demo_office(settings: &Settings) -> anyhow::Result<Option<String>> {
    use homeward_activities::users::NewUser;
    use homeward_workflows::domain::CountryCode;
    use homeward_workflows::tasks::Role as R;
    let file = settings.dev.data_dir.join("keys").join("demo-password");
    let password = match std::fs::read_to_string(&file) {
        Ok(p) if p.trim().len() >= 12 => p.trim().to_owned(),
        _ => {
            let p = format!("demo-{:016x}", rand::random::<u64>());
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&file, &p)?;
            p
        }
    };
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&settings.database.url),
        1,
    )
    .await?;
    let nld = CountryCode::parse("NLD").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let irq = CountryCode::parse("IRQ").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let users = [
        (
            "demo-officer",
            "Demo Officer",
            R::ReturnOfficer,
            Some(&nld),
            None,
            false,
        ),
        (
            "demo-officer-2",
            "Demo Officer 2",
            R::ReturnOfficer,
            Some(&nld),
            None,
            false,
        ),
        (
            "demo-operations",
            "Demo Operations",
            R::Operations,
            Some(&nld),
            None,
            true,
        ),
        (
            "demo-finance",
            "Demo Finance",
            R::Finance,
            Some(&nld),
            None,
            false,
        ),
        (
            "demo-partner",
            "Demo Partner",
            R::Partner,
            Some(&nld),
            Some(&irq),
            false,
        ),
        (
            "demo-child-protection",
            "Demo Child Protection",
            R::ChildProtection,
            Some(&nld),
            None,
            false,
        ),
        (
            "demo-auditor",
            "Demo Auditor",
            R::Auditor,
            None,
            None,
            false,
        ),
        ("demo-admin", "Demo Admin", R::Admin, None, None, false),
    ];
    for (username, name, role, office, country, supervisor) in users {
        if store.username_taken(username).await? {
            continue;
        }
        let (user, _key) = store
            .create_user(
                &NewUser {
                    name,
                    role,
                    office,
                    country,
                    supervisor,
                },
                None,
                chrono::Utc::now(),
            )
            .await?;
        store.set_credentials(&user.id, username, &password).await?;
    }
    // A supplier of in-kind support, so that finance can record an invoice in the demo (a
    // sandbox-valid test IBAN; not a real business).
    if store.suppliers("NLD").await?.is_empty() {
        store
            .add_supplier(
                "NLD",
                ("Demo Supplies (sandbox)", "GB82WEST12345698765432"),
                ("system", "system"),
                chrono::Utc::now(),
            )
            .await?;
    }
    store.close().await;
    Ok(Some(password))
}

pub async fn dev(mut settings: Settings) -> anyhow::Result<()> {
    let dev = settings.dev.clone();
    // Everything the stack writes (databases, keys, Temporal's files) is the user's alone.
    crate::files::private_umask();
    crate::files::secure_data_dir(&dev.data_dir)
        .with_context(|| format!("failed to prepare {}", dev.data_dir.display()))?;
    crate::keys::fill_dev_keys(&mut settings)?;
    // The local Web UI reads encrypted histories through this stack's codec endpoint, under a
    // fresh random path (the dev UI has no sign-in of its own).
    let token = format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    let codec = format!("http://127.0.0.1:{}/codec/dev/{token}", settings.api.port);
    settings.dev_codec_token = Some(token);
    let server = DevServer::start(&DevServerConfig {
        cli: dev.temporal_cli.clone(),
        port: dev.temporal_port,
        ui_port: Some(dev.ui_port),
        db_file: Some(db_file_in(&dev.data_dir)),
        namespace: settings.temporal.namespace.clone(),
        startup_timeout: dev.startup_timeout,
        inherit_output: true,
        ui_codec_endpoint: Some(codec),
    })
    .await?;
    settings.temporal.address = server
        .url()
        .parse()
        .context("dev server address is not a URL")?;
    // The embedded sandbox calls this stack's own API with its webhooks, whatever its port.
    let api_port = settings.api.port;
    let embedded = settings.sandbox.embedded;
    for url in [
        settings.sandbox.webhook_url.as_mut(),
        settings.sandbox.receipts_url.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        if embedded && api_port != 0 && url.host_str() == Some("127.0.0.1") {
            let _ = url.set_port(Some(api_port));
        }
    }
    let sandbox = if settings.sandbox.embedded {
        match start_sandbox(&settings).await {
            Ok((addr, task)) => Some((addr, task)),
            Err(e) => {
                server.stop(Duration::from_secs(10)).await;
                return Err(e);
            }
        }
    } else {
        None
    };
    let app = match Application::build(&settings, Role::Both, true).await {
        Ok(app) => app,
        Err(e) => {
            server.stop(Duration::from_secs(10)).await;
            return Err(e);
        }
    };
    let api = app.http_addr();
    let demo = match seed_demo_office(&settings).await {
        Ok(demo) => demo,
        Err(e) => {
            tracing::warn!(error = %e, "the demo office could not be seeded");
            None
        }
    };
    println!();
    println!("  Homeward is running.");
    println!("  Web interface:     http://{api}/");
    if let Some(password) = &demo {
        println!(
            "  Demo office NLD:   sign in as demo-officer, demo-operations, demo-finance, \
             demo-partner (IRQ), demo-child-protection, demo-auditor or demo-admin"
        );
        println!("                     password {password} (development only)");
    }
    println!("  API:               http://{api}/api/v1/cases");
    println!("  Health / metrics:  http://{api}/readyz  http://{api}/metrics");
    println!("  Temporal Web UI:   http://127.0.0.1:{}", dev.ui_port);
    println!("  Temporal frontend: {}", server.url());
    println!("  Data:              {}", dev.data_dir.display());
    if let Some((addr, _)) = &sandbox {
        println!("  Partner sandbox:   http://{addr}/ledger");
    }
    println!("  Press Ctrl-C to stop everything.");
    println!();
    let result = app.run_until(shutdown_signal()).await;
    if let Some((_, task)) = sandbox {
        task.abort();
    }
    tracing::info!("stopping the Temporal dev server");
    server.stop(Duration::from_secs(10)).await;
    result
}
