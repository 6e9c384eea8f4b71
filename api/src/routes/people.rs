//! `/api/v1/cases/{ref}/people…` and `/api/v1/people/search`: the returnees as persons. Each
//! role sees only the fields it needs (return officers of the office: all, and only they write;
//! operations: names and documents; finance: names; a partner: names, phone and destination of
//! a case handed over to it; auditors and admins: none), every read and change is an audit row
//! naming the fields (never their values), and an erased case answers 410.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use homeward_activities::store::NewAuditEvent;
use homeward_activities::vault::{Lookup, Record};
use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::{BirthDate, DocumentNumber, Person};
use homeward_workflows::tasks::Role;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::person_input::{Recorder, parse_person, patch_person};
use crate::query::QueryReader;
use crate::routes::cases::{case_in_scope, in_scope};
use crate::state::AppState;

/// The people routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases/{reference}/people", get(list))
        .route(
            "/api/v1/cases/{reference}/people/{member}",
            get(read).put(replace).patch(update),
        )
        .route(
            "/api/v1/cases/{reference}/people/{member}/export",
            get(export),
        )
        .route("/api/v1/cases/{reference}/erasure", post(erase))
        .route("/api/v1/people/search", get(search))
}

/// The fields a role may see of a person; `None`: none at all.
pub fn visible_fields(role: Role) -> Option<&'static [&'static str]> {
    match role {
        Role::ReturnOfficer => Some(&crate::person_input::FIELDS),
        Role::Operations => Some(&["names", "documents"]),
        Role::Finance => Some(&["names", "payout"]),
        Role::Partner => Some(&["names", "phone", "destination"]),
        // The best-interests determination: who the child is, and where home is.
        Role::ChildProtection => Some(&["names", "date_of_birth", "nationality", "destination"]),
        Role::Auditor | Role::Admin | Role::System => None,
    }
}

/// One member's record as the caller may see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PersonView {
    /// The case.
    reference: CaseRef,
    /// The member's position in the household (0-based).
    member: u32,
    /// The fields the caller's role may see.
    #[schema(value_type = Object)]
    fields: serde_json::Map<String, Value>,
    /// When the record last changed.
    updated_at: DateTime<Utc>,
}

fn view(reference: &CaseRef, r: &Record, shown: &[&str]) -> Result<PersonView, ApiError> {
    let Value::Object(all) = serde_json::to_value(&r.person)
        .map_err(|_| ApiError::Internal("a person record does not serialise".into()))?
    else {
        return Err(ApiError::Internal(
            "a person record is not an object".into(),
        ));
    };
    Ok(PersonView {
        reference: reference.clone(),
        member: r.member,
        fields: all
            .into_iter()
            .filter(|(k, _)| shown.contains(&k.as_str()))
            .collect(),
        updated_at: r.updated_at,
    })
}

/// Appends the audit row of a read or change of personal data: who, which case, which
/// members and fields; never a value.
async fn audit(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    action: &str,
    detail: String,
) {
    crate::audit::record_detail(state, caller, reference, action, detail).await;
}

/// The case (in scope), the member number (in the household), and what the role may see.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    reference: &str,
    member: Option<&str>,
) -> Result<(CaseRef, Option<u32>, &'static [&'static str]), ApiError> {
    let reference = CaseRef::parse(reference)?;
    let case = case_in_scope(state, caller, &reference).await?;
    let member = member
        .map(|m| {
            m.parse::<u32>()
                .ok()
                .filter(|n| i64::from(*n) < case.household_size)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no member {m}: members are numbered 0 to {}",
                        case.household_size - 1
                    ))
                })
        })
        .transpose()?;
    let shown = visible_fields(caller.actor.role).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "the {} role sees no personal data",
            caller.actor.role.as_str()
        ))
    })?;
    if state.vault.is_erased(&reference).await? {
        return Err(ApiError::Gone(format!(
            "the personal data of case {reference} was erased"
        )));
    }
    Ok((reference, member, shown))
}

