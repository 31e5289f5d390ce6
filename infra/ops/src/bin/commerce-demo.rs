//! `commerce-demo` (`make demo`): one purchase against the running local
//! stack, each step printed — a guest order, its PaymentIntent, the 4242
//! test card attached and confirmed at localstripe, localstripe's signed
//! webhook turning the order `paid`, and the receipt as SES (moto) got it.
//!
//! `commerce-demo --portone` (`make demo PROVIDER=portone`) pays a won
//! order through the local PortOne instead: the checkout's payment made at
//! the fake, the client's completion call, PortOne's webhook. A further
//! argument is the buyer's address (say, one `make bounce` suppressed).
//!
//! Last, a staff member (made here as `make staff` makes one) refunds half
//! of the order, the order's `refunded_amount` follows when the provider
//! confirms, and the buyer gets one refund notice.

use std::time::{Duration, Instant};

use commerce_ops::{OpsError, exit_with, table};
use platform::config::{optional, required};
use serde_json::{Value, json};
use store::UserRepository;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "commerce-demo")
}

fn demo(message: impl Into<String>) -> OpsError {
    OpsError::Demo(message.into())
}

struct Demo {
    http: reqwest::Client,
    api: String,
    stripe: String,
    stripe_key: String,
    portone: String,
    moto: String,
}

