//! The person vault: where personal data lives, and the only place. Each case has its own data
//! key (32 random bytes); each household member's record is encrypted with it (XChaCha20-
//! Poly1305 from RustCrypto, a random 192-bit nonce per write, the case and member as
//! associated data so a record cannot be moved to another case). The data key is stored only
//! wrapped (encrypted) by a key-encryption key from a [`KeyProvider`]: a local key from
//! configuration by default ([`LocalKeys`], `keys.kek`), or a KMS / Vault Transit behind the
//! same trait. Rotating the key-encryption key re-wraps data keys without touching records.
//! Erasing a case destroys its data key (crypto-shredding) and deletes its records and index
//! entries; statistics keep counting the case.
//!
//! Search without decrypting: a blind index of keyed HMACs (its own key, `keys.blind_index`)
//! over normalised names with the date (or year) of birth, and over document numbers.
//!
//! Nothing here logs or returns a value of a record in an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::{BirthDate, Person};

use crate::store::{CaseStore, StoreError, format_ts};

/// Why the vault could not do something. Messages never hold personal data.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The case's personal data was erased; nothing can be read or written any more.
    #[error("the case's personal data was erased")]
    Erased,
    /// No record for that member.
    #[error("no personal record for that member")]
    NotFound,
    /// A key could not unwrap a data key, or a record could not be decrypted with its key:
    /// the configured key is wrong, or the data was tampered with.
    #[error("a key does not open the data it should ({0})")]
    Key(String),
    /// The case store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for VaultError {
    fn from(e: sqlx::Error) -> Self {
        VaultError::Store(StoreError::Database(e))
    }
}

/// A case's data key, in memory only while used.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    fn random() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::thread_rng().fill_bytes(k.as_mut());
        Self(k)
    }
}

/// A data key as stored: encrypted by the key-encryption key `kek_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Which key-encryption key wrapped it.
    pub kek_id: String,
    /// The wrapped key (nonce, then ciphertext).
    pub bytes: Vec<u8>,
}

/// Where key-encryption keys live. The local implementation holds them from configuration; a
/// KMS (AWS KMS, Google Cloud KMS) or HashiCorp Vault's Transit engine implements the same
/// three calls by sending the data key to the service to be wrapped or unwrapped, so the
/// key-encryption key never leaves it (see ARCHITECTURE.md, "Keys").
pub trait KeyProvider: Send + Sync {
    /// The id of the key new data keys are wrapped with.
    fn current_id(&self) -> &str;
    /// Wraps a data key with the current key.
    fn wrap(&self, key: &DataKey) -> Result<WrappedKey, VaultError>;
    /// Unwraps a data key, with whichever known key wrapped it.
    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, VaultError>;
    /// Whether a key with this id is known (the current one or an earlier one).
    fn knows(&self, kek_id: &str) -> bool;
}

/// Key-encryption keys from configuration: the current one (`keys.kek`) and earlier ones
/// (`keys.previous_keks`) kept to unwrap data keys not yet re-wrapped.
pub struct LocalKeys {
    current: (String, Zeroizing<[u8; 32]>),
    previous: Vec<(String, Zeroizing<[u8; 32]>)>,
}

/// A key's id: a short hash of it (tells keys apart, reveals nothing of them).
pub fn key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"homeward-key-id");
    h.update(key);
    hex::encode(&h.finalize()[..6])
}

impl LocalKeys {
    /// The current key and earlier ones.
    pub fn new(current: [u8; 32], previous: Vec<[u8; 32]>) -> Self {
        let named = |k: [u8; 32]| (key_id(&k), Zeroizing::new(k));
        Self {
            current: named(current),
            previous: previous.into_iter().map(named).collect(),
        }
    }

    fn find(&self, id: &str) -> Option<&[u8; 32]> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|(k, _)| k == id)
            .map(|(_, key)| &**key)
    }
}

impl KeyProvider for LocalKeys {
    fn current_id(&self) -> &str {
        &self.current.0
    }

