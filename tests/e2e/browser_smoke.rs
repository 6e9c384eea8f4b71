//! The browser harness itself (`support/browser.rs`), on tiny static pages served here: forms
//! filled by label and by keyboard, a screenshot, and axe-core passing a clean page and failing
//! a bad one (so an accessibility check that passes means something).

use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;

use crate::support::browser::Browser;

const FORM: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Greeting form</title></head>
<body>
<main>
  <h1>Greeting</h1>
  <form method="get" action="/echo">
    <label for="name">Your name</label>
    <input id="name" name="name" type="text" autocomplete="name">
    <label for="country">Country</label>
    <select id="country" name="country">
      <option value="">Choose one</option>
      <option value="IRQ">Iraq</option>
      <option value="NLD">Netherlands</option>
    </select>
    <input id="copy" name="copy" type="checkbox" value="yes">
    <label for="copy">Send me a copy</label>
    <button type="submit">Say hello</button>
  </form>
  <p><a href="/echo?name=link">Greet by link</a></p>
</main>
</body>
</html>"#;

const BAD: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Bad page</title></head>
<body>
<main>
  <h1>Bad page</h1>
  <img src="/missing.png">
  <input type="text" name="unlabelled">
</main>
</body>
</html>"#;

async fn echo(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    let get = |key: &str| escape(query.get(key).map(String::as_str).unwrap_or(""));
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello</title></head>
<body><main><h1>Hello, {}!</h1><p>Country: {}. Copy: {}.</p></main></body>
</html>"#,
        get("name"),
        get("country"),
        get("copy"),
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves the pages on 127.0.0.1:0; returns the base URL.
async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { Html(FORM) }))
        .route("/bad", get(|| async { Html(BAD) }))
        .route("/echo", get(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the page server");
    let addr = listener.local_addr().expect("page server address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn browser_fills_a_form_by_label_and_axe_passes_it() {
    let base = serve().await;
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.axe().await, Vec::<String>::new(), "the form page");
    browser.fill("Your name", "Amira <Q>").await;
    browser.select("Country", "Iraq").await;
    browser.check("Send me a copy").await;
    browser.click_button("Say hello").await;

    let text = browser.text().await;
    assert!(text.contains("Hello, Amira <Q>!"), "{text}");
    assert!(text.contains("Country: IRQ. Copy: yes."), "{text}");
    let url = browser.current_url().await;
    assert_eq!(url.path(), "/echo");
    assert!(url.query().unwrap_or("").contains("name=Amira"), "{url}");
    let png = browser.screenshot("browser_smoke").await;
    let bytes = std::fs::read(&png).expect("read the screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", png.display());
    assert_eq!(browser.axe().await, Vec::<String>::new(), "the echo page");

    browser.goto(&format!("{base}/")).await;
    browser.click_link("Greet by link").await;
    browser.wait_for_text("Hello, link!").await;

    browser.close().await;
}

#[tokio::test]
async fn browser_keyboard_only() {
    let base = serve().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;

    browser.press_tab().await;
    assert_eq!(browser.active_element_text().await, "Your name");
    browser.type_text("Kofi").await;
    browser.press_tab().await;
    assert_eq!(browser.active_element_text().await, "Country");
    browser.press_tab().await;
    assert_eq!(browser.active_element_text().await, "Send me a copy");
    browser.press_space().await;
    browser.press_tab().await;
    assert_eq!(browser.active_element_text().await, "Say hello");
    browser.press_shift_tab().await;
    assert_eq!(browser.active_element_text().await, "Send me a copy");
    browser.press_tab().await;
    browser.press_enter().await;

    let text = browser.wait_for_text("Hello, Kofi!").await;
    assert!(text.contains("Copy: yes."), "{text}");
}

#[tokio::test]
async fn axe_reports_violations_on_a_bad_page() {
    let base = serve().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/bad")).await;

    let violations = browser.axe().await;
    let ids: Vec<&str> = violations
        .iter()
        .map(|v| v.split(':').next().unwrap_or(""))
        .collect();
    assert!(ids.contains(&"image-alt"), "{violations:#?}");
    assert!(ids.contains(&"label"), "{violations:#?}");
    assert!(
        violations.iter().any(|v| v.contains("(1 nodes: img)")),
        "{violations:#?}"
    );
}
