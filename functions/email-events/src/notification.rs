//! SES's bounce and complaint notifications, as they arrive on the queue:
//! inside SNS's envelope (or raw, when the subscription delivers raw
//! messages), in either of SES's two forms: event publishing through a
//! configuration set (`eventType`) or identity notifications
//! (`notificationType`). Parsed leniently: unknown fields and event types
//! are fine; only what decides suppression must be there.

use domain::email::normalise_address;
use serde::Deserialize;
use serde_json::Value;

/// What one notification says, reduced to what the service acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEvent {
    /// SNS's `MessageId`: each notification is handled once by it.
    pub notification_id: String,
    pub kind: EventKind,
    /// The affected recipients, normalised (see [`normalise_address`]).
    pub recipients: Vec<String>,
    /// SES's id of the email the event is about.
    pub mail_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A hard bounce: the address does not take mail. Suppress.
    PermanentBounce { sub_type: String },
    /// A soft bounce (mailbox full, ...), or one SES could not classify:
    /// counted, not suppressed.
    TransientBounce { sub_type: String },
    /// The recipient marked the email as spam. Suppress.
    Complaint { feedback_type: Option<String> },
    /// Delivery, Reject, Rendering Failure, Send, ...: noted only.
    Other(String),
}

impl EventKind {
    pub fn suppresses(&self) -> bool {
        matches!(self, Self::PermanentBounce { .. } | Self::Complaint { .. })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::PermanentBounce { .. } => "permanent_bounce",
            Self::TransientBounce { .. } => "transient_bounce",
            Self::Complaint { .. } => "complaint",
            Self::Other(_) => "other",
        }
    }
}

/// Why a message is not an SES notification this service can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no eventType or notificationType")]
    NoType,
    #[error("{0} without its {1} object")]
    MissingDetail(&'static str, &'static str),
    #[error("{0} names no recipient")]
    NoRecipients(&'static str),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: Option<String>,
    message_id: String,
    message: String,
}

