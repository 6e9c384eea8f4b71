//! The people a benchmark plays: officers open cases; every role works its inbox through the
//! HTTP API and completes each task with a plausible answer; approvals go to a different person
//! than the one who asked (four-eyes).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Two users of one role (so that a second person can approve what the first asked for).
#[derive(Clone)]
pub struct Pair {
    /// Each user's id and HTTP client (with their bearer key).
    pub users: [(String, reqwest::Client); 2],
    /// Finance: the office's supplier of in-kind support, invoiced for every in-kind tranche.
    pub supplier: Option<String>,
}

impl Pair {
    /// The user who may complete a task requested by `requested_by`.
    fn for_task(&self, requested_by: Option<&str>) -> &reqwest::Client {
        match requested_by {
            Some(id) if id == self.users[0].0 => &self.users[1].1,
            _ => &self.users[0].1,
        }
    }
}

/// What the driver recorded.
#[derive(Default)]
pub struct Tally {
    /// Latency of every accepted completion (ms).
    pub approval_ms: Vec<f64>,
    /// Accepted completions: task ids per case.
    pub accepted: BTreeMap<String, Vec<u64>>,
    /// Completions refused with 409 (the inbox showed a task already done).
    pub stale: u32,
    /// Tasks claimed before being completed (as staff do).
    pub claimed: u32,
    /// Other refusals: status and message.
    pub refused: Vec<String>,
    /// Transport errors (a request that never got an answer).
    pub unanswered: u32,
}

/// A household to open a case for; `people`: with a record per member, who agreed to share
/// with every partner (so bookings, hand-overs and payments read the vault).
pub fn household(i: usize, people: bool) -> Value {
    let adult = json!({"age_group": "adult", "vulnerabilities": []});
    let child = json!({"age_group": "minor_under16", "vulnerabilities": []});
    let (size, members) = match i % 20 {
        // 15%: an adult needing medical clearance.
        0..=2 => (
            1,
            vec![json!({"age_group": "adult", "vulnerabilities": ["medical"]})],
        ),
        // 10%: an unaccompanied child.
        3 | 4 => (
            1,
            vec![json!({"age_group": "minor16_to17", "vulnerabilities": ["unaccompanied_child"]})],
        ),
        // 30%: a family of two adults and two children.
        5..=10 => (4, vec![adult.clone(), adult.clone(), child.clone(), child]),
        // 10%: a trafficking victim.
        11 | 12 => (
            1,
            vec![json!({"age_group": "adult", "vulnerabilities": ["victim_of_trafficking"]})],
        ),
        // 35%: a single adult.
        _ => (1, vec![adult]),
    };
    let mut body = json!({
        "programme": "bench",
        "host_country": "NLD",
        "origin_country": "IRQ",
        "household_size": size,
        "members": members,
    });
    if people {
        body["people"] = (0..size).map(|m| person(i, m)).collect();
    }
    body
}

/// A made-up person, member `m` of household `i`.
fn person(i: usize, m: usize) -> Value {
    let consents: Vec<Value> = [
        "consulate",
        "travel_partner",
        "reception_partner",
        "payment_provider",
    ]
    .iter()
    .map(|p| json!({"purpose": p, "given": true}))
    .collect();
    json!({
        "names": {
            "document": {"given": format!("Bench{m}"), "family": format!("Household{i}")},
            "original": {"given": "أمل", "family": format!("حسن{i}"), "script": "Arab"}
        },
        "sex": if m.is_multiple_of(2) { "female" } else { "male" },
        "date_of_birth": format!("{}-03-14", 1960 + (i + m) % 40),
        "nationality": "IRQ",
        "documents": [{"kind": "passport", "number": format!("B{i:07}{m}"),
                       "issuing_country": "IRQ", "expires_on": "2035-01-31"}],
        "phone": format!("+96477{:07}", (i * 10 + m) % 10_000_000),
        "destination": {"place": "Erbil", "region": "Kurdistan", "nearest_airport": "EBL"},
        "consents": consents,
    })
}