    fn wrap(&self, key: &DataKey) -> Result<WrappedKey, VaultError> {
        Ok(WrappedKey {
            kek_id: self.current.0.clone(),
            bytes: seal(&self.current.1, key.0.as_ref(), b"homeward-data-key")?,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, VaultError> {
        let kek = self.find(&wrapped.kek_id).ok_or_else(|| {
            VaultError::Key(format!("no configured key has id {}", wrapped.kek_id))
        })?;
        let mut plain = open(kek, &wrapped.bytes, b"homeward-data-key")?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Key("a wrapped data key has the wrong length".into()))?;
        plain.zeroize();
        Ok(DataKey(Zeroizing::new(key)))
    }

    fn knows(&self, kek_id: &str) -> bool {
        self.find(kek_id).is_some()
    }
}

/// Encrypts with XChaCha20-Poly1305 under `key`: a random nonce, then the ciphertext.
pub fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut out = nonce.to_vec();
    out.extend(
        cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| VaultError::Key("encryption failed".into()))?,
    );
    Ok(out)
}

/// Decrypts what [`seal`] made; fails on a wrong key or any change to the bytes.
pub fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < 24 {
        return Err(VaultError::Key("sealed data too short".into()));
    }
    let (nonce, body) = sealed.split_at(24);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
        .map_err(|_| VaultError::Key("the key does not open this data".into()))
}

/// The blind index's key (`keys.blind_index`): keyed HMACs, so the index reveals nothing
/// without it and cannot be brute-forced from a list of common names.
#[derive(Clone)]
pub struct IndexKey(Arc<Zeroizing<[u8; 32]>>);

impl IndexKey {
    /// The key.
    pub fn new(key: [u8; 32]) -> Self {
        Self(Arc::new(Zeroizing::new(key)))
    }

    fn digest(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(kind.as_bytes());
        mac.update(b"\x00");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A name as the blind index compares it: compatibility-decomposed, accents and punctuation
/// dropped, lower case, its words sorted (so "Hassan, Amal" and "amal HASSAN" match).
pub fn normalise_name(given: &str, family: &str) -> String {
    let text = format!("{given} {family}");
    let plain: String = text
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = plain.split_whitespace().collect();
    words.sort_unstable();
    words.join(" ")
}

/// The index entries of a person: each of their names (as in the document, original script,
/// transliteration) with the date of birth and with the year of birth, and each document
/// number.
fn index_entries(key: &IndexKey, person: &Person) -> Vec<(&'static str, String)> {
    let mut names = vec![normalise_name(
        person.names.document.given.as_str(),
        person.names.document.family.as_str(),
    )];
    if let Some(o) = &person.names.original {
        names.push(normalise_name(o.given.as_str(), o.family.as_str()));
    }
    if let Some(t) = &person.names.transliteration {
        names.push(normalise_name(t.given.as_str(), t.family.as_str()));
    }
    let mut out = Vec::new();
    for name in names {
        if let Some(born) = person.date_of_birth {
            if let BirthDate::Full(d) = born {
                out.push(("name_dob", key.digest("name_dob", &format!("{name}|{d}"))));
            }
            out.push((
                "name_year",
                key.digest("name_year", &format!("{name}|{}", born.year())),
            ));
        }
    }
    for d in &person.documents {
        out.push(("document", key.digest("document", d.number.as_str())));
    }
    out.sort();
    out.dedup();
    out
}

/// What to look for.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A name and a date (or year) of birth.
    Name {
        /// Given names.
        given: String,
        /// Family name.
        family: String,
        /// Date or year of birth.
        born: BirthDate,
    },
    /// A document number (already normalised by its parse).
    Document(String),
}

/// A person found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// The case.
    pub reference: CaseRef,
    /// The member within it.
    pub member: u32,
}

/// A case's record of a member, with when it last changed.
pub struct Record {
    /// The member's position in the household.
    pub member: u32,
    /// Their data.
    pub person: Person,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// The vault: the case store's encrypted tables, the key provider and the index key.
#[derive(Clone)]
pub struct Vault {
    store: CaseStore,
    keys: Arc<dyn KeyProvider>,
    index: IndexKey,
}

impl Vault {
    /// A vault over `store`.
    pub fn new(store: CaseStore, keys: Arc<dyn KeyProvider>, index: IndexKey) -> Self {
        Self { store, keys, index }
    }

