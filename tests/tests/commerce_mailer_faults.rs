//! The mailer failing. moto refuses mail from a sender identity that is not
//! verified, so this test deletes the stack's sender identity: each delivery
//! of the receipt then fails and is retried, and after the queue's
//! `maxReceiveCount` (5) the message rests in the dead-letter queue, with
//! the order still `paid` and its receipt `failed`. Once the identity is
//! back, `redrive-mail` (`make redrive`) sends exactly one email, and a
//! second redrive moves nothing.
//!
//! Alone in its test binary on purpose: the identity is the whole stack's,
//! and cargo runs test binaries one after another, so no other test sends
//! mail while it is gone.

use std::time::Duration;

use e2e_tests::commerce::{
    all_at_once, aws_config, deliver, emails_to, event_id, events_completed, eventually, get_order, guest_order,
    payment_intent, payment_intent_event, queue_depth, run_tool, wait_for_order,
};
use e2e_tests::{Api, required_setting};
use reqwest::StatusCode;

/// Puts the sender identity back however the test ends.
struct RestoreSender(String);

impl Drop for RestoreSender {
    fn drop(&mut self) {
        let from = self.0.clone();
        let restored = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let ses = aws_sdk_sesv2::Client::new(&aws_config().await);
                let _ = ses.create_email_identity().email_identity(from).send().await;
            });
        });
        let _ = restored.join();
    }
}

#[tokio::test]
async fn a_refusing_ses_ends_in_the_dead_letter_queue_and_one_redrive_sends_once() {
    let api = Api::new();
    let config = aws_config().await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let from = required_setting("SES_FROM_ADDRESS");
    let dead_letters = required_setting("MAIL_DEAD_LETTER_QUEUE_NAME");
    let (dead_before, _) = queue_depth(&sqs, &dead_letters).await;

    let guard = RestoreSender(from.clone());
    ses.delete_email_identity().email_identity(&from).send().await.expect("the identity is deleted");

    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let amount = order.body["amount"].as_i64().unwrap();
    let event = payment_intent_event("payment_intent.succeeded", &event_id(), &intent, &order.id, amount, "usd");
    assert_eq!(deliver(&api, &event).await.status, StatusCode::OK);
    wait_for_order(&api, &order, Duration::from_secs(10), |o| o["status"] == "paid").await;

    // Refused, retried, refused again … until SQS gives up on it.
    eventually(Duration::from_secs(60), "the receipt in the dead-letter queue", || {
        let (sqs, dead_letters) = (sqs.clone(), dead_letters.clone());
        async move { (queue_depth(&sqs, &dead_letters).await.0 > dead_before).then_some(()) }
    })
    .await;
    let failures: Vec<_> =
        events_completed("mailer", &order.id).into_iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(failures.len(), 5, "one failed attempt per receive: {failures:?}");
    assert!(failures.iter().all(|l| l["aws_calls"]["ses"] == 1), "{failures:?}");
    assert!(failures.iter().all(|l| !l.to_string().contains(&order.email)), "no customer address in the logs");
    let stuck = get_order(&api, &order).await;
    assert_eq!(stuck["status"], "paid", "a mail failure never touches the payment");
    assert_eq!(stuck["receipt"]["status"], "failed");
    assert!(emails_to(&order.email).await.is_empty());

    // Fixed: the identity is back; the dead letters go back to the queue.
    drop(guard);
    let moved = run_tool("redrive-mail", &[]).await;
    assert!(moved.contains(&format!("moved {}", dead_before + 1)), "{moved}");
    let sent = wait_for_order(&api, &order, Duration::from_secs(30), |o| o["receipt"]["status"] == "sent").await;
    assert!(sent["receipt"]["sent_at"].is_string());
    assert_eq!(emails_to(&order.email).await.len(), 1);

    // Redriving again (twice, at once) finds nothing and sends nothing.
    let again = all_at_once(vec![run_tool("redrive-mail", &[]), run_tool("redrive-mail", &[])]).await;
    assert!(again.iter().all(|out| out.contains("moved 0")), "{again:?}");
    let (queued, in_flight) = queue_depth(&sqs, &required_setting("MAIL_QUEUE_NAME")).await;
    assert_eq!((queued, in_flight), (0, 0));
    assert_eq!(emails_to(&order.email).await.len(), 1);
}
