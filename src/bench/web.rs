//! The web pages under load: an officer signs in (as a browser does: the sign-in form's token
//! and cookie, then the session cookie) and the bench times the pages people wait for.

use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use super::measure::Percentiles;

/// A signed-in browser, as far as HTTP goes.
pub struct WebSession {
    http: reqwest::Client,
    cookie: String,
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// Signs `username` in through the sign-in form.
pub async fn signed_in(api: &str, username: &str, password: &str) -> anyhow::Result<WebSession> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http.get(format!("{api}/sign-in")).send().await?;
    let form_cookie = cookie_of(&page, "hw_signin").context("the sign-in page set no cookie")?;
    let html = page.text().await?;
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("the sign-in page has no token")?
        .to_owned();
    let answer = http
        .post(format!("{api}/sign-in"))
        .header(reqwest::header::COOKIE, form_cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("next", "/inbox"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await?;
    let cookie = cookie_of(&answer, "hw_session")
        .with_context(|| format!("sign-in refused: {}", answer.status()))?;
    Ok(WebSession { http, cookie })
}

impl WebSession {
    /// Loads `url` `n` times; the latencies.
    pub async fn time(&self, url: &str, n: usize) -> anyhow::Result<Percentiles> {
        let mut ms = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let resp = self
                .http
                .get(url)
                .header(reqwest::header::COOKIE, &self.cookie)
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "{url}: {}", resp.status());
            resp.bytes().await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(Percentiles::of(&ms))
    }
}

/// A parked case of the officer's office (the first in their inbox).
pub async fn a_parked_case(officer: &reqwest::Client, api: &str) -> anyhow::Result<String> {
    let inbox: Value = officer
        .get(format!("{api}/api/v1/inbox?limit=1"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    inbox["tasks"][0]["reference"]
        .as_str()
        .map(str::to_owned)
        .context("no parked case in the officer's inbox")
}
