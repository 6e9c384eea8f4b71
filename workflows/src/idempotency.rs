//! Idempotency keys: every call that creates something outside (an order, a payment, a notice,
//! a hand-over, a cancellation) carries a key derived from the case and the step, never from a
//! random number or a clock, so a retried call finds what the first one made. Built and parsed
//! here only; the text forms are part of what partners store, so they never change.

use std::fmt;

use crate::activities::NoticeTemplate;
use crate::domain::CaseRef;

/// What follows a booking's or a cancellation's key for the escort's flight home, booked and
/// cancelled with the party's (`<ref>:booking:1:escort-return`).
pub const ESCORT_RETURN: &str = ":escort-return";

/// One idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyKey {
    /// `<ref>:booking:<attempt>`: the order of one booking attempt.
    Booking {
        /// The case.
        reference: CaseRef,
        /// 1 for the first booking, 2 after a rebooking, ….
        attempt: u32,
    },
    /// `<ref>:cancel:<order id>`: cancelling that order.
    Cancel {
        /// The case.
        reference: CaseRef,
        /// The partner's order id.
        order_id: String,
    },
    /// `<ref>:tranche:<name>` (first attempt) or `<ref>:tranche:<name>:<attempt>` (after the
    /// provider reported the payment failed): one payment of a tranche.
    Tranche {
        /// The case.
        reference: CaseRef,
        /// The tranche's name (programme file).
        tranche: String,
        /// 1, or more after a failed payment.
        attempt: u32,
    },
    /// `<ref>:<template>:<n>`: the case's n-th notice.
    Notice {
        /// The case.
        reference: CaseRef,
        /// Which notice.
        template: NoticeTemplate,
        /// The case's count of notices sent, this one included.
        n: u32,
    },
    /// `<ref>:handover:<order id>`: the hand-over record for that flight.
    HandOver {
        /// The case.
        reference: CaseRef,
        /// The booked order's id (empty if none).
        order_id: String,
    },
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Booking { reference, attempt } => write!(f, "{reference}:booking:{attempt}"),
            Self::Cancel {
                reference,
                order_id,
            } => write!(f, "{reference}:cancel:{order_id}"),
            Self::Tranche {
                reference,
                tranche,
                attempt: 1,
            } => write!(f, "{reference}:tranche:{tranche}"),
            Self::Tranche {
                reference,
                tranche,
                attempt,
            } => write!(f, "{reference}:tranche:{tranche}:{attempt}"),
            Self::Notice {
                reference,
                template,
                n,
            } => write!(f, "{reference}:{template}:{n}"),
            Self::HandOver {
                reference,
                order_id,
            } => write!(f, "{reference}:handover:{order_id}"),
        }
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> Self {
        k.to_string()
    }
}

impl IdempotencyKey {
    /// Reads a key this module built; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (reference, rest) = raw.split_once(':')?;
        let reference = CaseRef::parse(reference).ok()?;
        let (step, tail) = rest.split_once(':')?;
        match step {
            "booking" => Some(Self::Booking {
                reference,
                attempt: tail.parse().ok()?,
            }),
            "cancel" => Some(Self::Cancel {
                reference,
                order_id: tail.to_owned(),
            }),
            "handover" => Some(Self::HandOver {
                reference,
                order_id: tail.to_owned(),
            }),
            "tranche" => {
                let (tranche, attempt) = match tail.rsplit_once(':') {
                    Some((name, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
                        (name.to_owned(), n.parse().ok()?)
                    }
                    _ => (tail.to_owned(), 1),
                };
                Some(Self::Tranche {
                    reference,
                    tranche,
                    attempt,
                })
            }
            template => NoticeTemplate::ALL
                .into_iter()
                .find(|t| t.as_str() == template)
                .and_then(|template| {
                    Some(Self::Notice {
                        reference,
                        template,
                        n: tail.parse().ok()?,
                    })
                }),
        }
    }

    /// The case the key belongs to.
    pub fn reference(&self) -> &CaseRef {
        match self {
            Self::Booking { reference, .. }
            | Self::Cancel { reference, .. }
            | Self::Tranche { reference, .. }
            | Self::Notice { reference, .. }
            | Self::HandOver { reference, .. } => reference,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_text_forms_partners_have_stored_and_parse_back() {
        let r = CaseRef::parse("HW-0123456789AB").unwrap();
        let cases = [
            (
                IdempotencyKey::Booking {
                    reference: r.clone(),
                    attempt: 2,
                },
                "HW-0123456789AB:booking:2",
            ),
            (
                IdempotencyKey::Cancel {
                    reference: r.clone(),
                    order_id: "ord_1".into(),
                },
                "HW-0123456789AB:cancel:ord_1",
            ),
            (
                IdempotencyKey::Tranche {
                    reference: r.clone(),
                    tranche: "six-month-review".into(),
                    attempt: 1,
                },
                "HW-0123456789AB:tranche:six-month-review",
            ),
            (
                IdempotencyKey::Tranche {
                    reference: r.clone(),
                    tranche: "start".into(),
                    attempt: 3,
                },
                "HW-0123456789AB:tranche:start:3",
            ),
            (
                IdempotencyKey::Notice {
                    reference: r.clone(),
                    template: NoticeTemplate::FlightBooked,
                    n: 4,
                },
                "HW-0123456789AB:flight_booked:4",
            ),
            (
                IdempotencyKey::HandOver {
                    reference: r.clone(),
                    order_id: String::new(),
                },
                "HW-0123456789AB:handover:",
            ),
        ];
        for (key, text) in cases {
            assert_eq!(key.to_string(), text);
            assert_eq!(IdempotencyKey::parse(text), Some(key), "{text}");
        }
        assert_eq!(IdempotencyKey::parse("HW-0123456789AB:unknown:1"), None);
        assert_eq!(IdempotencyKey::parse("nonsense"), None);
    }
}
