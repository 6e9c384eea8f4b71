//! The in-process partner ledger: travel, payments and outreach in memory (or journalled in
//! SQLite), with the idempotency a real partner gives (an idempotency key maps to one order or
//! one payment, forever) and faults to inject. It is the tests' partner, `partners.mode =
//! "local"`'s, and the books of the sandbox. It implements the production traits of
//! `homeward_activities::partners`; it knows no wire format and no HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};

use homeward_activities::Partners;
use homeward_activities::notices::{Channel, Message, Templates};
use homeward_activities::offices::Offices;
use homeward_activities::partners::{Outreach, PartnerError, PaymentProvider, TravelPartner};
use homeward_activities::sharing::Shared;
use homeward_activities::suppliers::Supplier;
use homeward_activities::travel::{self, Fare, NamedPassenger, OfferPassenger, Search};
use homeward_activities::wire::payments;
use homeward_workflows::activities::{
    CancelRequest, Disbursement, HandOver, Offer, Order, OrderRequest, OrderStatus, PaymentState,
    Receipt,
};
use homeward_workflows::programme::Money;

use crate::journal::{Journal, kind};

/// Every partner served by one in-process ledger, with the shipped notice texts.
pub fn local_partners(ledger: Arc<LocalLedger>) -> Partners {
    local_partners_with(ledger, Arc::new(Templates::builtin()))
}

/// Every partner served by one in-process ledger, with the given notice texts.
pub fn local_partners_with(ledger: Arc<LocalLedger>, templates: Arc<Templates>) -> Partners {
    Partners {
        travel: ledger.clone(),
        payments: ledger.clone(),
        outreach: ledger,
        templates,
        routes: Arc::new(homeward_activities::travel::Routes::default()),
        offices: Arc::new(placeholder_offices()),
    }
}

/// The placeholder office contacts of `config/default.toml` (`returns@nld.example.org`, …) for
/// the offices the tests open cases in: development values, never a real office's.
pub fn placeholder_offices() -> Offices {
    let office = |country: &str, city: &str, phone: &str| {
        let cc = country.to_ascii_lowercase();
        (
            country.to_owned(),
            serde_json::json!({
                "name": format!("Return office {city} (placeholder)"),
                "email": format!("returns@{cc}.example.org"),
                "phone": phone,
            }),
        )
    };
    let all: serde_json::Map<String, serde_json::Value> = [
        office("NLD", "The Hague", "+31700000000"),
        office("GBR", "London", "+442000000000"),
        office("BEL", "Brussels", "+3220000000"),
        office("DEU", "Berlin", "+49300000000"),
    ]
    .into_iter()
    .collect();
    // Checked by the unit test below: these parse.
    serde_json::from_value(serde_json::Value::Object(all)).unwrap_or_default()
}

/// Faults to inject, for tests of retries and failures.
#[derive(Debug, Default)]
pub struct Faults {
    /// Fail this many `disburse` calls *after* recording the payment (as if the answer was
    /// lost), so that retries must be absorbed by the idempotency key.
    pub lose_payment_answers: u32,
    /// Refuse the next N `create_order` calls with a permanent error.
    pub refuse_orders: u32,
    /// Offer prices (minor units per traveller) to return; default 30000.
    pub price_per_traveller: Option<i64>,
    /// Flights leave this long after the search, instead of at 09:00 on the earliest day the
    /// request allows (the benchmark compresses a year into seconds).
    pub departs_in: Option<std::time::Duration>,
    /// When new payments are confirmed.
    pub confirmation: Confirmation,
    /// The next N payments fail at the provider (known when they settle).
    pub failing_payments: u32,
}

/// When the ledger confirms a new payment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Confirmation {
    /// At once: the answer to `disburse` says confirmed.
    #[default]
    AtOnce,
    /// Pending for this many status reads, then confirmed (unless settled earlier).
    AfterPolls(u32),
    /// Pending until [`LocalLedger::settle`] settles it (the sandbox's timer, a test).
    WhenSettled,
}

