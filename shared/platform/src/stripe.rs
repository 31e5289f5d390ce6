//! A thin client of Stripe's REST API: the PaymentIntent calls the backend
//! makes, form-encoded, with the secret key as a bearer token. Locally
//! `STRIPE_API_BASE` points at localstripe.

use std::time::Duration;

use serde::Deserialize;

/// Why a Stripe call gave no PaymentIntent.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Unreachable, timed out, overloaded or failing: worth retrying later.
    #[error("stripe unavailable: {0}")]
    Unavailable(String),
    /// Stripe refused the request: a fault of ours, not the client's.
    #[error("stripe refused {operation} with {status}: {message}")]
    Refused { operation: &'static str, status: u16, message: String },
    #[error("stripe answered {operation} with something it does not send: {detail}")]
    Malformed { operation: &'static str, detail: String },
    #[error("stripe client: {0}")]
    Setup(String),
}

impl From<StripeError> for domain::Error {
    fn from(error: StripeError) -> Self {
        match error {
            StripeError::Unavailable(detail) => domain::Error::ServiceUnavailable { detail, retry_after_secs: 5 },
            other => domain::Error::internal(other),
        }
    }
}

/// The fields of a PaymentIntent this service reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub client_secret: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
}

/// The fields of a Refund this service reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub status: String,
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: String,
}

impl std::fmt::Debug for StripeClient {
    // The secret key must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient").field("base", &self.base).field("secret_key", &"<redacted>").finish()
    }
}

#[derive(Deserialize)]
struct StripeErrorBody {
    error: StripeErrorDetail,
}

#[derive(Deserialize)]
struct StripeErrorDetail {
    #[serde(default)]
    message: String,
}

impl StripeClient {
    /// Bounded waits: the function must answer (503) well inside its own
    /// timeout when Stripe hangs.
    pub fn new(base: &str, secret_key: String) -> Result<Self, StripeError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(6))
            .build()
            .map_err(|e| StripeError::Setup(e.to_string()))?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), secret_key })
    }

    /// Creates a PaymentIntent for an order. The idempotency key makes a
    /// retried create (ours, or a racing instance's) return the same intent.
    pub async fn create_payment_intent(
        &self,
        amount: i64,
        currency: &str,
        order_id: &str,
        correlation_id: &str,
        receipt_to: &str,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        // Stripe echoes metadata in every event about the intent: the
        // webhook learns the order, its correlation id and its receipt's
        // address from it.
        let form = [
            ("amount", amount.to_string()),
            ("currency", currency.to_owned()),
            ("metadata[order_id]", order_id.to_owned()),
            ("metadata[correlation_id]", correlation_id.to_owned()),
            ("metadata[receipt_to]", receipt_to.to_owned()),
        ];
        let request = self
            .http
            .post(format!("{}/v1/payment_intents", self.base))
            .header("Idempotency-Key", idempotency_key)
            .form(&form);
        self.send("create payment intent", request).await
    }

    pub async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        let request = self.http.get(format!("{}/v1/payment_intents/{id}", self.base));
        self.send("retrieve payment intent", request).await
    }

    /// Cancels an intent so no one can pay it: one that lost the race to be
    /// recorded on its order, or an order's that was canceled. Stripe
    /// refuses to cancel one that already succeeded (or was canceled).
    pub async fn cancel_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        let request = self.http.post(format!("{}/v1/payment_intents/{id}/cancel", self.base));
        self.send("cancel payment intent", request).await
    }

    /// Gives back `amount` of a PaymentIntent's payment (all of what is
    /// left when `None`). The idempotency key makes a retried request the
    /// same refund.
    pub async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount: Option<i64>,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        let mut form = vec![("payment_intent", payment_intent_id.to_owned())];
        if let Some(amount) = amount {
            form.push(("amount", amount.to_string()));
        }
        let request =
            self.http.post(format!("{}/v1/refunds", self.base)).header("Idempotency-Key", idempotency_key).form(&form);
        self.send("create refund", request).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, StripeError> {
        let response = request
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|e| StripeError::Unavailable(format!("{operation}: {}", without_url(e))))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| StripeError::Unavailable(format!("{operation}: reading the answer: {}", without_url(e))))?;
        // 409: a request with the same idempotency key is still in flight.
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 409 {
            return Err(StripeError::Unavailable(format!("{operation}: HTTP {status}")));
        }
        if !status.is_success() {
            let message = serde_json::from_slice::<StripeErrorBody>(&body).map(|b| b.error.message).unwrap_or_default();
            return Err(StripeError::Refused { operation, status: status.as_u16(), message });
        }
        serde_json::from_slice(&body).map_err(|e| StripeError::Malformed { operation, detail: e.to_string() })
    }
}

/// reqwest's errors name the URL, which is harmless but noisy; keep the why.
fn without_url(error: reqwest::Error) -> String {
    error.without_url().to_string()
}
