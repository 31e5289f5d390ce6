//! What the mailer is asked to send: one typed message per kind of email,
//! the only shape the mail queue carries. Producers (the payment adapters,
//! the account endpoints) write it and the mailer reads it through this
//! one type.
//!
//! A message names what to write about, never a secret: an account email's
//! token is made by the mailer when it sends, so no token ever rests in a
//! queue or a dead-letter queue.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailRequest {
    /// "This order became paid": its receipt.
    Receipt {
        order_id: String,
        /// The order's, so the mailer's log lines join the order's others.
        #[serde(default)]
        correlation_id: Option<String>,
        /// The order's address, when the producer knew it: the mailer
        /// checks the suppression list beside its claim (one round trip
        /// for both) instead of after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
    },
    /// "The provider confirmed refunds of this order up to this total".
    Refund {
        order_id: String,
        refunded_total: i64,
        #[serde(default)]
        correlation_id: Option<String>,
    },
    /// A link that proves the user's address; `request_id` makes a resend
    /// a new email, and a redelivery of one the same email.
    EmailVerification { user_id: String, request_id: String },
    /// A reset link for whoever has this address, if anyone does: the
    /// endpoint does not look (so it answers alike either way), the mailer
    /// does.
    PasswordReset { email: String, request_id: String },
    /// The one welcome after a user's first verification.
    Welcome { user_id: String },
}

/// A receipt request as it was written before messages had a `kind`; a
/// message from then (or written by hand to replay one) is still a receipt.
#[derive(Deserialize)]
struct UntypedReceipt {
    order_id: String,
    #[serde(default)]
    correlation_id: Option<String>,
}

impl MailRequest {
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<MailRequest>(body) {
            Ok(request) => Ok(request),
            Err(error) => match serde_json::from_str::<serde_json::Value>(body) {
                Ok(value) if value.get("kind").is_none() => {
                    let receipt: UntypedReceipt = serde_json::from_value(value)?;
                    Ok(Self::Receipt {
                        order_id: receipt.order_id,
                        correlation_id: receipt.correlation_id,
                        email: None,
                    })
                }
                _ => Err(error),
            },
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Receipt { .. } => "receipt",
            Self::Refund { .. } => "refund",
            Self::EmailVerification { .. } => "email_verification",
            Self::PasswordReset { .. } => "password_reset",
            Self::Welcome { .. } => "welcome",
        }
    }

    /// The key this email is sent once under, however often its message is
    /// delivered or queued again. A receipt's once is kept on its order.
    pub fn once_key(&self) -> String {
        match self {
            Self::Receipt { order_id, .. } => format!("receipt#{order_id}"),
            Self::Refund { order_id, refunded_total, .. } => format!("refund#{order_id}#{refunded_total}"),
            Self::EmailVerification { request_id, .. } => format!("email_verification#{request_id}"),
            Self::PasswordReset { request_id, .. } => format!("password_reset#{request_id}"),
            Self::Welcome { user_id } => format!("welcome#{user_id}"),
        }
    }

    /// Whether its once holds for ever (a welcome), rather than as long as
    /// a message could still be delivered.
    pub fn once_for_ever(&self) -> bool {
        matches!(self, Self::Welcome { .. })
    }

    pub fn order_id(&self) -> Option<&str> {
        match self {
            Self::Receipt { order_id, .. } | Self::Refund { order_id, .. } => Some(order_id),
            _ => None,
        }
    }

    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Self::Receipt { correlation_id, .. } | Self::Refund { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_round_trips_under_its_name() {
        let requests = [
            MailRequest::Receipt { order_id: "01O".into(), correlation_id: Some("01C".into()), email: None },
            MailRequest::Receipt { order_id: "01O".into(), correlation_id: None, email: Some("a@example.org".into()) },
            MailRequest::Refund { order_id: "01O".into(), refunded_total: 500, correlation_id: None },
            MailRequest::EmailVerification { user_id: "01U".into(), request_id: "01R".into() },
            MailRequest::PasswordReset { email: "a@example.org".into(), request_id: "01R".into() },
            MailRequest::Welcome { user_id: "01U".into() },
        ];
        for request in requests {
            let body = serde_json::to_string(&request).unwrap();
            assert!(body.contains(&format!(r#""kind":"{}""#, request.kind())), "{body}");
            assert_eq!(MailRequest::parse(&body).unwrap(), request);
        }
    }

    #[test]
    fn a_message_without_a_kind_is_a_receipt_and_anything_else_is_refused() {
        assert_eq!(
            MailRequest::parse(r#"{"order_id":"01O"}"#).unwrap(),
            MailRequest::Receipt { order_id: "01O".into(), correlation_id: None, email: None }
        );
        assert!(MailRequest::parse(r#"{"kind":"poem","order_id":"01O"}"#).is_err());
        assert!(MailRequest::parse(r#"{"kind":"refund","order_id":"01O"}"#).is_err(), "no total");
        assert!(MailRequest::parse("not json").is_err());
    }

    #[test]
    fn a_refund_is_once_per_total_and_a_welcome_once_per_user() {
        let refund =
            |total| MailRequest::Refund { order_id: "01O".into(), refunded_total: total, correlation_id: None };
        assert_ne!(refund(500).once_key(), refund(1000).once_key());
        assert_eq!(refund(500).once_key(), refund(500).once_key());
        assert!(MailRequest::Welcome { user_id: "01U".into() }.once_for_ever());
        assert!(!refund(500).once_for_ever());
    }
}
