//! A fake OpenID Connect provider over HTTP (wiremock), strict where a real one is: discovery,
//! its keys (Ed25519, generated per test), an authorization endpoint that signs in one person
//! without a page (it sends the browser straight back with a code) and refuses a request
//! without a PKCE S256 challenge, and a token endpoint that redeems each code once, only for
//! the client, redirect address and PKCE verifier it was issued to. Tests can make it misbehave
//! the ways an attacker would: another key, another audience, another nonce, an expired token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use openidconnect::core::{
    CoreEdDsaPrivateSigningKey, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey,
    StandardClaims, SubjectIdentifier,
};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The client id tests register Homeward under.
pub const CLIENT_ID: &str = "homeward-test";

/// How the provider misbehaves in its next ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tamper {
    /// A well-formed token.
    #[default]
    None,
    /// Signed with a key the provider does not publish.
    ForeignKey,
    /// Issued to another client.
    OtherAudience,
    /// Carrying a nonce the sign-in did not ask for.
    OtherNonce,
    /// Expired an hour ago.
    Expired,
}

struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Shared {
    issuer: String,
    subject: String,
    key: CoreEdDsaPrivateSigningKey,
    foreign: CoreEdDsaPrivateSigningKey,
    codes: HashMap<String, Grant>,
    tamper: Tamper,
    redeemed: usize,
}

/// The provider; dropped with its test.
pub struct FakeIdp {
    server: MockServer,
    shared: Arc<Mutex<Shared>>,
}

fn key(kid: &str) -> CoreEdDsaPrivateSigningKey {
    let secret: [u8; 32] = rand::random();
    let pem = ed25519_dalek::SigningKey::from_bytes(&secret)
        .to_pkcs8_pem(Default::default())
        .expect("pem");
    CoreEdDsaPrivateSigningKey::from_ed25519_pem(&pem, Some(JsonWebKeyId::new(kid.into())))
        .expect("key")
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

impl FakeIdp {
    /// A provider that signs everyone in as `subject`.
    pub async fn start(subject: &str) -> Self {
        let server = MockServer::start().await;
        let issuer = server.uri();
        let shared = Arc::new(Mutex::new(Shared {
            issuer: issuer.clone(),
            subject: subject.into(),
            key: key("k1"),
            foreign: key("k1"),
            codes: HashMap::new(),
            tamper: Tamper::None,
            redeemed: 0,
        }));
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["EdDSA"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
            })))
            .mount(&server)
            .await;
        let jwks = {
            let s = shared.lock().expect("idp");
            serde_json::to_value(CoreJsonWebKeySet::new(vec![s.key.as_verification_key()]))
                .expect("jwks")
        };
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/authorize"))
            .respond_with(Authorize(shared.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(Token(shared.clone()))
            .mount(&server)
            .await;
        Self { server, shared }
    }

    /// The issuer identifier (also the discovery base).
    pub fn issuer(&self) -> String {
        self.server.uri()
    }

    /// Signs the next people in as `subject`.
    pub fn sign_in_as(&self, subject: &str) {
        self.shared.lock().expect("idp").subject = subject.into();
    }

    /// Makes the next ID tokens misbehave.
    pub fn tamper(&self, tamper: Tamper) {
        self.shared.lock().expect("idp").tamper = tamper;
    }

    /// Codes redeemed so far.
    pub fn redeemed(&self) -> usize {
        self.shared.lock().expect("idp").redeemed
    }
}

struct Authorize(Arc<Mutex<Shared>>);

impl Respond for Authorize {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q = query(request);
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let redirect = get("redirect_uri");
        let back = |params: &[(&str, &str)]| {
            let mut url = url::Url::parse(&redirect).expect("redirect_uri");
            url.query_pairs_mut().extend_pairs(params);
            ResponseTemplate::new(302).insert_header("location", url.as_str())
        };
        if redirect.is_empty() || get("client_id") != CLIENT_ID {
            return ResponseTemplate::new(400).set_body_string("unknown client or redirect_uri");
        }
        let state = get("state");
        let scopes = get("scope");
        if get("response_type") != "code" || !scopes.split(' ').any(|s| s == "openid") {
            return back(&[("error", "unsupported_response_type"), ("state", &state)]);
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
            return back(&[
                ("error", "invalid_request"),
                ("error_description", "PKCE S256 required"),
                ("state", &state),
            ]);
        }
        let code = hex::encode(rand::random::<[u8; 16]>());
        self.0.lock().expect("idp").codes.insert(
            code.clone(),
            Grant {
                challenge: get("code_challenge"),
                nonce: get("nonce"),
                redirect_uri: redirect.clone(),
            },
        );
        back(&[("code", &code), ("state", &state)])
    }
}

struct Token(Arc<Mutex<Shared>>);

impl Respond for Token {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        let refuse = |error: &str| {
            ResponseTemplate::new(400).set_body_json(serde_json::json!({ "error": error }))
        };
        let mut shared = self.0.lock().expect("idp");
        if get("grant_type") != "authorization_code" || get("client_id") != CLIENT_ID {
            return refuse("invalid_client");
        }
        // Each code once (RFC 6749 §4.1.2), for the redirect address it was issued to.
        let Some(grant) = shared.codes.remove(&get("code")) else {
            return refuse("invalid_grant");
        };
        if grant.redirect_uri != get("redirect_uri") {
            return refuse("invalid_grant");
        }
        // PKCE (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) == challenge.
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(get("code_verifier").as_bytes()));
        if computed != grant.challenge {
            return refuse("invalid_grant");
        }
        shared.redeemed += 1;
        let now = chrono::Utc::now();
        let (audience, nonce, expires) = match shared.tamper {
            Tamper::OtherAudience => (
                "someone-else".to_owned(),
                grant.nonce,
                now + chrono::Duration::minutes(5),
            ),
            Tamper::OtherNonce => (
                CLIENT_ID.to_owned(),
                "not-the-nonce".to_owned(),
                now + chrono::Duration::minutes(5),
            ),
            Tamper::Expired => (
                CLIENT_ID.to_owned(),
                grant.nonce,
                now - chrono::Duration::hours(1),
            ),
            Tamper::None | Tamper::ForeignKey => (
                CLIENT_ID.to_owned(),
                grant.nonce,
                now + chrono::Duration::minutes(5),
            ),
        };
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(shared.issuer.clone()).expect("issuer"),
            vec![Audience::new(audience)],
            expires,
            now - chrono::Duration::seconds(1),
            StandardClaims::new(SubjectIdentifier::new(shared.subject.clone())),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new(nonce)));
        let key = if shared.tamper == Tamper::ForeignKey {
            &shared.foreign
        } else {
            &shared.key
        };
        let token = CoreIdToken::new(claims, key, CoreJwsSigningAlgorithm::EdDsa, None, None)
            .expect("id token");
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": hex::encode(rand::random::<[u8; 16]>()),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": token.to_string(),
        }))
    }
}
