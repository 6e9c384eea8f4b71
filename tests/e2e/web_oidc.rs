//! Sign-in through an OpenID Connect provider (authorization code + PKCE) against a fake
//! provider over HTTP (`support/idp.rs`): a linked person gets in, in a real browser too; an
//! unlinked or deactivated one, a callback from another browser (login CSRF), an edited or
//! mixed-up pending sign-in, a replayed code and every forged ID token do not.

use homeward::devserver::free_port;
use homeward::settings::OidcSettings;

use crate::support::browser::Browser;
use crate::support::idp::{CLIENT_ID, FakeIdp, Tamper};
use crate::support::{TestStack, create_user};

const LABEL: &str = "Sign in with the Test IdP";

async fn stack(idp: &FakeIdp) -> TestStack {
    let port = free_port().expect("port");
    let issuer = idp.issuer();
    TestStack::start_with(move |s| {
        s.api.port = port;
        s.web.oidc = Some(OidcSettings {
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: None,
            redirect_url: format!("http://127.0.0.1:{port}/sign-in/oidc/callback")
                .parse()
                .expect("url"),
            label: LABEL.into(),
        });
    })
    .await
}

/// A user linked to `subject` at the provider; their id.
async fn linked(stack: &TestStack, idp: &FakeIdp, name: &str, subject: &str) -> String {
    let (id, _key) = create_user(&stack.settings, name, "return_officer", Some("NLD"), false).await;
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        1,
    )
    .await
    .expect("store");
    store
        .link_oidc(&id, &idp.issuer(), subject)
        .await
        .expect("link");
    store.close().await;
    id
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")) && !c.starts_with(&format!("{name}=;")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A browser's trip to the provider: the pending sign-in's cookie and the callback address
/// the provider sent it back to.
async fn leave_for_provider(
    http: &reqwest::Client,
    stack: &TestStack,
    next: &str,
) -> (String, String) {
    let start = http
        .get(stack.url(&format!("/sign-in/oidc?next={next}")))
        .send()
        .await
        .expect("start");
    assert_eq!(start.status(), 303, "off to the provider");
    let pending = cookie_of(&start, "hw_oidc").expect("pending sign-in cookie");
    let at_provider = http.get(location(&start)).send().await.expect("provider");
    assert_eq!(
        at_provider.status(),
        302,
        "the provider sends the browser back"
    );
    let callback = location(&at_provider);
    assert!(callback.contains("code="), "{callback}");
    (pending, callback)
}

async fn come_back(http: &reqwest::Client, callback: &str, pending: &str) -> reqwest::Response {
    http.get(callback)
        .header("cookie", pending)
        .send()
        .await
        .expect("callback")
}

