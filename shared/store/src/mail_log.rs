//! Each email the mailer sends, once: a claim (one sender at a time, with a
//! lease that lapses if the sender dies), then sent, suppressed or nothing
//! to send. A receipt keeps the same record on its order instead, where the
//! order shows it.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{ItemReader, Table, key_of, keys, n, s, sdk_error, updated_if};
use domain::Result;

/// What claiming an email's send found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailClaim {
    /// Ours to send now.
    Claimed,
    /// Sent (or settled as not to be sent) before.
    Done,
    /// Another delivery holds a live claim.
    HeldElsewhere,
}

/// How an email's send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailEnd {
    Sent,
    /// The address is on the suppression list.
    Suppressed,
    /// Nobody to write to (no user has the address; already verified).
    NothingToSend,
}

impl MailEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Suppressed => "suppressed",
            Self::NothingToSend => "nothing_to_send",
        }
    }
}

const CLAIMED: &str = "claimed";
/// The claim is still this holder's (not lapsed and taken, not finished).
const STILL_CLAIMED: &str = "claim_id = :claim AND #state = :claimed";

#[derive(Debug, Clone)]
pub struct MailLogRepository {
    table: Table,
}

impl MailLogRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Claims the email `once_key` for `claim_id` until `until` (unix
    /// seconds): one conditional write. `keep_until`: when the record may
    /// go (TTL); `None` keeps it for ever.
    pub async fn claim(
        &self,
        once_key: &str,
        claim_id: &str,
        now: i64,
        until: i64,
        keep_until: Option<i64>,
    ) -> Result<MailClaim> {
        let mut update = self
            .update(once_key, claim_id)
            .condition_expression("attribute_not_exists(pk) OR (#state = :claimed AND lease_until < :now)")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = match keep_until {
            Some(keep_until) => update
                .update_expression("SET #state = :claimed, claim_id = :claim, lease_until = :until, #ttl = :keep")
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(":keep", n(keep_until)),
            None => update.update_expression("SET #state = :claimed, claim_id = :claim, lease_until = :until"),
        };
        match update.send().await {
            Ok(_) => Ok(MailClaim::Claimed),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                )) => {
                    let held = failed
                        .item()
                        .is_some_and(|item| ItemReader(item).optional_string("state").as_deref() == Some(CLAIMED));
                    Ok(if held { MailClaim::HeldElsewhere } else { MailClaim::Done })
                }
                _ => Err(sdk_error("UpdateItem", e)),
            },
        }
    }

    /// Records how the send ended; false when the claim lapsed first.
    pub async fn finish(&self, once_key: &str, claim_id: &str, end: MailEnd, message_id: Option<&str>) -> Result<bool> {
        let mut update = self
            .update(once_key, claim_id)
            .condition_expression(STILL_CLAIMED)
            .expression_attribute_values(":end", s(end.as_str()))
            .expression_attribute_values(":at", s(domain::timefmt::rfc3339(domain::timefmt::now())));
        update = match message_id {
            Some(id) => update
                .update_expression("SET #state = :end, finished_at = :at, ses_message_id = :message REMOVE lease_until")
                .expression_attribute_values(":message", s(id)),
            None => update.update_expression("SET #state = :end, finished_at = :at REMOVE lease_until"),
        };
        Ok(updated_if(update.send().await)?.is_some())
    }

    /// Lets a claim go after a failed send, so the next delivery retries.
    pub async fn release(&self, once_key: &str, claim_id: &str) -> Result<()> {
        let update = self
            .update(once_key, claim_id)
            .update_expression("SET lease_until = :zero")
            .condition_expression(STILL_CLAIMED)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()));
        updated_if(update.send().await)?;
        Ok(())
    }

    /// An update of the email's record by the holder of `claim_id`: its
    /// key, `#state` and the `:claimed` and `:claim` values every change
    /// states its condition with.
    fn update(&self, once_key: &str, claim_id: &str) -> UpdateItemFluentBuilder {
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::sent_email(once_key))))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":claim", s(claim_id))
    }
}