/// Every member's record of a case, as the caller may see it.
#[utoipa::path(
    get, path = "/api/v1/cases/{reference}/people", tag = "people",
    params(("reference" = String, Path, description = "HW- and 12 characters")),
    responses(
        (status = 200, description = "The records the caller may see", body = Vec<PersonView>),
        (status = 403, description = "This role sees no personal data", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 410, description = "The case's personal data was erased", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Vec<PersonView>>, ApiError> {
    let (reference, _, shown) = prepare(&state, &caller, &reference, None).await?;
    let records = state.vault.people(&reference).await?;
    let views = records
        .iter()
        .map(|r| view(&reference, r, shown))
        .collect::<Result<Vec<_>, _>>()?;
    let members: Vec<String> = records.iter().map(|r| r.member.to_string()).collect();
    audit(
        &state,
        &caller,
        &reference,
        "people_read",
        format!("members {}: {}", members.join(","), shown.join(",")),
    )
    .await;
    Ok(Json(views))
}

/// One member's record, as the caller may see it.
#[utoipa::path(
    get, path = "/api/v1/cases/{reference}/people/{member}", tag = "people",
    params(
        ("reference" = String, Path, description = "HW- and 12 characters"),
        ("member" = u32, Path, description = "The member's position, from 0"),
    ),
    responses(
        (status = 200, description = "The record", body = PersonView),
        (status = 403, description = "This role sees no personal data", body = crate::error::ErrorBody),
        (status = 404, description = "No such case, member or record", body = crate::error::ErrorBody),
        (status = 410, description = "Erased", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, member)): Path<(String, String)>,
) -> Result<Json<PersonView>, ApiError> {
    let (reference, member, shown) = prepare(&state, &caller, &reference, Some(&member)).await?;
    let member = member.unwrap_or_default();
    let record = state.vault.person(&reference, member).await?;
    audit(
        &state,
        &caller,
        &reference,
        "people_read",
        format!("member {member}: {}", shown.join(",")),
    )
    .await;
    Ok(Json(view(&reference, &record, shown)?))
}

/// Writes a member's record: return officers of the case's office only.
async fn write(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    member: u32,
    person: &Person,
    action: &str,
    fields: Vec<String>,
) -> Result<PersonView, ApiError> {
    state
        .vault
        .put(reference, member, person, Utc::now())
        .await?;
    audit(
        state,
        caller,
        reference,
        action,
        format!("member {member}: {}", fields.join(",")),
    )
    .await;
    let record = state.vault.person(reference, member).await?;
    view(reference, &record, &crate::person_input::FIELDS)
}

fn officer_only(caller: &Caller) -> Result<(), ApiError> {
    caller.require(&[Role::ReturnOfficer]).map_err(|_| {
        ApiError::Forbidden(
            "only a return officer of the case's office records personal data".into(),
        )
    })
}

/// Records (or replaces) a member's whole record.
#[utoipa::path(
    put, path = "/api/v1/cases/{reference}/people/{member}", tag = "people",
    params(
        ("reference" = String, Path, description = "HW- and 12 characters"),
        ("member" = u32, Path, description = "The member's position, from 0"),
    ),
    request_body(content = Object, description = "The person: names, sex, date_of_birth, place_of_birth, nationality, documents, phone, email, language, destination, consents"),
    responses(
        (status = 200, description = "Recorded", body = PersonView),
        (status = 400, description = "Bad fields, each named by its path", body = crate::error::ErrorBody),
        (status = 403, description = "Not a return officer", body = crate::error::ErrorBody),
        (status = 404, description = "No such case or member", body = crate::error::ErrorBody),
        (status = 410, description = "Erased", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, member)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<PersonView>, ApiError> {
    officer_only(&caller)?;
    let (reference, member, _) = prepare(&state, &caller, &reference, Some(&member)).await?;
    let now = Utc::now();
    let by = Recorder {
        user: &caller.actor.id,
        at: now,
    };
    let person = parse_person(&body, "", now.date_naive(), &by)?;
    let fields = body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let member = member.unwrap_or_default();
    Ok(Json(
        write(
            &state,
            &caller,
            &reference,
            member,
            &person,
            "people_written",
            fields,
        )
        .await?,
    ))
}

/// Changes some fields of a member's record (`null` clears one); consents given are added.
#[utoipa::path(
    patch, path = "/api/v1/cases/{reference}/people/{member}", tag = "people",
    params(
        ("reference" = String, Path, description = "HW- and 12 characters"),
        ("member" = u32, Path, description = "The member's position, from 0"),
    ),
    request_body(content = Object, description = "The fields to change"),
    responses(
        (status = 200, description = "Changed", body = PersonView),
        (status = 400, description = "Bad fields, each named by its path", body = crate::error::ErrorBody),
        (status = 403, description = "Not a return officer", body = crate::error::ErrorBody),
        (status = 404, description = "No such case, member or record", body = crate::error::ErrorBody),
        (status = 410, description = "Erased", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, member)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<PersonView>, ApiError> {
    officer_only(&caller)?;
    let (reference, member, _) = prepare(&state, &caller, &reference, Some(&member)).await?;
    let member = member.unwrap_or_default();
    let current = state.vault.person(&reference, member).await?.person;
    let now = Utc::now();
    let by = Recorder {
        user: &caller.actor.id,
        at: now,
    };
    let person = patch_person(current, &body, now.date_naive(), &by)?;
    let fields = body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    Ok(Json(
        write(
            &state,
            &caller,
            &reference,
            member,
            &person,
            "people_changed",
            fields,
        )
        .await?,
    ))
}

/// A subject-access export.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Export {
    /// The case.
    reference: CaseRef,
    /// The member.
    member: u32,
    /// When the personal data was erased, if it was (then `record` is empty).
    erased: bool,
    /// Everything held about the person, consents' history included.
    #[schema(value_type = Object)]
    record: Option<Value>,
    /// When it last changed.
    updated_at: Option<DateTime<Utc>>,
}

/// Everything held about one member, for a data-protection request (the case's return
/// officers and admins). After erasure it is empty.
#[utoipa::path(
    get, path = "/api/v1/cases/{reference}/people/{member}/export", tag = "people",
    params(
        ("reference" = String, Path, description = "HW- and 12 characters"),
        ("member" = u32, Path, description = "The member's position, from 0"),
    ),
    responses(
        (status = 200, description = "The export", body = Export),
        (status = 403, description = "Not a return officer or admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such case or member", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, member)): Path<(String, String)>,
) -> Result<Json<Export>, ApiError> {
    caller.require(&[Role::ReturnOfficer, Role::Admin])?;
    let reference = CaseRef::parse(&reference)?;
    let case = case_in_scope(&state, &caller, &reference).await?;
    let member: u32 = member
        .parse()
        .ok()
        .filter(|n| i64::from(*n) < case.household_size)
        .ok_or_else(|| ApiError::NotFound(format!("no member {member}")))?;
    let erased = state.vault.is_erased(&reference).await?;
    let record = if erased {
        None
    } else {
        match state.vault.person(&reference, member).await {
            Ok(r) => Some(r),
            Err(homeward_activities::vault::VaultError::NotFound) => None,
            Err(e) => return Err(e.into()),
        }
    };
    audit(
        &state,
        &caller,
        &reference,
        "people_exported",
        format!("member {member}: all fields"),
    )
    .await;
    Ok(Json(Export {
        reference,
        member,
        erased,
        updated_at: record.as_ref().map(|r| r.updated_at),
        record: record
            .map(|r| serde_json::to_value(&r.person))
            .transpose()
            .map_err(|_| ApiError::Internal("a person record does not serialise".into()))?,
    }))
}

/// Why personal data is erased (a fixed list: free text could itself hold personal data).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErasureReason {
    /// The person asked (right to erasure).
    SubjectRequest,
    /// The programme's retention period after closure ended.
    Retention,
    /// A legal obligation (a court order, a regulator).
    LegalObligation,
    /// Another documented reason.
    Other,
}