/// Opens `n` cases (at most `parallel` at a time); returns their references.
pub async fn open_cases(
    api: &str,
    officer: &reqwest::Client,
    n: usize,
    offset: usize,
    parallel: usize,
    people: bool,
) -> anyhow::Result<Vec<String>> {
    let gate = Arc::new(Semaphore::new(parallel));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (api, officer, gate) = (api.to_owned(), officer.clone(), gate.clone());
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let key = format!("bench-{}", offset + i);
            for attempt in 0..20 {
                let resp = officer
                    .post(format!("{api}/api/v1/cases"))
                    .header("Idempotency-Key", &key)
                    .json(&household(offset + i, people))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let body: Value = r.json().await?;
                        return Ok::<String, anyhow::Error>(
                            body["reference"].as_str().unwrap_or_default().to_owned(),
                        );
                    }
                    Ok(r) if r.status().is_client_error() => {
                        let status = r.status();
                        anyhow::bail!("opening a case: {status} {}", r.text().await?);
                    }
                    // 5xx (a restarting server) or no answer: retry with the same key.
                    _ => tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await,
                }
            }
            anyhow::bail!("opening a case failed 20 times")
        }));
    }
    let mut refs = Vec::with_capacity(n);
    for h in handles {
        refs.push(h.await.context("opening task panicked")??);
    }
    Ok(refs)
}

/// A supplier's invoice for the grant a task's note names (`"start: up to 1500.00 EUR"`).
pub fn invoice(note: Option<&str>, supplier: Option<&str>, task: u64) -> Value {
    let (amount, currency) = note
        .and_then(|n| n.rsplit_once("up to "))
        .and_then(|(_, rest)| rest.split_once(' '))
        .unwrap_or(("0", "EUR"));
    json!({"type": "invoice", "supplier": supplier.unwrap_or_default(),
           "invoice_reference": format!("INV-{task}"),
           "amount": {"minor": homeward_activities::wire::to_minor(amount).unwrap_or(0),
                      "currency": currency}})
}

/// The answer a careful user gives to a task of this type.
fn outcome(task_type: &str) -> Value {
    match task_type {
        "counselling_session" => json!({"type": "counselling", "decision": "wants_to_return"}),
        "consent" | "guardian_consent" => json!({"type": "consent", "signed": true}),
        "best_interests_determination" | "family_assessment" => {
            json!({"type": "assessment", "supports_return": true})
        }
        "travel_document" => {
            let expires = (chrono::Utc::now() + chrono::Duration::days(365)).date_naive();
            json!({"type": "travel_document", "expires_on": expires.to_string()})
        }
        "fit_to_travel" => json!({"type": "fit_to_travel", "fit": true, "medical_escort": false}),
        "departure_confirmation" => json!({"type": "departure", "departed": true}),
        // Who met them: an unaccompanied child is received only against a signed hand-over;
        // for anyone else the case keeps it as a record of who met them.
        "arrival_confirmation" => json!({"type": "arrival", "received": true, "hand_over": {
            "to": "family_member", "at": chrono::Utc::now(), "document_checked": "national_id",
            "signed": true}}),
        "child_views" => json!({"type": "child_views", "heard": true, "wants_to_return": true}),
        // Continuity of care too: the medical cases' plans must include it (rules::plan_covers_needs).
        "reintegration_plan" => json!({"type": "plan", "support": ["economic", "medical"]}),
        "milestone_verification" => json!({"type": "milestone", "reached": true}),
        "monitoring_survey" | "baseline_survey" => {
            json!({"type": "survey", "reached": true, "answers": {
                "economic": [4, 4, 4, 4, 4], "social": [4, 4, 4, 4, 4], "psychosocial": [4, 4, 4, 4, 4]
            }})
        }
        "document_escalation"
        | "booking_failed"
        | "no_show"
        | "reception_escalation"
        | "monitoring_escalation"
        | "referral"
        | "payment_failed" => {
            json!({"type": "resolution", "action": "retry"})
        }
        // Approvals: eligibility, booking, plan, tranche, closure.
        _ => json!({"type": "approval", "approved": true}),
    }
}

