//! Each partner client against a fake HTTP server (wiremock on port 0): success, retryable
//! failure, permanent failure, and the idempotency key on the wire.

use std::time::Duration;

use chrono::NaiveDate;
use homeward_activities::http_partners::{Endpoint, HttpPartner};
use homeward_activities::notices::Templates;
use homeward_activities::partners::{Outreach, PartnerError, PaymentProvider, TravelPartner};
use homeward_workflows::activities::{
    Audience, CancelRequest, Disbursement, Notice, NoticeTemplate, OfferRequest, OrderRequest,
};
use homeward_workflows::domain::{CaseRef, CountryCode};
use homeward_workflows::programme::{Money, PaymentKind};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer, name: &'static str) -> HttpPartner {
    HttpPartner::new(
        name,
        Endpoint {
            base_url: server.uri().parse().expect("url"),
            token: Some("secret-token".into()),
            timeout: Duration::from_millis(500),
        },
    )
    .expect("client")
}

fn reference() -> CaseRef {
    CaseRef::parse("HW-0123456789AB").expect("ref")
}

/// A search for two adults from Amsterdam to Baghdad (the offices' and countries' defaults).
fn offer_request() -> homeward_activities::travel::Search {
    let request = OfferRequest {
        reference: reference(),
        from_country: CountryCode::parse("NLD").unwrap(),
        to_country: CountryCode::parse("IRQ").unwrap(),
        earliest: NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
        latest: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        travellers: 2,
        medical_escort: false,
        child_escort: false,
    };
    homeward_activities::travel::Routes::default()
        .search(&request, &[])
        .expect("search")
}

#[tokio::test]
async fn offers_are_read_with_exact_amounts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/air/offer_requests"))
        .and(header("authorization", "Bearer secret-token"))
        .and(body_partial_json(json!({"data": {"slices": [{"origin": "AMS", "destination": "BGW"}]}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "orq_1", "offers": [
            {"id": "off_1", "total_amount": "612.40", "total_currency": "EUR", "departing_at": "2027-01-12T09:00:00Z"}
        ]}})))
        .expect(1)
        .mount(&server)
        .await;
    let offers = client(&server, "travel")
        .search_offers(&offer_request())
        .await
        .expect("offers");
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].total.minor, 61240);
}

