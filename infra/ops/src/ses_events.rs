//! SES notifications as SES publishes them through a configuration set's
//! SNS destination (the `eventType` form), for the local stack, where moto
//! has no SES event publishing: `make bounce` and the tests publish these
//! to the email-events topic themselves.

use serde_json::{Value, json};

/// The kinds `make bounce KIND=...` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PermanentBounce,
    TransientBounce,
    Complaint,
    Delivery,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "bounce" | "permanent" | "permanent-bounce" => Some(Kind::PermanentBounce),
            "transient" | "transient-bounce" => Some(Kind::TransientBounce),
            "complaint" => Some(Kind::Complaint),
            "delivery" => Some(Kind::Delivery),
            _ => None,
        }
    }
}

/// One notification about `recipients` of the email SES knows as
/// `mail_message_id`.
pub fn notification(kind: Kind, recipients: &[&str], mail_message_id: &str) -> Value {
    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let mail = json!({
        "timestamp": now,
        "source": "receipts@publishing.example",
        "messageId": mail_message_id,
        "destination": recipients,
        "headersTruncated": false,
        "tags": {"ses:configuration-set": ["receipts"]},
    });
    let listed: Vec<Value> = recipients.iter().map(|r| json!({"emailAddress": r})).collect();
    match kind {
        Kind::PermanentBounce | Kind::TransientBounce => {
            let (bounce_type, sub_type, status) = if kind == Kind::PermanentBounce {
                ("Permanent", "General", "5.1.1")
            } else {
                ("Transient", "MailboxFull", "4.2.2")
            };
            let bounced: Vec<Value> = recipients
                .iter()
                .map(|r| json!({"emailAddress": r, "action": "failed", "status": status, "diagnosticCode": format!("smtp; {status}")}))
                .collect();
            json!({
                "eventType": "Bounce",
                "bounce": {"bounceType": bounce_type, "bounceSubType": sub_type, "bouncedRecipients": bounced,
                           "timestamp": now, "feedbackId": format!("{mail_message_id}-bounce")},
                "mail": mail,
            })
        }
        Kind::Complaint => json!({
            "eventType": "Complaint",
            "complaint": {"complainedRecipients": listed, "timestamp": now, "feedbackId": format!("{mail_message_id}-complaint"),
                          "complaintFeedbackType": "abuse", "userAgent": "local"},
            "mail": mail,
        }),
        Kind::Delivery => json!({
            "eventType": "Delivery",
            "delivery": {"timestamp": now, "recipients": recipients, "processingTimeMillis": 500, "smtpResponse": "250 ok"},
            "mail": mail,
        }),
    }
}