/// What the ledger has recorded.
#[derive(Debug, Default, Clone)]
pub struct LedgerState {
    /// Offers made, by id.
    pub offers: BTreeMap<String, Offer>,
    /// The passengers' fares of each offer, by offer id (passenger `i` is `<offer>-p<i>`).
    pub offer_fares: BTreeMap<String, Vec<Fare>>,
    /// Each search as received, by case reference (memory only: what a test checks).
    pub searches: BTreeMap<String, Vec<Search>>,
    /// Orders by idempotency key.
    pub orders: BTreeMap<String, Order>,
    /// Cancelled order ids.
    pub cancelled: BTreeSet<String>,
    /// Payments by idempotency key; the receipt holds the payment's current state.
    pub payments: BTreeMap<String, (Disbursement, Receipt)>,
    /// Status reads a pending payment still waits for, by payment id.
    pub polls_left: BTreeMap<String, u32>,
    /// Payments that will fail when they settle, by payment id.
    pub doomed: BTreeSet<String>,
    /// How many `disburse` calls arrived (retries included).
    pub disburse_calls: u32,
    /// Notices by idempotency key, as rendered (their attachments are in `attachments`).
    pub notices: BTreeMap<String, Message>,
    /// The files each notice carried, by its idempotency key: names, types and sizes
    /// (journalled) and the bytes (memory only: what a test checks the gateway received).
    pub attachments: BTreeMap<String, Vec<ReceivedAttachment>>,
    /// Hand-overs by idempotency key.
    pub hand_overs: BTreeMap<String, HandOver>,
    /// The people each order, payment and hand-over named, by its idempotency key (memory
    /// only: what a test checks a partner received).
    pub people: BTreeMap<String, Vec<Shared>>,
    /// The special service requests of each order's passengers, in the order's order (memory
    /// only, like `people`).
    pub services: BTreeMap<String, Vec<Vec<String>>>,
}

/// A file a notice carried, as the ledger keeps it.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceivedAttachment {
    /// The file's name.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: usize,
    /// Its bytes: in memory only (personal data never reaches the journal).
    #[serde(skip)]
    pub content: Vec<u8>,
}

impl std::fmt::Debug for ReceivedAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReceivedAttachment {{ filename: {:?}, content_type: {:?}, size: {} }}",
            self.filename, self.content_type, self.size
        )
    }
}

/// A partner ledger: idempotent orders and payments, recorded notices. The tests' in-process
/// partner, and the books of the sandbox, which can keep them in a SQLite [`Journal`].
#[derive(Debug, Default)]
pub struct LocalLedger {
    /// Everything recorded.
    state: Mutex<LedgerState>,
    /// Faults to inject.
    faults: Mutex<Faults>,
    /// Where every entry is written before the answer, if anywhere (else: memory only).
    journal: Option<Journal>,
}

impl LocalLedger {
    /// An empty ledger without faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger with faults to inject.
    pub fn faulty(faults: Faults) -> Self {
        Self {
            state: Mutex::default(),
            faults: Mutex::new(faults),
            journal: None,
        }
    }

    /// A ledger kept in `journal`, with what it already holds.
    pub async fn durable(faults: Faults, journal: Journal) -> Result<Self, String> {
        let mut state = LedgerState {
            offers: journal.all(kind::OFFER).await?.into_iter().collect(),
            offer_fares: journal.all(kind::OFFER_FARES).await?.into_iter().collect(),
            orders: journal.all(kind::ORDER).await?.into_iter().collect(),
            cancelled: journal
                .all::<bool>(kind::CANCELLED)
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
            payments: journal.all(kind::PAYMENT).await?.into_iter().collect(),
            notices: journal.all(kind::NOTICE).await?.into_iter().collect(),
            attachments: journal.all(kind::ATTACHMENTS).await?.into_iter().collect(),
            hand_overs: journal.all(kind::HAND_OVER).await?.into_iter().collect(),
            ..LedgerState::default()
        };
        for (id, (polls, doomed)) in journal
            .all::<(Option<u32>, bool)>(kind::PAYMENT_META)
            .await?
        {
            if let Some(n) = polls {
                state.polls_left.insert(id.clone(), n);
            }
            if doomed {
                state.doomed.insert(id);
            }
        }
        state.disburse_calls = journal
            .all::<u32>(kind::COUNTER)
            .await?
            .into_iter()
            .find_map(|(k, n)| (k == "disburse_calls").then_some(n))
            .unwrap_or(0);
        Ok(Self {
            state: Mutex::new(state),
            faults: Mutex::new(faults),
            journal: Some(journal),
        })
    }

