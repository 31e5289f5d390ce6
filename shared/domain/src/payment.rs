//! What a payment provider's report means for an order. Stripe's webhook
//! and PortOne's confirmation both turn their provider's facts into a
//! [`PaymentReport`]; [`judge`] is the one rule that decides, from the order
//! as it stands, whether the report moves it, repeats what was done, is
//! money to give back, or changes nothing. No I/O here: the settlement
//! service writes what the verdict says.

use time::OffsetDateTime;

use super::order::{OrderHead, OrderStatus};

/// What the provider says happened to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentFact {
    /// The money arrived.
    Succeeded,
    /// The attempt failed; nothing was taken.
    Failed,
    /// Money was given back: `total` is the provider's running total for
    /// the payment (Stripe's `amount_refunded`, PortOne's `cancel_amount`),
    /// so replays and reordering cannot count a refund twice.
    Refunded { total: i64 },
    /// The payment was called off before it was made (a canceled Stripe
    /// PaymentIntent): the order is canceled with it, its stock returned.
    Canceled,
}

impl PaymentFact {
    /// The status the fact moves an order to (a refund: when it is whole;
    /// see [`PaymentReport::target`]).
    pub fn target(self) -> OrderStatus {
        match self {
            Self::Succeeded => OrderStatus::Paid,
            Self::Failed => OrderStatus::PaymentFailed,
            Self::Refunded { .. } => OrderStatus::Refunded,
            Self::Canceled => OrderStatus::Canceled,
        }
    }
}

/// One provider report about one payment, in the provider's own terms
/// made neutral: its payment id (a Stripe PaymentIntent, a PortOne
/// `imp_uid`), what happened, and how much in which currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentReport<'a> {
    /// Recorded on the order beside the change (the event that did it).
    pub event_id: &'a str,
    pub payment_id: &'a str,
    pub fact: PaymentFact,
    pub amount: i64,
    /// Lower case, as orders keep it.
    pub currency: &'a str,
    /// The order's address as the provider echoes it (our PaymentIntents
    /// carry it), for the receipt: the mailer then checks it against the
    /// suppression list beside its claim instead of after it.
    pub receipt_to: Option<&'a str>,
}

impl<'a> PaymentReport<'a> {
    /// The status the report moves its order to: a refund short of the
    /// payment leaves it `paid`.
    pub fn target(&self) -> OrderStatus {
        match self.fact {
            PaymentFact::Refunded { total } if total < self.amount => OrderStatus::Paid,
            fact => fact.target(),
        }
    }

    /// The order change the report asks for.
    pub fn change(&self) -> StatusChange<'a> {
        match self.fact {
            PaymentFact::Succeeded => {
                StatusChange::Paid { event_id: self.event_id, payment_intent_id: self.payment_id }
            }
            PaymentFact::Failed => StatusChange::PaymentFailed { event_id: self.event_id },
            PaymentFact::Refunded { total } => {
                StatusChange::Refunded { event_id: self.event_id, total, whole: total >= self.amount }
            }
            PaymentFact::Canceled => StatusChange::Canceled { event_id: self.event_id },
        }
    }
}

/// Why a report does not move its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The amount or currency is not the order's.
    AmountMismatch,
    /// The order was paid by another payment (either provider's).
    DuplicatePayment,
    /// The order can no longer be paid (it was canceled).
    NotPayable,
    /// The status cannot follow the order's (a failure after payment).
    NotAllowed,
}

/// What a report means for its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The order takes the change and moves to this status.
    Apply(OrderStatus),
    /// This payment already did this. `requeue_receipt`: the order is paid
    /// by it and its receipt may have been lost (see
    /// [`OrderHead::receipt_needs_requeue`]), so it is queued again.
    AlreadyDone { requeue_receipt: bool },
    /// Money that arrived and that the order cannot keep: it is given back
    /// at the provider, audited, and no receipt is sent.
    GiveBack(Refusal),
    /// Recorded, and nothing else happens.
    Ignore(Refusal),
    /// The report names no order of ours.
    UnknownOrder,
}

impl Verdict {
    pub fn refusal(self) -> Option<Refusal> {
        match self {
            Self::GiveBack(why) | Self::Ignore(why) => Some(why),
            _ => None,
        }
    }
}

