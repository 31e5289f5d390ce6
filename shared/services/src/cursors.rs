//! Page cursors. A cursor holds where to resume (a DynamoDB key) and which
//! way, is bound to the ordering and filters it was made for, and is signed
//! (HMAC-SHA256), so an altered, truncated or made-up one is a 400 on
//! `cursor`, never a 500 and never a read of something unintended.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use domain::{Error, FieldErrors};

type HmacSha256 = Hmac<Sha256>;

/// Which way a page reads; the store's, carried in cursors.
pub use domain::page::Direction;

/// Where a page starts: the key of the item just before it (exclusive), in
/// the given direction of the listing's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    scope: String,
    #[serde(rename = "d")]
    pub direction: Direction,
    #[serde(rename = "k")]
    pub key: BTreeMap<String, String>,
}

/// What a cursor is bound to: the listing, its ordering and its filters.
/// Two requests with the same scope may share cursors.
pub fn scope_of(parts: &[(&str, &str)]) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in parts {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..12])
}

/// Signs and checks cursors with a key derived from a secret of the
/// deployment (so no extra secret to manage, and no token can pass for a
/// cursor or the reverse).
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(<key>)")
    }
}

fn invalid_cursor() -> Error {
    Error::Validation(FieldErrors::single("cursor", "Invalid cursor."))
}

impl CursorCodec {
    pub fn derive_from(secret: &[u8]) -> Self {
        let key = match HmacSha256::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(b"pagination-cursor-v1");
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC takes keys of any length; this arm is unreachable.
            Err(_) => secret.to_vec(),
        };
        Self { key }
    }

    fn mac(&self) -> HmacSha256 {
        // An HMAC key of any length is accepted.
        HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    pub fn encode(&self, scope: &str, direction: Direction, key: BTreeMap<String, String>) -> String {
        let cursor = Cursor { scope: scope.to_owned(), direction, key };
        let payload = serde_json::to_vec(&cursor).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&payload);
        let signature = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature))
    }

    /// Where a listing of `scope` starts: the cursor's direction and
    /// position, or the first page for no cursor (an empty one included).
    pub fn start(
        &self,
        text: Option<&str>,
        scope: &str,
    ) -> Result<(Direction, Option<BTreeMap<String, String>>), Error> {
        match text.filter(|text| !text.is_empty()) {
            None => Ok((Direction::Forward, None)),
            Some(text) => {
                let cursor = self.decode(text, scope)?;
                Ok((cursor.direction, Some(cursor.key)))
            }
        }
    }

    /// The cursor, if it is one of ours, unaltered, for this scope.
    pub fn decode(&self, text: &str, scope: &str) -> Result<Cursor, Error> {
        let (payload, signature) = text.split_once('.').ok_or_else(invalid_cursor)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid_cursor())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid_cursor())?;
        let mut mac = self.mac();
        mac.update(&payload);
        // verify_slice compares in constant time.
        mac.verify_slice(&signature).map_err(|_| invalid_cursor())?;
        let cursor: Cursor = serde_json::from_slice(&payload).map_err(|_| invalid_cursor())?;
        if cursor.scope != scope {
            return Err(invalid_cursor());
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BTreeMap<String, String> {
        BTreeMap::from([("pk".to_owned(), "POST#01J".to_owned()), ("gsi1sk".to_owned(), "01J".to_owned())])
    }

    #[test]
    fn cursors_round_trip_within_their_scope() {
        let codec = CursorCodec::derive_from(b"secret");
        let scope = scope_of(&[("ordering", "-created_at")]);
        let text = codec.encode(&scope, Direction::Backward, key());
        let cursor = codec.decode(&text, &scope).unwrap();
        assert_eq!((cursor.direction, cursor.key), (Direction::Backward, key()));
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    }

    #[test]
    fn altered_truncated_made_up_or_foreign_cursors_are_refused() {
        let codec = CursorCodec::derive_from(b"secret");
        let scope = scope_of(&[("ordering", "-created_at")]);
        let text = codec.encode(&scope, Direction::Forward, key());
        let (payload, signature) = text.split_once('.').unwrap();
        let mut tampered_payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let at = tampered_payload.iter().position(|b| *b == b'1').unwrap();
        tampered_payload[at] = b'2';
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode(&tampered_payload));
        let other_key = CursorCodec::derive_from(b"another").encode(&scope, Direction::Forward, key());
        let other_scope = codec.encode(&scope_of(&[("ordering", "title")]), Direction::Forward, key());
        for bad in
            [forged, text[..text.len() - 3].to_owned(), "abc".into(), "".into(), "a.b".into(), other_key, other_scope]
        {
            match codec.decode(&bad, &scope) {
                Err(Error::Validation(errors)) => assert_eq!(errors.get("cursor").unwrap(), ["Invalid cursor."]),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn scopes_differ_when_any_filter_differs() {
        assert_ne!(scope_of(&[("a", "b"), ("c", "")]), scope_of(&[("a", "b"), ("c", "x")]));
        assert_ne!(scope_of(&[("a", "bc")]), scope_of(&[("ab", "c")]));
    }
}
