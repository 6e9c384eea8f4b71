//! The command line: every subcommand and option of the `homeward` binary, as clap parses
//! them. What each does lives in `commands/`, a module per family.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use homeward_workflows::tasks::Role;

use crate::settings::{CONFIG_FILE_ENV, LogFormat};

/// Homeward: assisted voluntary return and reintegration cases as durable workflows.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// An extra configuration file layered over config/default.toml.
    #[arg(long, global = true, env = CONFIG_FILE_ENV)]
    pub config: Option<PathBuf>,
    /// The folder holding default.toml and programmes/.
    #[arg(long, global = true, default_value = "config")]
    pub config_dir: PathBuf,
    /// Log format; overrides log.format (use json in production).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole embedded stack on this machine: a Temporal dev server persisting to
    /// ./data (Web UI included), the case store, the worker and the HTTP API. Ctrl-C stops all.
    Dev,
    /// Run a worker against an external Temporal cluster (temporal.address). Scale out by
    /// running more. Serves /healthz, /readyz and /metrics on worker.metrics_port.
    Worker {
        /// Also register the benchmark's twin workflow and its no-op activity (from
        /// homeward-devkit): for the workers `homeward bench` starts, never in production.
        #[arg(long, hide = true)]
        bench_twin: bool,
        /// Send Temporal payloads unencrypted: only for `homeward bench --compare-protection`,
        /// which measures what the codec costs. Never in production.
        #[arg(long, hide = true)]
        bench_plain_payloads: bool,
    },
    /// Run the HTTP API against an external Temporal cluster. Scale out behind a load balancer.
    Api {
        /// See `worker --bench-plain-payloads`.
        #[arg(long, hide = true)]
        bench_plain_payloads: bool,
    },
    /// Apply the case-store migrations (database.url) and exit.
    Migrate,
    /// Rebuild the open-task projection the inbox reads from the engine (every open case is
    /// asked for its tasks): after restoring or losing the case store, or once after upgrading
    /// while cases recorded before the projection are still open. Safe to run at any time.
    Reindex,
    /// Run the local partner sandbox (travel, payments, notifications, reception) on
    /// sandbox.port, with fault injection from [sandbox]; GET /ledger shows what it recorded.
    Sandbox,
    /// Manage users (this talks to the case store directly: it is how the first admin and
    /// every API key come to exist).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the person vault's keys (this talks to the case store directly).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Open, show and list cases through the HTTP API (needs an API key).
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Read, write, find, export and erase the people of a case (through the HTTP API; what
    /// you see depends on your role, and every read is audited).
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// The open tasks your role can act on, earliest due first (through the HTTP API).
    Inbox {
        /// Only this task type, e.g. eligibility_approval.
        #[arg(long = "type")]
        task_type: Option<String>,
        /// Only overdue tasks.
        #[arg(long)]
        overdue: bool,
        /// Only tasks due before this date (2027-01-31) or RFC 3339 time.
        #[arg(long)]
        due_before: Option<String>,
        /// Whose tasks: mine, pool (unheld), or for supervisors a colleague's user id or
        /// anyone. Default: unheld and mine.
        #[arg(long)]
        holder: Option<String>,
        /// How many tasks to show.
        #[arg(long)]
        limit: Option<u32>,
        /// The token printed under the previous page.
        #[arg(long)]
        page_token: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Act on tasks through the HTTP API.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Benchmark: start a private stack (Temporal dev server, sandbox, API and worker as separate
    /// processes), carry cases from intake to closure through the API on the compressed
    /// config/bench programme, run a twin workflow for comparison, and report (see
    /// docs/BENCHMARKS.md). Exits 1 if a case did not close or anything was lost or paid twice.
    Bench {
        /// Cases to carry from intake to closure.
        #[arg(long, default_value_t = 50)]
        cases: usize,
        /// Parked-case counts at which to read the worker's memory and the inbox's latency,
        /// e.g. 1000,10000.
        #[arg(long, value_delimiter = ',')]
        parked: Vec<usize>,
        /// Kill the worker (SIGKILL) at random moments and restart the Temporal server once.
        #[arg(long)]
        chaos: bool,
        /// Where to write the JSON report.
        #[arg(long, default_value = "bench-report.json")]
        out: PathBuf,
        /// Requests in flight at once (case openings, task completions, twin updates).
        #[arg(long, default_value_t = 16)]
        parallel: usize,
        /// The worker's workflow cache size (worker.max_cached_workflows).
        #[arg(long, default_value_t = 1000)]
        cache: usize,
        /// Give up waiting for the cases to close after this long.
        #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Also run the cases on a second stack without the person vault and the payload codec
        /// (no person records, plain payloads) and report what protection costs.
        #[arg(long)]
        compare_protection: bool,
        /// Write the first case's history (every run) to this file, for the replay corpus
        /// (tests/histories/).
        #[arg(long)]
        record_history: Option<PathBuf>,
        /// Instead of the cases: time the open-task projection's inbox and workload queries
        /// with this many rows (e.g. 100000,1000000), on SQLite and `--inbox-postgres`.
        #[arg(long, value_delimiter = ',')]
        inbox_rows: Vec<usize>,
        /// A PostgreSQL server URL (with a database the user may connect to and create others
        /// from) for `--inbox-rows`.
        #[arg(long)]
        inbox_postgres: Option<String>,
    },
}

/// How the API clients reach the API.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The API's base URL.
    #[arg(
        long,
        env = "HOMEWARD_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub api_url: String,
    /// A file holding your API key (from `homeward user create`). Without it the key comes
    /// from HOMEWARD_API_KEY. There is no --api-key: a key on the command line is visible to
    /// every local user in `ps`.
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case; prints its reference.
    Open {
        /// Programme id, e.g. nl-avrr (see GET /api/v1/programmes).
        #[arg(long)]
        programme: String,
        /// Host country (ISO alpha-3), your office.
        #[arg(long)]
        host_country: String,
        /// Country of origin (ISO alpha-3).
        #[arg(long)]
        origin_country: String,
        /// How many people return together.
        #[arg(long)]
        household_size: u32,
        /// Members as JSON: '[{"age_group":"adult","vulnerabilities":[]}]'.
        #[arg(long)]
        members: Option<String>,
        /// The language the returnee reads messages in (ISO 639-1), e.g. ar.
        #[arg(long)]
        language: Option<String>,
        /// Any unique string: running the command again with it opens no second case.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a case: stage, open tasks, decisions.
    Show {
        /// The case reference, HW-…
        reference: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List cases, newest first.
    List {
        /// Only cases in this stage, e.g. counselling.
        #[arg(long)]
        stage: Option<String>,
        /// Only this programme.
        #[arg(long)]
        programme: Option<String>,
        /// Only this host country.
        #[arg(long)]
        host_country: Option<String>,
        /// Only this country of origin.
        #[arg(long)]
        origin_country: Option<String>,
        /// open or closed.
        #[arg(long)]
        status: Option<String>,
        /// Only cases with an overdue task.
        #[arg(long)]
        overdue: bool,
        /// Cases per page (1-100).
        #[arg(long)]
        page_size: Option<u32>,
        /// The token printed under the previous page.
        #[arg(long)]
        page_token: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `homeward person …`. Personal data goes in through a file, never as an argument: the command
/// line of a process is visible to every local user.
#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// The people of a case (the fields your role may see).
    Show {
        /// The case reference, HW-…
        reference: String,
        /// Only this member (0-based position in the household).
        #[arg(long)]
        member: Option<u32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Write a member's whole record from a JSON file (see the OpenAPI document's Person).
    Set {
        /// The case reference, HW-…
        reference: String,
        /// The member (0-based position in the household).
        member: u32,
        /// The JSON file holding the record.
        #[arg(long)]
        file: PathBuf,
        /// Change only the fields in the file (PATCH) instead of replacing the record.
        #[arg(long)]
        merge: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Find people in your office's cases by name and date of birth, or by document number.
    Search {
        /// Given names (with --family and --born).
        #[arg(long)]
        given: Option<String>,
        /// Family name.
        #[arg(long)]
        family: Option<String>,
        /// Date (1990-05-31) or year (1990) of birth.
        #[arg(long)]
        born: Option<String>,
        /// A document number (alone).
        #[arg(long)]
        document: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A subject-access export of one member's record, as JSON.
    Export {
        /// The case reference, HW-…
        reference: String,
        /// The member (0-based position in the household).
        member: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Erase a case's personal data (admins): cannot be undone.
    Erase {
        /// The case reference, HW-…
        reference: String,
        /// subject_request, retention, legal_obligation or other.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Claim a task: it is yours until you complete or release it.
    Claim {
        /// The case reference, HW-…
        reference: String,
        /// The task number.
        task: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Release a task you hold (a supervisor: anyone's) back to its role's pool.
    Release {
        /// The case reference, HW-…
        reference: String,
        /// The task number.
        task: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Assign a task to a colleague of its role (supervisors).
    Assign {
        /// The case reference, HW-…
        reference: String,
        /// The task number.
        task: u32,
        /// The colleague's user id (u-…; see `homeward user list`).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Complete a task as yourself; prints the case's new state.
    Complete {
        /// The case reference, HW-…
        reference: String,
        /// The task number (see `homeward inbox` or `homeward case show`).
        task: u32,
        /// The outcome as JSON, e.g. '{"type":"approval","approved":true}'.
        #[arg(long)]
        outcome: String,
        /// Why (required for refusals).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// The roles a person can have (DOMAIN.md, "Who uses it").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RoleArg {
    /// Opens cases, records counselling, consent and documents (needs --office).
    ReturnOfficer,
    /// Approvals and escalations (needs --office).
    Operations,
    /// Releases grant payments (needs --office).
    Finance,
    /// Reception and reintegration partner (needs --office, the office that hands cases over,
    /// and --country, the country of origin it works in).
    Partner,
    /// A designated child protection officer: determines an unaccompanied child's best
    /// interests (needs --office).
    ChildProtection,
    /// Reads every case, changes nothing (no office: sees all).
    Auditor,
    /// Manages users (no office: sees all).
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::ReturnOfficer => Role::ReturnOfficer,
            RoleArg::Operations => Role::Operations,
            RoleArg::Finance => Role::Finance,
            RoleArg::Partner => Role::Partner,
            RoleArg::ChildProtection => Role::ChildProtection,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// `homeward user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their API key, once; it is stored only as a hash. Return
    /// officers, operations and finance need --office; partners --office and --country; only
    /// auditors and admins see every case, and take neither.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// The user's role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Office (host country, ISO alpha-3) whose cases the user sees; for a partner, the
        /// office that hands cases over to it.
        #[arg(long)]
        office: Option<String>,
        /// For a partner: the country of origin (ISO alpha-3) it receives returnees in.
        #[arg(long)]
        country: Option<String>,
        /// A supervisor of the office: assigns its tasks, sees everyone's work (return
        /// officers, operations and finance).
        #[arg(long)]
        supervisor: bool,
        /// The key stops working after this long, e.g. 90days.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        /// A username to sign in to the web interface with (needs --password).
        #[arg(long, requires = "password")]
        username: Option<String>,
        /// Read a web password (at least 12 characters) from the first line of standard input
        /// (never from the command line, which `ps` shows); stored as an argon2id hash.
        #[arg(long, requires = "username")]
        password: bool,
        /// Sign in through the configured OpenID Connect provider (`web.oidc`) as this
        /// subject (the `sub` its ID tokens carry for the person).
        #[arg(long)]
        oidc_subject: Option<String>,
    },
    /// Let a user sign in through the configured OpenID Connect provider (`web.oidc`) as
    /// the subject its ID tokens carry for them.
    LinkOidc {
        /// The user's id (u-…).
        user: String,
        /// The provider's subject identifier (`sub`) for the person.
        #[arg(long)]
        subject: String,
    },
    /// Give a user a web username and password (read from standard input), unlocking them.
    Password {
        /// The user's id (u-…).
        user: String,
        /// The username to sign in with.
        #[arg(long)]
        username: String,
    },
    /// Deactivate a user: no sign-in, sessions ended, every API key revoked.
    Deactivate {
        /// The user's id (u-…).
        user: String,
    },
    /// List users and their keys (prefix, created, expires, last used, revoked; never a key).
    List,
    /// Revoke every key of a user; refused from the next request on.
    Revoke {
        /// The user's id (u-…).
        user: String,
    },
    /// Issue a user a new key and revoke their others; prints the new key once.
    Rotate {
        /// The user's id (u-…).
        user: String,
        /// The new key stops working after this long.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
    },
}

/// `homeward keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wrap every case's data key with the current key-encryption key (keys.kek), after
    /// rotating it: put the new key in keys.kek and the old one in keys.previous_keks, run
    /// this, then drop the old one. Records are not touched.
    Rewrap,
    /// Check that the configured keys open the data already stored (what every api and worker
    /// checks at start); exits 2 naming the key otherwise.
    Check,
}
