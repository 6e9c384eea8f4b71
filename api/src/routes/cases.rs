//! `/api/v1/cases`: open a case (start its workflow), list cases (visibility), read one (query
//! its workflow).
//!
//! Handlers only turn HTTP into domain types and start, query, signal or update workflows; they
//! never write case state themselves.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use temporalio_client::errors::{WorkflowQueryError, WorkflowStartError};
use temporalio_client::{WorkflowIdReusePolicy, WorkflowQueryOptions, WorkflowStartOptions};

use homeward_workflows::domain::{
    CaseRef, CountryCode, DomainError, HouseholdSize, ImmigrationStatus, Intake, Language, Member,
    OpenCase, ProgrammeId, Stage,
};
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::programme::ProgrammeRules;
use homeward_workflows::return_case::{CaseInput, CaseView, ReturnCase};
use homeward_workflows::tasks::{Role, Scope};
use homeward_workflows::visibility as sa;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::fields::{FieldReader, as_integer, as_str};
use crate::json::ApiJson;
use crate::query::QueryReader;
use crate::state::AppState;
use crate::views::CaseFor;
use crate::visibility::{CaseSummary, list_page, quoted};
use homeward_activities::reports::Claim;

/// The case routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", post(open_case).get(list_cases))
        .route("/api/v1/cases/{reference}", get(get_case))
        .route("/api/v1/cases/{reference}/messages", get(case_messages))
}

/// What became of a case's messages (the gateway's delivery receipts).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseMessages {
    /// The receipts, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<homeward_activities::reports::MessageReceipt>,
}

/// The delivery receipts of a case's messages: which notices reached their recipient. Staff of
/// the case's office, auditors and admins; not partners (the returnee's messages are not theirs).
#[utoipa::path(
    get,
    path = "/api/v1/cases/{reference}/messages",
    tag = "cases",
    params(("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters")),
    responses(
        (status = 200, description = "The receipts", body = CaseMessages),
        (status = 400, description = "A bad reference", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn case_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<CaseMessages>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    if caller.actor.role == homeward_workflows::actors::Role::Partner {
        return Err(ApiError::NotFound(format!("no case {reference}")));
    }
    check_scope(&state, &caller, &reference).await?;
    Ok(Json(CaseMessages {
        messages: state.store.message_receipts(&reference).await?,
    }))
}

/// The answer to `POST /api/v1/cases`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseOpened {
    /// The new case's reference.
    reference: CaseRef,
    /// Its stage.
    stage: Stage,
    /// Where to read it.
    href: String,
    /// Members found in other cases (prior assistance is an eligibility question).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<DuplicateWarning>,
}