    /// Writes an entry to the journal, if there is one.
    async fn record(
        &self,
        kind: &'static str,
        key: &str,
        value: &impl serde::Serialize,
    ) -> Result<(), PartnerError> {
        match &self.journal {
            Some(j) => j.put(kind, key, value).await,
            None => Ok(()),
        }
    }

    /// Journals a payment and its pending bookkeeping.
    async fn record_payment(&self, key: &str) -> Result<(), PartnerError> {
        if self.journal.is_none() {
            return Ok(());
        }
        let entry = self.with_state(|s| {
            s.payments.get(key).cloned().map(|(d, r)| {
                let meta = (
                    s.polls_left.get(&r.payment_id).copied(),
                    s.doomed.contains(&r.payment_id),
                );
                (d, r, meta)
            })
        });
        let Some((d, r, meta)) = entry else {
            return Ok(());
        };
        self.record(kind::PAYMENT_META, &r.payment_id, &meta)
            .await?;
        self.record(kind::PAYMENT, key, &(d, r)).await
    }

    /// An offer made, by id.
    pub fn offer(&self, offer_id: &str) -> Option<Offer> {
        self.with_state(|s| s.offers.get(offer_id).cloned())
    }

    /// A copy of everything recorded.
    pub fn snapshot(&self) -> LedgerState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut LedgerState) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    fn faults_mut<T>(&self, f: impl FnOnce(&mut Faults) -> T) -> T {
        let mut guard = match self.faults.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

#[async_trait::async_trait]
impl TravelPartner for LocalLedger {
    async fn search_offers(&self, search: &Search) -> Result<Vec<Offer>, PartnerError> {
        strict::search(search)?;
        let (price, departs_in) =
            self.faults_mut(|f| (f.price_per_traveller.unwrap_or(30_000), f.departs_in));
        // Compressed time keeps a leg back's place after the leg out (an escort's flight home
        // is searched from a day after the outbound window): the flight home leaves as many
        // days after the one out as its window starts after the outbound's.
        let departs_in = departs_in.map(|d| {
            let back_after = self.with_state(|s| {
                s.searches
                    .get(search.reference.as_str())
                    .and_then(|earlier| earlier.last())
                    .filter(|out| {
                        out.destination == search.origin && out.origin == search.destination
                    })
                    .and_then(|out| (search.earliest - out.earliest).to_std().ok())
            });
            d + back_after.unwrap_or_default()
        });
        // One morning flight on the earliest day, and a cheaper one a week later if allowed.
        let day = search.earliest;
        let at = |d: chrono::NaiveDate| {
            Utc.with_ymd_and_hms(d.year(), d.month(), d.day(), 9, 0, 0)
                .single()
                .unwrap_or_default()
        };
        // A seat each; an infant on a lap pays a tenth.
        let infants = search
            .passengers
            .iter()
            .filter(|f| **f == Fare::InfantWithoutSeat)
            .count();
        let seats = search.passengers.len() - infants;
        let fare = price * i64::try_from(seats).unwrap_or(i64::MAX)
            + price / 10 * i64::try_from(infants).unwrap_or(i64::MAX);
        let mut offers = vec![Offer {
            offer_id: format!("off-{}-{}-{}", search.reference, search.origin, day),
            departs_at: match departs_in.and_then(|d| chrono::Duration::from_std(d).ok()) {
                Some(d) => Utc::now() + d,
                None => at(day),
            },
            total: Money {
                minor: fare,
                currency: "EUR".into(),
            },
            escort_return_offer_id: None,
        }];
        let later = day + chrono::Duration::days(7);
        if later <= search.latest {
            offers.push(Offer {
                offer_id: format!("off-{}-{}-{}", search.reference, search.origin, later),
                departs_at: match departs_in.and_then(|d| chrono::Duration::from_std(d).ok()) {
                    Some(d) => Utc::now() + d + d,
                    None => at(later),
                },
                total: Money {
                    minor: fare * 9 / 10,
                    currency: "EUR".into(),
                },
                escort_return_offer_id: None,
            });
        }
        self.with_state(|s| {
            for o in &offers {
                s.offers.insert(o.offer_id.clone(), o.clone());
                s.offer_fares
                    .insert(o.offer_id.clone(), search.passengers.clone());
            }
            s.searches
                .entry(search.reference.to_string())
                .or_default()
                .push(search.clone());
        });
        for o in &offers {
            self.record(kind::OFFER, &o.offer_id, o).await?;
            self.record(kind::OFFER_FARES, &o.offer_id, &search.passengers)
                .await?;
        }
        Ok(offers)
    }

    async fn offer_passengers(&self, offer_id: &str) -> Result<Vec<OfferPassenger>, PartnerError> {
        self.with_state(|s| s.offer_fares.get(offer_id).cloned())
            .map(|fares| strict::offer_passengers(offer_id, &fares))
            .ok_or_else(|| PartnerError::Refused {
                partner: "travel",
                message: format!("unknown offer {offer_id}"),
            })
    }

    async fn create_order(
        &self,
        request: &OrderRequest,
        passengers: &[NamedPassenger],
    ) -> Result<Order, PartnerError> {
        if let Some(existing) = self.with_state(|s| s.orders.get(&request.idempotency_key).cloned())
        {
            return Ok(existing);
        }
        let refuse = self.faults_mut(|f| {
            if f.refuse_orders > 0 {
                f.refuse_orders -= 1;
                true
            } else {
                false
            }
        });
        if refuse {
            return Err(PartnerError::Refused {
                partner: "travel",
                message: "offer no longer available".into(),
            });
        }
        let (offer, fares) = self
            .with_state(|s| {
                Some((
                    s.offers.get(&request.offer_id).cloned()?,
                    s.offer_fares
                        .get(&request.offer_id)
                        .cloned()
                        .unwrap_or_default(),
                ))
            })
            .ok_or_else(|| PartnerError::Refused {
                partner: "travel",
                message: format!("unknown offer {}", request.offer_id),
            })?;
        strict::order(
            &strict::offer_passengers(&request.offer_id, &fares),
            passengers,
        )?;
        let order = self.with_state(|s| {
            s.people
                .entry(request.idempotency_key.clone())
                .or_insert_with(|| passengers.iter().map(|p| p.person.clone()).collect());
            s.services
                .entry(request.idempotency_key.clone())
                .or_insert_with(|| passengers.iter().map(|p| p.services.clone()).collect());
            let order = Order {
                order_id: format!("ord-{}", s.orders.len() + 1),
                departs_at: offer.departs_at,
                total: offer.total.clone(),
                escort_return_order_id: None,
            };
            s.orders
                .entry(request.idempotency_key.clone())
                .or_insert(order)
                .clone()
        });
        self.record(kind::ORDER, &request.idempotency_key, &order)
            .await?;
        Ok(order)
    }

    async fn cancel_order(&self, request: &CancelRequest) -> Result<(), PartnerError> {
        self.with_state(|s| s.cancelled.insert(request.order_id.clone()));
        self.record(kind::CANCELLED, &request.order_id, &true).await
    }

    async fn order_status(&self, order_id: &str) -> Result<OrderStatus, PartnerError> {
        self.with_state(|s| {
            s.orders
                .values()
                .find(|o| o.order_id == order_id)
                .map(|o| OrderStatus {
                    order_id: o.order_id.clone(),
                    departs_at: o.departs_at,
                    cancelled: s.cancelled.contains(order_id),
                })
        })
        .ok_or_else(|| PartnerError::Refused {
            partner: "travel",
            message: format!("no order {order_id}"),
        })
    }
}

#[async_trait::async_trait]
impl PaymentProvider for LocalLedger {
    async fn disburse(
        &self,
        request: &Disbursement,
        beneficiary: Option<&Shared>,
        supplier: Option<&Supplier>,
    ) -> Result<Receipt, PartnerError> {
        // As strict as the sandbox's provider: the same refusals, on the same wire body.
        let body = payments::CreateDisbursement::from(request)
            .to_beneficiary(beneficiary)
            .to_supplier(supplier, request.invoice.as_ref());
        if let Some(problem) = body.refusal() {
            return Err(PartnerError::Refused {
                partner: "payments",
                message: problem,
            });
        }
        let (confirmation, doomed) = self.faults_mut(|f| (f.confirmation, f.failing_payments > 0));
        let (receipt, new) = self.with_state(|s| {
            s.disburse_calls += 1;
            s.people
                .entry(request.idempotency_key.clone())
                .or_insert_with(|| beneficiary.into_iter().cloned().collect());
            if let Some((_, r)) = s.payments.get(&request.idempotency_key) {
                return (r.clone(), false);
            }
            let payment_id = format!("pay-{}", s.payments.len() + 1);
            if doomed {
                s.doomed.insert(payment_id.clone());
            }
            let state = match confirmation {
                Confirmation::AfterPolls(n) => {
                    s.polls_left.insert(payment_id.clone(), n);
                    PaymentState::Pending
                }
                Confirmation::WhenSettled => PaymentState::Pending,
                Confirmation::AtOnce if doomed => PaymentState::Failed,
                Confirmation::AtOnce => PaymentState::Confirmed,
            };
            let receipt = Receipt {
                payment_id,
                idempotency_key: request.idempotency_key.clone(),
                state,
            };
            s.payments.insert(
                request.idempotency_key.clone(),
                (request.clone(), receipt.clone()),
            );
            (receipt, true)
        });
        if new && doomed {
            self.faults_mut(|f| f.failing_payments = f.failing_payments.saturating_sub(1));
        }
        let calls = self.with_state(|s| s.disburse_calls);
        self.record(kind::COUNTER, "disburse_calls", &calls).await?;
        if new {
            self.record_payment(&request.idempotency_key).await?;
        }
        let lose = self.faults_mut(|f| {
            if f.lose_payment_answers > 0 {
                f.lose_payment_answers -= 1;
                true
            } else {
                false
            }
        });
        if lose {
            return Err(PartnerError::Unavailable {
                partner: "payments",
                message: "connection reset before the answer arrived".into(),
                retry_after: Some(Duration::from_millis(100)),
            });
        }
        Ok(receipt)
    }

    async fn disbursement_status(&self, payment_id: &str) -> Result<PaymentState, PartnerError> {
        // Answers the state and, if a read changed the books, the payment's key to journal.
        let read = self.with_state(|s| {
            let (key, state) = s
                .payments
                .iter()
                .find(|(_, (_, r))| r.payment_id == payment_id)
                .map(|(k, (_, r))| (k.clone(), r.state))?;
            if state != PaymentState::Pending {
                return Some((state, None));
            }
            match s.polls_left.get_mut(payment_id) {
                Some(0) => Some((s.settle(payment_id), Some(key))),
                Some(n) => {
                    *n -= 1;
                    Some((PaymentState::Pending, Some(key)))
                }
                // Pending until settled: reading changes nothing.
                None => Some((PaymentState::Pending, None)),
            }
        });
        let (state, changed) = read.ok_or_else(|| PartnerError::Refused {
            partner: "payments",
            message: format!("no disbursement {payment_id}"),
        })?;
        if let Some(key) = changed {
            self.record_payment(&key).await?;
        }
        Ok(state)
    }
}

impl LedgerState {
    /// A payment's receipt by the provider's id.
    pub fn payment(&self, payment_id: &str) -> Option<&Receipt> {
        self.payments
            .values()
            .map(|(_, r)| r)
            .find(|r| r.payment_id == payment_id)
    }

    /// Settles a pending payment (confirmed, or failed if it was doomed); a settled one keeps
    /// its state. Answers the state.
    fn settle(&mut self, payment_id: &str) -> PaymentState {
        let end = if self.doomed.contains(payment_id) {
            PaymentState::Failed
        } else {
            PaymentState::Confirmed
        };
        self.polls_left.remove(payment_id);
        match self
            .payments
            .values_mut()
            .map(|(_, r)| r)
            .find(|r| r.payment_id == payment_id)
        {
            Some(r) if r.state == PaymentState::Pending => {
                r.state = end;
                end
            }
            Some(r) => r.state,
            None => end,
        }
    }
}

impl LocalLedger {
    /// Settles a pending payment, as the provider does when the money has moved; answers its
    /// final state and its case and idempotency key (for a webhook), or `None` if unknown.
    pub async fn settle(
        &self,
        payment_id: &str,
    ) -> Result<Option<(PaymentState, Disbursement)>, PartnerError> {
        let settled = self.with_state(|s| {
            let (d, _) = s
                .payments
                .values()
                .find(|(_, r)| r.payment_id == payment_id)?
                .clone();
            Some((s.settle(payment_id), d))
        });
        if let Some((_, d)) = &settled {
            self.record_payment(&d.idempotency_key).await?;
        }
        Ok(settled)
    }

    /// Payments still pending (for a restarted sandbox to settle).
    pub fn pending_payments(&self) -> Vec<String> {
        self.with_state(|s| {
            s.payments
                .values()
                .filter(|(_, r)| r.state == PaymentState::Pending)
                .map(|(_, r)| r.payment_id.clone())
                .collect()
        })
    }
}

#[async_trait::async_trait]
impl Outreach for LocalLedger {
    async fn notify(&self, message: &Message, phone: Option<&str>) -> Result<(), PartnerError> {
        // A strict gateway: an SMS needs a number, and an e-mail carries none.
        match (message.channel, phone) {
            (Channel::Sms, None) => {
                return Err(PartnerError::Refused {
                    partner: "notifications",
                    message: "to.phone_number: is required for an SMS".into(),
                });
            }
            (Channel::Email, Some(_)) => {
                return Err(PartnerError::Refused {
                    partner: "notifications",
                    message: "to.phone_number: an e-mail goes to the case's audience".into(),
                });
            }
            _ => {}
        }
        gateway::attachments(message)?;
        let key = &message.notice.idempotency_key;
        let (first, files) = self.with_state(|s| {
            // The number in memory only (what a test checks the gateway received).
            if let Some(phone) = phone {
                s.people.entry(key.clone()).or_insert_with(|| {
                    vec![Shared {
                        phone: Some(phone.to_owned()),
                        ..Shared::default()
                    }]
                });
            }
            if !message.attachments.is_empty() {
                s.attachments.entry(key.clone()).or_insert_with(|| {
                    message
                        .attachments
                        .iter()
                        .map(|a| ReceivedAttachment {
                            filename: a.filename.clone(),
                            content_type: a.content_type.clone(),
                            size: a.content.len(),
                            content: a.content.clone(),
                        })
                        .collect()
                });
            }
            let first = s
                .notices
                .entry(key.clone())
                .or_insert_with(|| message.clone())
                .clone();
            (first, s.attachments.get(key).cloned())
        });
        if let Some(files) = files {
            self.record(kind::ATTACHMENTS, key, &files).await?;
        }
        self.record(kind::NOTICE, key, &first).await
    }

    async fn hand_over(&self, record: &HandOver, people: &[Shared]) -> Result<(), PartnerError> {
        let key = &record.idempotency_key;
        let first = self.with_state(|s| {
            s.people
                .entry(key.clone())
                .or_insert_with(|| people.to_vec());
            s.hand_overs
                .entry(key.clone())
                .or_insert_with(|| record.clone())
                .clone()
        });
        self.record(kind::HAND_OVER, key, &first).await
    }
}

/// What a strict notification gateway refuses of an e-mail's files, refused here too: a file on
/// an SMS, one without a name, of another type than PDF, larger than
/// [`MAX_ATTACHMENT_BYTES`](homeward_activities::wire::outreach::MAX_ATTACHMENT_BYTES), or whose
/// bytes are not a PDF. Messages name the field, never a value.
mod gateway {
    use homeward_activities::consulate_pack::CONTENT_TYPE;
    use homeward_activities::wire::outreach::MAX_ATTACHMENT_BYTES;

    use super::*;

    fn refused(message: String) -> PartnerError {
        PartnerError::Refused {
            partner: "notifications",
            message,
        }
    }

    pub(super) fn attachments(message: &Message) -> Result<(), PartnerError> {
        if message.channel == Channel::Sms && !message.attachments.is_empty() {
            return Err(refused("attachments: an SMS carries none".into()));
        }
        for (i, a) in message.attachments.iter().enumerate() {
            if a.filename.trim().is_empty() {
                return Err(refused(format!("attachments[{i}].filename: is required")));
            }
            if a.content_type != CONTENT_TYPE {
                return Err(refused(format!(
                    "attachments[{i}].content_type: must be {CONTENT_TYPE}"
                )));
            }
            if a.content.len() > MAX_ATTACHMENT_BYTES {
                return Err(refused(format!(
                    "attachments[{i}].content: larger than {} MiB",
                    MAX_ATTACHMENT_BYTES / (1024 * 1024)
                )));
            }
            if !a.content.starts_with(b"%PDF-") {
                return Err(refused(format!("attachments[{i}].content: not a PDF")));
            }
        }
        Ok(())
    }
}

/// What a real travel partner refuses, refused here too, so the tests prove what one would
/// accept: airports it does not know, an infant without an adult to sit with, a passenger
/// without names or date of birth, a passenger the offer is not for. Messages name the field
/// as Duffel's errors do; they never carry a value a person gave.
mod strict {
    use super::*;

    fn refused(message: String) -> PartnerError {
        PartnerError::Refused {
            partner: "travel",
            message,
        }
    }

    pub(super) fn search(search: &Search) -> Result<(), PartnerError> {
        for (field, code) in [
            ("slices[0].origin", &search.origin),
            ("slices[0].destination", &search.destination),
        ] {
            if homeward_activities::airports::airport(code).is_none() {
                return Err(refused(format!("{field}: {code:?} is not an airport")));
            }
        }
        if search.origin == search.destination {
            return Err(refused("slices[0].destination: is the origin".into()));
        }
        if search.passengers.is_empty() {
            return Err(refused("passengers: at least one is required".into()));
        }
        let adults = search.passengers.iter().filter(|f| f.is_adult()).count();
        let infants = search
            .passengers
            .iter()
            .filter(|f| **f == Fare::InfantWithoutSeat)
            .count();
        if infants > adults {
            return Err(refused(
                "passengers: each infant_without_seat needs an adult of the party".into(),
            ));
        }
        Ok(())
    }

    pub(super) fn offer_passengers(offer_id: &str, fares: &[Fare]) -> Vec<OfferPassenger> {
        fares
            .iter()
            .enumerate()
            .map(|(i, fare)| OfferPassenger {
                id: format!("{offer_id}-p{i}"),
                fare: *fare,
            })
            .collect()
    }

    pub(super) fn order(
        offer: &[OfferPassenger],
        named: &[NamedPassenger],
    ) -> Result<(), PartnerError> {
        let fare_of = |id: &str| offer.iter().find(|o| o.id == id).map(|o| o.fare);
        let mut seen = BTreeSet::new();
        for (i, p) in named.iter().enumerate() {
            let Some(fare) = fare_of(&p.id) else {
                return Err(refused(format!(
                    "passengers[{i}].id: not a passenger of the offer"
                )));
            };
            if !seen.insert(p.id.as_str()) {
                return Err(refused(format!("passengers[{i}].id: named twice")));
            }
            for (field, value) in [
                ("given_name", &p.person.given_name),
                ("family_name", &p.person.family_name),
            ] {
                if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    return Err(refused(format!("passengers[{i}].{field}: is required")));
                }
            }
            if p.person.born_on.is_none() {
                return Err(refused(format!("passengers[{i}].born_on: is required")));
            }
            for (j, code) in p.services.iter().enumerate() {
                if !travel::known_service(code) {
                    return Err(refused(format!(
                        "passengers[{i}].special_service_requests[{j}].code: {code:?} is not a \
                         special service request"
                    )));
                }
                if code == travel::UNACCOMPANIED_MINOR && !matches!(fare, Fare::Child { .. }) {
                    return Err(refused(format!(
                        "passengers[{i}].special_service_requests[{j}].code: UMNR is for a child"
                    )));
                }
            }
            // An airline carries a child without an adult only in its unaccompanied-minor
            // service.
            let adults = offer.iter().any(|o| o.fare.is_adult());
            if matches!(fare, Fare::Child { .. })
                && !adults
                && !p.services.iter().any(|c| c == travel::UNACCOMPANIED_MINOR)
            {
                return Err(refused(format!(
                    "passengers[{i}].special_service_requests: a child without an adult on the \
                     order needs UMNR (unaccompanied minor)"
                )));
            }
            if let Some(infant) = &p.infant_passenger_id {
                if !fare.is_adult() {
                    return Err(refused(format!(
                        "passengers[{i}].infant_passenger_id: only an adult carries an infant"
                    )));
                }
                if fare_of(infant) != Some(Fare::InfantWithoutSeat) {
                    return Err(refused(format!(
                        "passengers[{i}].infant_passenger_id: not an infant of the offer"
                    )));
                }
            }
        }
        // Every infant the order names sits on exactly one adult's lap.
        for p in named
            .iter()
            .filter(|p| fare_of(&p.id) == Some(Fare::InfantWithoutSeat))
        {
            let carriers = named
                .iter()
                .filter(|a| a.infant_passenger_id.as_deref() == Some(p.id.as_str()))
                .count();
            if carriers != 1 {
                return Err(refused(format!(
                    "passengers: infant {} must be carried by one adult, not {carriers}",
                    p.id
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeward_activities::notices::Attachment;
    use homeward_workflows::activities::{Audience, Notice, NoticeTemplate};
    use homeward_workflows::domain::CaseRef;

    #[test]
    fn the_placeholder_offices_parse_and_say_they_are_placeholders() {
        let offices = placeholder_offices();
        for office in ["NLD", "GBR", "BEL", "DEU"] {
            let contact = offices.contact(office).expect(office);
            assert!(contact.email.as_str().ends_with(".example.org"), "{office}");
            assert!(contact.name.contains("placeholder"), "{office}");
        }
    }

    /// A restarted ledger remembers a notice's files by name, type and size; their bytes (a
    /// person's data) never reach the journal.
    #[tokio::test]
    async fn the_journal_keeps_an_attachments_name_type_and_size_never_its_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let ledger = LocalLedger::durable(Faults::default(), Journal::open(&url).await.unwrap())
            .await
            .expect("ledger");
        let mut message = Templates::builtin().render(&Notice {
            idempotency_key: "HW-0123456789AB:documents_requested:2".into(),
            reference: CaseRef::parse("HW-0123456789AB").expect("ref"),
            template: NoticeTemplate::DocumentsRequested,
            audience: Audience::Consulate,
            language: None,
            task: None,
            flight: None,
            safe_phone_only: false,
        });
        message.attachments.push(Attachment {
            filename: "HW-0123456789AB-travel-document-request.pdf".into(),
            content_type: "application/pdf".into(),
            content: b"%PDF-1.7 (HASSAN) Tj".to_vec(),
        });
        ledger.notify(&message, None).await.expect("accepted");
        drop(ledger);
        let journal = Journal::open(&url).await.unwrap();
        let again = LocalLedger::durable(Faults::default(), journal)
            .await
            .expect("reopened");
        let files = &again.snapshot().attachments["HW-0123456789AB:documents_requested:2"];
        assert_eq!(
            (
                files[0].filename.as_str(),
                files[0].size,
                files[0].content.len()
            ),
            ("HW-0123456789AB-travel-document-request.pdf", 20, 0)
        );
        // The journal's files (the database and its write-ahead log) hold the name, not the bytes.
        let mut seen = 0;
        for entry in std::fs::read_dir(dir.path()).expect("the journal's folder") {
            let stored = std::fs::read(entry.expect("a file").path()).expect("readable");
            seen += usize::from(stored.windows(15).any(|w| w == b"HW-0123456789AB"));
            assert!(
                !stored.windows(6).any(|w| w == b"HASSAN"),
                "no bytes stored"
            );
        }
        assert!(seen > 0, "the journal was written");
    }
}
