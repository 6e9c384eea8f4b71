//! What the case store answers beyond single cases: M&E statistics, the auditors' export of the
//! audit trail, outcomes mirrored from workflows, and the idempotency keys of case opening.
//!
//! Every query runs unchanged on SQLite and PostgreSQL (sqlx's Any driver, `$n` parameters).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use homeward_workflows::activities::CaseOutcome;
use homeward_workflows::domain::{CaseRef, Stage};
use homeward_workflows::tasks::Scope;

use crate::store::{AuditEvent, CaseStore, NewAuditEvent, StoreError, format_ts, parse_ts};

/// A `WHERE` condition on the `cases` table aliased `c` for a scope, and its parameters
/// (`$1`, `$2`). A partner's scope is the cases handed over to it: its office's, bound for its
/// country, at a stage after the booked departure and before closure (`Stage::is_handed_over`).
fn scope_condition(scope: &Scope) -> (String, Vec<&str>) {
    match scope {
        Scope::All => ("1 = 1".into(), vec![]),
        Scope::Nobody => ("1 = 0".into(), vec![]),
        Scope::HostCountry(c) => ("c.host_country = $1".into(), vec![c]),
        Scope::Partner { office, country } => {
            let stages: Vec<String> = Stage::ALL
                .into_iter()
                .filter(|s| s.is_handed_over())
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            (
                format!(
                    "c.host_country = $1 AND c.origin_country = $2 AND c.stage IN ({})",
                    stages.join(", ")
                ),
                vec![office, country],
            )
        }
    }
}

/// Grants paid in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GrantTotal {
    /// The sum, in minor units.
    pub amount_minor: i64,
    /// How many tranches.
    pub tranches: i64,
}

/// Mean RSS scores over every answered follow-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RssAverages {
    /// How many follow-ups were scored.
    pub follow_ups: i64,
    /// Economic dimension, 0 to 1.
    pub economic: Option<f64>,
    /// Social dimension, 0 to 1.
    pub social: Option<f64>,
    /// Psychosocial dimension, 0 to 1.
    pub psychosocial: Option<f64>,
    /// Composite, 0 to 1.
    pub composite: Option<f64>,
}

/// What became of one of a case's messages, as the gateway's receipt said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageReceipt {
    /// The message's idempotency key.
    pub idempotency_key: String,
    /// Which notice (`flight_details`, `tranche_paid`, …).
    pub template: String,
    /// An e-mail to the officer in place of an SMS (the returnee had no phone on record).
    pub to_officer_instead: bool,
    /// Whether it was delivered; false: the carrier gave up.
    pub delivered: bool,
    /// The carrier's reason, when not delivered.
    pub error_code: Option<String>,
    /// When the receipt came.
    pub received_at: DateTime<Utc>,
}

/// Monitoring and evaluation figures over the cases in a scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Statistics {
    /// Every case in scope.
    pub cases: i64,
    /// Cases by their current stage.
    pub cases_by_stage: BTreeMap<String, i64>,
    /// Cases by programme.
    pub cases_by_programme: BTreeMap<String, i64>,
    /// Cases by host country.
    pub cases_by_host_country: BTreeMap<String, i64>,
    /// Cases by country of origin.
    pub cases_by_origin_country: BTreeMap<String, i64>,
    /// Grants disbursed, by currency.
    pub grants_disbursed: BTreeMap<String, GrantTotal>,
    /// Grants disbursed by month paid (`YYYY-MM`, workflow time), then currency.
    pub grants_by_month: BTreeMap<String, BTreeMap<String, GrantTotal>>,
    /// Median days a case spent in each stage it has left.
    pub median_days_in_stage: BTreeMap<String, f64>,
    /// Mean sustainability scores.
    pub rss: RssAverages,
    /// Mean sustainability scores per follow-up round (1 = the first follow-up).
    pub rss_by_round: BTreeMap<i64, RssAverages>,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now belongs to this request.
    New,
    /// The key was used before, for `reference`; `same_request` tells whether with this body.
    Used {
        /// The case the first request opened.
        reference: CaseRef,
        /// The first request had the same body.
        same_request: bool,
    },
}