/// The rule: what `report` means for `order` as it stands now.
pub fn judge(order: Option<&OrderHead>, report: &PaymentReport<'_>, now: OffsetDateTime) -> Verdict {
    let Some(order) = order else { return Verdict::UnknownOrder };
    let target = report.target();
    if !order.asks_for(report.amount, report.currency) {
        return match report.fact {
            PaymentFact::Succeeded => Verdict::GiveBack(Refusal::AmountMismatch),
            PaymentFact::Failed | PaymentFact::Refunded { .. } | PaymentFact::Canceled => {
                Verdict::Ignore(Refusal::AmountMismatch)
            }
        };
    }
    // Refunds move a paid order's running total up, never down; the order
    // is `refunded` once the total is the whole amount.
    if let PaymentFact::Refunded { total } = report.fact {
        return match order.status {
            OrderStatus::Paid if total > order.refunded_amount => Verdict::Apply(target),
            OrderStatus::Paid | OrderStatus::Refunded => Verdict::AlreadyDone { requeue_receipt: false },
            _ => Verdict::Ignore(Refusal::NotAllowed),
        };
    }
    if order.status.can_become(target) {
        return Verdict::Apply(target);
    }
    match report.fact {
        PaymentFact::Succeeded => {
            let was_paid = matches!(order.status, OrderStatus::Paid | OrderStatus::Refunded);
            if was_paid && order.paid_by.as_deref() == Some(report.payment_id) {
                Verdict::AlreadyDone { requeue_receipt: order.receipt_needs_requeue(now) }
            } else if was_paid {
                Verdict::GiveBack(Refusal::DuplicatePayment)
            } else {
                Verdict::GiveBack(Refusal::NotPayable)
            }
        }
        PaymentFact::Failed | PaymentFact::Refunded { .. } | PaymentFact::Canceled if order.status == target => {
            Verdict::AlreadyDone { requeue_receipt: false }
        }
        PaymentFact::Failed | PaymentFact::Refunded { .. } | PaymentFact::Canceled => {
            Verdict::Ignore(Refusal::NotAllowed)
        }
    }
}

/// A status change and what it records beside the status.
#[derive(Debug, Clone, Copy)]
pub enum StatusChange<'a> {
    /// Paid: the receipt is now due. `payment_intent_id` is the payment
    /// that paid (a PortOne payment's `imp_uid` too).
    Paid {
        event_id: &'a str,
        payment_intent_id: &'a str,
    },
    PaymentFailed {
        event_id: &'a str,
    },
    /// `refunded_amount` becomes `total`; the order becomes `refunded`
    /// when the refunds are `whole`, and stays `paid` otherwise.
    Refunded {
        event_id: &'a str,
        total: i64,
        whole: bool,
    },
    Canceled {
        event_id: &'a str,
    },
}

