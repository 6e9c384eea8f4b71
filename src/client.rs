//! `homeward case|person|inbox|task`: thin clients of the HTTP API (never of the database), for people
//! at a terminal. Tables by default, the API's JSON with `--json`.

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Where the API is and who is calling.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// What a command prints.
pub enum Output {
    /// Rows under a header.
    Table {
        /// Column names.
        header: Vec<&'static str>,
        /// One vector of cells per row.
        rows: Vec<Vec<String>>,
        /// A line after the table (e.g. how to get the next page).
        footer: Option<String>,
    },
    /// `label: value` lines, then optional tables.
    Record(Vec<(&'static str, String)>, Vec<Output>),
}

impl ApiClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:8080`) with an API key.
    pub fn new(base: &str, key: &str) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        url::Url::parse(&base).with_context(|| format!("--api-url {base:?} is not a URL"))?;
        if key.trim().is_empty() {
            bail!(
                "no API key: set HOMEWARD_API_KEY or pass --api-key-file (homeward user create prints one)"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("failed to build the HTTP client")?;
        Ok(Self {
            base,
            key: key.trim().to_owned(),
            http,
        })
    }

    /// Sends a request and returns the JSON answer, or the API's error as one readable line.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&self.key)
            .query(query);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the Homeward API at {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        bail!(describe_error(status, &value))
    }
}

/// `404 not_found: no case HW-… (field: problem; …)`.
fn describe_error(status: StatusCode, body: &Value) -> String {
    let code = body["error"].as_str().unwrap_or("error");
    let message = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    let fields = body["fields"]
        .as_object()
        .map(|f| {
            f.iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|f| !f.is_empty())
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    format!("{} {code}: {message}{fields}", status.as_u16())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A short form of an RFC 3339 time: `2027-01-31 09:30`.
fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| text(v))
}

/// The filters of `homeward case list`.
#[derive(Debug, Default, Clone)]
pub struct ListFilters {
    /// Stage name.
    pub stage: Option<String>,
    /// Programme id.
    pub programme: Option<String>,
    /// Host country.
    pub host_country: Option<String>,
    /// Country of origin.
    pub origin_country: Option<String>,
    /// open or closed.
    pub status: Option<String>,
    /// Only cases with an overdue task.
    pub overdue: bool,
    /// Page size.
    pub page_size: Option<u32>,
    /// The token printed under the previous page.
    pub page_token: Option<String>,
}

/// `homeward case list`.
pub async fn list_cases(client: &ApiClient, f: &ListFilters) -> anyhow::Result<(Value, Output)> {
    let mut query = vec![];
    for (name, value) in [
        ("stage", &f.stage),
        ("programme", &f.programme),
        ("host_country", &f.host_country),
        ("origin_country", &f.origin_country),
        ("status", &f.status),
        ("page_token", &f.page_token),
    ] {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    if f.overdue {
        query.push(("overdue", "true".into()));
    }
    if let Some(n) = f.page_size {
        query.push(("page_size", n.to_string()));
    }
    let list = client
        .call(Method::GET, "/api/v1/cases", &query, None, &[])
        .await?;
    let rows = list["cases"]
        .as_array()
        .map(|cases| {
            cases
                .iter()
                .map(|c| {
                    vec![
                        text(&c["reference"]),
                        text(&c["status"]),
                        text(&c["stage"]),
                        text(&c["programme"]),
                        format!(
                            "{}→{}",
                            text(&c["host_country"]),
                            text(&c["origin_country"])
                        ),
                        c["open_tasks"].as_array().map_or(0, Vec::len).to_string(),
                        when(&c["next_due"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let footer = list["next_page_token"]
        .as_str()
        .map(|t| format!("more: --page-token {t}"));
    let out = Output::Table {
        header: vec![
            "REFERENCE",
            "STATUS",
            "STAGE",
            "PROGRAMME",
            "ROUTE",
            "TASKS",
            "NEXT DUE",
        ],
        rows,
        footer,
    };
    Ok((list, out))
}

/// `homeward case show`.
pub async fn show_case(client: &ApiClient, reference: &str) -> anyhow::Result<(Value, Output)> {
    let case = client
        .call(
            Method::GET,
            &format!("/api/v1/cases/{}", urlencode(reference)),
            &[],
            None,
            &[],
        )
        .await?;
    Ok((case.clone(), case_record(&case)))
}

fn case_record(case: &Value) -> Output {
    let intake = &case["intake"];
    let tasks = Output::Table {
        header: vec!["TASK", "TYPE", "ROLE", "DUE", "NOTE"],
        rows: case["tasks"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| {
                        vec![
                            text(&t["id"]),
                            text(&t["task_type"]),
                            text(&t["role"]),
                            when(&t["due_at"]),
                            t["note"].as_str().unwrap_or("").to_owned(),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default(),
        footer: None,
    };
    let decisions = Output::Table {
        header: vec!["DECIDED", "WHAT", "BY", "ROLE"],
        rows: case["decisions"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .map(|d| {
                        vec![
                            when(&d["at"]),
                            text(&d["what"]),
                            text(&d["actor"]["id"]),
                            text(&d["actor"]["role"]),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default(),
        footer: None,
    };
    Output::Record(
        vec![
            ("reference", text(&case["reference"])),
            ("stage", text(&case["stage"])),
            (
                "programme",
                format!(
                    "{} ({})",
                    text(&intake["programme"]),
                    text(&case["programme_version"])
                ),
            ),
            (
                "route",
                format!(
                    "{} → {}",
                    text(&intake["host_country"]),
                    text(&intake["origin_country"])
                ),
            ),
            ("household", text(&intake["household_size"])),
            ("opened", when(&case["opened_at"])),
            (
                "closure",
                case["closure"]["reason"].as_str().unwrap_or("-").to_owned(),
            ),
        ],
        vec![tasks, decisions],
    )
}

/// What `homeward case open` sends.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Programme id.
    pub programme: String,
    /// Host country.
    pub host_country: String,
    /// Country of origin.
    pub origin_country: String,
    /// Household size.
    pub household_size: u32,
    /// Household members as JSON (`[{"age_group": "adult", "vulnerabilities": []}]`).
    pub members: Option<String>,
    /// The returnee's language for messages (ISO 639-1).
    pub language: Option<String>,
    /// Makes a retried command open the same case.
    pub idempotency_key: Option<String>,
}

/// `homeward case open`.
pub async fn open_case(client: &ApiClient, c: &NewCase) -> anyhow::Result<(Value, Output)> {
    let mut body = json!({
        "programme": c.programme,
        "host_country": c.host_country,
        "origin_country": c.origin_country,
        "household_size": c.household_size,
    });
    if let Some(language) = &c.language {
        body["language"] = json!(language);
    }
    if let Some(members) = &c.members {
        body["members"] = serde_json::from_str(members).context(
            "--members must be JSON, e.g. '[{\"age_group\":\"adult\",\"vulnerabilities\":[]}]'",
        )?;
    }
    let headers: Vec<(&str, String)> = c
        .idempotency_key
        .iter()
        .map(|k| ("Idempotency-Key", k.clone()))
        .collect();
    let opened = client
        .call(Method::POST, "/api/v1/cases", &[], Some(body), &headers)
        .await?;
    let out = Output::Record(
        vec![
            ("reference", text(&opened["reference"])),
            ("stage", text(&opened["stage"])),
        ],
        vec![],
    );
    Ok((opened, out))
}

/// The filters of `homeward inbox`.
#[derive(Debug, Default, Clone)]
pub struct InboxFilters {
    /// Task type.
    pub task_type: Option<String>,
    /// Only overdue tasks.
    pub overdue: bool,
    /// Only tasks due before this date or time.
    pub due_before: Option<String>,
    /// Whose: mine, pool, anyone or a user id.
    pub holder: Option<String>,
    /// How many.
    pub limit: Option<u32>,
    /// The token printed under the previous page.
    pub page_token: Option<String>,
}

/// `homeward inbox`.
pub async fn inbox(client: &ApiClient, f: &InboxFilters) -> anyhow::Result<(Value, Output)> {
    let mut query = vec![];
    if let Some(t) = &f.task_type {
        query.push(("type", t.clone()));
    }
    if f.overdue {
        query.push(("overdue", "true".into()));
    }
    if let Some(d) = &f.due_before {
        query.push(("due_before", d.clone()));
    }
    if let Some(n) = f.limit {
        query.push(("limit", n.to_string()));
    }
    if let Some(h) = &f.holder {
        query.push(("holder", h.clone()));
    }
    if let Some(t) = &f.page_token {
        query.push(("page_token", t.clone()));
    }
    let inbox = client
        .call(Method::GET, "/api/v1/inbox", &query, None, &[])
        .await?;
    let rows = inbox["tasks"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    let mut due = when(&t["due_at"]);
                    if t["overdue"] == true {
                        due.push_str(" OVERDUE");
                    }
                    vec![
                        text(&t["reference"]),
                        text(&t["id"]),
                        text(&t["task_type"]),
                        due,
                        if t["held_by_you"] == true {
                            "you".into()
                        } else if t["assignee"].is_null() {
                            "-".into()
                        } else {
                            text(&t["assignee"])
                        },
                        if t["requested_by_you"] == true {
                            "yours: another person must decide".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let footer = inbox["next_page_token"]
        .as_str()
        .map(|t| format!("more: --page-token {t}"));
    Ok((
        inbox,
        Output::Table {
            header: vec!["CASE", "TASK", "TYPE", "DUE", "HELD BY", ""],
            rows,
            footer,
        },
    ))
}

/// `homeward task claim|release|assign`: `action` is the path's last segment.
pub async fn hold_task(
    client: &ApiClient,
    reference: &str,
    task: u32,
    action: &str,
    assignee: Option<&str>,
) -> anyhow::Result<(Value, Output)> {
    let body = assignee.map(|a| json!({ "assignee": a }));
    let case = client
        .call(
            Method::POST,
            &format!(
                "/api/v1/cases/{}/tasks/{task}/{action}",
                urlencode(reference)
            ),
            &[],
            body,
            &[],
        )
        .await?;
    Ok((case.clone(), case_record(&case)))
}

/// `homeward task complete`.
pub async fn complete_task(
    client: &ApiClient,
    reference: &str,
    task: u32,
    outcome: &str,
    reason: Option<&str>,
) -> anyhow::Result<(Value, Output)> {
    let outcome: Value = serde_json::from_str(outcome)
        .context("--outcome must be JSON, e.g. '{\"type\":\"approval\",\"approved\":true}'")?;
    let mut body = json!({ "outcome": outcome });
    if let Some(reason) = reason {
        body["reason"] = Value::String(reason.to_owned());
    }
    let case = client
        .call(
            Method::POST,
            &format!("/api/v1/cases/{}/tasks/{task}", urlencode(reference)),
            &[],
            Some(body),
            &[],
        )
        .await?;
    Ok((case.clone(), case_record(&case)))
}

/// The people of a case, or one member: a row per member, the fields the caller may see.
pub async fn people(
    client: &ApiClient,
    reference: &str,
    member: Option<u32>,
) -> anyhow::Result<(Value, Output)> {
    let path = match member {
        Some(m) => format!("/api/v1/cases/{}/people/{m}", urlencode(reference)),
        None => format!("/api/v1/cases/{}/people", urlencode(reference)),
    };
    let json = client.call(Method::GET, &path, &[], None, &[]).await?;
    let views = match &json {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let rows = views
        .iter()
        .map(|v| {
            let f = &v["fields"];
            let name = &f["names"]["document"];
            vec![
                text(&v["member"]),
                [text(&name["given"]), text(&name["family"])].join(" "),
                text(&f["date_of_birth"]),
                text(&f["nationality"]),
                text(&f["phone"]),
                when(&v["updated_at"]),
            ]
        })
        .collect();
    Ok((
        json,
        Output::Table {
            header: vec!["MEMBER", "NAME", "BORN", "NATIONALITY", "PHONE", "UPDATED"],
            rows,
            footer: Some("fields your role may not see show as -; --json for all".into()),
        },
    ))
}

/// Writes a member's record: replaces it, or (merge) changes only the fields given.
pub async fn set_person(
    client: &ApiClient,
    reference: &str,
    member: u32,
    record: Value,
    merge: bool,
) -> anyhow::Result<(Value, Output)> {
    let method = if merge { Method::PATCH } else { Method::PUT };
    let path = format!("/api/v1/cases/{}/people/{member}", urlencode(reference));
    let json = client.call(method, &path, &[], Some(record), &[]).await?;
    Ok((
        json,
        Output::Record(
            vec![
                ("case", reference.to_owned()),
                ("member", member.to_string()),
            ],
            vec![],
        ),
    ))
}

/// What `homeward person search` looks for.
#[derive(Debug, Default, Clone)]
pub struct PersonQuery {
    /// Given names.
    pub given: Option<String>,
    /// Family name.
    pub family: Option<String>,
    /// Date or year of birth.
    pub born: Option<String>,
    /// A document number.
    pub document: Option<String>,
}

/// Finds members by name and birth date or by document number (the API's blind index).
pub async fn search_people(client: &ApiClient, q: &PersonQuery) -> anyhow::Result<(Value, Output)> {
    let query: Vec<(&str, String)> = [
        ("given", &q.given),
        ("family", &q.family),
        ("date_of_birth", &q.born),
        ("document", &q.document),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    let json = client
        .call(Method::GET, "/api/v1/people/search", &query, None, &[])
        .await?;
    let rows = json
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| vec![text(&h["reference"]), text(&h["member"])])
                .collect()
        })
        .unwrap_or_default();
    Ok((
        json,
        Output::Table {
            header: vec!["CASE", "MEMBER"],
            rows,
            footer: None,
        },
    ))
}

/// A subject-access export (the command prints it as JSON).
pub async fn export_person(
    client: &ApiClient,
    reference: &str,
    member: u32,
) -> anyhow::Result<(Value, Output)> {
    let path = format!(
        "/api/v1/cases/{}/people/{member}/export",
        urlencode(reference)
    );
    let json = client.call(Method::GET, &path, &[], None, &[]).await?;
    Ok((json, Output::Record(vec![], vec![])))
}

/// Erases a case's personal data.
pub async fn erase_case(
    client: &ApiClient,
    reference: &str,
    reason: &str,
) -> anyhow::Result<(Value, Output)> {
    let path = format!("/api/v1/cases/{}/erasure", urlencode(reference));
    client
        .call(
            Method::POST,
            &path,
            &[],
            Some(json!({ "reason": reason })),
            &[],
        )
        .await?;
    Ok((
        json!({ "reference": reference, "erased": true }),
        Output::Record(
            vec![
                ("case", reference.to_owned()),
                ("personal data", "erased".into()),
            ],
            vec![],
        ),
    ))
}

fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Renders an output as text.
pub fn render(out: &Output) -> String {
    match out {
        Output::Table {
            header,
            rows,
            footer,
        } => {
            let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
            for row in rows {
                for (i, cell) in row.iter().enumerate() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
            let line = |cells: Vec<String>| {
                cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            let mut s = line(header.iter().map(|h| (*h).to_owned()).collect());
            s.push('\n');
            if rows.is_empty() {
                s.push_str("(none)\n");
            }
            for row in rows {
                s.push_str(&line(row.clone()));
                s.push('\n');
            }
            if let Some(f) = footer {
                s.push_str(f);
                s.push('\n');
            }
            s
        }
        Output::Record(fields, tables) => {
            let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let mut s = String::new();
            for (k, v) in fields {
                s.push_str(&format!("{k:<width$}  {v}\n"));
            }
            for t in tables {
                s.push('\n');
                s.push_str(&render(t));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_say_when_empty() {
        let out = Output::Table {
            header: vec!["A", "LONGER"],
            rows: vec![vec!["wide cell".into(), "x".into()]],
            footer: Some("1 row".into()),
        };
        assert_eq!(render(&out), "A          LONGER\nwide cell  x\n1 row\n");
        let empty = Output::Table {
            header: vec!["A"],
            rows: vec![],
            footer: None,
        };
        assert_eq!(render(&empty), "A\n(none)\n");
    }

    #[test]
    fn api_errors_read_as_one_line() {
        let body = json!({"error": "invalid_request", "message": "invalid or missing fields: stage",
                          "fields": {"stage": "is not a known stage"}});
        assert_eq!(
            describe_error(StatusCode::BAD_REQUEST, &body),
            "400 invalid_request: invalid or missing fields: stage (stage: is not a known stage)"
        );
    }
}
