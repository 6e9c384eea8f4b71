//! `homeward case|person|inbox|task`: thin HTTP clients of the API (`crate::client`), with the
//! caller's key from HOMEWARD_API_KEY or `--api-key-file`, never from the command line.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{CaseCommand, ClientArgs, Command, PersonCommand, TaskCommand};

/// Runs an API client subcommand: no configuration, no case store, only HTTP.
pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("homeward: failed to start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(client_command(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("homeward: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn client_command(command: Command) -> anyhow::Result<()> {
    use crate::client::{self, ApiClient};
    let connect = |args: &ClientArgs| {
        let key = match &args.api_key_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("--api-key-file {}: cannot be read", path.display()))?,
            None => std::env::var("HOMEWARD_API_KEY").unwrap_or_default(),
        };
        ApiClient::new(&args.api_url, &key)
    };
    let (args, result) = match command {
        Command::Case {
            command:
                CaseCommand::Open {
                    programme,
                    host_country,
                    origin_country,
                    household_size,
                    members,
                    language,
                    idempotency_key,
                    client: args,
                },
        } => {
            let new = client::NewCase {
                programme,
                host_country,
                origin_country,
                household_size,
                members,
                language,
                idempotency_key,
            };
            let result = client::open_case(&connect(&args)?, &new).await;
            (args, result)
        }
        Command::Case {
            command:
                CaseCommand::Show {
                    reference,
                    client: args,
                },
        } => {
            let result = client::show_case(&connect(&args)?, &reference).await;
            (args, result)
        }
        Command::Case {
            command:
                CaseCommand::List {
                    stage,
                    programme,
                    host_country,
                    origin_country,
                    status,
                    overdue,
                    page_size,
                    page_token,
                    client: args,
                },
        } => {
            let filters = client::ListFilters {
                stage,
                programme,
                host_country,
                origin_country,
                status,
                overdue,
                page_size,
                page_token,
            };
            let result = client::list_cases(&connect(&args)?, &filters).await;
            (args, result)
        }
        Command::Inbox {
            task_type,
            overdue,
            due_before,
            holder,
            limit,
            page_token,
            client: args,
        } => {
            let filters = client::InboxFilters {
                task_type,
                overdue,
                due_before,
                holder,
                limit,
                page_token,
            };
            let result = client::inbox(&connect(&args)?, &filters).await;
            (args, result)
        }
        Command::Task {
            command:
                TaskCommand::Complete {
                    reference,
                    task,
                    outcome,
                    reason,
                    client: args,
                },
        } => {
            let result = client::complete_task(
                &connect(&args)?,
                &reference,
                task,
                &outcome,
                reason.as_deref(),
            )
            .await;
            (args, result)
        }
        Command::Person { command } => person_command(command, connect).await?,
        Command::Task {
            command:
                TaskCommand::Claim {
                    reference,
                    task,
                    client: args,
                },
        } => {
            let result = client::hold_task(&connect(&args)?, &reference, task, "claim", None).await;
            (args, result)
        }
        Command::Task {
            command:
                TaskCommand::Release {
                    reference,
                    task,
                    client: args,
                },
        } => {
            let result =
                client::hold_task(&connect(&args)?, &reference, task, "release", None).await;
            (args, result)
        }
        Command::Task {
            command:
                TaskCommand::Assign {
                    reference,
                    task,
                    to,
                    client: args,
                },
        } => {
            let result =
                client::hold_task(&connect(&args)?, &reference, task, "assign", Some(&to)).await;
            (args, result)
        }
        _ => anyhow::bail!("not an API client command"),
    };
    let (json, out) = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", client::render(&out));
    }
    Ok(())
}

async fn person_command(
    command: PersonCommand,
    connect: impl Fn(&ClientArgs) -> anyhow::Result<crate::client::ApiClient>,
) -> anyhow::Result<(
    ClientArgs,
    anyhow::Result<(serde_json::Value, crate::client::Output)>,
)> {
    use crate::client::{self, PersonQuery};
    Ok(match command {
        PersonCommand::Show {
            reference,
            member,
            client: args,
        } => {
            let result = client::people(&connect(&args)?, &reference, member).await;
            (args, result)
        }
        PersonCommand::Set {
            reference,
            member,
            file,
            merge,
            client: args,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("--file {}: cannot be read", file.display()))?;
            let record: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("--file {}: is not JSON", file.display()))?;
            let result =
                client::set_person(&connect(&args)?, &reference, member, record, merge).await;
            (args, result)
        }
        PersonCommand::Search {
            given,
            family,
            born,
            document,
            client: args,
        } => {
            let query = PersonQuery {
                given,
                family,
                born,
                document,
            };
            let result = client::search_people(&connect(&args)?, &query).await;
            (args, result)
        }
        PersonCommand::Export {
            reference,
            member,
            client: mut args,
        } => {
            // An export is for a data-protection request: the JSON, always.
            args.json = true;
            let result = client::export_person(&connect(&args)?, &reference, member).await;
            (args, result)
        }
        PersonCommand::Erase {
            reference,
            reason,
            client: args,
        } => {
            let result = client::erase_case(&connect(&args)?, &reference, &reason).await;
            (args, result)
        }
    })
}