#[tokio::test]
async fn a_linked_person_signs_in_through_the_provider_and_nothing_else_gets_in() {
    let idp = FakeIdp::start("sub-olu").await;
    let stack = stack(&idp).await;
    let olu = linked(&stack, &idp, "Olu Officer", "sub-olu").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // The sign-in page offers the provider.
    let page = http.get(stack.url("/sign-in")).send().await.expect("page");
    assert!(page.text().await.expect("html").contains(LABEL));

    // The linked person: a session, sent on to where they were going.
    let (pending, callback) = leave_for_provider(&http, &stack, "/cases").await;
    let back = come_back(&http, &callback, &pending).await;
    assert_eq!(back.status(), 303);
    assert_eq!(location(&back), "/cases");
    let session = cookie_of(&back, "hw_session").expect("a session");
    let inbox = http
        .get(stack.url("/inbox"))
        .header("cookie", &session)
        .send()
        .await
        .expect("inbox");
    assert_eq!(inbox.status(), 200);
    assert!(inbox.text().await.expect("html").contains("Olu Officer"));

    // The same callback again: the provider redeems a code once.
    let replayed = come_back(&http, &callback, &pending).await;
    assert_eq!(replayed.status(), 401);
    assert!(cookie_of(&replayed, "hw_session").is_none());

    // Login CSRF: an attacker's callback opened in a victim's browser (no pending sign-in
    // there) is refused before the code is even redeemed.
    let redeemed = idp.redeemed();
    let (_attackers, attackers_callback) = leave_for_provider(&http, &stack, "/inbox").await;
    let victim = http
        .get(&attackers_callback)
        .send()
        .await
        .expect("callback");
    assert_eq!(victim.status(), 400);
    assert!(cookie_of(&victim, "hw_session").is_none());
    assert_eq!(
        idp.redeemed(),
        redeemed,
        "the attacker's code was not redeemed"
    );

    // Two sign-ins mixed up (one's cookie, the other's state), and an edited cookie.
    let (pending_a, _callback_a) = leave_for_provider(&http, &stack, "/inbox").await;
    let (pending_b, callback_b) = leave_for_provider(&http, &stack, "/inbox").await;
    assert_eq!(
        come_back(&http, &callback_b, &pending_a).await.status(),
        400
    );
    let edited = pending_b.replacen('.', "0.", 1);
    assert_eq!(come_back(&http, &callback_b, &edited).await.status(), 400);
    // (b's own cookie still works: nothing above used its code.)
    assert_eq!(
        come_back(&http, &callback_b, &pending_b).await.status(),
        303
    );

    // Forged ID tokens: another key, another audience, another nonce, expired.
    for tamper in [
        Tamper::ForeignKey,
        Tamper::OtherAudience,
        Tamper::OtherNonce,
        Tamper::Expired,
    ] {
        idp.tamper(tamper);
        let (pending, callback) = leave_for_provider(&http, &stack, "/inbox").await;
        let back = come_back(&http, &callback, &pending).await;
        assert_eq!(back.status(), 401, "{tamper:?}");
        assert!(cookie_of(&back, "hw_session").is_none(), "{tamper:?}");
    }
    idp.tamper(Tamper::None);

    // The provider refuses the person.
    let (pending, callback) = leave_for_provider(&http, &stack, "/inbox").await;
    let state = url::Url::parse(&callback)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let denied = come_back(
        &http,
        &stack.url(&format!(
            "/sign-in/oidc/callback?error=access_denied&state={state}"
        )),
        &pending,
    )
    .await;
    assert_eq!(denied.status(), 401);

    // A subject linked to nobody: told which identifier to give an administrator.
    idp.sign_in_as("sub-stranger");
    let (pending, callback) = leave_for_provider(&http, &stack, "/inbox").await;
    let stranger = come_back(&http, &callback, &pending).await;
    assert_eq!(stranger.status(), 403);
    assert!(cookie_of(&stranger, "hw_session").is_none());
    assert!(
        stranger
            .text()
            .await
            .expect("html")
            .contains("sub-stranger")
    );

    // A deactivated user no longer gets in; another site is never where a sign-in leads.
    idp.sign_in_as("sub-olu");
    let (pending, callback) = leave_for_provider(&http, &stack, "//evil.example/").await;
    let back = come_back(&http, &callback, &pending).await;
    assert_eq!(location(&back), "/inbox");
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        1,
    )
    .await
    .expect("store");
    assert!(
        store
            .deactivate_user(&olu, chrono::Utc::now())
            .await
            .expect("deactivate")
    );
    store.close().await;
    let (pending, callback) = leave_for_provider(&http, &stack, "/inbox").await;
    assert_eq!(come_back(&http, &callback, &pending).await.status(), 403);
    stack.stop().await;
}

#[tokio::test]
async fn a_person_signs_in_through_the_provider_in_a_real_browser() {
    let idp = FakeIdp::start("sub-amina").await;
    let stack = stack(&idp).await;
    linked(&stack, &idp, "Amina Officer", "sub-amina").await;
    let browser = Browser::start().await;
    browser.goto(&stack.url("/cases")).await;
    browser.click_link(LABEL).await;
    let page = browser.wait_for_text("Signed in as").await;
    assert!(page.contains("Amina Officer"), "{page}");
    assert_eq!(browser.current_url().await.path(), "/cases");
    browser.screenshot("sign-in-oidc").await;
    browser.close().await;
    stack.stop().await;
}