    /// The case store it keeps its tables in.
    pub fn store(&self) -> &CaseStore {
        &self.store
    }

    /// Checks at start that every data key in the store is wrapped by a configured key; the
    /// error says which id is missing (configuration names it: `keys.kek`).
    pub async fn check_keys(&self) -> Result<(), VaultError> {
        // One data key per key-encryption key is enough to prove the configured key opens it.
        let rows = sqlx::query(
            "SELECT kek_id, MIN(wrapped) AS wrapped FROM case_keys WHERE erased_at IS NULL \
             GROUP BY kek_id",
        )
        .fetch_all(&self.store.pool)
        .await?;
        for row in rows {
            let kek_id: String = row.try_get("kek_id")?;
            if !self.keys.knows(&kek_id) {
                return Err(VaultError::Key(format!(
                    "the case store holds data keys wrapped with key {kek_id}, which no \
                     configured key is"
                )));
            }
            let wrapped = WrappedKey {
                kek_id,
                bytes: hex::decode(row.try_get::<String, _>("wrapped")?)
                    .map_err(|_| VaultError::Key("a stored data key is not hex".into()))?,
            };
            self.keys.unwrap(&wrapped)?;
        }
        Ok(())
    }

    /// The case's data key, created (and stored wrapped) on first use.
    async fn data_key(&self, reference: &CaseRef, create: bool) -> Result<DataKey, VaultError> {
        let row =
            sqlx::query("SELECT kek_id, wrapped, erased_at FROM case_keys WHERE reference = $1")
                .bind(reference.as_str())
                .fetch_optional(&self.store.pool)
                .await?;
        if let Some(row) = row {
            if row.try_get::<Option<String>, _>("erased_at")?.is_some() {
                return Err(VaultError::Erased);
            }
            let wrapped = WrappedKey {
                kek_id: row.try_get("kek_id")?,
                bytes: hex::decode(row.try_get::<String, _>("wrapped")?)
                    .map_err(|_| VaultError::Key("a stored data key is not hex".into()))?,
            };
            return self.keys.unwrap(&wrapped);
        }
        if !create {
            return Err(VaultError::NotFound);
        }
        let key = DataKey::random();
        let wrapped = self.keys.wrap(&key)?;
        sqlx::query(
            "INSERT INTO case_keys (reference, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (reference) DO NOTHING",
        )
        .bind(reference.as_str())
        .bind(&wrapped.kek_id)
        .bind(hex::encode(&wrapped.bytes))
        .bind(format_ts(Utc::now()))
        .execute(&self.store.pool)
        .await?;
        // Two writers may race to create it: whichever row stands is the key.
        Box::pin(self.data_key(reference, false)).await
    }

    fn aad(reference: &CaseRef, member: u32) -> Vec<u8> {
        format!("{reference}/{member}").into_bytes()
    }

