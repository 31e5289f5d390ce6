//! A thin client of PortOne's REST API v1 (Iamport): the token, reading a
//! payment, cancelling one. Every answer is PortOne's envelope
//! `{code, message, response}`; a non-zero `code` is a refusal whatever the
//! HTTP status says (PortOne answers some refusals with 200).
//!
//! The access token is fetched once and reused, across invocations of the
//! same instance, until shortly before its `expired_at`; a 401 fetches it
//! again once. Each call has a timeout; an unreachable or failing PortOne
//! (timeouts, 5xx) is tried twice more, quickly, then reported as
//! unavailable.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Quick retries of our own after a failed attempt: 2 (3 attempts in all).
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];
/// A token this close to its expiry is fetched again rather than used.
const TOKEN_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum PortOneError {
    /// Unreachable, timed out or failing (5xx), after our retries.
    #[error("portone unavailable: {0}")]
    Unavailable(String),
    /// PortOne does not know the payment.
    #[error("portone has no payment {0}")]
    UnknownPayment(String),
    /// PortOne refused the request (`code` non-zero): a fault of ours or of
    /// the request, with PortOne's message.
    #[error("portone refused {operation} (code {code}): {message}")]
    Refused { operation: &'static str, code: i64, message: String },
    #[error("portone answered {operation} with something unreadable: {detail}")]
    Malformed { operation: &'static str, detail: String },
    #[error("portone client: {0}")]
    Setup(String),
}

impl From<PortOneError> for domain::Error {
    fn from(error: PortOneError) -> Self {
        match error {
            PortOneError::Unavailable(detail) => domain::Error::ServiceUnavailable { detail, retry_after_secs: 5 },
            PortOneError::UnknownPayment(imp_uid) => {
                domain::Error::BadRequest(format!("PortOne has no payment {imp_uid}."))
            }
            other => domain::Error::internal(other),
        }
    }
}

/// A payment as PortOne records it (the fields this service reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Payment {
    pub imp_uid: String,
    /// Our order id.
    pub merchant_uid: String,
    /// `ready`, `paid`, `failed` or `cancelled`.
    pub status: String,
    /// In the currency's smallest unit (won for KRW).
    pub amount: i64,
    #[serde(default)]
    pub cancel_amount: i64,
    /// Upper case, e.g. `KRW`.
    pub currency: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    code: i64,
    message: Option<String>,
    response: Option<T>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Unix seconds.
    expired_at: i64,
}

#[derive(Clone)]
struct Token {
    value: String,
    expires_at: i64,
}

#[derive(Clone)]
pub struct PortOneClient {
    http: reqwest::Client,
    base: String,
    imp_key: String,
    imp_secret: String,
    /// Shared by every clone: one token per instance.
    token: Arc<Mutex<Option<Token>>>,
}

impl std::fmt::Debug for PortOneClient {
    // The key, the secret and the token must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortOneClient").field("base", &self.base).field("imp_secret", &"<redacted>").finish()
    }
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    /// 401: the token is no good.
    Unauthorized,
    /// Worth another try.
    Retry(String),
}