/// The body of an erasure.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErasureBody {
    reason: ErasureReason,
}

/// Erases a case's personal data (admins): its data key is destroyed, its records and index
/// entries deleted; statistics keep counting the case.
#[utoipa::path(
    post, path = "/api/v1/cases/{reference}/erasure", tag = "people",
    params(("reference" = String, Path, description = "HW- and 12 characters")),
    request_body = ErasureBody,
    responses(
        (status = 202, description = "Erased"),
        (status = 400, description = "A bad reason", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such case", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<ErasureBody>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let reference = CaseRef::parse(&reference)?;
    case_in_scope(&state, &caller, &reference).await?;
    state.vault.erase(&reference, Utc::now()).await?;
    let reason = serde_json::to_value(body.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    audit(
        &state,
        &caller,
        &reference,
        "personal_data_erased",
        format!("reason: {reason}"),
    )
    .await;
    tracing::info!(case = %reference, %reason, "personal data erased");
    Ok(StatusCode::ACCEPTED)
}

/// One search hit: a member of a case in the caller's scope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Hit {
    /// The case.
    reference: CaseRef,
    /// The member.
    member: u32,
}

/// Finds people by name and date (or year) of birth, or by document number, without
/// decrypting anyone (the blind index); only in the caller's scope.
#[utoipa::path(
    get, path = "/api/v1/people/search", tag = "people",
    params(
        ("given" = Option<String>, Query, description = "Given names (with family and date_of_birth)"),
        ("family" = Option<String>, Query, description = "Family name"),
        ("date_of_birth" = Option<String>, Query, description = "1990-05-31 or 1990"),
        ("document" = Option<String>, Query, description = "A document number (alone)"),
    ),
    responses(
        (status = 200, description = "The members found", body = Vec<Hit>),
        (status = 400, description = "A bad or missing parameter, named", body = crate::error::ErrorBody),
        (status = 403, description = "Not an officer or operations", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    mut q: QueryReader,
) -> Result<Json<Vec<Hit>>, ApiError> {
    caller.require(&[Role::ReturnOfficer, Role::Operations])?;
    let today = Utc::now().date_naive();
    let given = q.optional("given", |r| Ok::<_, String>(r.to_owned()));
    let family = q.optional("family", |r| Ok::<_, String>(r.to_owned()));
    let born = q.optional("date_of_birth", |r| {
        BirthDate::parse(r, today).map_err(|e| e.problem)
    });
    let document = q.optional("document", |r| {
        DocumentNumber::parse(r).map_err(|e| e.problem)
    });
    let lookup = match (given, family, born, document) {
        (None, None, None, Some(d)) => Some(Lookup::Document(d.as_str().to_owned())),
        (Some(given), Some(family), Some(born), None) => Some(Lookup::Name {
            given,
            family,
            born,
        }),
        _ => {
            q.problem(
                "query",
                "give either document, or given, family and date_of_birth together",
            );
            None
        }
    };
    q.finish()?;
    let Some(lookup) = lookup else {
        return Err(ApiError::Internal("search parsed without a lookup".into()));
    };
    let mut hits = Vec::new();
    for found in state.vault.find(&lookup).await? {
        // A restricted case is found only by those who may open it (need to know).
        if let Some(case) = state.store.get_case(&found.reference).await?
            && in_scope(&caller, &case)
            && state
                .store
                .case_access(&found.reference)
                .await?
                .is_none_or(|named| {
                    crate::routes::cases::may_open_restricted(
                        &caller,
                        named.iter().map(|a| a.user.as_str()),
                    )
                })
        {
            hits.push(Hit {
                reference: found.reference,
                member: found.member,
            });
        }
    }
    let event = NewAuditEvent {
        case_ref: None,
        actor: caller.actor.id.clone(),
        role: caller.actor.role.as_str().to_owned(),
        action: "people_searched".into(),
        outcome: "accepted".into(),
        detail: Some(format!(
            "by {}; {} found",
            if matches!(lookup, Lookup::Document(_)) {
                "document"
            } else {
                "name and birth date"
            },
            hits.len()
        )),
        occurred_at: Utc::now(),
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, "audit event not written");
    }
    Ok(Json(hits))
}