/// Turns the request body into an [`Intake`], naming every bad field.
pub(crate) fn parse_intake(body: Value) -> Result<Intake, ApiError> {
    let mut r = FieldReader::new(body)?;
    let programme = r.required("programme", |v| ProgrammeId::parse(as_str("programme", v)?));
    let host_country = r.required("host_country", |v| {
        CountryCode::parse_field(as_str("host_country", v)?, "host_country")
    });
    let origin_country = r.required("origin_country", |v| {
        CountryCode::parse_field(as_str("origin_country", v)?, "origin_country")
    });
    let household_size = r.required("household_size", |v| {
        HouseholdSize::parse(as_integer("household_size", v)?)
    });
    let members = r
        .optional("members", |v| {
            let mut members =
                serde_json::from_value::<Vec<Member>>(v.clone()).map_err(|e| DomainError {
                    field: "members",
                    problem: format!(
                        "must be a list of {{age_group, vulnerabilities}}: {}",
                        e.to_string().split(" at line").next().unwrap_or_default()
                    ),
                })?;
            // A vulnerability named twice is recorded once.
            for m in &mut members {
                let mut seen = Vec::with_capacity(m.vulnerabilities.len());
                m.vulnerabilities.retain(|v| {
                    let new = !seen.contains(v);
                    seen.push(*v);
                    new
                });
            }
            Ok(members)
        })
        .unwrap_or_default();
    let language = r.optional("language", |v| Language::parse(as_str("language", v)?));
    let immigration_status = r.optional("immigration_status", |v| {
        serde_json::from_value::<ImmigrationStatus>(v.clone()).map_err(|_| DomainError {
            field: "immigration_status",
            problem: format!(
                "must be one of {}",
                ImmigrationStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    });
    if let Some(size) = household_size
        && !members.is_empty()
        && members.len() != usize::from(size.get())
    {
        r.problem("members", "must list exactly household_size members");
    }
    r.finish()?;
    match (programme, host_country, origin_country, household_size) {
        (Some(programme), Some(host_country), Some(origin_country), Some(household_size)) => {
            Ok(Intake {
                programme,
                host_country,
                origin_country,
                household_size,
                members,
                language,
                immigration_status,
            })
        }
        // `finish` has already reported every missing or bad field.
        _ => Err(ApiError::Internal(
            "intake parsed without problems but incomplete".into(),
        )),
    }
}

/// The programme's current rules, checked against the intake: they will be pinned into the case.
fn programme_for(state: &AppState, intake: &Intake) -> Result<ProgrammeRules, ApiError> {
    let rules = state.programmes.get(&intake.programme).ok_or_else(|| {
        ApiError::field(
            "programme",
            format!("no programme {:?}", intake.programme.as_str()),
        )
    })?;
    if rules.host_country != intake.host_country {
        return Err(ApiError::field(
            "host_country",
            format!(
                "programme {} runs in {}, not {}",
                rules.id, rules.host_country, intake.host_country
            ),
        ));
    }
    rules
        .admits(intake.immigration_status)
        .map_err(|problem| ApiError::field("immigration_status", problem))?;
    if !rules.serves(&intake.origin_country) {
        return Err(ApiError::field(
            "origin_country",
            format!(
                "programme {} does not serve returns to {}",
                rules.id, intake.origin_country
            ),
        ));
    }
    Ok(rules.clone())
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match raw.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// Open a case: starts its workflow. With an `Idempotency-Key`, a retried request returns the
/// case its first attempt opened.
#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "cases",
    request_body = homeward_workflows::domain::Intake,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters")),
    responses(
        (status = 201, description = "Opened (or, with a used key, the first case)", body = CaseOpened),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Not a return officer", body = crate::error::ErrorBody),
        (status = 409, description = "Reference collision; retry", body = crate::error::ErrorBody),
        (status = 413, description = "Body too large", body = crate::error::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "Idempotency-Key used for another request", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn open_case(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::ReturnOfficer])?;
    let key = idempotency_key(&headers)?;
    let request_hash = sha256_hex(&[body.to_string().as_bytes()]);
    let (intake, people) = parse_opening(body, &caller)?;
    if let Some(office) = &caller.actor.office
        && office != intake.host_country.as_str()
    {
        return Err(ApiError::field(
            "host_country",
            format!("you open cases for the {office} office only"),
        ));
    }
    let rules = programme_for(&state, &intake)?;
    let mut reference = CaseRef::from_entropy(rand::random::<u64>());
    let opened_at = chrono::Utc::now();
    // A retried request with the same key (per user) opens the case its first attempt chose;
    // starting it again is harmless (the workflow ID is taken) and finishes a first attempt
    // that stopped between claiming the key and starting the workflow.
    let mut replayed = false;
    if let Some(key) = &key {
        let key_hash = sha256_hex(&[caller.actor.id.as_bytes(), key.as_bytes()]);
        match state
            .store
            .claim_idempotency_key(&key_hash, &request_hash, &reference, opened_at)
            .await?
        {
            Claim::New => {}
            Claim::Used {
                reference: first,
                same_request: true,
            } => {
                reference = first;
                replayed = true;
            }
            Claim::Used { .. } => {
                return Err(ApiError::Unprocessable(
                    "this Idempotency-Key was already used for a different request".into(),
                ));
            }
        }
    }
    let case = OpenCase {
        reference: reference.clone(),
        intake,
        opened_at,
        rules,
    };
    let input = CaseInput::new(case.clone());
    let workflow_id = return_case_workflow_id(&reference);
    // A reference is never reused, not even after its case closed.
    let options = WorkflowStartOptions::new(state.task_queue.clone(), workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
    // A trafficking victim's case is restricted from its first moment: named staff only.
    if homeward_workflows::rules::needs_risk_assessment(&case.intake) {
        state
            .store
            .restrict_case(&reference, &caller.actor.id, opened_at)
            .await?;
    }
    let started = state
        .temporal
        .start_workflow(ReturnCase::run, input, options)
        .await;
    match started {
        Ok(_) => {
            // The case store's row is what scope checks read (`check_scope`): write it now,
            // so the case can be read at once. The workflow writes it too (idempotent); if
            // this write fails, that one stands.
            if let Err(e) = state.store.record_case_opened(&case).await {
                tracing::warn!(case = %reference, error = %e, "case row not written by the API");
            }
        }
        Err(WorkflowStartError::AlreadyStarted { .. }) if replayed => {}
        Err(WorkflowStartError::AlreadyStarted { .. }) => {
            return Err(ApiError::Conflict(format!(
                "case {reference} already exists; retry"
            )));
        }
        Err(WorkflowStartError::Rpc(status)) => {
            tracing::warn!(code = ?status.code(), "temporal refused to start a case");
            return Err(ApiError::Unavailable(
                "the workflow engine is unavailable; retry later".into(),
            ));
        }
        Err(other) => return Err(ApiError::Internal(other.to_string())),
    }
    let stage = if replayed {
        query_view(&state, &reference)
            .await
            .map(|v| v.stage)
            .unwrap_or(Stage::Intake)
    } else {
        state.metrics.cases_opened.inc();
        crate::audit::record(
            &state,
            &caller,
            &reference,
            "case_opened".into(),
            "accepted",
        )
        .await;
        tracing::info!(case = %reference, "case opened");
        Stage::Intake
    };
    // The people go into the vault (never into the workflow); a member found in another case
    // (open or past: prior AVRR assistance matters for eligibility) is a warning.
    let mut warnings = Vec::new();
    if !replayed {
        for (member, person) in people.iter().enumerate() {
            let Some(person) = person else { continue };
            let member = u32::try_from(member).unwrap_or(u32::MAX);
            state
                .vault
                .put(&reference, member, person, opened_at)
                .await?;
            if let Some(w) = duplicates(&state, &caller, &reference, member, person).await? {
                warnings.push(w);
            }
        }
        if !people.is_empty() {
            let n = people.iter().filter(|p| p.is_some()).count();
            crate::audit::record_detail(
                &state,
                &caller,
                &reference,
                "people_written",
                format!("{n} members at opening"),
            )
            .await;
        }
    }
    let href = format!("/api/v1/cases/{reference}");
    Ok((
        StatusCode::CREATED,
        [
            (axum::http::header::LOCATION, href.clone()),
            (
                axum::http::HeaderName::from_static("idempotent-replayed"),
                replayed.to_string(),
            ),
        ],
        Json(CaseOpened {
            reference,
            stage,
            href,
            warnings,
        }),
    ))
}

/// The opening body: the intake (what the workflow may hold) and, apart, the people (what it
/// must not): `people[i]` is member i's personal record, or absent.
fn parse_opening(
    mut body: Value,
    caller: &Caller,
) -> Result<(Intake, Vec<Option<homeward_workflows::person::Person>>), ApiError> {
    let people = body
        .as_object_mut()
        .and_then(|o| o.remove("people"))
        .unwrap_or(Value::Null);
    let intake = parse_intake(body)?;
    let now = chrono::Utc::now();
    let by = crate::person_input::Recorder {
        user: &caller.actor.id,
        at: now,
    };
    let people = match people {
        Value::Null => Vec::new(),
        Value::Array(items) if items.len() <= usize::from(intake.household_size.get()) => items
            .iter()
            .enumerate()
            .map(|(i, p)| match p {
                Value::Null => Ok(None),
                p => crate::person_input::parse_person(
                    p,
                    &format!("people[{i}]"),
                    now.date_naive(),
                    &by,
                )
                .map(Some),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Array(_) => {
            return Err(ApiError::field(
                "people",
                "must have at most household_size records",
            ));
        }
        _ => {
            return Err(ApiError::field(
                "people",
                "must be a list of person records",
            ));
        }
    };
    Ok((intake, people))
}

/// A member of a new case found in other cases.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DuplicateWarning {
    /// The new case's member.
    member: u32,
    /// The cases of your office the person also appears in.
    references: Vec<CaseRef>,
    /// How many cases of other offices they appear in (ask operations: their references are
    /// not yours to see).
    elsewhere: usize,
}

/// Looks for the person in other cases (by name and birth date, and by each document).
async fn duplicates(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    member: u32,
    person: &homeward_workflows::person::Person,
) -> Result<Option<DuplicateWarning>, ApiError> {
    use homeward_activities::vault::Lookup;
    let mut lookups = Vec::new();
    if let Some(born) = person.date_of_birth {
        for name in std::iter::once(&person.names.document).chain(&person.names.transliteration) {
            lookups.push(Lookup::Name {
                given: name.given.as_str().to_owned(),
                family: name.family.as_str().to_owned(),
                born,
            });
        }
    }
    for d in &person.documents {
        lookups.push(Lookup::Document(d.number.as_str().to_owned()));
    }
    let mut others = std::collections::BTreeSet::new();
    for lookup in &lookups {
        for found in state.vault.find(lookup).await? {
            if &found.reference != reference {
                others.insert(found.reference);
            }
        }
    }
    if others.is_empty() {
        return Ok(None);
    }
    let mut references = Vec::new();
    let mut elsewhere = 0;
    for other in others {
        match state.store.get_case(&other).await? {
            Some(case) if in_scope(caller, &case) => references.push(other),
            _ => elsewhere += 1,
        }
    }
    Ok(Some(DuplicateWarning {
        member,
        references,
        elsewhere,
    }))
}

/// A page of cases.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseList {
    /// The cases on this page, newest first.
    cases: Vec<CaseSummary>,
    /// Pass as `page_token` for the next page; absent on the last.
    next_page_token: Option<String>,
}

/// The visibility condition that keeps a caller to their office's cases, or a partner to the
/// cases handed over to it (its office's, bound for its country, from the booked departure
/// until closure: `Scope::covers`).
pub(crate) fn scope_filter(caller: &Caller) -> Option<String> {
    match caller.actor.scope() {
        Scope::All => None,
        Scope::Nobody => Some("WorkflowId = ''".into()),
        Scope::HostCountry(c) => Some(format!("{} = {}", sa::HOST_COUNTRY, quoted(&c))),
        Scope::Partner { office, country } => {
            let stages: Vec<String> = Stage::ALL
                .into_iter()
                .filter(|s| s.is_handed_over())
                .map(|s| quoted(s.as_str()))
                .collect();
            Some(format!(
                "{} = {} AND {} = {} AND ExecutionStatus = 'Running' AND {} IN ({})",
                sa::HOST_COUNTRY,
                quoted(&office),
                sa::ORIGIN_COUNTRY,
                quoted(&country),
                sa::STAGE,
                stages.join(", ")
            ))
        }
    }
}

/// List cases, newest first, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    params(
        ("stage" = Option<homeward_workflows::domain::Stage>, Query, description = "Only this stage"),
        ("programme" = Option<String>, Query, description = "Only this programme"),
        ("host_country" = Option<String>, Query, description = "ISO alpha-3"),
        ("origin_country" = Option<String>, Query, description = "ISO alpha-3"),
        ("status" = Option<String>, Query, description = "open or closed"),
        ("overdue" = Option<bool>, Query, description = "Only cases with an overdue task"),
        ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Default 25"),
        ("page_token" = Option<String>, Query, description = "From the previous page"),
    ),
    responses(
        (status = 200, description = "A page of cases", body = CaseList),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list_cases(
    State(state): State<AppState>,
    caller: Caller,
    mut q: QueryReader,
) -> Result<Json<CaseList>, ApiError> {
    let stage: Option<Stage> = q.name("stage", "stage");
    let programme = q.optional("programme", |r| {
        ProgrammeId::parse(r).map_err(|e| e.problem)
    });
    let host = q.optional("host_country", |r| {
        CountryCode::parse(r).map_err(|e| e.problem)
    });
    let origin = q.optional("origin_country", |r| {
        CountryCode::parse(r).map_err(|e| e.problem)
    });
    let open = q.optional("status", |r| match r {
        "open" => Ok(true),
        "closed" => Ok(false),
        _ => Err("must be open or closed".to_owned()),
    });
    let overdue = q.flag("overdue").unwrap_or(false);
    let page_size = q.number("page_size", 1, 100, 25);
    let page_token = q.optional("page_token", |r| Ok::<_, String>(r.to_owned()));
    q.finish()?;

    let mut clauses: Vec<String> = scope_filter(&caller).into_iter().collect();
    if let Some(stage) = stage {
        clauses.push(format!("{} = {}", sa::STAGE, quoted(stage.as_str())));
    }
    if let Some(p) = programme {
        clauses.push(format!("{} = {}", sa::PROGRAMME, quoted(p.as_str())));
    }
    if let Some(c) = host {
        clauses.push(format!("{} = {}", sa::HOST_COUNTRY, quoted(c.as_str())));
    }
    if let Some(c) = origin {
        clauses.push(format!("{} = {}", sa::ORIGIN_COUNTRY, quoted(c.as_str())));
    }
    match open {
        Some(true) => clauses.push("ExecutionStatus = 'Running'".into()),
        Some(false) => clauses.push("ExecutionStatus != 'Running'".into()),
        None => {}
    }
    if overdue {
        clauses.push(format!(
            "ExecutionStatus = 'Running' AND {} < {}",
            sa::NEXT_DUE,
            quoted(&chrono::Utc::now().to_rfc3339())
        ));
    }
    let page = list_page(
        &state,
        &clauses.join(" AND "),
        i32::try_from(page_size).unwrap_or(25),
        page_token.as_deref(),
    )
    .await?;
    // Restricted cases the caller may not open are listed without their details.
    let refs: Vec<CaseRef> = page.cases.iter().map(|c| c.reference.clone()).collect();
    let restricted = state.store.restricted_among(&refs).await?;
    let cases = page
        .cases
        .into_iter()
        .map(|c| match restricted.get(&c.reference) {
            Some(named) if !may_open_restricted(&caller, named.iter().map(String::as_str)) => {
                c.redacted()
            }
            Some(_) => CaseSummary {
                restricted: true,
                ..c
            },
            None => c,
        })
        .collect();
    Ok(Json(CaseList {
        cases,
        next_page_token: page.next_page_token,
    }))
}

/// Queries a case's workflow for its view.
pub(crate) async fn query_view(
    state: &AppState,
    reference: &CaseRef,
) -> Result<CaseView, ApiError> {
    state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(reference))
        .query(ReturnCase::view, (), WorkflowQueryOptions::default())
        .await
        .map_err(|e| match e {
            WorkflowQueryError::NotFound(_) => ApiError::NotFound(format!("no case {reference}")),
            WorkflowQueryError::Rpc(status) => {
                tracing::warn!(code = ?status.code(), "temporal query failed");
                ApiError::Unavailable("the workflow engine is unavailable; retry later".into())
            }
            other => ApiError::Internal(other.to_string()),
        })
}

/// A case: its stage, open tasks and decisions.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{reference}",
    tag = "cases",
    params(("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters")),
    responses(
        (status = 200, description = "The case, as the caller may see it", body = CaseFor),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    check_scope(&state, &caller, &reference).await?;
    let view = query_view(&state, &reference).await?;
    // The workflow's stage is the truth; the projection may lag it by a moment.
    let roles = view.tasks.iter().map(|t| t.role);
    if !caller.actor.may_see_case(&view.intake, view.stage, roles) {
        return Err(ApiError::NotFound(format!("no case {reference}")));
    }
    // A trafficking victim's case is protected: every opening is on the audit trail, written
    // before anything is shown (no audit row, no case). (IOM, "Handbook on Protection and
    // Assistance for Migrants Vulnerable to Violence, Exploitation and Abuse" (2019):
    // information on victims is shared on a need-to-know basis, and access is recorded.)
    if view
        .intake
        .has(homeward_workflows::domain::Vulnerability::VictimOfTrafficking)
    {
        state
            .store
            .append_audit(&homeward_activities::store::NewAuditEvent {
                case_ref: Some(reference.clone()),
                actor: caller.actor.id.clone(),
                role: caller.actor.role.as_str().to_owned(),
                action: "restricted_case_opened".into(),
                outcome: "accepted".into(),
                detail: None,
                occurred_at: chrono::Utc::now(),
            })
            .await?;
    }
    Ok(Json(CaseFor::new(&caller, view)))
}

/// Refuses a case outside the caller's scope, from the case store's projection and before
/// any workflow is touched: a missing case and one out of scope take the same path and answer
/// the same 404, so neither the answer nor its timing tells them apart.
pub(crate) async fn check_scope(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
) -> Result<(), ApiError> {
    case_in_scope(state, caller, reference).await.map(|_| ())
}

/// The case's projection row, if the case is in the caller's scope (else the same 404 as for
/// a case that does not exist).
pub(crate) async fn case_in_scope(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
) -> Result<homeward_activities::store::CaseRecord, ApiError> {
    let record = state.store.get_case(reference).await?;
    let record = match record {
        Some(r) if in_scope(caller, &r) || referred(state, caller, &r).await? => r,
        _ => return Err(ApiError::NotFound(format!("no case {reference}"))),
    };
    if let Some(access) = state.store.case_access(reference).await?
        && !may_open_restricted(caller, access.iter().map(|a| a.user.as_str()))
    {
        return Err(ApiError::Forbidden(format!(
            "case {reference} is restricted: only the staff named on it, the office's \
             supervisors and auditors open it"
        )));
    }
    Ok(record)
}

/// Who opens a restricted case (a victim of trafficking, shared on a need-to-know basis: IOM,
/// *Handbook on Protection and Assistance for Migrants Vulnerable to Violence, Exploitation and
/// Abuse* (2019), Part 4, confidentiality and data protection): the staff named on it, the
/// office's supervisors, auditors, admins and the system; a partner only once it was handed
/// the case (its scope).
pub(crate) fn may_open_restricted<'a>(
    caller: &Caller,
    mut named: impl Iterator<Item = &'a str>,
) -> bool {
    matches!(
        caller.actor.role,
        Role::Auditor | Role::Admin | Role::System | Role::Partner
    ) || caller.actor.supervisor
        || named.any(|u| u == caller.actor.id)
}

/// Whether a partner sees a case not yet handed over to it because one of its open tasks asks
/// the partner (an unaccompanied child's family assessment, made in the country of origin):
/// `Scope::covers_referral`, the workflow's own validator applies the same rule.
async fn referred(
    state: &AppState,
    caller: &Caller,
    r: &homeward_activities::store::CaseRecord,
) -> Result<bool, ApiError> {
    if !caller
        .actor
        .scope()
        .covers_referral(&r.host_country, &r.origin_country)
    {
        return Ok(false);
    }
    let tasks = state.store.open_tasks_of(&r.reference).await?;
    Ok(tasks.iter().any(|t| t.role == caller.actor.role))
}

/// Whether a projected case is in the caller's scope.
pub(crate) fn in_scope(caller: &Caller, r: &homeward_activities::store::CaseRecord) -> bool {
    Stage::ALL
        .into_iter()
        .find(|s| s.as_str() == r.stage.as_str())
        .is_some_and(|stage| {
            caller
                .actor
                .scope()
                .covers(&r.host_country, &r.origin_country, stage)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bad_field_is_named_at_once() {
        let err = parse_intake(json!({
            "programme": "NL AVRR",
            "host_country": 12,
            "household_size": 0,
            "nickname": "x"
        }))
        .unwrap_err();
        let ApiError::BadRequest { fields, .. } = err else {
            panic!("expected a 400, got {err:?}")
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "host_country",
                "household_size",
                "nickname",
                "origin_country",
                "programme"
            ]
        );
    }

    #[test]
    fn a_good_intake_parses() {
        let intake = parse_intake(json!({
            "programme": "nl-avrr",
            "host_country": "nld",
            "origin_country": "IRQ",
            "household_size": 3
        }))
        .unwrap();
        assert_eq!(intake.host_country.as_str(), "NLD");
    }
}
