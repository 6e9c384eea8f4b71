//! The web interface in a real browser (headless Chromium over WebDriver) against the real
//! stack: a whole case worked through the pages by each role, bad input, roles and scope, sign-in
//! and its lock-out, accessibility (axe-core, WCAG 2.1 A/AA: 0 violations on every page; the
//! inbox with the keyboard alone), a screenshot of every page under `target/ui-screenshots/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fantoccini::Locator;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::{TestStack, create_user, project_dir};

const PASSWORD: &str = "correct horse battery staple";

/// A stack running the benchmark's programme (a year in seconds), so a case reaches its
/// grants while the test watches.
async fn stack() -> TestStack {
    // nl-avrr (what `TestStack::open_case` uses) and the benchmark's programme, side by side.
    let dir = project_dir().join("target/web-ui-programmes");
    std::fs::create_dir_all(&dir).expect("programme folder");
    for (from, to) in [
        ("config/programmes/nl-avrr.toml", "nl-avrr.toml"),
        ("config/bench/bench.toml", "bench.toml"),
    ] {
        std::fs::copy(project_dir().join(from), dir.join(to)).expect("programme file");
    }
    // Flights leave two seconds after booking (as in `homeward bench`), so the case departs,
    // arrives and reaches its grants while the test watches.
    let ledger = homeward_devkit::ledger::LocalLedger::faulty(homeward_devkit::ledger::Faults {
        departs_in: Some(std::time::Duration::from_secs(2)),
        ..Default::default()
    });
    TestStack::start_full(
        |s| s.programmes.dir = dir,
        homeward_devkit::ledger::local_partners(std::sync::Arc::new(ledger)),
    )
    .await
}

/// A user who signs in as `username`.
async fn person(stack: &TestStack, username: &str, role: &str, office: Option<&str>) -> String {
    let (id, _key) = create_user(&stack.settings, username, role, office, false).await;
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        1,
    )
    .await
    .expect("store");
    store
        .set_credentials(&id, username, PASSWORD)
        .await
        .expect("credentials");
    store.close().await;
    id
}

async fn sign_in(browser: &Browser, stack: &TestStack, username: &str) {
    browser.goto(&stack.url("/sign-in")).await;
    browser.fill("Username", username).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("Signed in as").await;
}

async fn sign_out(browser: &Browser) {
    browser.click_button("Sign out").await;
    browser.wait_for_text("Username").await;
}