impl PortOneClient {
    pub fn new(base: &str, imp_key: String, imp_secret: String) -> Result<Self, PortOneError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(4))
            .build()
            .map_err(|e| PortOneError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            imp_key,
            imp_secret,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// `GET /payments/{imp_uid}`.
    pub async fn payment(&self, imp_uid: &str) -> Result<Payment, PortOneError> {
        let path = format!("/payments/{}", encode_segment(imp_uid));
        let found: Option<Payment> = self
            .authorized("payment", |http, token| {
                http.get(format!("{}{path}", self.base)).header("authorization", token)
            })
            .await?;
        found.ok_or_else(|| PortOneError::UnknownPayment(imp_uid.to_owned()))
    }

    /// `POST /payments/cancel` for the whole payment, with our reason.
    pub async fn cancel(&self, imp_uid: &str, reason: &str) -> Result<Payment, PortOneError> {
        #[derive(Serialize)]
        struct Cancel<'a> {
            imp_uid: &'a str,
            reason: &'a str,
        }
        let body = Cancel { imp_uid, reason };
        let cancelled: Option<Payment> = self
            .authorized("cancel", |http, token| {
                http.post(format!("{}/payments/cancel", self.base)).header("authorization", token).json(&body)
            })
            .await?;
        cancelled.ok_or_else(|| PortOneError::UnknownPayment(imp_uid.to_owned()))
    }

    /// `POST /payments/cancel` for `amount` of the payment (a partial
    /// refund). `checksum` is what we believe is left to cancel: PortOne
    /// refuses the cancel when it is not, so a retried or concurrent request
    /// cannot cancel twice. The payment as PortOne then has it
    /// (`cancel_amount` its running total).
    pub async fn cancel_part(
        &self,
        imp_uid: &str,
        amount: i64,
        checksum: i64,
        reason: &str,
    ) -> Result<Payment, PortOneError> {
        #[derive(Serialize)]
        struct Cancel<'a> {
            imp_uid: &'a str,
            amount: i64,
            checksum: i64,
            reason: &'a str,
        }
        let body = Cancel { imp_uid, amount, checksum, reason };
        let cancelled: Option<Payment> = self
            .authorized("cancel", |http, token| {
                http.post(format!("{}/payments/cancel", self.base)).header("authorization", token).json(&body)
            })
            .await?;
        cancelled.ok_or_else(|| PortOneError::UnknownPayment(imp_uid.to_owned()))
    }

    /// A call with the instance's token, fetched or refreshed as needed.
    /// `Ok(None)`: PortOne says there is no such thing (404).
    async fn authorized<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<Option<T>, PortOneError> {
        let mut refreshed = false;
        let mut failures = 0;
        loop {
            let token = self.token(refreshed).await?;
            match self.attempt(operation, request(&self.http, &token)).await? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Unauthorized if !refreshed => {
                    self.forget_token();
                    refreshed = true;
                }
                Attempt::Unauthorized => {
                    return Err(PortOneError::Refused { operation, code: -1, message: "unauthorized".into() });
                }
                Attempt::Retry(reason) => {
                    let Some(delay) = RETRY_DELAYS.get(failures) else { return Err(PortOneError::Unavailable(reason)) };
                    failures += 1;
                    tokio::time::sleep(*delay).await;
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Attempt<Option<T>>, PortOneError> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Ok(Attempt::Retry(format!("{operation}: {e}"))),
        };
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Ok(Attempt::Retry(format!("{operation}: HTTP {status}")));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Ok(Attempt::Unauthorized);
        }
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Attempt::Retry(format!("{operation}: {e}"))),
        };
        let envelope: Envelope<T> = serde_json::from_slice(&bytes)
            .map_err(|e| PortOneError::Malformed { operation, detail: format!("HTTP {status}: {e}") })?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Attempt::Done(None));
        }
        if envelope.code != 0 {
            return Err(PortOneError::Refused {
                operation,
                code: envelope.code,
                message: envelope.message.unwrap_or_default(),
            });
        }
        match envelope.response {
            Some(value) => Ok(Attempt::Done(Some(value))),
            None => Err(PortOneError::Malformed { operation, detail: "no response".into() }),
        }
    }

    /// The instance's token, fetched when there is none (or `fresh`), or it
    /// is about to expire.
    async fn token(&self, fresh: bool) -> Result<String, PortOneError> {
        let now = now_unix();
        if !fresh {
            let cached = self.token.lock().ok().and_then(|guard| guard.clone());
            if let Some(token) = cached.filter(|t| t.expires_at - TOKEN_MARGIN_SECS > now) {
                return Ok(token.value);
            }
        }
        #[derive(Serialize)]
        struct Credentials<'a> {
            imp_key: &'a str,
            imp_secret: &'a str,
        }
        let credentials = Credentials { imp_key: &self.imp_key, imp_secret: &self.imp_secret };
        let mut failures = 0;
        let issued: TokenResponse = loop {
            let request = self.http.post(format!("{}/users/getToken", self.base)).json(&credentials);
            match self.attempt::<TokenResponse>("getToken", request).await? {
                Attempt::Done(Some(token)) => break token,
                Attempt::Done(None) | Attempt::Unauthorized => {
                    return Err(PortOneError::Refused {
                        operation: "getToken",
                        code: -1,
                        message: "PortOne refused our imp_key / imp_secret".into(),
                    });
                }
                Attempt::Retry(reason) => {
                    let Some(delay) = RETRY_DELAYS.get(failures) else { return Err(PortOneError::Unavailable(reason)) };
                    failures += 1;
                    tokio::time::sleep(*delay).await;
                }
            }
        };
        let token = Token { value: issued.access_token, expires_at: issued.expired_at };
        if let Ok(mut guard) = self.token.lock() {
            *guard = Some(token.clone());
        }
        Ok(token.value)
    }

    fn forget_token(&self) {
        if let Ok(mut guard) = self.token.lock() {
            *guard = None;
        }
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An `imp_uid` in a path: PortOne's ids are `imp_` and digits; anything
/// else is percent-encoded rather than trusted.
fn encode_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_to_one_path_segment() {
        assert_eq!(encode_segment("imp_123456"), "imp_123456");
        assert_eq!(encode_segment("../users/getToken"), "..%2Fusers%2FgetToken");
    }

    #[test]
    fn a_payment_reads_from_portones_envelope() {
        let body = r#"{"code":0,"message":null,"response":{"imp_uid":"imp_1","merchant_uid":"01J","status":"paid",
            "amount":15000,"cancel_amount":0,"currency":"KRW","pay_method":"card","pg_provider":"html5_inicis"}}"#;
        let envelope: Envelope<Payment> = serde_json::from_str(body).unwrap();
        let payment = envelope.response.unwrap();
        assert_eq!((payment.status.as_str(), payment.amount, payment.currency.as_str()), ("paid", 15000, "KRW"));
    }
}