/// Works one role's inbox once: completes every task not already in flight. Returns how many
/// tasks it saw.
pub async fn work_inbox(
    api: &str,
    pair: &Pair,
    in_flight: &Arc<Mutex<HashSet<(String, u64)>>>,
    tally: &Arc<Mutex<Tally>>,
    gate: &Arc<Semaphore>,
) -> usize {
    let resp = pair.users[0]
        .1
        .get(format!("{api}/api/v1/inbox?limit=500"))
        .send()
        .await;
    let Ok(resp) = resp else { return 0 };
    let Ok(inbox) = resp.json::<Value>().await else {
        return 0;
    };
    let tasks = inbox["tasks"].as_array().cloned().unwrap_or_default();
    let mut handles = vec![];
    for task in &tasks {
        let reference = task["reference"].as_str().unwrap_or_default().to_owned();
        let id = task["id"].as_u64().unwrap_or_default();
        if !in_flight
            .lock()
            .map(|mut f| f.insert((reference.clone(), id)))
            .unwrap_or(false)
        {
            continue;
        }
        let client = pair.for_task(task["requested_by"].as_str()).clone();
        let task_type = task["task_type"].as_str().unwrap_or_default().to_owned();
        let mut body = json!({"outcome": outcome(&task_type), "reason": "benchmark"});
        let url = format!("{api}/api/v1/cases/{reference}/tasks/{id}");
        let case_url = format!("{api}/api/v1/cases/{reference}");
        let supplier = pair.supplier.clone();
        let (tally, in_flight, gate) = (tally.clone(), in_flight.clone(), gate.clone());
        handles.push(tokio::spawn(async move {
            let Ok(_permit) = gate.acquire().await else {
                return;
            };
            // A supplier's invoice for the whole grant its task names ("up to 1500.00 EUR").
            if task_type == "supplier_invoice" {
                let note = match client.get(&case_url).send().await {
                    Ok(r) => r.json::<Value>().await.ok().and_then(|v| {
                        v["tasks"].as_array()?.iter().find_map(|t| {
                            (t["id"].as_u64() == Some(id))
                                .then(|| t["note"].as_str().map(str::to_owned))?
                        })
                    }),
                    Err(_) => None,
                };
                body["outcome"] = invoice(note.as_deref(), supplier.as_deref(), id);
            }
            // Staff claim a task before they work on it (a 409 here is a task done already);
            // the latency measured is the completion's, as before claims existed.
            let claim = client.post(format!("{url}/claim")).send().await;
            let started = Instant::now();
            let resp = match claim {
                Ok(r) if r.status().is_success() => {
                    if let Ok(mut t) = tally.lock() {
                        t.claimed += 1;
                    }
                    client.post(url).json(&body).send().await
                }
                other => other,
            };
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let mut t = match tally.lock() {
                Ok(t) => t,
                Err(poisoned) => poisoned.into_inner(),
            };
            match resp {
                Ok(r) if r.status().is_success() => {
                    t.approval_ms.push(ms);
                    t.accepted.entry(reference).or_default().push(id);
                }
                Ok(r) if r.status().as_u16() == 409 => t.stale += 1,
                Ok(r) => {
                    let status = r.status();
                    drop(t);
                    let text = r.text().await.unwrap_or_default();
                    if let Ok(mut t) = tally.lock() {
                        t.refused.push(format!("{status}: {text}"));
                    }
                    // Let it be tried again (a 5xx during a restart, say).
                    if status.is_server_error()
                        && let Ok(mut f) = in_flight.lock()
                    {
                        f.remove(&(reference, id));
                    }
                }
                Err(_) => {
                    t.unanswered += 1;
                    drop(t);
                    if let Ok(mut f) = in_flight.lock() {
                        f.remove(&(reference, id));
                    }
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    tasks.len()
}
