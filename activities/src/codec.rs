//! The payload codec: every payload a Homeward client or worker sends Temporal (workflow
//! inputs, Update arguments and their free-text reasons, results, activity inputs and outputs,
//! memos) is encrypted before it leaves the process, so Temporal's history and database hold
//! nothing readable. XChaCha20-Poly1305 (RustCrypto) under `keys.payloads`, a random nonce per
//! payload; the encrypted payload's metadata says `encoding: binary/encrypted` and which key
//! (`encryption-key-id`), so keys can rotate (`keys.previous_payloads` still decode).
//!
//! A payload without that encoding passes through unchanged: histories recorded before the
//! codec replay as they were. Search attributes are not payloads a codec sees, which is why
//! they carry nothing personal. The API's `/codec/decode` lets the Temporal Web UI show
//! histories to admins and auditors (Temporal's codec-server protocol).

use std::sync::Arc;

use base64::Engine;
use futures_util::future::BoxFuture;
use prost::Message;
use serde::{Deserialize, Serialize};
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use zeroize::Zeroizing;

use crate::vault::{key_id, open, seal};

/// The metadata value that marks an encrypted payload.
pub const ENCODING: &str = "binary/encrypted";
/// The metadata key naming the payload key.
pub const KEY_ID: &str = "encryption-key-id";

/// What the associated data of every encrypted payload says, so a payload of another system
/// with the same key cannot pass for ours.
const AAD: &[u8] = b"homeward-payload-v1";

/// The payload keys: the current one encrypts; any of them decrypts.
#[derive(Clone)]
pub struct PayloadCodecKeys {
    current: Arc<(String, Zeroizing<[u8; 32]>)>,
    all: Arc<Vec<(String, Zeroizing<[u8; 32]>)>>,
}

impl std::fmt::Debug for PayloadCodecKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PayloadCodecKeys(current {}, [REDACTED])",
            self.current.0
        )
    }
}

impl PayloadCodecKeys {
    /// The current key and earlier ones.
    pub fn new(current: [u8; 32], previous: Vec<[u8; 32]>) -> Self {
        let named = |k: [u8; 32]| (key_id(&k), Zeroizing::new(k));
        let all: Vec<_> = std::iter::once(current)
            .chain(previous)
            .map(named)
            .collect();
        Self {
            current: Arc::new(named(current)),
            all: Arc::new(all),
        }
    }

    /// Encrypts one payload (its protobuf encoding, metadata included).
    pub fn encode(&self, payload: Payload) -> Result<Payload, PayloadConversionError> {
        let (id, key) = &*self.current;
        let plain = Zeroizing::new(payload.encode_to_vec());
        let sealed = seal(key, &plain, AAD)
            .map_err(|e| PayloadConversionError::EncodingError(Box::new(e)))?;
        Ok(Payload {
            metadata: [
                ("encoding".to_owned(), ENCODING.as_bytes().to_vec()),
                (KEY_ID.to_owned(), id.as_bytes().to_vec()),
            ]
            .into(),
            data: sealed,
            ..Default::default()
        })
    }

    /// Decrypts one payload; one that is not encrypted passes through.
    pub fn decode(&self, payload: Payload) -> Result<Payload, PayloadConversionError> {
        if payload.metadata.get("encoding").map(Vec::as_slice) != Some(ENCODING.as_bytes()) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default();
        let Some((_, key)) = self.all.iter().find(|(k, _)| k == id) else {
            return Err(PayloadConversionError::EncodingError(
                format!("no configured payload key has id {id:?} (keys.payloads)").into(),
            ));
        };
        let plain = Zeroizing::new(
            open(key, &payload.data, AAD)
                .map_err(|e| PayloadConversionError::EncodingError(Box::new(e)))?,
        );
        Payload::decode(plain.as_slice())
            .map_err(|e| PayloadConversionError::EncodingError(Box::new(e)))
    }
}

/// The codec the SDK applies to every payload of a client or worker.
#[derive(Clone)]
pub struct EncryptionCodec(pub PayloadCodecKeys);

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let result = payloads.into_iter().map(|p| self.0.encode(p)).collect();
        Box::pin(async move { result })
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let result = payloads.into_iter().map(|p| self.0.decode(p)).collect();
        Box::pin(async move { result })
    }
}

/// The data converter of every Homeward client and worker: the SDK's JSON payloads, encrypted.
pub fn data_converter(keys: PayloadCodecKeys) -> DataConverter {
    DataConverter::new(
        PayloadConverter::default(),
        DefaultFailureConverter::default(),
        EncryptionCodec(keys),
    )
}