impl CaseStore {
    /// Mirrors a paid tranche or a scored follow-up. Idempotent: a retry changes nothing.
    pub async fn record_outcome(&self, outcome: &CaseOutcome) -> Result<(), StoreError> {
        match outcome {
            CaseOutcome::TranchePaid {
                reference,
                tranche,
                amount,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO grant_payments (reference, tranche, amount_minor, currency, \
                     paid_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(reference.as_str())
                .bind(i64::from(*tranche))
                .bind(amount.minor)
                .bind(&amount.currency)
                .bind(format_ts(*at))
                .execute(&self.pool)
                .await?;
            }
            CaseOutcome::Scored {
                reference,
                follow_up,
                scores,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO rss_scores (reference, follow_up, economic, social, \
                     psychosocial, composite, scored_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(reference.as_str())
                .bind(i64::from(*follow_up))
                .bind(scores.economic)
                .bind(scores.social)
                .bind(scores.psychosocial)
                .bind(scores.composite)
                .bind(format_ts(*at))
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Claims `key_hash` for a request (`request_hash`) that will open `reference`, or finds
    /// who claimed it first. Safe under concurrency: the primary key decides.
    pub async fn claim_idempotency_key(
        &self,
        key_hash: &str,
        request_hash: &str,
        reference: &CaseRef,
        at: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key_hash, request_hash, reference, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(key_hash)
        .bind(request_hash)
        .bind(reference.as_str())
        .bind(format_ts(at))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let row =
            sqlx::query("SELECT request_hash, reference FROM idempotency_keys WHERE key_hash = $1")
                .bind(key_hash)
                .fetch_one(&self.pool)
                .await?;
        let stored: String = row.try_get("reference")?;
        let reference = CaseRef::parse(&stored).map_err(|e| StoreError::Corrupt {
            column: "idempotency_keys.reference",
            problem: e.to_string(),
        })?;
        Ok(Claim::Used {
            reference,
            same_request: row.try_get::<String, _>("request_hash")? == request_hash,
        })
    }

    /// Whether a payment webhook event with this id was acted on before.
    pub async fn webhook_event_seen(&self, event_id: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT event_id FROM webhook_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Records that a payment webhook event was acted on (once; a second record is a no-op).
    pub async fn record_webhook_event(
        &self,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_events (event_id, received_at) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(format_ts(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records what the gateway says became of a message (the latest receipt wins).
    pub async fn record_message_receipt(
        &self,
        receipt: &crate::http_partners::message_receipts::Receipt,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO message_receipts \
             (idempotency_key, reference, delivery, error_code, received_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (idempotency_key) DO UPDATE SET delivery = excluded.delivery, \
             error_code = excluded.error_code, received_at = excluded.received_at",
        )
        .bind(&receipt.idempotency_key)
        .bind(receipt.reference.as_str())
        .bind(receipt.delivery.as_str())
        .bind(receipt.error_code.as_deref())
        .bind(format_ts(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The delivery receipts of a case's messages, oldest first.
    pub async fn message_receipts(
        &self,
        reference: &CaseRef,
    ) -> Result<Vec<MessageReceipt>, StoreError> {
        let rows = sqlx::query(
            "SELECT idempotency_key, delivery, error_code, received_at FROM message_receipts \
             WHERE reference = $1 ORDER BY received_at, idempotency_key",
        )
        .bind(reference.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("idempotency_key")?;
                let delivery: String = row.try_get("delivery")?;
                Ok(MessageReceipt {
                    // `<ref>:<template>:<n>[:officer]`: the template is the second part.
                    template: key.split(':').nth(1).unwrap_or_default().to_owned(),
                    to_officer_instead: key.ends_with(":officer"),
                    delivered: delivery == crate::notices::Delivery::Delivered.as_str(),
                    error_code: row.try_get("error_code")?,
                    received_at: parse_ts(
                        "received_at",
                        &row.try_get::<String, _>("received_at")?,
                    )?,
                    idempotency_key: key,
                })
            })
            .collect()
    }

    /// M&E statistics over the cases in `scope`.
    pub async fn statistics(&self, scope: &Scope) -> Result<Statistics, StoreError> {
        let mut stats = Statistics::default();
        for (column, map) in [
            ("stage", &mut stats.cases_by_stage),
            ("programme", &mut stats.cases_by_programme),
            ("host_country", &mut stats.cases_by_host_country),
            ("origin_country", &mut stats.cases_by_origin_country),
        ] {
            let (cond, params) = scope_condition(scope);
            let sql = format!(
                "SELECT c.{column} AS k, COUNT(*) AS n FROM cases c WHERE {cond} GROUP BY c.{column}"
            );
            for row in bind_scope(sqlx::query(&sql), params)
                .fetch_all(&self.pool)
                .await?
            {
                map.insert(row.try_get("k")?, row.try_get("n")?);
            }
        }
        stats.cases = stats.cases_by_stage.values().sum();

        let (cond, params) = scope_condition(scope);
        let sql = format!(
            "SELECT g.currency AS currency, CAST(SUM(g.amount_minor) AS BIGINT) AS total, COUNT(*) AS n \
             FROM grant_payments g JOIN cases c ON c.reference = g.reference WHERE {cond} \
             GROUP BY g.currency"
        );
        for row in bind_scope(sqlx::query(&sql), params.clone())
            .fetch_all(&self.pool)
            .await?
        {
            stats.grants_disbursed.insert(
                row.try_get("currency")?,
                GrantTotal {
                    amount_minor: row.try_get("total")?,
                    tranches: row.try_get("n")?,
                },
            );
        }

        // Timestamps are fixed-width RFC 3339 text: the month is the first seven characters.
        let sql = format!(
            "SELECT SUBSTR(g.paid_at, 1, 7) AS month, g.currency AS currency, \
             CAST(SUM(g.amount_minor) AS BIGINT) AS total, COUNT(*) AS n \
             FROM grant_payments g JOIN cases c ON c.reference = g.reference WHERE {cond} \
             GROUP BY SUBSTR(g.paid_at, 1, 7), g.currency"
        );
        for row in bind_scope(sqlx::query(&sql), params.clone())
            .fetch_all(&self.pool)
            .await?
        {
            stats
                .grants_by_month
                .entry(row.try_get("month")?)
                .or_default()
                .insert(
                    row.try_get("currency")?,
                    GrantTotal {
                        amount_minor: row.try_get("total")?,
                        tranches: row.try_get("n")?,
                    },
                );
        }

        let sql = format!(
            "SELECT CAST(r.follow_up AS BIGINT) AS follow_up, r.economic AS economic, r.social AS social, \
             r.psychosocial AS psychosocial, r.composite AS composite FROM rss_scores r \
             JOIN cases c ON c.reference = r.reference WHERE {cond}"
        );
        let rows = bind_scope(sqlx::query(&sql), params.clone())
            .fetch_all(&self.pool)
            .await?;
        stats.rss = rss_averages(&rows)?;
        let mut rounds: BTreeMap<i64, Vec<sqlx::any::AnyRow>> = BTreeMap::new();
        for row in rows {
            let round = row.try_get::<i64, _>("follow_up")? + 1;
            rounds.entry(round).or_default().push(row);
        }
        for (round, rows) in rounds {
            stats.rss_by_round.insert(round, rss_averages(&rows)?);
        }

        let sql = format!(
            "SELECT h.reference AS reference, h.stage AS stage, h.entered_at AS entered_at \
             FROM case_stage_history h JOIN cases c ON c.reference = h.reference WHERE {cond} \
             ORDER BY h.reference, h.entered_at"
        );
        let rows = bind_scope(sqlx::query(&sql), params.clone())
            .fetch_all(&self.pool)
            .await?;
        let mut history = Vec::with_capacity(rows.len());
        for row in &rows {
            history.push((
                row.try_get::<String, _>("reference")?,
                row.try_get::<String, _>("stage")?,
                parse_ts(
                    "case_stage_history.entered_at",
                    &row.try_get::<String, _>("entered_at")?,
                )?,
            ));
        }
        stats.median_days_in_stage = median_days_in_stage(&history);
        Ok(stats)
    }

    /// The stages a case entered, oldest first, with when (workflow time).
    pub async fn stage_history(
        &self,
        reference: &CaseRef,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT stage, entered_at FROM case_stage_history WHERE reference = $1 \
             ORDER BY entered_at",
        )
        .bind(reference.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("stage")?,
                    parse_ts(
                        "case_stage_history.entered_at",
                        &row.try_get::<String, _>("entered_at")?,
                    )?,
                ))
            })
            .collect()
    }

    /// The audit trail for auditors, oldest first: every case, or one; from after `after_id`;
    /// at most `limit` events.
    pub async fn audit_export(
        &self,
        case: Option<&CaseRef>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = match case {
            Some(reference) => {
                sqlx::query(
                    "SELECT id, case_ref, actor, role, action, outcome, detail, occurred_at \
                     FROM audit_events WHERE case_ref = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(reference.as_str())
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, case_ref, actor, role, action, outcome, detail, occurred_at \
                     FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|row| {
                let case_ref = row
                    .try_get::<Option<String>, _>("case_ref")?
                    .map(|r| {
                        CaseRef::parse(&r).map_err(|e| StoreError::Corrupt {
                            column: "audit_events.case_ref",
                            problem: e.to_string(),
                        })
                    })
                    .transpose()?;
                Ok(AuditEvent {
                    id: row.try_get("id")?,
                    event: NewAuditEvent {
                        case_ref,
                        actor: row.try_get("actor")?,
                        role: row.try_get("role")?,
                        action: row.try_get("action")?,
                        outcome: row.try_get("outcome")?,
                        detail: row.try_get("detail")?,
                        occurred_at: parse_ts(
                            "audit_events.occurred_at",
                            &row.try_get::<String, _>("occurred_at")?,
                        )?,
                    },
                })
            })
            .collect()
    }
}

fn bind_scope<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: Vec<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    params.into_iter().fold(query, |q, p| q.bind(p))
}

fn rss_averages(rows: &[sqlx::any::AnyRow]) -> Result<RssAverages, StoreError> {
    let mut sums = [0.0_f64; 4];
    for row in rows {
        for (i, column) in ["economic", "social", "psychosocial", "composite"]
            .into_iter()
            .enumerate()
        {
            sums[i] += row.try_get::<f64, _>(column)?;
        }
    }
    let n = rows.len();
    let mean = |i: usize| (n > 0).then(|| (sums[i] / n as f64 * 100.0).round() / 100.0);
    Ok(RssAverages {
        follow_ups: i64::try_from(n).unwrap_or(i64::MAX),
        economic: mean(0),
        social: mean(1),
        psychosocial: mean(2),
        composite: mean(3),
    })
}

/// Median days per stage over `(case, stage, entered_at)` rows sorted by case and time. A stage
/// counts once it was left; re-entering the same stage (a continued-as-new run) continues it.
pub fn median_days_in_stage(history: &[(String, String, DateTime<Utc>)]) -> BTreeMap<String, f64> {
    let mut spans: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut current: Option<&(String, String, DateTime<Utc>)> = None;
    for row in history {
        match current {
            Some(cur) if cur.0 == row.0 && cur.1 == row.1 => {}
            Some(cur) if cur.0 == row.0 => {
                let days = (row.2 - cur.2).num_seconds() as f64 / 86_400.0;
                spans.entry(cur.1.clone()).or_default().push(days);
                current = Some(row);
            }
            _ => current = Some(row),
        }
    }
    spans
        .into_iter()
        .map(|(stage, mut days)| {
            days.sort_by(f64::total_cmp);
            let mid = days.len() / 2;
            let median = if days.len() % 2 == 0 {
                (days[mid - 1] + days[mid]) / 2.0
            } else {
                days[mid]
            };
            (stage, (median * 100.0).round() / 100.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn medians_count_left_stages_and_merge_repeats() {
        let rows = [
            ("a", "counselling", 1),
            ("a", "consent", 3),
            ("a", "consent", 4), // same stage again: continues
            ("a", "travel", 9),  // consent lasted 6 days
            ("b", "counselling", 1),
            ("b", "consent", 5),
            ("c", "counselling", 1), // still there: does not count
        ]
        .map(|(c, s, d)| (c.to_owned(), s.to_owned(), at(d)));
        let m = median_days_in_stage(&rows);
        assert_eq!(m.get("counselling"), Some(&3.0)); // 2 and 4
        assert_eq!(m.get("consent"), Some(&6.0));
        assert_eq!(m.get("travel"), None);
    }
}