/// Reads one queue message. `fallback_id` (the SQS message id) names the
/// notification when it came without SNS's envelope.
pub fn parse(body: &str, fallback_id: &str) -> Result<EmailEvent, ParseError> {
    let value: Value = serde_json::from_str(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let (notification_id, ses) = match serde_json::from_value::<SnsEnvelope>(value.clone()) {
        Ok(envelope) if envelope.kind.as_deref().is_none_or(|k| k == "Notification") => {
            let ses: Value =
                serde_json::from_str(&envelope.message).map_err(|e| ParseError::NotJson(format!("Message: {e}")))?;
            (envelope.message_id, ses)
        }
        _ => (fallback_id.to_owned(), value),
    };
    parse_ses(notification_id, &ses)
}

fn parse_ses(notification_id: String, ses: &Value) -> Result<EmailEvent, ParseError> {
    let event_type = ses
        .get("eventType")
        .or_else(|| ses.get("notificationType"))
        .and_then(Value::as_str)
        .ok_or(ParseError::NoType)?;
    let mail_message_id = ses.pointer("/mail/messageId").and_then(Value::as_str).map(str::to_owned);
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let (kind, recipients) = match event_type {
        "Bounce" => {
            let bounce = ses.get("bounce").ok_or(ParseError::MissingDetail("Bounce", "bounce"))?;
            let sub_type = text(bounce, "bounceSubType").unwrap_or_default();
            let kind = match bounce.get("bounceType").and_then(Value::as_str) {
                Some("Permanent") => EventKind::PermanentBounce { sub_type },
                _ => EventKind::TransientBounce { sub_type },
            };
            let recipients = addresses(bounce.get("bouncedRecipients"));
            if recipients.is_empty() {
                return Err(ParseError::NoRecipients("Bounce"));
            }
            (kind, recipients)
        }
        "Complaint" => {
            let complaint = ses.get("complaint").ok_or(ParseError::MissingDetail("Complaint", "complaint"))?;
            let recipients = addresses(complaint.get("complainedRecipients"));
            if recipients.is_empty() {
                return Err(ParseError::NoRecipients("Complaint"));
            }
            (EventKind::Complaint { feedback_type: text(complaint, "complaintFeedbackType") }, recipients)
        }
        other => {
            let destination = ses.pointer("/mail/destination").and_then(Value::as_array);
            let recipients = destination
                .map(|all| all.iter().filter_map(Value::as_str).filter_map(normalise_address).collect())
                .unwrap_or_default();
            (EventKind::Other(other.to_owned()), recipients)
        }
    };
    Ok(EmailEvent { notification_id, kind, recipients, mail_message_id })
}

/// `[{"emailAddress": ...}, ...]` → normalised addresses, each once.
fn addresses(list: Option<&Value>) -> Vec<String> {
    let mut found: Vec<String> = list
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .filter_map(|r| r.get("emailAddress").and_then(Value::as_str))
                .filter_map(normalise_address)
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn in_sns(message: &Value, id: &str) -> String {
        json!({
            "Type": "Notification",
            "MessageId": id,
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:email-events",
            "Message": message.to_string(),
            "Timestamp": "2026-11-25T08:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "x",
            "SigningCertURL": "https://sns.example/cert.pem",
            "UnsubscribeURL": "https://sns.example/unsubscribe"
        })
        .to_string()
    }

    #[test]
    fn a_permanent_bounce_in_event_publishing_form() {
        let ses = json!({
            "eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": "Gone@Example.COM", "status": "5.1.1"},
                                             {"emailAddress": "Also Gone <also@example.com>"}]},
            "mail": {"messageId": "0100-abc", "destination": ["gone@example.com", "also@example.com"]}
        });
        let event = parse(&in_sns(&ses, "sns-1"), "sqs-1").unwrap();
        assert_eq!(event.notification_id, "sns-1");
        assert_eq!(event.kind, EventKind::PermanentBounce { sub_type: "General".into() });
        assert_eq!(event.recipients, vec!["also@example.com", "gone@example.com"]);
        assert_eq!(event.mail_message_id.as_deref(), Some("0100-abc"));
        assert!(event.kind.suppresses());
    }

    #[test]
    fn a_complaint_in_identity_notification_form() {
        let ses = json!({
            "notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.com"}],
                          "complaintFeedbackType": "abuse"},
            "mail": {"messageId": "m"}
        });
        let event = parse(&in_sns(&ses, "sns-2"), "sqs-2").unwrap();
        assert_eq!(event.kind, EventKind::Complaint { feedback_type: Some("abuse".into()) });
        assert!(event.kind.suppresses());
    }

    #[test]
    fn transient_and_undetermined_bounces_do_not_suppress() {
        for bounce_type in ["Transient", "Undetermined"] {
            let ses = json!({"eventType": "Bounce", "bounce": {"bounceType": bounce_type, "bounceSubType": "MailboxFull",
                             "bouncedRecipients": [{"emailAddress": "full@example.com"}]}});
            let event = parse(&in_sns(&ses, "n"), "s").unwrap();
            assert_eq!(event.kind, EventKind::TransientBounce { sub_type: "MailboxFull".into() });
            assert!(!event.kind.suppresses());
        }
    }

    #[test]
    fn a_raw_delivery_is_named_by_the_queue_message() {
        let ses = json!({"eventType": "Delivery", "mail": {"destination": ["ok@example.com"]}, "delivery": {}});
        let event = parse(&ses.to_string(), "sqs-9").unwrap();
        assert_eq!(event.notification_id, "sqs-9");
        assert_eq!(event.kind, EventKind::Other("Delivery".into()));
        assert_eq!(event.recipients, vec!["ok@example.com"]);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(matches!(parse("not json", "s"), Err(ParseError::NotJson(_))));
        assert_eq!(parse(&in_sns(&json!({"hello": 1}), "n"), "s"), Err(ParseError::NoType));
        assert_eq!(
            parse(&in_sns(&json!({"eventType": "Bounce"}), "n"), "s"),
            Err(ParseError::MissingDetail("Bounce", "bounce"))
        );
        let no_one = json!({"eventType": "Complaint", "complaint": {"complainedRecipients": []}});
        assert_eq!(parse(&in_sns(&no_one, "n"), "s"), Err(ParseError::NoRecipients("Complaint")));
        let bad_inner = json!({"Type": "Notification", "MessageId": "n", "Message": "{not json"}).to_string();
        assert!(matches!(parse(&bad_inner, "s"), Err(ParseError::NotJson(_))));
    }
}