impl StatusChange<'_> {
    /// The payment a `Paid` change is for (to tell a second payment from
    /// a repeat of the first).
    pub fn paying(&self) -> Option<&str> {
        match self {
            Self::Paid { payment_intent_id, .. } => Some(payment_intent_id),
            _ => None,
        }
    }

    /// The statuses the order may be in for the change to land: a refund
    /// moves a paid order (its running total up, whole or not); every
    /// other change starts where the status machine says.
    pub fn starts_from(&self) -> Vec<OrderStatus> {
        match self {
            Self::Refunded { .. } => vec![OrderStatus::Paid],
            _ => OrderStatus::predecessors(self.target()),
        }
    }

    pub fn target(&self) -> OrderStatus {
        match self {
            Self::Paid { .. } => OrderStatus::Paid,
            Self::PaymentFailed { .. } => OrderStatus::PaymentFailed,
            Self::Refunded { whole: true, .. } => OrderStatus::Refunded,
            Self::Refunded { whole: false, .. } => OrderStatus::Paid,
            Self::Canceled { .. } => OrderStatus::Canceled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::ReceiptStatus;
    use OrderStatus::*;

    fn order(status: OrderStatus, paid_by: Option<&str>) -> OrderHead {
        OrderHead {
            id: "01JORDER".into(),
            status,
            email: "buyer@example.com".into(),
            user_id: None,
            token_hash: None,
            amount: 1500,
            currency: "usd".into(),
            holds: vec![],
            refunded_amount: 0,
            payment_intent_id: None,
            receipt_status: if paid_by.is_some() { ReceiptStatus::Sent } else { ReceiptStatus::None },
            receipt_enqueued_at: None,
            correlation_id: "corr".into(),
            paid_by: paid_by.map(str::to_owned),
        }
    }

    fn report(fact: PaymentFact, payment_id: &str) -> PaymentReport<'_> {
        PaymentReport { event_id: "evt_1", payment_id, fact, amount: 1500, currency: "usd", receipt_to: None }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn a_success_pays_an_order_that_awaits_payment_and_nothing_else() {
        let pay = report(PaymentFact::Succeeded, "pi_1");
        let cases = [
            (order(Pending, None), Verdict::Apply(Paid)),
            (order(PaymentFailed, None), Verdict::Apply(Paid)),
            (order(Paid, Some("pi_1")), Verdict::AlreadyDone { requeue_receipt: false }),
            (order(Refunded, Some("pi_1")), Verdict::AlreadyDone { requeue_receipt: false }),
            (order(Paid, Some("imp_9")), Verdict::GiveBack(Refusal::DuplicatePayment)),
            (order(Refunded, Some("pi_0")), Verdict::GiveBack(Refusal::DuplicatePayment)),
            (order(Canceled, None), Verdict::GiveBack(Refusal::NotPayable)),
        ];
        for (order, expected) in cases {
            assert_eq!(judge(Some(&order), &pay, now()), expected, "{:?}", order.status);
        }
    }

    #[test]
    fn refunds_raise_the_running_total_once_and_a_whole_one_refunds_the_order() {
        let refund = |total| report(PaymentFact::Refunded { total }, "pi_1");
        let mut paid = order(Paid, Some("pi_1"));
        assert_eq!(judge(Some(&paid), &refund(500), now()), Verdict::Apply(Paid), "a part: still paid");
        assert_eq!(refund(500).change().target(), Paid);
        paid.refunded_amount = 500;
        for old in [300, 500] {
            assert_eq!(judge(Some(&paid), &refund(old), now()), Verdict::AlreadyDone { requeue_receipt: false });
        }
        assert_eq!(judge(Some(&paid), &refund(1500), now()), Verdict::Apply(Refunded));
        assert_eq!(refund(1500).change().target(), Refunded);
        let refunded = order(Refunded, Some("pi_1"));
        assert_eq!(judge(Some(&refunded), &refund(1500), now()), Verdict::AlreadyDone { requeue_receipt: false });
        for status in [Pending, PaymentFailed, Canceled] {
            assert_eq!(judge(Some(&order(status, None)), &refund(1500), now()), Verdict::Ignore(Refusal::NotAllowed));
        }
    }

    #[test]
    fn a_failure_or_whole_refund_moves_only_the_statuses_the_machine_allows() {
        for status in OrderStatus::ALL {
            let order = order(status, (status == Paid || status == Refunded).then_some("pi_1"));
            for fact in [PaymentFact::Failed, PaymentFact::Refunded { total: 1500 }] {
                let verdict = judge(Some(&order), &report(fact, "pi_1"), now());
                let expected = if status.can_become(fact.target()) {
                    Verdict::Apply(fact.target())
                } else if status == fact.target() {
                    Verdict::AlreadyDone { requeue_receipt: false }
                } else {
                    Verdict::Ignore(Refusal::NotAllowed)
                };
                assert_eq!(verdict, expected, "{fact:?} on {status:?}");
            }
        }
    }

    #[test]
    fn the_amount_and_currency_are_checked_before_anything_else() {
        let order = order(Pending, None);
        let short = PaymentReport { amount: 1499, ..report(PaymentFact::Succeeded, "pi_1") };
        assert_eq!(judge(Some(&order), &short, now()), Verdict::GiveBack(Refusal::AmountMismatch));
        let other_currency = PaymentReport { currency: "krw", ..report(PaymentFact::Succeeded, "pi_1") };
        assert_eq!(judge(Some(&order), &other_currency, now()), Verdict::GiveBack(Refusal::AmountMismatch));
        // Nothing was taken by a failure: nothing to give back.
        let failed = PaymentReport { amount: 1, ..report(PaymentFact::Failed, "pi_1") };
        assert_eq!(judge(Some(&order), &failed, now()), Verdict::Ignore(Refusal::AmountMismatch));
    }

    #[test]
    fn a_repeat_of_the_paying_payment_queues_the_receipt_again_only_when_it_may_be_lost() {
        let pay = report(PaymentFact::Succeeded, "pi_1");
        let mut paid = order(Paid, Some("pi_1"));
        paid.receipt_status = ReceiptStatus::Queued;
        paid.receipt_enqueued_at = Some(now() - time::Duration::seconds(10));
        assert_eq!(judge(Some(&paid), &pay, now()), Verdict::AlreadyDone { requeue_receipt: false });
        paid.receipt_enqueued_at = Some(now() - time::Duration::seconds(61));
        assert_eq!(judge(Some(&paid), &pay, now()), Verdict::AlreadyDone { requeue_receipt: true });
        paid.receipt_status = ReceiptStatus::Sent;
        assert_eq!(judge(Some(&paid), &pay, now()), Verdict::AlreadyDone { requeue_receipt: false });
    }

    #[test]
    fn no_order_is_unknown() {
        assert_eq!(judge(None, &report(PaymentFact::Succeeded, "pi_1"), now()), Verdict::UnknownOrder);
    }
}