    /// Writes a member's record (encrypted) and their index entries.
    pub async fn put(
        &self,
        reference: &CaseRef,
        member: u32,
        person: &Person,
        at: DateTime<Utc>,
    ) -> Result<(), VaultError> {
        let key = self.data_key(reference, true).await?;
        let plain = Zeroizing::new(
            serde_json::to_vec(person).map_err(|_| VaultError::Key("encoding failed".into()))?,
        );
        let sealed = seal(&key.0, &plain, &Self::aad(reference, member))?;
        let mut tx = self.store.pool.begin().await?;
        sqlx::query(
            "INSERT INTO people (reference, member, sealed, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (reference, member) DO UPDATE SET sealed = $3, updated_at = $4",
        )
        .bind(reference.as_str())
        .bind(i64::from(member))
        .bind(hex::encode(&sealed))
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM person_index WHERE reference = $1 AND member = $2")
            .bind(reference.as_str())
            .bind(i64::from(member))
            .execute(&mut *tx)
            .await?;
        for (kind, digest) in index_entries(&self.index, person) {
            sqlx::query(
                "INSERT INTO person_index (digest, kind, reference, member) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&digest)
            .bind(kind)
            .bind(reference.as_str())
            .bind(i64::from(member))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every member's record of a case, by position. `Erased` once the case was erased.
    pub async fn people(&self, reference: &CaseRef) -> Result<Vec<Record>, VaultError> {
        let key = match self.data_key(reference, false).await {
            Ok(k) => k,
            Err(VaultError::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let rows = sqlx::query(
            "SELECT member, sealed, updated_at FROM people WHERE reference = $1 ORDER BY member",
        )
        .bind(reference.as_str())
        .fetch_all(&self.store.pool)
        .await?;
        let mut out = BTreeMap::new();
        for row in rows {
            let member = u32::try_from(row.try_get::<i64, _>("member")?).unwrap_or(u32::MAX);
            let sealed = hex::decode(row.try_get::<String, _>("sealed")?)
                .map_err(|_| VaultError::Key("a stored record is not hex".into()))?;
            let plain = Zeroizing::new(open(&key.0, &sealed, &Self::aad(reference, member))?);
            let person: Person = serde_json::from_slice(&plain)
                .map_err(|_| VaultError::Key("a record does not decode".into()))?;
            let updated_at = crate::store::parse_ts(
                "people.updated_at",
                &row.try_get::<String, _>("updated_at")?,
            )?;
            out.insert(
                member,
                Record {
                    member,
                    person,
                    updated_at,
                },
            );
        }
        Ok(out.into_values().collect())
    }

    /// One member's record.
    pub async fn person(&self, reference: &CaseRef, member: u32) -> Result<Record, VaultError> {
        self.people(reference)
            .await?
            .into_iter()
            .find(|r| r.member == member)
            .ok_or(VaultError::NotFound)
    }

    /// Whether the case's personal data was erased.
    pub async fn is_erased(&self, reference: &CaseRef) -> Result<bool, VaultError> {
        Ok(sqlx::query(
            "SELECT reference FROM case_keys WHERE reference = $1 AND erased_at IS NOT NULL",
        )
        .bind(reference.as_str())
        .fetch_optional(&self.store.pool)
        .await?
        .is_some())
    }

    /// Erases a case's personal data: destroys its data key (crypto-shredding), deletes its
    /// records and index entries. Idempotent. The case row, its stages, payments and scores
    /// (numbers only) stay for statistics.
    pub async fn erase(&self, reference: &CaseRef, at: DateTime<Utc>) -> Result<(), VaultError> {
        let mut tx = self.store.pool.begin().await?;
        let destroyed = sqlx::query(
            "UPDATE case_keys SET wrapped = '', erased_at = $2 WHERE reference = $1 \
             AND erased_at IS NULL",
        )
        .bind(reference.as_str())
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if destroyed == 0 {
            // No key yet (no record was ever written), or erased before: mark it erased.
            sqlx::query(
                "INSERT INTO case_keys (reference, kek_id, wrapped, created_at, erased_at) \
                 VALUES ($1, '', '', $2, $2) ON CONFLICT (reference) DO NOTHING",
            )
            .bind(reference.as_str())
            .bind(format_ts(at))
            .execute(&mut *tx)
            .await?;
        }
        for table in ["people", "person_index"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE reference = $1"))
                .bind(reference.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Re-wraps every live data key with the current key-encryption key (after rotating it);
    /// how many. The records are not touched.
    pub async fn rewrap_all(&self) -> Result<usize, VaultError> {
        let rows = sqlx::query(
            "SELECT reference, kek_id, wrapped FROM case_keys WHERE erased_at IS NULL \
             AND kek_id <> $1",
        )
        .bind(self.keys.current_id())
        .fetch_all(&self.store.pool)
        .await?;
        let mut n = 0;
        for row in rows {
            let wrapped = WrappedKey {
                kek_id: row.try_get("kek_id")?,
                bytes: hex::decode(row.try_get::<String, _>("wrapped")?)
                    .map_err(|_| VaultError::Key("a stored data key is not hex".into()))?,
            };
            let key = self.keys.unwrap(&wrapped)?;
            let fresh = self.keys.wrap(&key)?;
            sqlx::query(
                "UPDATE case_keys SET kek_id = $1, wrapped = $2, rewrapped_at = $3 \
                 WHERE reference = $4 AND erased_at IS NULL",
            )
            .bind(&fresh.kek_id)
            .bind(hex::encode(&fresh.bytes))
            .bind(format_ts(Utc::now()))
            .bind(row.try_get::<String, _>("reference")?)
            .execute(&self.store.pool)
            .await?;
            n += 1;
        }
        Ok(n)
    }

    /// The members whose index entries match `lookup` (in any case; the caller applies the
    /// scope rule).
    pub async fn find(&self, lookup: &Lookup) -> Result<Vec<Found>, VaultError> {
        let digests: Vec<String> = match lookup {
            Lookup::Name {
                given,
                family,
                born,
            } => {
                let name = normalise_name(given, family);
                match born {
                    BirthDate::Full(d) => vec![
                        self.index.digest("name_dob", &format!("{name}|{d}")),
                        // A record that knows only the year matches on it.
                        self.index
                            .digest("name_year", &format!("{name}|{}", born.year())),
                    ],
                    BirthDate::Year(y) => {
                        vec![self.index.digest("name_year", &format!("{name}|{y}"))]
                    }
                }
            }
            Lookup::Document(number) => vec![self.index.digest("document", number)],
        };
        let mut found = std::collections::BTreeSet::new();
        for digest in digests {
            let rows =
                sqlx::query("SELECT reference, member, kind FROM person_index WHERE digest = $1")
                    .bind(&digest)
                    .fetch_all(&self.store.pool)
                    .await?;
            for row in rows {
                // A full date matches a year-only record; a year-only record with a full date
                // only on the same year (both carry name_year entries).
                let reference =
                    CaseRef::parse(&row.try_get::<String, _>("reference")?).map_err(|e| {
                        StoreError::Corrupt {
                            column: "person_index.reference",
                            problem: e.to_string(),
                        }
                    })?;
                let member = u32::try_from(row.try_get::<i64, _>("member")?).unwrap_or(u32::MAX);
                found.insert(Found { reference, member });
            }
        }
        Ok(found.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whatever_their_order_case_accents_and_punctuation() {
        assert_eq!(
            normalise_name("Amal", "Hassan"),
            normalise_name("HASSAN,", "amal")
        );
        assert_eq!(
            normalise_name("José-María", "Núñez"),
            normalise_name("jose maria", "nunez")
        );
        assert_ne!(
            normalise_name("Amal", "Hassan"),
            normalise_name("Amal", "Hussein")
        );
        // Arabic script is kept (letters), only lower-cased where that applies.
        assert_eq!(normalise_name("أمل", "حسن"), normalise_name("حسن", "أمل"));
    }

    #[test]
    fn a_data_key_wrapped_by_one_key_opens_only_with_it_and_survives_rotation() {
        let old = LocalKeys::new([1; 32], vec![]);
        let key = DataKey::random();
        let wrapped = old.wrap(&key).unwrap();
        assert_eq!(&*old.unwrap(&wrapped).unwrap().0, &*key.0);
        let rotated = LocalKeys::new([2; 32], vec![[1; 32]]);
        assert!(rotated.knows(&wrapped.kek_id));
        assert_eq!(&*rotated.unwrap(&wrapped).unwrap().0, &*key.0);
        assert_ne!(rotated.wrap(&key).unwrap().kek_id, wrapped.kek_id);
        let stranger = LocalKeys::new([3; 32], vec![]);
        assert!(stranger.unwrap(&wrapped).is_err());
        let mut tampered = wrapped.clone();
        *tampered.bytes.last_mut().unwrap() ^= 1;
        assert!(old.unwrap(&tampered).is_err());
    }

    #[test]
    fn a_record_is_bound_to_its_case_and_member() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"secret", b"HW-1/0").unwrap();
        assert_eq!(open(&key, &sealed, b"HW-1/0").unwrap(), b"secret");
        assert!(open(&key, &sealed, b"HW-2/0").is_err());
        assert!(open(&key, &sealed, b"HW-1/1").is_err());
    }
}
