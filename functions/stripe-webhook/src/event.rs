//! A Stripe event reduced to what this service acts on. The summary is all
//! that is kept of an event (it is what replay runs again), so it holds ids,
//! amounts and statuses, and never an email, a name, card data or a secret:
//! fields are copied in by name, nothing is copied wholesale.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::WebhookError;

pub const PAYMENT_SUCCEEDED: &str = "payment_intent.succeeded";
pub const PAYMENT_FAILED: &str = "payment_intent.payment_failed";
pub const PAYMENT_CANCELED: &str = "payment_intent.canceled";
pub const CHARGE_REFUNDED: &str = "charge.refunded";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created: Option<i64>,
    pub livemode: bool,
    pub object: ObjectSummary,
}

/// The event's `data.object`: a PaymentIntent or a Charge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub id: Option<String>,
    pub object: Option<String>,
    pub amount: Option<i64>,
    pub amount_received: Option<i64>,
    pub amount_refunded: Option<i64>,
    pub currency: Option<String>,
    pub status: Option<String>,
    pub refunded: Option<bool>,
    /// A Charge's PaymentIntent.
    pub payment_intent: Option<String>,
    /// `metadata.order_id`, which our PaymentIntents carry.
    pub order_id: Option<String>,
    /// `metadata.correlation_id`: the order's, made when it was placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// `metadata.receipt_to`: the order's address, for its receipt. Never
    /// written out: the recorded summary and the logs keep no address (a
    /// replay takes it from the order).
    #[serde(default, skip_serializing)]
    pub receipt_to: Option<String>,
}

impl EventSummary {
    /// Parses a verified body. An event without an id or type is not one
    /// Stripe sends: a 400, like a bad signature.
    pub fn from_body(body: &[u8]) -> Result<Self, WebhookError> {
        let event: Value = serde_json::from_slice(body).map_err(|e| WebhookError::Payload(format!("not JSON: {e}")))?;
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let id = event.get("id").and_then(text).filter(|id| is_event_id(id));
        let event_type = event.get("type").and_then(text).filter(|t| !t.is_empty() && t.len() <= 128);
        let (Some(id), Some(event_type)) = (id, event_type) else {
            return Err(WebhookError::Payload("an event needs an id and a type".into()));
        };
        let object = event.pointer("/data/object").cloned().unwrap_or(Value::Null);
        let field = |name: &str| object.get(name).and_then(text);
        let number = |name: &str| object.get(name).and_then(Value::as_i64);
        // A Charge's `payment_intent` is an id, or the object when expanded.
        let payment_intent =
            object.get("payment_intent").and_then(|pi| text(pi).or_else(|| pi.get("id").and_then(text)));
        Ok(Self {
            id,
            event_type,
            created: event.get("created").and_then(Value::as_i64),
            livemode: event.get("livemode").and_then(Value::as_bool).unwrap_or(false),
            object: ObjectSummary {
                id: field("id"),
                object: field("object"),
                amount: number("amount"),
                amount_received: number("amount_received"),
                amount_refunded: number("amount_refunded"),
                currency: field("currency").map(|c| c.to_ascii_lowercase()),
                status: field("status"),
                refunded: object.get("refunded").and_then(Value::as_bool),
                payment_intent,
                order_id: object.pointer("/metadata/order_id").and_then(text),
                correlation_id: object
                    .pointer("/metadata/correlation_id")
                    .and_then(text)
                    .filter(|c| web::http::RequestId::is_well_formed(c)),
                receipt_to: object
                    .pointer("/metadata/receipt_to")
                    .and_then(text)
                    .and_then(|to| domain::email::normalise_address(&to)),
            },
        })
    }
}

/// Stripe's ids are short strings of letters, digits and `_`.
fn is_event_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_acts_on_and_nothing_personal() {
        let body = serde_json::json!({
            "id": "evt_1", "type": "charge.refunded", "created": 1700000000, "livemode": false,
            "data": {"object": {
                "id": "ch_1", "object": "charge", "amount": 2598, "amount_refunded": 2598, "currency": "USD",
                "refunded": true, "payment_intent": "pi_1",
                "receipt_email": "alice@example.com",
                "billing_details": {"email": "alice@example.com", "name": "Alice"},
                "payment_method_details": {"card": {"last4": "4242", "fingerprint": "abc", "exp_year": 2030}},
                "client_secret": "pi_1_secret_x",
                "metadata": {"order_id": "01JF"}
            }}
        });
        let summary = EventSummary::from_body(body.to_string().as_bytes()).unwrap();
        assert_eq!(summary.object.amount_refunded, Some(2598));
        assert_eq!(summary.object.currency.as_deref(), Some("usd"));
        assert_eq!(summary.object.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(summary.object.order_id.as_deref(), Some("01JF"));
        let kept = serde_json::to_string(&summary).unwrap();
        for secret in ["alice", "Alice", "4242", "fingerprint", "secret", "2030"] {
            assert!(!kept.contains(secret), "{secret} leaked into {kept}");
        }
    }

    #[test]
    fn an_expanded_payment_intent_is_read_by_id() {
        let body = br#"{"id":"evt_2","type":"charge.refunded","data":{"object":{"payment_intent":{"id":"pi_9"}}}}"#;
        assert_eq!(EventSummary::from_body(body).unwrap().object.payment_intent.as_deref(), Some("pi_9"));
    }

    #[test]
    fn not_an_event_is_refused() {
        for body in [&b"not json"[..], b"[]", b"{}", br#"{"id":"evt 1","type":"x"}"#, br#"{"id":"evt_1"}"#] {
            assert!(EventSummary::from_body(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