async fn click(browser: &Browser, css: &str) {
    browser
        .client()
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

async fn type_into(browser: &Browser, css: &str, text: &str) {
    let field = browser
        .client()
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// Axe finds nothing on the page, and a screenshot is kept.
async fn accessible(browser: &Browser, name: &str) -> PathBuf {
    let shot = browser.screenshot(name).await;
    let violations = browser.axe().await;
    assert!(
        violations.is_empty(),
        "{name}: {violations:#?} (see {})",
        shot.display()
    );
    shot
}

/// The case's first open task: its id, type and role (waiting for one to open).
async fn next_task(stack: &TestStack, reference: &str) -> (u64, String, String) {
    let view = stack
        .wait_for(reference, "an open task", |v| {
            v["tasks"].as_array().is_some_and(|t| !t.is_empty())
        })
        .await;
    let task = &view["tasks"][0];
    let text = |k: &str| task[k].as_str().expect(k).to_owned();
    (
        task["id"].as_u64().expect("id"),
        text("task_type"),
        text("role"),
    )
}

/// Signs the browser in as the person who has `role` (`who`: role → username), signing out
/// whoever is in (`signed_in`, empty for nobody).
async fn become_role<'a>(
    browser: &Browser,
    stack: &TestStack,
    who: &BTreeMap<&str, &'a str>,
    role: &str,
    signed_in: &mut &'a str,
) {
    let username = who
        .get(role)
        .copied()
        .unwrap_or_else(|| panic!("no {role} user"));
    if username != *signed_in {
        if !signed_in.is_empty() {
            sign_out(browser).await;
        }
        sign_in(browser, stack, username).await;
        *signed_in = username;
    }
}

/// Answers task `id` of type `task_type` on the open case page, as a person would.
async fn answer(browser: &Browser, id: u64, task_type: &str) {
    let f = |field: &str| format!("#t{id}-{field}");
    match task_type {
        "counselling_session" => click(browser, &f("decision")).await,
        "travel_document" => {
            let next_year = chrono::Utc::now().date_naive() + chrono::Duration::days(400);
            type_into(
                browser,
                &f("expires_on-day"),
                &next_year.format("%d").to_string(),
            )
            .await;
            type_into(
                browser,
                &f("expires_on-month"),
                &next_year.format("%m").to_string(),
            )
            .await;
            type_into(
                browser,
                &f("expires_on-year"),
                &next_year.format("%Y").to_string(),
            )
            .await;
        }
        "reintegration_plan" => click(browser, &f("support")).await,
        "child_views" => {
            click(browser, &f("heard")).await;
            click(browser, &f("wants_to_return")).await;
        }
        "baseline_survey" => {
            click(browser, &f("reached")).await;
            for d in ["economic", "social", "psychosocial"] {
                for q in 1..=5 {
                    let select = f(&format!("answers-{d}-{q}"));
                    click(browser, &format!("{select} option[value='4']")).await;
                }
            }
        }
        "consent" | "guardian_consent" => click(browser, &f("signed")).await,
        "best_interests_determination" | "family_assessment" => {
            click(browser, &f("supports_return")).await
        }
        "fit_to_travel" => click(browser, &f("fit")).await,
        "departure_confirmation" => click(browser, &f("departed")).await,
        "arrival_confirmation" => click(browser, &f("received")).await,
        "milestone_verification" => click(browser, &f("reached")).await,
        t if t.ends_with("approval") => click(browser, &f("approved")).await,
        _ => click(browser, &f("action")).await,
    }
    click(
        browser,
        &format!("#task-{id} form[action$='/tasks/{id}'] button[type=submit]"),
    )
    .await;
    browser.wait_for_text("Task recorded.").await;
}

#[tokio::test]
async fn a_family_case_is_worked_through_the_browser_by_every_role() {
    let stack = stack().await;
    let mut who = BTreeMap::new();
    for (username, role, office) in [
        ("olga", "return_officer", "NLD"),
        ("omar", "operations", "NLD"),
        ("fatima", "finance", "NLD"),
        ("pierre", "partner", "NLD/IRQ"),
    ] {
        person(&stack, username, role, Some(office)).await;
        who.insert(role, username);
    }
    let browser = Browser::start().await;

    // The sign-in page, then the officer's inbox and the case list.
    browser.goto(&stack.url("/")).await;
    browser.wait_for_text("Password").await;
    accessible(&browser, "sign-in").await;
    sign_in(&browser, &stack, "olga").await;
    accessible(&browser, "inbox").await;
    browser.click_link("Cases").await;
    accessible(&browser, "cases").await;

    // She opens a family case: a mother and her young son, with their names.
    browser.goto(&stack.url("/cases/new?size=2")).await;
    accessible(&browser, "open-a-case").await;
    browser.fill("Country of origin", "IRQ").await;
    click(&browser, "#members-0-age_group").await; // adult
    click(&browser, "#members-1-age_group-2").await; // child under 16
    type_into(&browser, "#people-0-names-document-given", "Layla").await;
    type_into(&browser, "#people-0-names-document-family", "Hassan").await;
    type_into(&browser, "#people-0-date_of_birth", "1990-05-31").await;
    browser.click_button("Open case").await;
    browser.wait_for_text("Case HW-").await;
    let url = browser.current_url().await;
    let reference = url.path().trim_start_matches("/cases/").to_owned();
    assert!(reference.starts_with("HW-"), "{url}");
    accessible(&browser, "case").await;
    // The names are on a page of their own, read deliberately (and audited by the API).
    assert!(!browser.text().await.contains("Hassan"));
    browser
        .click_link("Show the household's personal details (the reading is recorded)")
        .await;
    let text = browser.wait_for_text("Hassan").await;
    assert!(
        text.contains("Layla") && text.contains("1990-05-31"),
        "{text}"
    );
    accessible(&browser, "people").await;
    browser
        .goto(&stack.url(&format!("/cases/{reference}")))
        .await;

    // Counselling: she claims it, then records it.
    let id = stack.task_id(&reference, "counselling_session").await;
    click(
        &browser,
        &format!("#task-{id} form[action$='/claim'] button"),
    )
    .await;
    browser.wait_for_text("Release").await;
    answer(&browser, id, "counselling_session").await;
    accessible(&browser, "case-task-recorded").await;

    // Every task after that, by the role it is for, until finance has approved a tranche.
    let mut signed_in = "olga";
    let mut done = vec!["counselling_session".to_owned()];
    let mut saw_waiting = false;
    while !done.iter().any(|d| d == "tranche_approval") {
        let (id, task_type, role) = next_task(&stack, &reference).await;
        // Before operations decide eligibility, the officer's page says it is not hers.
        if task_type == "eligibility_approval" && !saw_waiting {
            browser
                .goto(&stack.url(&format!("/cases/{reference}")))
                .await;
            let text = browser.wait_for_text("Eligibility approval").await;
            assert!(text.contains("Waiting for operations"), "{text}");
            assert!(
                browser
                    .client()
                    .find(Locator::Css(&format!("#t{id}-approved")))
                    .await
                    .is_err(),
                "the officer was offered the eligibility form"
            );
            saw_waiting = true;
        }
        become_role(&browser, &stack, &who, &role, &mut signed_in).await;
        browser
            .goto(&stack.url(&format!("/cases/{reference}")))
            .await;
        browser.wait_for_text(&format!("Case {reference}")).await;
        answer(&browser, id, &task_type).await;
        done.push(task_type);
    }
    assert!(
        saw_waiting,
        "the case never asked for eligibility approval: {done:?}"
    );
    for step in [
        "consent",
        "eligibility_approval",
        "arrival_confirmation",
        "tranche_approval",
    ] {
        assert!(
            done.iter().any(|d| d == step),
            "{step} not worked: {done:?}"
        );
    }
    // The partner's page showed only what was handed over; the last page (finance) shows the
    // decisions with who, when and why.
    let text = browser.text().await;
    assert!(text.contains("Decisions"), "{text}");
    assert!(text.contains("Tranche approval"), "{text}");
    // The timeline also lists the stages the case went through.
    let stages = text.split("Stages").nth(1).unwrap_or_default();
    for stage in ["Counselling", "Travel documents", "Reintegration"] {
        assert!(
            stages.contains(stage),
            "{stage} not in the timeline: {text}"
        );
    }
    accessible(&browser, "case-after-grants").await;
    // The dashboard counts the tranches paid this month.
    browser.goto(&stack.url("/dashboard")).await;
    let text = browser.wait_for_text("Grants paid per month").await;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let monthly = text
        .split("Grants paid per month")
        .last()
        .unwrap_or_default();
    assert!(
        monthly.contains(&month) && monthly.contains("EUR"),
        "{text}"
    );
    browser.close().await;
    stack.stop().await;
}

/// An unaccompanied child's case through the browser: the reception partner sees the case only
/// once it is referred for the family assessment, and answers it from its inbox; a child
/// protection officer determines the child's best interests; the officer records the child's
/// views; at arrival the partner's form records the signed hand-over, without which the child is
/// not received.
#[tokio::test]
async fn an_unaccompanied_childs_case_is_decided_and_handed_over_through_the_browser() {
    let stack = stack().await;
    let mut who = BTreeMap::new();
    for (username, role, office) in [
        ("olga", "return_officer", "NLD"),
        ("omar", "operations", "NLD"),
        ("pierre", "partner", "NLD/IRQ"),
        ("bea", "child_protection", "NLD"),
    ] {
        person(&stack, username, role, Some(office)).await;
        who.insert(role, username);
    }
    let born = (chrono::Utc::now() - chrono::Duration::days(14 * 365 + 30)).date_naive();
    let resp = stack
        .http
        .post(stack.url("/api/v1/cases"))
        .json(&serde_json::json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": 1,
            "members": [{"age_group": "minor_under16", "vulnerabilities": ["unaccompanied_child"]}],
            "people": [{"names": {"document": {"given": "Sami", "family": "Karim"}},
                        "sex": "male", "date_of_birth": born.to_string(),
                        "destination": {"place": "Erbil", "nearest_airport": "EBL"},
                        "consents": [{"purpose": "travel_partner", "given": true}]}]
        }))
        .send()
        .await
        .expect("open");
    assert_eq!(resp.status(), 201);
    let reference = resp.json::<serde_json::Value>().await.expect("json")["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    let browser = Browser::start().await;
    let mut signed_in = "";
    let mut done: Vec<String> = vec![];
    while !done.iter().any(|d| d == "arrival_confirmation") {
        assert!(done.len() < 12, "no arrival after {done:?}");
        let (id, task_type, role) = next_task(&stack, &reference).await;
        assert_ne!(
            task_type, "booking_failed",
            "the child's flight was not booked"
        );
        become_role(&browser, &stack, &who, &role, &mut signed_in).await;
        if task_type == "family_assessment" {
            // Referred: the partner finds it in its inbox, before any hand-over.
            browser.goto(&stack.url("/")).await;
            browser.wait_for_text("Family assessment").await;
            accessible(&browser, "partner-inbox-family-assessment").await;
        }
        browser
            .goto(&stack.url(&format!("/cases/{reference}")))
            .await;
        browser.wait_for_text(&format!("Case {reference}")).await;
        if task_type == "arrival_confirmation" {
            // Received without the hand-over: refused, and nothing is recorded.
            let f = |field: &str| format!("#t{id}-{field}");
            click(&browser, &f("received")).await;
            click(
                &browser,
                &format!("#task-{id} form[action$='/tasks/{id}'] button[type=submit]"),
            )
            .await;
            browser.wait_for_text("hand_over").await;
            browser
                .goto(&stack.url(&format!("/cases/{reference}")))
                .await;
            browser.wait_for_text(&format!("Case {reference}")).await;
            accessible(&browser, "hand-over-form").await;
            click(&browser, &f("received")).await;
            click(
                &browser,
                &format!("{} option[value='family_member']", f("hand_over-to")),
            )
            .await;
            click(
                &browser,
                &format!(
                    "{} option[value='national_id']",
                    f("hand_over-document_checked")
                ),
            )
            .await;
            click(&browser, &f("hand_over-signed")).await;
            click(
                &browser,
                &format!("#task-{id} form[action$='/tasks/{id}'] button[type=submit]"),
            )
            .await;
            browser.wait_for_text("Task recorded.").await;
        } else {
            answer(&browser, id, &task_type).await;
        }
        done.push(task_type);
    }
    let order: Vec<&str> = done
        .iter()
        .map(String::as_str)
        .filter(|t| {
            [
                "family_assessment",
                "best_interests_determination",
                "child_views",
                "guardian_consent",
            ]
            .contains(t)
        })
        .collect();
    assert_eq!(
        order[..2],
        ["family_assessment", "best_interests_determination"],
        "{done:?}"
    );
    let view = stack
        .wait_for(&reference, "received", |v| {
            !v["facts"]["arrived_at"].is_null()
        })
        .await;
    let handed = view["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["what"] == "arrival_confirmation")
        .map(|d| d["outcome"]["hand_over"].clone())
        .expect("arrival decision");
    assert_eq!(handed["to"], "family_member", "{handed}");
    assert_eq!(handed["signed"], true, "{handed}");
    browser.close().await;
    stack.stop().await;
}

#[tokio::test]
async fn bad_input_is_named_field_by_field_and_nothing_typed_is_lost() {
    let stack = stack().await;
    person(&stack, "olga", "return_officer", Some("NLD")).await;
    let browser = Browser::start().await;
    sign_in(&browser, &stack, "olga").await;

    // An empty new-case form: the summary names the country and the member's age group.
    browser.goto(&stack.url("/cases/new?size=1")).await;
    type_into(&browser, "#people-0-names-document-given", "Layla").await;
    browser.click_button("Open case").await;
    let text = browser.wait_for_text("There is a problem").await;
    let summary: Vec<String> = {
        let links = browser
            .client()
            .find_all(Locator::Css(".govuk-error-summary__list a"))
            .await
            .expect("links");
        let mut hrefs = vec![];
        for l in links {
            hrefs.push(l.attr("href").await.expect("href").unwrap_or_default());
        }
        hrefs
    };
    assert!(
        summary.contains(&"#origin_country".to_owned()),
        "{summary:?}\n{text}"
    );
    assert!(
        summary.contains(&"#members-0-age_group".to_owned()),
        "{summary:?}"
    );
    let given = browser
        .client()
        .find(Locator::Css("#people-0-names-document-given"))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(given.as_deref(), Some("Layla"), "what was typed is kept");
    accessible(&browser, "open-a-case-errors").await;

    // An empty task form: the answer is named; the reason typed is still there.
    let reference = stack.open_case().await;
    let id = stack.task_id(&reference, "counselling_session").await;
    browser
        .goto(&stack.url(&format!("/cases/{reference}")))
        .await;
    type_into(
        &browser,
        &format!("#t{id}-reason"),
        "Met with an interpreter",
    )
    .await;
    click(
        &browser,
        &format!("#task-{id} form[action$='/tasks/{id}'] button[type=submit]"),
    )
    .await;
    let text = browser.wait_for_text("There is a problem").await;
    assert!(text.contains("Select one option"), "{text}");
    let reason = browser
        .client()
        .find(Locator::Css(&format!("#t{id}-reason")))
        .await
        .expect("reason")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(reason.as_deref(), Some("Met with an interpreter"));
    accessible(&browser, "case-task-errors").await;
    // The case did not move.
    let view = stack.wait_for_stage(&reference, "counselling").await;
    assert_eq!(view["tasks"][0]["id"], id);
    browser.close().await;
    stack.stop().await;
}

#[tokio::test]
async fn roles_and_scope_hold_in_the_browser_and_the_inbox_works_by_keyboard() {
    let stack = stack().await;
    person(&stack, "olga", "return_officer", Some("NLD")).await;
    person(&stack, "fatima", "finance", Some("NLD")).await;
    person(&stack, "sami", "partner", Some("NLD/SYR")).await;
    let reference = stack.open_case().await;
    let id = stack.task_id(&reference, "counselling_session").await;
    let browser = Browser::start().await;

    // Finance see the case, but no counselling form.
    sign_in(&browser, &stack, "fatima").await;
    browser
        .goto(&stack.url(&format!("/cases/{reference}")))
        .await;
    let text = browser.wait_for_text("Counselling session").await;
    assert!(text.contains("Waiting for return officer"), "{text}");
    assert!(
        browser
            .client()
            .find(Locator::Css(&format!("#t{id}-decision")))
            .await
            .is_err()
    );
    sign_out(&browser).await;

    // A partner of another country typing the reference: the not-found page.
    sign_in(&browser, &stack, "sami").await;
    browser
        .goto(&stack.url(&format!("/cases/{reference}")))
        .await;
    let text = browser.wait_for_text("Page not found").await;
    assert!(
        !text.contains(&reference) || text.contains("no such page"),
        "{text}"
    );
    accessible(&browser, "not-found").await;
    sign_out(&browser).await;

    // The officer's inbox with the keyboard alone: Tab to the case, Enter opens it.
    sign_in(&browser, &stack, "olga").await;
    browser.goto(&stack.url("/inbox")).await;
    browser.wait_for_text(&reference).await;
    let mut reached = false;
    for _ in 0..60 {
        browser.press_tab().await;
        if browser.active_element_text().await.contains(&reference) {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the case in the inbox");
    browser.press_enter().await;
    browser.wait_for_text(&format!("Case {reference}")).await;
    assert!(browser.current_url().await.path().starts_with("/cases/"));

    // In Arabic, right to left.
    browser.goto(&stack.url("/inbox")).await;
    browser.select("Language", "العربية").await;
    browser.click_button("Change language").await;
    let html = browser.wait_for_text("HW-").await;
    assert!(!html.is_empty());
    let dir: Option<String> = browser
        .client()
        .find(Locator::Css("html"))
        .await
        .expect("html")
        .attr("dir")
        .await
        .expect("dir");
    assert_eq!(dir.as_deref(), Some("rtl"));
    accessible(&browser, "inbox-ar").await;
    browser.close().await;
    stack.stop().await;
}

#[tokio::test]
async fn sign_in_locks_out_after_five_failures_and_forms_need_their_csrf_token() {
    let stack = stack().await;
    person(&stack, "olga", "return_officer", Some("NLD")).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let set_cookie = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    };
    // The sign-in form's token, and its cookie (double submit).
    let page = http.get(stack.url("/sign-in")).send().await.expect("page");
    let signin_cookie = set_cookie(&page, "hw_signin")
        .and_then(|c| c.split(';').next().map(str::to_owned))
        .expect("sign-in cookie");
    let page = page.text().await.expect("html");
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("token")
        .to_owned();
    let attempt = |password: &'static str| {
        let (http, token, url) = (http.clone(), token.clone(), stack.url("/sign-in"));
        let cookie = signin_cookie.clone();
        async move {
            http.post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", token.as_str()),
                    ("next", "/inbox"),
                    ("username", "olga"),
                    ("password", password),
                ])
                .send()
                .await
                .expect("post")
        }
    };
    // Without the token: refused.
    let forged = http
        .post(stack.url("/sign-in"))
        .form(&[("username", "olga"), ("password", PASSWORD)])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
    for _ in 0..4 {
        assert_eq!(attempt("wrong password!!").await.status(), 401);
    }
    assert_eq!(
        attempt("wrong password!!").await.status(),
        429,
        "the fifth failure locks"
    );
    // Locked: even the right password waits.
    let locked = attempt(PASSWORD).await;
    assert_eq!(locked.status(), 429);
    assert!(
        locked
            .text()
            .await
            .unwrap_or_default()
            .contains("Try again after")
    );

    // Another user, signed in: a form posted without the session's token changes nothing.
    person(&stack, "omar", "operations", Some("NLD")).await;
    let ok = http
        .post(stack.url("/sign-in"))
        .header("cookie", signin_cookie.clone())
        .form(&[
            ("csrf", token.as_str()),
            ("next", "/inbox"),
            ("username", "omar"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap_or_default());
    let cookie = set_cookie(&ok, "hw_session").expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("pair").to_owned();
    let reference = stack.open_case().await;
    let forged = http
        .post(stack.url(&format!("/cases/{reference}/closure")))
        .header("cookie", session)
        .form(&[("close_reason", "other"), ("note", "forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
    let view: Value = stack.wait_for_stage(&reference, "counselling").await;
    assert!(view["closure"].is_null());
    stack.stop().await;
}

#[tokio::test]
async fn the_dashboard_audit_and_users_pages_serve_their_roles_only() {
    let stack = stack().await;
    person(&stack, "ada", "admin", None).await;
    person(&stack, "olga", "return_officer", Some("NLD")).await;
    stack.open_case().await;
    let browser = Browser::start().await;

    // An officer sees the dashboard, but neither the audit nor the users page.
    sign_in(&browser, &stack, "olga").await;
    browser.click_link("Dashboard").await;
    let text = browser.wait_for_text("Cases per stage").await;
    assert!(text.contains("Counselling"), "{text}");
    // The charts (SVG drawn by charts-rs on the server) load as images.
    let widths = browser
        .client()
        .execute(
            "return Array.from(document.querySelectorAll('.hw-chart img')).map(i => i.complete ? i.naturalWidth : 0)",
            vec![],
        )
        .await
        .expect("script");
    let widths: Vec<u64> = serde_json::from_value(widths).expect("widths");
    assert_eq!(widths.len(), 3);
    assert!(widths.iter().all(|w| *w > 0), "{widths:?}");
    accessible(&browser, "dashboard").await;
    for page in ["/audit", "/users"] {
        browser.goto(&stack.url(page)).await;
        browser.wait_for_text("Page not found").await;
    }
    sign_out(&browser).await;

    // The admin creates a user who can then sign in.
    sign_in(&browser, &stack, "ada").await;
    browser.click_link("Audit").await;
    browser.wait_for_text("Download CSV").await;
    accessible(&browser, "audit").await;
    browser.click_link("Users").await;
    browser.wait_for_text("Create user").await;
    accessible(&browser, "users").await;
    // Bad input first: named, and the name typed is kept.
    browser.fill("Name", "Finn Finance").await;
    browser.click_button("Create user").await;
    let text = browser.wait_for_text("There is a problem").await;
    assert!(text.contains("Enter a username"), "{text}");
    browser.select("Role", "finance").await;
    browser.fill("Office", "NLD").await;
    browser.fill("Username", "finn").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Create user").await;
    browser.wait_for_text("Finn Finance").await;
    sign_out(&browser).await;
    sign_in(&browser, &stack, "finn").await;
    browser.close().await;
    stack.stop().await;
}