// ---------------------------------------------------------------------------------------------
// Temporal's codec-server protocol (what the Web UI posts to /codec/encode and /codec/decode):
// `{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}`, payloads in
// protobuf JSON.
// ---------------------------------------------------------------------------------------------

/// One payload in protobuf JSON: metadata values and data base64-encoded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JsonPayload {
    /// Metadata, each value base64.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// The data, base64.
    #[serde(default)]
    pub data: String,
}

/// The codec server's request and answer body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JsonPayloads {
    /// The payloads.
    pub payloads: Vec<JsonPayload>,
}

/// Why a codec-server body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecServerError {
    /// A value that is not base64; the field is named.
    #[error("{0}: is not base64")]
    Base64(String),
    /// A payload that does not decrypt.
    #[error("a payload does not decode: {0}")]
    Payload(String),
}

fn to_payload(j: JsonPayload, i: usize) -> Result<Payload, CodecServerError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut metadata = std::collections::HashMap::new();
    for (k, v) in j.metadata {
        let bytes = b64
            .decode(v)
            .map_err(|_| CodecServerError::Base64(format!("payloads[{i}].metadata.{k}")))?;
        metadata.insert(k, bytes);
    }
    let data = b64
        .decode(j.data)
        .map_err(|_| CodecServerError::Base64(format!("payloads[{i}].data")))?;
    Ok(Payload {
        metadata,
        data,
        ..Default::default()
    })
}

fn to_json(p: Payload) -> JsonPayload {
    let b64 = base64::engine::general_purpose::STANDARD;
    JsonPayload {
        metadata: p
            .metadata
            .into_iter()
            .map(|(k, v)| (k, b64.encode(v)))
            .collect(),
        data: b64.encode(p.data),
    }
}

impl PayloadCodecKeys {
    /// The codec server's `/decode`.
    pub fn decode_json(&self, body: JsonPayloads) -> Result<JsonPayloads, CodecServerError> {
        let mut out = Vec::with_capacity(body.payloads.len());
        for (i, j) in body.payloads.into_iter().enumerate() {
            let p = self
                .decode(to_payload(j, i)?)
                .map_err(|e| CodecServerError::Payload(e.to_string()))?;
            out.push(to_json(p));
        }
        Ok(JsonPayloads { payloads: out })
    }

    /// The codec server's `/encode`.
    pub fn encode_json(&self, body: JsonPayloads) -> Result<JsonPayloads, CodecServerError> {
        let mut out = Vec::with_capacity(body.payloads.len());
        for (i, j) in body.payloads.into_iter().enumerate() {
            let p = self
                .encode(to_payload(j, i)?)
                .map_err(|e| CodecServerError::Payload(e.to_string()))?;
            out.push(to_json(p));
        }
        Ok(JsonPayloads { payloads: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_payload_round_trips_and_is_unreadable_in_between() {
        let keys = PayloadCodecKeys::new([4; 32], vec![]);
        let secret = plain("\"Amal Hassan\"");
        let sealed = keys.encode(secret.clone()).unwrap();
        assert!(!String::from_utf8_lossy(&sealed.data).contains("Amal"));
        assert_eq!(keys.decode(sealed.clone()).unwrap(), secret);
        // A payload recorded before the codec passes through.
        assert_eq!(keys.decode(secret.clone()).unwrap(), secret);
        // Another key cannot read it; a rotated set still can.
        assert!(
            PayloadCodecKeys::new([5; 32], vec![])
                .decode(sealed.clone())
                .is_err()
        );
        let rotated = PayloadCodecKeys::new([5; 32], vec![[4; 32]]);
        assert_eq!(rotated.decode(sealed).unwrap(), secret);
    }

    #[test]
    fn the_codec_server_protocol_round_trips() {
        let keys = PayloadCodecKeys::new([4; 32], vec![]);
        let body: JsonPayloads = serde_json::from_value(serde_json::json!({
            "payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IkFtYWwi"}]
        }))
        .unwrap();
        let encoded = keys.encode_json(body.clone()).unwrap();
        let decoded = keys.decode_json(encoded).unwrap();
        assert_eq!(decoded.payloads[0].data, "IkFtYWwi");
        let bad: JsonPayloads =
            serde_json::from_value(serde_json::json!({"payloads": [{"data": "%%%"}]})).unwrap();
        assert!(matches!(
            keys.decode_json(bad),
            Err(CodecServerError::Base64(f)) if f == "payloads[0].data"
        ));
    }
}