impl Demo {
    async fn json(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, OpsError> {
        let response = request.send().await.map_err(|e| demo(format!("{what}: {e} (is `make run` up?)")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(demo(format!("{what}: HTTP {status}: {body}")));
        }
        Ok(body)
    }

    async fn stripe(&self, path: &str, form: &[(&str, &str)], what: &str) -> Result<Value, OpsError> {
        let request = self.http.post(format!("{}{path}", self.stripe)).bearer_auth(&self.stripe_key).form(form);
        self.json(request, what).await
    }

    /// Reads the order until `done` holds, for at most `limit`.
    async fn wait_for_order(
        &self,
        order_id: &str,
        token: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value, OpsError> {
        let started = Instant::now();
        loop {
            let request =
                self.http.get(format!("{}/api/v1/orders/{order_id}", self.api)).header("x-order-token", token);
            let order = self.json(request, "GET /orders/{id}").await?;
            if done(&order) {
                return Ok(order);
            }
            if started.elapsed() > limit {
                return Err(demo(format!("gave up waiting after {limit:?}; the order is {order}")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn run() -> Result<(), OpsError> {
    let api = optional("API_BASE_URL")
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", optional("GATEWAY_PORT").unwrap_or_else(|| "3000".into())));
    let demo_run = Demo {
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| demo(e.to_string()))?,
        api,
        stripe: required("STRIPE_API_BASE")?,
        stripe_key: required("STRIPE_SECRET_KEY")?,
        portone: required("PORTONE_API_BASE")?,
        moto: required("AWS_ENDPOINT_URL")?,
    };
    let d = &demo_run;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let portone = args.first().is_some_and(|a| a == "--portone");
    if portone {
        args.remove(0);
    }
    let currency = if portone { "krw" } else { "usd" };

    println!("1. The catalog (GET /api/v1/products)");
    let products = d.json(d.http.get(format!("{}/api/v1/products", d.api)), "GET /products").await?;
    let product = products["results"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["active"] == true && p["currency"] == currency))
        .ok_or_else(|| demo(format!("no active {currency} product: run `make seed`")))?;
    println!("   {} at {} {}", product["name"], product["unit_amount"], product["currency"]);

    // `make demo EMAIL=...` buys for that address (one `make bounce` put on
    // the suppression list, say); by default a fresh one.
    let email = args
        .first()
        .cloned()
        .unwrap_or_else(|| format!("demo-{}@example.com", ulid::Ulid::new().to_string().to_lowercase()));
    println!("2. A guest order of 2 (POST /api/v1/orders)");
    let order = d
        .json(
            d.http.post(format!("{}/api/v1/orders", d.api)).json(&json!({
                "email": email,
                "items": [{"product_id": product["id"], "quantity": 2}],
            })),
            "POST /orders",
        )
        .await?;
    let order_id = order["id"].as_str().ok_or_else(|| demo("the order has no id"))?.to_owned();
    let token = order["order_token"].as_str().ok_or_else(|| demo("a guest order has an order_token"))?.to_owned();
    println!("   order {order_id}: {} {} {}, for {email}", order["status"], order["amount"], order["currency"]);

    let payment_id = if portone {
        pay_with_portone(d, &order, &order_id, &token).await?
    } else {
        pay_with_stripe(d, &order_id, &token).await?
    };

    println!("6. The receipt, queued to SQS and sent by the mailer through SES");
    let sent = d
        .wait_for_order(&order_id, &token, Duration::from_secs(30), |o| {
            o["receipt"]["status"] == "sent" || o["receipt"]["status"] == "suppressed"
        })
        .await?;
    if sent["receipt"]["status"] == "suppressed" {
        println!("   receipt suppressed: {email} is on the suppression list (make suppressions), so nothing was sent");
        println!("Done: one purchase, paid once, no email to a suppressed address.");
        return Ok(());
    }
    let mailbox = d.json(d.http.get(format!("{}/moto-api/data.json", d.moto)), "moto's data").await?;
    let message = mailbox["ses"]["Message"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["destinations"]["ToAddresses"][0] == email.as_str()))
        .ok_or_else(|| demo("moto has no email to the demo address"))?;
    println!("   sent at {}", sent["receipt"]["sent_at"]);
    println!("   SES (moto): to {} from {}", message["destinations"]["ToAddresses"][0], message["source"]);
    println!("   subject: {}", message["subject"]);
    refund_half(d, &order, &order_id, &token, &payment_id, portone).await?;
    println!("Done: one purchase, paid once, one receipt, half of it refunded and the buyer told.");
    Ok(())
}

/// Step 7: staff refund half of it; the order moves when the provider
/// confirms (PortOne's webhook; for Stripe, `charge.refunded`, which
/// localstripe does not send, so the demo signs one as Stripe would).
async fn refund_half(
    d: &Demo,
    order: &Value,
    order_id: &str,
    token: &str,
    payment_id: &str,
    portone: bool,
) -> Result<(), OpsError> {
    let amount = order["amount"].as_i64().ok_or_else(|| demo("the order has no amount"))?;
    let half = amount / 2;
    println!("7. A staff member refunds {half} of it (POST /api/v1/orders/{{id}}/refund)");
    let username = format!("demo-staff-{}", ulid::Ulid::new().to_string().to_lowercase());
    let password = "demo-staff-password";
    let register = json!({"username": username, "email": format!("{username}@example.com"), "password": password});
    d.json(d.http.post(format!("{}/api/v1/auth/register", d.api)).json(&register), "register").await?;
    UserRepository::new(table().await?).set_staff(&username, true).await?;
    let signed_in = d
        .json(
            d.http
                .post(format!("{}/api/v1/auth/token", d.api))
                .json(&json!({"username": username, "password": password})),
            "sign in",
        )
        .await?;
    let access = signed_in["access"].as_str().ok_or_else(|| demo("no access token"))?;
    println!("   {username} made staff (make staff USERNAME=...), signed in");
    let requested = d
        .json(
            d.http
                .post(format!("{}/api/v1/orders/{order_id}/refund", d.api))
                .bearer_auth(access)
                .json(&json!({"amount": half})),
            "POST /orders/{id}/refund",
        )
        .await?;
    println!(
        "   {} {}: asked of {}",
        requested["status"],
        requested["amount"],
        if portone { "PortOne" } else { "Stripe" }
    );
    if portone {
        d.json(
            d.http
                .post(format!("{}/_fake/payments/{payment_id}/notify", d.portone))
                .json(&json!({"url": format!("{}/api/v1/webhooks/portone", d.api)})),
            "PortOne's webhook",
        )
        .await?;
        println!("   PortOne's webhook: its cancel_amount is now {half}");
    } else {
        let event = json!({
            "id": format!("evt_demo_{}", ulid::Ulid::new()),
            "object": "event",
            "type": "charge.refunded",
            "created": time::OffsetDateTime::now_utc().unix_timestamp(),
            "livemode": false,
            "data": {"object": {
                "id": format!("ch_demo_{}", ulid::Ulid::new()),
                "object": "charge",
                "amount": amount,
                "amount_refunded": half,
                "refunded": false,
                "currency": order["currency"],
                "payment_intent": payment_id,
            }},
        })
        .to_string();
        let at = time::OffsetDateTime::now_utc().unix_timestamp();
        let v1 =
            stripe_webhook::signature::expected_signature(event.as_bytes(), &required("STRIPE_WEBHOOK_SECRET")?, at);
        let signed = format!("t={at},v1={v1}");
        d.json(
            d.http
                .post(format!("{}/api/v1/webhooks/stripe", d.api))
                .header("content-type", "application/json")
                .header("stripe-signature", signed)
                .body(event),
            "the signed charge.refunded",
        )
        .await?;
        println!("   Stripe's charge.refunded (signed here): amount_refunded {half}");
    }
    let refunded = d.wait_for_order(order_id, token, Duration::from_secs(20), |o| o["refunded_amount"] == half).await?;
    println!(
        "   order {order_id} is {}; refunded_amount {} of {}",
        refunded["status"], refunded["refunded_amount"], amount
    );
    println!("8. The refund notice, queued and sent by the mailer through SES");
    let to = order["email"].as_str().unwrap_or_default();
    let subject = format!("Your refund for order {order_id}");
    let started = Instant::now();
    loop {
        let mailbox = d.json(d.http.get(format!("{}/moto-api/data.json", d.moto)), "moto's data").await?;
        let notice = mailbox["ses"]["Message"].as_array().and_then(|all| {
            all.iter().find(|m| m["destinations"]["ToAddresses"][0] == to && m["subject"] == subject.as_str()).cloned()
        });
        if let Some(notice) = notice {
            println!("   SES (moto): to {to}, subject: {}", notice["subject"]);
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(demo("no refund notice after 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Steps 3–5 with Stripe: the PaymentIntent, the test card at localstripe,
/// localstripe's signed webhook.
async fn pay_with_stripe(d: &Demo, order_id: &str, token: &str) -> Result<String, OpsError> {
    println!("3. Its PaymentIntent (POST /api/v1/payments/intent, X-Order-Token)");
    let intent = d
        .json(
            d.http
                .post(format!("{}/api/v1/payments/intent", d.api))
                .header("x-order-token", token)
                .json(&json!({"order_id": order_id})),
            "POST /payments/intent",
        )
        .await?;
    let intent_id = intent["payment_intent_id"].as_str().ok_or_else(|| demo("no payment_intent_id"))?.to_owned();
    println!("   {intent_id} for {} {}", intent["amount"], intent["currency"]);

    println!("4. The 4242 test card attached and confirmed at localstripe ({})", d.stripe);
    let method = d
        .stripe(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
            "create payment method",
        )
        .await?;
    let method_id = method["id"].as_str().ok_or_else(|| demo("no payment method id"))?;
    d.stripe(&format!("/v1/payment_intents/{intent_id}"), &[("payment_method", method_id)], "attach").await?;
    let confirmed = d.stripe(&format!("/v1/payment_intents/{intent_id}/confirm"), &[], "confirm").await?;
    println!("   {method_id} attached; the intent is {}", confirmed["status"]);

    println!("5. localstripe's signed webhook (payment_intent.succeeded) → POST /api/v1/webhooks/stripe");
    let paid = d.wait_for_order(order_id, token, Duration::from_secs(20), |o| o["status"] == "paid").await?;
    println!("   order {order_id} is {}; receipt {}", paid["status"], paid["receipt"]["status"]);

    Ok(intent_id)
}

/// Steps 3–5 with PortOne: the payment the shopper's checkout makes (at the
/// fake), the client's completion call, then PortOne's webhook, which
/// changes nothing more.
async fn pay_with_portone(d: &Demo, order: &Value, order_id: &str, token: &str) -> Result<String, OpsError> {
    println!("3. The shopper pays at PortOne's checkout (the local fake: POST {}/_fake/payments)", d.portone);
    let payment = d
        .json(
            d.http.post(format!("{}/_fake/payments", d.portone)).json(&json!({
                "merchant_uid": order_id,
                "amount": order["amount"],
                "currency": "KRW",
            })),
            "create the PortOne payment",
        )
        .await?;
    let imp_uid = payment["imp_uid"].as_str().ok_or_else(|| demo("the fake made no imp_uid"))?.to_owned();
    println!("   {imp_uid}: {} KRW paid", order["amount"]);

    println!("4. The client reports it (POST /api/v1/payments/portone/complete, X-Order-Token)");
    let completed = d
        .json(
            d.http
                .post(format!("{}/api/v1/payments/portone/complete", d.api))
                .header("x-order-token", token)
                .json(&json!({"order_id": order_id, "imp_uid": imp_uid})),
            "POST /payments/portone/complete",
        )
        .await?;
    println!("   read back from PortOne's API and checked: the order is {}", completed["status"]);

    println!("5. PortOne's webhook (POST /api/v1/webhooks/portone), sent by the fake");
    let notified = d
        .json(
            d.http
                .post(format!("{}/_fake/payments/{imp_uid}/notify", d.portone))
                .json(&json!({"url": format!("{}/api/v1/webhooks/portone", d.api)})),
            "PortOne's webhook",
        )
        .await?;
    println!("   answered {}; the payment was already applied, so nothing changed", notified["status"]);
    Ok(imp_uid)
}
