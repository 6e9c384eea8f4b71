//! Sign-in through the organisation's identity provider: OpenID Connect's authorization code
//! flow with PKCE (S256), by the `openidconnect` crate (discovery, the token request, the ID
//! token's signature, issuer, audience, expiry and nonce). The provider says who the person is;
//! only a user an administrator linked to that subject (`homeward user link-oidc`) signs in,
//! with that user's role and office.
//!
//! Between leaving for the provider and coming back, the browser holds a short-lived cookie
//! (`hw_oidc`: `HttpOnly`, `SameSite=Lax`, ten minutes) carrying the request's `state`, nonce,
//! PKCE verifier and return path, tagged with the decision key so it cannot be forged or
//! edited; any API process behind a load balancer can finish the sign-in. The callback accepts
//! a `state` only from the browser that started the request (no login CSRF), a code only once
//! (the provider's rule), and an ID token only with the nonce it was asked for.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse,
};

use homeward_workflows::seal::DecisionKey;

use super::forms::Form;
use super::i18n::{Lang, Texts};
use super::session::{self, safe_next};
use crate::state::AppState;

/// The cookie that carries a sign-in in progress.
const COOKIE: &str = "hw_oidc";
/// The decision key's purpose tag for that cookie.
const PURPOSE: &str = "oidc-sign-in";
/// How long a person may take at the provider, in seconds.
const PENDING_SECONDS: i64 = 600;

/// How this service is registered at its OpenID Connect provider (`web.oidc`).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer identifier.
    pub issuer: String,
    /// This service's client id there.
    pub client_id: String,
    /// The client secret of a confidential client.
    pub client_secret: Option<String>,
    /// This service's `/sign-in/oidc/callback`, as registered.
    pub redirect_url: String,
    /// The sign-in page's button.
    pub label: String,
}

/// A configured provider and the HTTP client that talks to it (no redirects followed: a
/// provider's answer is taken as it comes).
#[derive(Debug, Clone)]
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
}

impl Oidc {
    /// A provider; refuses an issuer or redirect address that is not a URL.
    pub fn new(config: OidcConfig) -> Result<Self, String> {
        IssuerUrl::new(config.issuer.clone()).map_err(|e| format!("web.oidc.issuer: {e}"))?;
        RedirectUrl::new(config.redirect_url.clone())
            .map_err(|e| format!("web.oidc.redirect_url: {e}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("web.oidc: {e}"))?;
        Ok(Self { config, http })
    }

    /// The sign-in page's button.
    pub fn label(&self) -> &str {
        &self.config.label
    }

    /// The issuer identifier users are linked under.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The provider's client, from its discovery document and keys (fetched each time: keys
    /// rotate, and a sign-in is rare enough).
    async fn client(&self) -> Result<Provider, String> {
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| format!("discovery failed: {e}"))?;
        let redirect =
            RedirectUrl::new(self.config.redirect_url.clone()).map_err(|e| e.to_string())?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }
}

type Provider = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A sign-in in progress, as the cookie carries it.
#[derive(Debug, PartialEq, Eq)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

impl Pending {
    fn payload(&self) -> String {
        [
            self.state.as_str(),
            &self.nonce,
            &self.verifier,
            &hex::encode(&self.next),
        ]
        .join(".")
    }

    /// The cookie's value: the fields and their tag.
    fn seal(&self, key: &DecisionKey) -> String {
        let payload = self.payload();
        let tag = hex::encode(key.tag(PURPOSE, payload.as_bytes()));
        format!("{payload}.{tag}")
    }

    /// The sign-in a cookie carries, if this service made it.
    fn open(key: &DecisionKey, value: &str) -> Option<Self> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = hex::decode(tag).ok()?;
        if !key.check_tag(PURPOSE, payload.as_bytes(), &tag) {
            return None;
        }
        let mut parts = payload.split('.');
        let pending = Self {
            state: parts.next()?.to_owned(),
            nonce: parts.next()?.to_owned(),
            verifier: parts.next()?.to_owned(),
            next: String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?,
        };
        parts.next().is_none().then_some(pending)
    }
}

/// `response` with the pending sign-in's cookie cleared: every answer of the callback.
fn forget(headers: &HeaderMap, mut response: Response) -> Response {
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(headers, COOKIE, "", 0),
    );
    response
}

/// The sign-in page again, with what went wrong (`message`, already in words).
fn refused_with(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    message: &str,
) -> Response {
    forget(
        headers,
        session::sign_in_again(state, headers, "/inbox", message, status),
    )
}

/// The sign-in page again, with the text of `key`.
fn refused(state: &AppState, headers: &HeaderMap, status: StatusCode, key: &str) -> Response {
    refused_with(state, headers, status, &Texts(Lang::En).t(key))
}