/// Duffel's shapes (<https://duffel.com/docs/api/v2/offer-requests>, `/offers/{id}`,
/// `/orders`): a family of two adults and an infant is searched as two adults and an
/// `infant_without_seat` between IATA airports, and booked by the offer's passenger ids with
/// names, birth dates, gender, title, contact, passport, the infant on the mother's lap and
/// the father's wheelchair (the SSR `WCHS`, this contract's addition to Duffel's order).
#[tokio::test]
async fn a_family_is_searched_by_fare_and_booked_by_name_as_duffel_documents() {
    use homeward_activities::sharing::Shared;
    use homeward_activities::travel::{Routes, name_passengers};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/air/offer_requests"))
        .and(body_partial_json(json!({"data": {
            "passengers": [{"type": "adult"}, {"type": "adult"}, {"type": "infant_without_seat"}],
            "slices": [{"origin": "AMS", "destination": "EBL", "departure_date": "2027-01-10"}]
        }})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"offers": [
                {"id": "off_1", "total_amount": "640.00", "total_currency": "EUR",
                 "departing_at": "2027-01-12T09:00:00Z"}
            ]}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/air/offers/off_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": "off_1", "total_amount": "640.00", "total_currency": "EUR",
            "departing_at": "2027-01-12T09:00:00Z",
            "passengers": [{"id": "pas_a", "type": "adult"}, {"id": "pas_b", "type": "adult"},
                           {"id": "pas_i", "type": "infant_without_seat"}]
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/air/orders"))
        .and(body_partial_json(json!({"data": {"passengers": [
            {"id": "pas_a", "given_name": "Amal", "family_name": "Hassan", "born_on": "1990-05-31",
             "gender": "f", "title": "ms", "phone_number": "+9647701234567",
             "email": "amal@example.org", "infant_passenger_id": "pas_i",
             "identity_documents": [{"type": "passport", "unique_identifier": "A1234567",
                                     "issuing_country_code": "IQ", "expires_on": "2031-05-31"}]},
            {"id": "pas_b", "given_name": "Omar", "family_name": "Hassan", "born_on": "1987-02-01",
             "gender": "m", "title": "mr", "special_service_requests": [{"code": "WCHS"}]},
            {"id": "pas_i", "given_name": "Lina", "family_name": "Hassan", "born_on": "2026-06-01"}
        ], "selected_offers": ["off_1"]}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "id": "ord_1", "total_amount": "640.00", "total_currency": "EUR",
            "departing_at": "2027-01-12T09:00:00Z"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let date = |s: &str| s.parse::<NaiveDate>().ok();
    let member = |member, given: &str, born: &str, sex| Shared {
        member,
        given_name: Some(given.into()),
        family_name: Some("Hassan".into()),
        born_on: date(born),
        sex,
        ..Shared::default()
    };
    let family = vec![
        Shared {
            phone: Some("+9647701234567".into()),
            email: Some("amal@example.org".into()),
            passport: Some(("A1234567".into(), "IRQ".into(), date("2031-05-31"))),
            nearest_airport: Some("EBL".into()),
            ..member(0, "Amal", "1990-05-31", Some("f"))
        },
        Shared {
            assistance: vec![homeward_workflows::person::Assistance::WheelchairSteps],
            ..member(1, "Omar", "1987-02-01", Some("m"))
        },
        member(2, "Lina", "2026-06-01", None),
    ];
    let mut request = OfferRequest {
        reference: reference(),
        from_country: CountryCode::parse("NLD").unwrap(),
        to_country: CountryCode::parse("IRQ").unwrap(),
        earliest: NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
        latest: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        travellers: 3,
        medical_escort: false,
        child_escort: false,
    };
    let travel = client(&server, "travel");
    let search = Routes::default().search(&request, &family).expect("search");
    travel.search_offers(&search).await.expect("offers");
    let offer = travel.offer_passengers("off_1").await.expect("passengers");
    let named = name_passengers(&offer, &family).expect("named");
    travel
        .create_order(
            &OrderRequest {
                idempotency_key: "k".into(),
                reference: reference(),
                offer_id: "off_1".into(),
                escort_return_offer_id: None,
            },
            &named,
        )
        .await
        .expect("order");
    // (The search's three seats were typed from the records, not from `travellers`.)
    request.travellers = 0;
    assert_eq!(
        Routes::default()
            .search(&request, &family)
            .expect("search")
            .passengers
            .len(),
        3
    );
}

#[tokio::test]
async fn an_answer_larger_than_a_megabyte_is_refused_not_read_into_memory() {
    let server = MockServer::start().await;
    let padding = "x".repeat(homeward_activities::http_partners::MAX_RESPONSE_BYTES + 1);
    Mock::given(method("POST"))
        .and(path("/air/offer_requests"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": "orq_1", "offers": [], "padding": padding}})),
        )
        .mount(&server)
        .await;
    let err = client(&server, "travel")
        .search_offers(&offer_request())
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, PartnerError::Refused { message, .. } if message.contains("larger than")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_order_carries_its_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/air/orders"))
        .and(header("idempotency-key", "HW-0123456789AB:booking:1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "id": "ord_1", "total_amount": "612.40", "total_currency": "EUR",
            "departing_at": "2027-01-12T09:00:00Z"
        }})))
        .expect(2)
        .mount(&server)
        .await;
    let travel = client(&server, "travel");
    let request = OrderRequest {
        idempotency_key: "HW-0123456789AB:booking:1".into(),
        reference: reference(),
        offer_id: "off_1".into(),
        escort_return_offer_id: None,
    };
    // A retry sends the same key, so the partner can answer with the same order.
    let first = travel.create_order(&request, &[]).await.expect("order");
    let again = travel.create_order(&request, &[]).await.expect("order");
    assert_eq!(first, again);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable_and_honour_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/disbursements"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&server)
        .await;
    let request = Disbursement {
        idempotency_key: "HW-0123456789AB:tranche:start".into(),
        reference: reference(),
        tranche: "start".into(),
        kind: PaymentKind::InKind,
        amount: Money {
            minor: 150000,
            currency: "EUR".into(),
        },
        invoice: None,
    };
    let err = client(&server, "payments")
        .disburse(&request, None, None)
        .await
        .unwrap_err();
    match err {
        PartnerError::Unavailable { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("expected retryable, got {other:?}"),
    }
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    assert!(matches!(
        client(&server, "payments")
            .disburse(&request, None, None)
            .await,
        Err(PartnerError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn an_sms_goes_out_rendered_in_the_returnees_language_to_their_number_alone() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/messages"))
        .and(header("Idempotency-Key", "HW-0123456789AB:flight_booked:3"))
        .and(body_partial_json(json!({
            "channel": "sms",
            "to": {"audience": "returnee", "case": "HW-0123456789AB",
                   "phone_number": "+989121234567"},
            "template": "flight_booked",
            "language": "fa",
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"status": "queued"})))
        .expect(1)
        .mount(&server)
        .await;
    let notice = Notice {
        idempotency_key: "HW-0123456789AB:flight_booked:3".into(),
        reference: reference(),
        template: NoticeTemplate::FlightBooked,
        audience: Audience::Returnee,
        language: Some(homeward_workflows::domain::Language::parse("FA").expect("fa")),
        task: None,
        flight: None,
        safe_phone_only: false,
    };
    let message = Templates::builtin().render(&notice);
    client(&server, "notifications")
        .notify(&message, Some("+989121234567"))
        .await
        .expect("sent");
    let sent = &server.received_requests().await.expect("recorded")[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).expect("json");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("پرواز") && text.contains("HW-0123456789AB"),
        "{text}"
    );
    // The audience, the case and the number: no name, nothing else of the person.
    assert_eq!(body["to"].as_object().map(|o| o.len()), Some(3), "{body}");
}

/// The consulate's request pack travels as the gateway documents it: `attachments`, each with
/// its file name, `application/pdf` and the bytes in base64; nothing else of a person is on the
/// message (no recipient, no name outside the PDF).
#[tokio::test]
async fn the_request_pack_is_sent_as_a_base64_pdf_attachment() {
    use base64::Engine as _;
    use homeward_activities::consulate_pack::ConsulatePack;
    use homeward_activities::sharing::Shared;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/messages"))
        .and(header(
            "Idempotency-Key",
            "HW-0123456789AB:documents_requested:5",
        ))
        .and(body_partial_json(json!({
            "channel": "email",
            "template": "documents_requested",
            "to": {"audience": "consulate", "case": "HW-0123456789AB"},
            "attachments": [{
                "content_type": "application/pdf",
                "filename": "HW-0123456789AB-travel-document-request.pdf",
            }],
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"status": "queued"})))
        .expect(1)
        .mount(&server)
        .await;
    let notice = Notice {
        idempotency_key: "HW-0123456789AB:documents_requested:5".into(),
        reference: reference(),
        template: NoticeTemplate::DocumentsRequested,
        audience: Audience::Consulate,
        language: None,
        task: None,
        flight: None,
        safe_phone_only: false,
    };
    let mut message = Templates::builtin().render(&notice);
    let office: homeward_activities::offices::OfficeContact = serde_json::from_value(json!({
        "name": "Return office The Hague (placeholder)",
        "email": "returns@nld.example.org",
        "phone": "+31700000000",
    }))
    .expect("office");
    let pack = ConsulatePack {
        reference: reference(),
        language: message.language.clone(),
        office,
        members: vec![Shared {
            given_name: Some("Amal".into()),
            family_name: Some("HASSAN".into()),
            ..Shared::default()
        }],
    };
    let pdf = pack.attachment();
    message.attachments.push(pdf.clone());
    client(&server, "notifications")
        .notify(&message, None)
        .await
        .expect("sent");
    let sent = &server.received_requests().await.expect("recorded")[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).expect("json");
    let files = body["attachments"].as_array().expect("attachments");
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].as_object().map(|o| o.len()),
        Some(3),
        "content, content_type, filename: {}",
        files[0]["filename"]
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(files[0]["content"].as_str().expect("base64 text"))
        .expect("standard base64");
    assert_eq!(bytes, pdf.content, "the PDF, byte for byte");
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(
        body["text"]
            .as_str()
            .unwrap_or_default()
            .contains("attached")
    );
    // The names are inside the PDF only; the recipient is the case's audience.
    let outside: serde_json::Value =
        json!({"text": body["text"], "subject": body["subject"], "to": body["to"]});
    assert!(!outside.to_string().contains("HASSAN"), "{outside}");
    assert_eq!(
        body["to"].as_object().map(|o| o.len()),
        Some(2),
        "{}",
        body["to"]
    );
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let notice = Notice {
        idempotency_key: "HW-0123456789AB:documents_reminder:1".into(),
        reference: reference(),
        template: NoticeTemplate::DocumentsReminder,
        audience: Audience::Consulate,
        language: None,
        task: None,
        flight: None,
        safe_phone_only: false,
    };
    let message = Templates::builtin().render(&notice);
    assert!(matches!(
        client(&server, "notifications")
            .notify(&message, None)
            .await,
        Err(PartnerError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn a_4xx_is_permanent_and_carries_the_partners_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/air/orders"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "errors": [{"message": "The selected offer has expired"}]
        })))
        .mount(&server)
        .await;
    let err = client(&server, "travel")
        .create_order(
            &OrderRequest {
                idempotency_key: "k".into(),
                reference: reference(),
                offer_id: "off_old".into(),
                escort_return_offer_id: None,
            },
            &[],
        )
        .await
        .unwrap_err();
    match err {
        PartnerError::Refused { message, .. } => {
            assert!(message.contains("offer has expired"), "{message}");
        }
        other => panic!("expected permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn payment_states_are_answers_and_an_unknown_state_is_permanent() {
    use homeward_workflows::activities::PaymentState;
    let server = MockServer::start().await;
    for (tranche, status) in [("start", "pending"), ("cash", "failed"), ("odd", "lost")] {
        Mock::given(method("POST"))
            .and(path("/disbursements"))
            .and(body_partial_json(json!({"tranche": tranche})))
            .respond_with(
                ResponseTemplate::new(202)
                    .set_body_json(json!({"id": format!("dis_{tranche}"), "status": status})),
            )
            .mount(&server)
            .await;
    }
    let payments = client(&server, "payments");
    let request = |tranche: &str| Disbursement {
        idempotency_key: format!("HW-0123456789AB:tranche:{tranche}"),
        reference: reference(),
        tranche: tranche.into(),
        kind: PaymentKind::InKind,
        amount: Money {
            minor: 150000,
            currency: "EUR".into(),
        },
        invoice: None,
    };
    // Pending is an answer: the case waits for the webhook or polls; it does not pay again.
    let receipt = payments
        .disburse(&request("start"), None, None)
        .await
        .expect("pending");
    assert_eq!(
        (receipt.payment_id.as_str(), receipt.state),
        ("dis_start", PaymentState::Pending)
    );
    let receipt = payments
        .disburse(&request("cash"), None, None)
        .await
        .expect("failed");
    assert_eq!(receipt.state, PaymentState::Failed);
    let err = payments
        .disburse(&request("odd"), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PartnerError::Refused { message, .. } if message.contains("lost")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_orders_status_shows_a_cancellation() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/air/orders/ord_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": "ord_1", "total_amount": "612.40", "total_currency": "EUR",
            "departing_at": "2027-01-12T09:00:00Z", "cancelled_at": "2027-01-05T10:00:00Z"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/air/orders/ord_2"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"title": "not found", "message": "no order ord_2"}]}),
        ))
        .mount(&server)
        .await;
    let travel = client(&server, "travel");
    let status = travel.order_status("ord_1").await.expect("status");
    assert!(status.cancelled);
    assert_eq!(status.departs_at.to_rfc3339(), "2027-01-12T09:00:00+00:00");
    // An unknown order is a permanent answer, for a person to look at, not a retry.
    let err = travel.order_status("ord_2").await.unwrap_err();
    assert!(matches!(err, PartnerError::Refused { .. }), "{err:?}");
}

#[tokio::test]
async fn a_disbursements_status_is_read_and_an_unknown_one_refused() {
    use homeward_workflows::activities::PaymentState;
    let server = MockServer::start().await;
    for (id, status) in [
        ("pay_1", "pending"),
        ("pay_2", "confirmed"),
        ("pay_3", "failed"),
        ("pay_4", "lost"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/disbursements/{id}")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "status": status})),
            )
            .mount(&server)
            .await;
    }
    let payments = client(&server, "payments");
    assert_eq!(
        payments.disbursement_status("pay_1").await.unwrap(),
        PaymentState::Pending
    );
    assert_eq!(
        payments.disbursement_status("pay_2").await.unwrap(),
        PaymentState::Confirmed
    );
    assert_eq!(
        payments.disbursement_status("pay_3").await.unwrap(),
        PaymentState::Failed
    );
    let err = payments.disbursement_status("pay_4").await.unwrap_err();
    assert!(matches!(err, PartnerError::Refused { .. }), "{err:?}");
}

/// Every payment names its payee: for cash, the returnee's IBAN when they asked to be paid to
/// their bank (and agreed to share with the provider), else a cash pick-up against the travel
/// document; for in-kind support, the supplier (name and account from the register) against
/// its invoice.
#[tokio::test]
async fn a_cash_payment_names_the_returnee_and_in_kind_support_the_supplier_and_invoice() {
    use homeward_activities::sharing::Shared;
    use homeward_activities::suppliers::Supplier;
    use homeward_workflows::activities::Invoice;
    use homeward_workflows::person::{Iban, Payout};
    use homeward_workflows::programme::PaymentKind;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/disbursements"))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(json!({"id": "dis_1", "status": "confirmed"})),
        )
        .mount(&server)
        .await;
    let pay = |kind, tranche: &str| Disbursement {
        idempotency_key: format!("HW-0123456789AB:tranche:{tranche}"),
        reference: reference(),
        tranche: tranche.into(),
        kind,
        amount: Money {
            minor: 30_000,
            currency: "EUR".into(),
        },
        invoice: (kind == PaymentKind::InKind).then(|| Invoice {
            supplier: "sup-0123456789abcdef".into(),
            invoice_reference: "INV-2027-041".into(),
        }),
    };
    let banked = Shared {
        given_name: Some("Amal".into()),
        family_name: Some("Hassan".into()),
        payout: Some(Payout::BankAccount {
            iban: Iban::parse("NL91 ABNA 0417 1643 00").expect("iban"),
        }),
        ..Shared::default()
    };
    let supplier = Supplier {
        id: "sup-0123456789abcdef".into(),
        office: "NLD".into(),
        name: "Erbil Tools Ltd".into(),
        iban: "GB82WEST12345698765432".into(),
        created_by: "u-finance".into(),
        created_at: chrono::Utc::now(),
    };
    let payments = client(&server, "payments");
    payments
        .disburse(&pay(PaymentKind::Cash, "cash"), Some(&banked), None)
        .await
        .expect("paid");
    payments
        .disburse(&pay(PaymentKind::Cash, "again"), None, None)
        .await
        .expect("paid");
    payments
        .disburse(
            &pay(PaymentKind::InKind, "start"),
            Some(&banked),
            Some(&supplier),
        )
        .await
        .expect("paid");
    let bodies: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert_eq!(
        bodies[0]["payee"],
        json!({"type": "bank_account", "iban": "NL91ABNA0417164300"})
    );
    assert_eq!(
        bodies[1]["payee"],
        json!({"type": "cash_pickup", "document_type": "travel_document"})
    );
    assert_eq!(
        bodies[2]["payee"],
        json!({"type": "supplier", "name": "Erbil Tools Ltd", "iban": "GB82WEST12345698765432",
               "invoice_reference": "INV-2027-041"}),
        "never the returnee's own account"
    );
}

/// A cancellation names the order as Duffel documents it: a pending order cancellation
/// (`POST /air/order_cancellations` with `data.order_id`), then its confirmation, each under its
/// own key.
#[tokio::test]
async fn a_cancellation_names_the_order_and_is_confirmed_in_two_steps() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/air/order_cancellations"))
        .and(header("Idempotency-Key", "HW-0123456789AB:cancel:ord_1"))
        .and(body_partial_json(json!({"data": {"order_id": "ord_1"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {
            "id": "ore_9", "order_id": "ord_1", "confirmed_at": null,
            "refund_amount": "612.40", "refund_currency": "EUR"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/air/order_cancellations/ore_9/actions/confirm"))
        .and(header(
            "Idempotency-Key",
            "HW-0123456789AB:cancel:ord_1:confirm",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": "ore_9", "order_id": "ord_1", "confirmed_at": "2027-01-05T10:00:00Z"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let travel = client(&server, "travel");
    travel
        .cancel_order(&CancelRequest {
            idempotency_key: "HW-0123456789AB:cancel:ord_1".into(),
            order_id: "ord_1".into(),
            escort_return_order_id: None,
        })
        .await
        .expect("cancelled");
}
