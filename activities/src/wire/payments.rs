//! The payment provider's wire format:
//! - `POST /disbursements` (with `Idempotency-Key`): [`CreateDisbursement`], answered by a
//!   [`Disbursement`];
//! - `GET /disbursements/{id}`: answered by a [`Disbursement`];
//! - the provider's webhook to Homeward: an [`Event`] (`disbursement.updated`), signed as
//!   `http_partners::payment_webhook` describes.
//!
//! A disbursement's `status` is one of the provider's words, read by [`payment_state`].

use serde::{Deserialize, Serialize};

use homeward_workflows::activities::{self as contract, PaymentState};
use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::{Iban, Payout, Phone};
use homeward_workflows::programme::PaymentKind;

use super::from_minor;

/// A payment to make (once per `Idempotency-Key`, however often it is sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDisbursement {
    /// The amount, as a decimal string (`"1500.00"`): exact, unlike a JSON number.
    pub amount: String,
    /// Who is paid, when the principal applicant agreed to share with the provider (absent:
    /// the provider pays against the case reference, as agreed with the office).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<Beneficiary>,
    /// ISO 4217 (absent reads as EUR, as the sandbox always assumed).
    #[serde(default = "euro")]
    pub currency: String,
    /// In cash or in kind.
    pub kind: PaymentKind,
    /// Where the payment goes: for cash, the returnee's bank account, mobile-money wallet, or a
    /// cash pick-up against a document; for in-kind support, the supplier against its invoice
    /// (absent only on in-kind payments made before suppliers were named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee: Option<Payee>,
    /// The case reference (`HW-…`).
    pub reference: String,
    /// The tranche's name in the programme, e.g. `start` (absent reads as empty).
    #[serde(default)]
    pub tranche: String,
}

/// The person a payment goes to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    /// Family name.
    pub family_name: String,
    /// Given names.
    pub given_name: String,
    /// E.164 (a mobile-money account, where that is how the provider pays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl std::fmt::Debug for Beneficiary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Beneficiary { .. }")
    }
}

/// Where a cash payment goes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payee {
    /// A bank transfer.
    BankAccount {
        /// The IBAN (electronic form).
        iban: String,
    },
    /// A mobile-money wallet.
    MobileMoney {
        /// E.164.
        phone_number: String,
    },
    /// Cash handed over by the provider's agent to whoever shows this document of the case's
    /// returnee (`travel_document`: the one the return was made on).
    CashPickup {
        /// `passport`, `national_id`, `laissez_passer`, `residence_permit`,
        /// `birth_certificate` or `travel_document`.
        document_type: String,
    },
    /// In-kind support: a bank transfer to the supplier, against its invoice.
    Supplier {
        /// The business's name, as on its invoice.
        name: String,
        /// Its IBAN (electronic form).
        iban: String,
        /// The supplier's invoice number.
        invoice_reference: String,
    },
}

impl std::fmt::Debug for Payee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Payee { .. }")
    }
}

