//! The outreach partners' wire formats:
//! - the notification gateway: `POST /messages` (with `Idempotency-Key`), a [`Message`],
//!   answered by an [`Accepted`] (`queued`); an e-mail may carry [`Attachment`]s (base64, a PDF,
//!   at most [`MAX_ATTACHMENT_BYTES`] each);
//! - the reception partner: `POST /handovers` (with `Idempotency-Key`), a [`HandOver`],
//!   answered by an [`Accepted`] (`received`);
//! - the gateway's delivery receipts, posted to Homeward's `/api/v1/webhooks/messages` and
//!   signed like the payment provider's webhooks: a [`ReceiptEvent`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use homeward_workflows::activities::{self as contract, Audience, NoticeTemplate};

use crate::notices::{self, Channel};

/// A rendered notice for the gateway. The gateway resolves the audience of a case to its
/// recipients' addresses (it keeps the contact book): Homeward never sends an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Files sent with an e-mail (the consulate's request pack); absent: none, so every other
    /// message is the bytes it always was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// SMS or e-mail.
    pub channel: Channel,
    /// The text's language (ISO 639-1).
    pub language: String,
    /// The subject line.
    pub subject: String,
    /// Which notice it is.
    pub template: NoticeTemplate,
    /// The text, rendered (no personal data but the case reference).
    pub text: String,
    /// Who it is for.
    pub to: Recipient,
}

/// The largest attachment the gateway takes, in bytes (decoded).
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;

/// A file sent with a message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The bytes, base64 (standard alphabet, padded).
    pub content: String,
    /// The media type: `application/pdf`.
    pub content_type: String,
    /// The file's name (no personal data: the case reference names it).
    pub filename: String,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Attachment {{ filename: {:?}, content_type: {:?}, .. }}",
            self.filename, self.content_type
        )
    }
}

impl Attachment {
    /// The bytes, if `content` is base64.
    pub fn decoded(&self) -> Option<Vec<u8>> {
        STANDARD.decode(self.content.as_bytes()).ok()
    }
}

impl From<&notices::Attachment> for Attachment {
    fn from(a: &notices::Attachment) -> Self {
        Self {
            content: STANDARD.encode(&a.content),
            content_type: a.content_type.clone(),
            filename: a.filename.clone(),
        }
    }
}

/// Who a message is for: an audience of a case, and for an SMS the returnee's number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The role or partner whose contacts the gateway uses.
    pub audience: Audience,
    /// The case reference (`HW-…`).
    pub case: String,
    /// E.164, for an SMS (absent for e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Recipient {{ audience: {:?}, case: {}, .. }}",
            self.audience, self.case
        )
    }
}

impl Message {
    /// The message addressed to `phone` (an SMS).
    pub fn to_phone(mut self, phone: Option<&str>) -> Self {
        self.to.phone_number = phone.map(str::to_owned);
        self
    }
}

impl From<&notices::Message> for Message {
    fn from(message: &notices::Message) -> Self {
        let notice = &message.notice;
        Self {
            attachments: message.attachments.iter().map(Attachment::from).collect(),
            channel: message.channel,
            language: message.language.clone(),
            subject: message.subject.clone(),
            template: notice.template,
            text: message.text.clone(),
            to: Recipient {
                audience: notice.audience,
                case: notice.reference.as_str().to_owned(),
                phone_number: None,
            },
        }
    }
}

/// The answer to a message or a hand-over (the clients do not read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// `queued` (a message) or `received` (a hand-over).
    pub status: String,
}

/// The record the reception partner receives when a departure is booked: the arrival, and the
/// people who agreed to share with it (`crate::sharing` decides what). Fields in the order
/// they have always been sent; `people` last, and absent when no one is shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOver {
    /// `<ref>:handover:<order id>`, also sent as the `Idempotency-Key` header.
    pub idempotency_key: String,
    /// The case reference (`HW-…`).
    pub reference: String,
    /// Where they arrive (ISO alpha-3).
    pub origin_country: String,
    /// When they are expected.
    pub arrives_at: DateTime<Utc>,
    /// How many people.
    pub household_size: u8,
    /// Whether a child must be handed over to family or a guardian.
    pub unaccompanied_child: bool,
    /// Whether medical assistance on arrival is needed.
    pub medical_assistance: bool,
    /// The members who agreed to share their data with the reception partner, to meet and
    /// call them (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Arriving>,
}

/// A person the reception partner meets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arriving {
    /// Place and region of final destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Family name.
    pub family_name: String,
    /// Given names.
    pub given_name: String,
    /// E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl std::fmt::Debug for Arriving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Arriving { .. }")
    }
}

impl HandOver {
    /// The hand-over with the people who agreed to share (see `crate::sharing`).
    pub fn with_people(mut self, people: &[crate::sharing::Shared]) -> Self {
        self.people = people
            .iter()
            .map(|p| Arriving {
                destination: p.destination.clone(),
                family_name: p.family_name.clone().unwrap_or_default(),
                given_name: p.given_name.clone().unwrap_or_default(),
                phone_number: p.phone.clone(),
            })
            .collect();
        self
    }
}

impl From<&contract::HandOver> for HandOver {
    fn from(record: &contract::HandOver) -> Self {
        Self {
            idempotency_key: record.idempotency_key.clone(),
            reference: record.reference.as_str().to_owned(),
            origin_country: record.origin_country.as_str().to_owned(),
            arrives_at: record.arrives_at,
            household_size: record.household_size,
            unaccompanied_child: record.unaccompanied_child,
            medical_assistance: record.medical_assistance,
            people: vec![],
        }
    }
}

/// The type of a delivery receipt event.
pub const MESSAGE_STATUS: &str = "message.status";

/// A delivery receipt: the gateway says what became of a message (by its idempotency key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEvent {
    /// The message it is about.
    #[serde(default)]
    pub data: ReceiptData,
    /// The event's id: a gateway that sends the same receipt again sends the same id.
    #[serde(default)]
    pub id: String,
    /// [`MESSAGE_STATUS`].
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// The message a [`ReceiptEvent`] is about. No recipient: the receipt names the message only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptData {
    /// The carrier's reason when it was not delivered (e.g. `unknown_subscriber`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The message's `Idempotency-Key` (`<ref>:<template>:<n>`).
    #[serde(default)]
    pub idempotency_key: String,
    /// The case reference.
    #[serde(default)]
    pub reference: String,
    /// `delivered`, `failed` or `undelivered`.
    #[serde(default)]
    pub status: String,
}

impl ReceiptEvent {
    /// The receipt for a message's key, status and error. Its id names the message and status.
    pub fn new(reference: &str, key: &str, status: &str, error_code: Option<&str>) -> Self {
        Self {
            data: ReceiptData {
                error_code: error_code.map(str::to_owned),
                idempotency_key: key.to_owned(),
                reference: reference.to_owned(),
                status: status.to_owned(),
            },
            id: format!("evt_{key}_{status}"),
            kind: MESSAGE_STATUS.to_owned(),
        }
    }
}