/// The provider's client, or the page saying it cannot be reached.
async fn provider(
    oidc: &Oidc,
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Provider, Response> {
    oidc.client().await.map_err(|e| {
        tracing::warn!(error = %e, "the identity provider cannot be reached");
        refused(state, headers, StatusCode::BAD_GATEWAY, "oidc-unreachable")
    })
}

/// `GET /sign-in/oidc?next=…`: off to the provider.
pub async fn start(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return super::layout::bare_error(StatusCode::NOT_FOUND);
    };
    let client = match provider(&oidc, &state, &headers).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let pending = Pending {
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: safe_next(form.value("next")).to_owned(),
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            &headers,
            COOKIE,
            &pending.seal(&state.decision_key),
            PENDING_SECONDS,
        ),
    );
    response
}

/// `GET /sign-in/oidc/callback?code=…&state=…` (or `?error=…`): back from the provider.
pub async fn callback(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return super::layout::bare_error(StatusCode::NOT_FOUND);
    };
    // Only the browser that left for the provider comes back: its cookie names the state.
    let pending =
        session::cookie(&headers, COOKIE).and_then(|c| Pending::open(&state.decision_key, c));
    let Some(pending) = pending.filter(|p| session::same(form.value("state"), &p.state)) else {
        return refused(&state, &headers, StatusCode::BAD_REQUEST, "oidc-expired");
    };
    if !form.value("error").is_empty() {
        // The provider's own words are not shown: they are its to word, not ours to trust.
        tracing::info!(error = %form.value("error").chars().take(64).collect::<String>(), "the identity provider did not sign the person in");
        return refused(&state, &headers, StatusCode::UNAUTHORIZED, "oidc-refused");
    }
    let code = form.value("code");
    if code.is_empty() {
        return refused(&state, &headers, StatusCode::BAD_REQUEST, "oidc-expired");
    }
    let client = match provider(&oidc, &state, &headers).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let request = match client.exchange_code(AuthorizationCode::new(code.to_owned())) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "the identity provider has no token endpoint");
            return refused(
                &state,
                &headers,
                StatusCode::BAD_GATEWAY,
                "oidc-unreachable",
            );
        }
    };
    let tokens = match request
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(&oidc.http)
        .await
    {
        Ok(t) => t,
        Err(RequestTokenError::ServerResponse(e)) => {
            tracing::info!(error = %e.error(), "the identity provider refused the code");
            return refused(&state, &headers, StatusCode::UNAUTHORIZED, "oidc-refused");
        }
        Err(e) => {
            tracing::warn!(error = %e, "the token request failed");
            return refused(
                &state,
                &headers,
                StatusCode::BAD_GATEWAY,
                "oidc-unreachable",
            );
        }
    };
    let Some(id_token) = tokens.id_token() else {
        tracing::warn!("the identity provider answered without an ID token");
        return refused(
            &state,
            &headers,
            StatusCode::BAD_GATEWAY,
            "oidc-unreachable",
        );
    };
    let verifier = client.id_token_verifier();
    let claims = match id_token.claims(&verifier, &Nonce::new(pending.nonce.clone())) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "an ID token was refused");
            return refused(&state, &headers, StatusCode::UNAUTHORIZED, "oidc-refused");
        }
    };
    let subject = claims.subject().as_str();
    let user = match state.store.oidc_user(oidc.issuer(), subject).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            tracing::info!("an identity provider's subject is linked to no active user");
            let message = Texts(Lang::En).t_with("oidc-no-account", &[("subject", subject)]);
            return refused_with(&state, &headers, StatusCode::FORBIDDEN, &message);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read users");
            return super::layout::bare_error(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let response = session::signed_in(&state, &headers, &user, &pending.next, "oidc").await;
    forget(&headers, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Pending {
        Pending {
            state: "s1".into(),
            nonce: "n1".into(),
            verifier: "v1".into(),
            next: "/cases/HW-1?x=1.2".into(),
        }
    }

    #[test]
    fn a_pending_sign_in_opens_only_as_this_service_sealed_it() {
        let key = DecisionKey::new(&[7; 32]).expect("key");
        let sealed = pending().seal(&key);
        assert_eq!(Pending::open(&key, &sealed), Some(pending()));
        // Another service's key, an edited field, a dropped tag: none opens.
        let other = DecisionKey::new(&[8; 32]).expect("key");
        assert_eq!(Pending::open(&other, &sealed), None);
        assert_eq!(Pending::open(&key, &sealed.replacen("s1", "s2", 1)), None);
        let (payload, _) = sealed.rsplit_once('.').expect("tag");
        assert_eq!(Pending::open(&key, payload), None);
        assert_eq!(Pending::open(&key, ""), None);
    }
}