impl CreateDisbursement {
    /// The payment to a named beneficiary (see `crate::sharing`), and for cash its payee: the
    /// way the beneficiary asked to be paid, else a cash pick-up against the travel document.
    pub fn to_beneficiary(mut self, person: Option<&crate::sharing::Shared>) -> Self {
        self.beneficiary = person.map(|p| Beneficiary {
            family_name: p.family_name.clone().unwrap_or_default(),
            given_name: p.given_name.clone().unwrap_or_default(),
            phone_number: p.phone.clone(),
        });
        self.payee = (self.kind == PaymentKind::Cash).then(|| {
            match person.and_then(|p| p.payout.as_ref()) {
                Some(Payout::BankAccount { iban }) => Payee::BankAccount {
                    iban: iban.as_str().to_owned(),
                },
                Some(Payout::MobileMoney { phone }) => Payee::MobileMoney {
                    phone_number: phone.as_str().to_owned(),
                },
                Some(Payout::CashPickup { document }) => Payee::CashPickup {
                    document_type: serde_json::to_value(document)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "travel_document".into()),
                },
                None => Payee::CashPickup {
                    document_type: "travel_document".into(),
                },
            }
        });
        self
    }

    /// An in-kind payment to `supplier`, against the invoice the disbursement names.
    pub fn to_supplier(
        mut self,
        supplier: Option<&crate::suppliers::Supplier>,
        invoice: Option<&contract::Invoice>,
    ) -> Self {
        if let (PaymentKind::InKind, Some(s), Some(i)) = (self.kind, supplier, invoice) {
            self.payee = Some(Payee::Supplier {
                name: s.name.clone(),
                iban: s.iban.clone(),
                invoice_reference: i.invoice_reference.clone(),
            });
        }
        self
    }

    /// What a strict provider refuses in a payment, naming the field: cash without a payee or
    /// paid to a supplier, in-kind support not paid to a supplier, an IBAN that does not
    /// validate, a wallet number that is not E.164, an invoice without its number.
    pub fn refusal(&self) -> Option<String> {
        match (&self.kind, &self.payee) {
            (PaymentKind::Cash, None) => Some("payee: is required for a cash payment".into()),
            (PaymentKind::Cash, Some(Payee::Supplier { .. })) => {
                Some("payee.type: cash goes to the returnee, not a supplier".into())
            }
            (PaymentKind::InKind, p) if !matches!(p, Some(Payee::Supplier { .. })) => {
                Some("payee: in-kind support is paid to a supplier against an invoice".into())
            }
            (_, Some(Payee::Supplier { name, .. })) if name.trim().is_empty() => {
                Some("payee.name: is required".into())
            }
            (
                _,
                Some(Payee::Supplier {
                    invoice_reference, ..
                }),
            ) if invoice_reference.trim().is_empty() => {
                Some("payee.invoice_reference: is required".into())
            }
            (_, Some(Payee::BankAccount { iban } | Payee::Supplier { iban, .. })) => {
                Iban::parse(iban)
                    .err()
                    .map(|_| "payee.iban: is not a valid IBAN".into())
            }
            (_, Some(Payee::MobileMoney { phone_number })) => Phone::parse(phone_number)
                .err()
                .map(|_| "payee.phone_number: must be E.164, e.g. +9647701234567".into()),
            _ => None,
        }
    }
}

fn euro() -> String {
    "EUR".into()
}

impl From<&contract::Disbursement> for CreateDisbursement {
    fn from(request: &contract::Disbursement) -> Self {
        Self {
            amount: from_minor(request.amount.minor),
            beneficiary: None,
            payee: None,
            currency: request.amount.currency.clone(),
            kind: request.kind,
            reference: request.reference.as_str().to_owned(),
            tranche: request.tranche.clone(),
        }
    }
}

/// A disbursement and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disbursement {
    /// The provider's payment id.
    pub id: String,
    /// The provider's word for its state (see [`payment_state`]).
    pub status: String,
}

/// The provider's status words: `pending`/`processing`, `confirmed`/`paid`,
/// `failed`/`rejected`/`returned`; any other word is unknown (`None`).
pub fn payment_state(status: &str) -> Option<PaymentState> {
    match status {
        "confirmed" | "paid" => Some(PaymentState::Confirmed),
        "failed" | "rejected" | "returned" => Some(PaymentState::Failed),
        "pending" | "processing" => Some(PaymentState::Pending),
        _ => None,
    }
}

/// The word the sandbox uses for a state.
pub fn status_word(state: PaymentState) -> &'static str {
    match state {
        PaymentState::Pending => "pending",
        PaymentState::Confirmed => "confirmed",
        PaymentState::Failed => "failed",
    }
}

/// The event type of a disbursement's change of state.
pub const DISBURSEMENT_UPDATED: &str = "disbursement.updated";

/// The provider's webhook event. Read leniently: an absent field reads as empty, and
/// `payment_webhook::read` refuses what it needs field by field, naming it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The disbursement it is about.
    #[serde(default)]
    pub data: EventData,
    /// The event's id: a provider that sends the same event again sends the same id.
    #[serde(default)]
    pub id: String,
    /// [`DISBURSEMENT_UPDATED`] (not read: only disbursements have webhooks).
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// The disbursement an [`Event`] is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    /// The provider's payment id.
    #[serde(default)]
    pub id: String,
    /// The payment's idempotency key (not read: the case knows its keys).
    #[serde(default)]
    pub idempotency_key: String,
    /// The case reference.
    #[serde(default)]
    pub reference: String,
    /// The provider's word for the new state.
    #[serde(default)]
    pub status: String,
}

impl Event {
    /// The event announcing a disbursement's state. Its id names the payment and the state.
    pub fn disbursement_updated(
        payment_id: &str,
        state: PaymentState,
        reference: &CaseRef,
        idempotency_key: &str,
    ) -> Self {
        let status = status_word(state);
        Self {
            data: EventData {
                id: payment_id.to_owned(),
                idempotency_key: idempotency_key.to_owned(),
                reference: reference.as_str().to_owned(),
                status: status.to_owned(),
            },
            id: format!("evt_{payment_id}_{status}"),
            kind: DISBURSEMENT_UPDATED.to_owned(),
        }
    }
}
