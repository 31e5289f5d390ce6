//! The data the measured operations read: a signed-in user, a post with
//! comments, a page of posts, guest orders. Made by invoking the functions
//! themselves (no gateway), so nothing else reads the receipt queue.

use std::collections::HashMap;
use std::path::PathBuf;

use bytes::Bytes;
use local_gateway::{FunctionPool, FunctionSpec};
use serde_json::{Value, json};

use crate::events::{HttpEvents, HttpRequest};

/// One warm instance per function, for set-up calls.
pub struct Invoker<'a> {
    events: &'a HttpEvents,
    specs: &'a HashMap<String, FunctionSpec>,
    pools: HashMap<String, FunctionPool>,
    log_file: PathBuf,
}

impl<'a> Invoker<'a> {
    /// The functions' output goes to `log_file`.
    pub fn new(events: &'a HttpEvents, specs: &'a HashMap<String, FunctionSpec>, log_file: PathBuf) -> Self {
        Invoker { events, specs, pools: HashMap::new(), log_file }
    }

    /// Sends `request`; its status and JSON body (`null` if none).
    pub async fn call(&mut self, request: &HttpRequest) -> Result<(u16, Value), String> {
        let (function, event) = self.events.event(request, &crate::fresh_request_id())?;
        let spec = self.specs.get(&function).ok_or_else(|| format!("no binary for {function}"))?;
        let spec = FunctionSpec { log_file: Some(self.log_file.clone()), ..spec.clone() };
        let pool = self.pools.entry(function.clone()).or_insert_with(|| FunctionPool::new(spec, 1));
        let answer = pool.invoke_measured(event).await.0.map_err(|e| e.to_string())?;
        decode(&answer)
    }

    /// As [`call`](Self::call), failing unless the status is `expected`.
    pub async fn expect(&mut self, request: &HttpRequest, expected: u16) -> Result<Value, String> {
        let (status, body) = self.call(request).await?;
        if status != expected {
            return Err(format!("{} {} answered {status}, not {expected}: {body}", request.method, request.path));
        }
        Ok(body)
    }

    pub async fn shutdown(self) {
        for pool in self.pools.values() {
            pool.shutdown().await;
        }
    }
}

/// A function's answer to an HTTP event: status and JSON body.
pub fn decode(answer: &Bytes) -> Result<(u16, Value), String> {
    let response = local_gateway::event::decode_response(answer).map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    Ok((status, body))
}

/// What the measured requests need.
pub struct Fixtures {
    pub access_token: String,
    pub post_id: String,
    pub product_id: String,
    /// A guest order of its own, for asking for its PaymentIntent again and
    /// again (the measured orders are all paid by the bench's webhook run).
    pub intent_order: (String, String),
    /// A won order paid at the local PortOne: (order id, order token, imp_uid).
    pub portone_order: (String, String, String),
}

pub async fn make(invoker: &mut Invoker<'_>, products: &Value) -> Result<Fixtures, String> {
    let username = format!("bench{}", ulid::Ulid::new().to_string().to_lowercase());
    let password = "bench-password-not-a-secret";
    let register = json!({"username": username, "email": format!("{username}@example.com"), "password": password});
    invoker.expect(&HttpRequest::post_json("/api/v1/auth/register", &register), 201).await?;
    let tokens = invoker
        .expect(
            &HttpRequest::post_json("/api/v1/auth/token", &json!({"username": username, "password": password})),
            200,
        )
        .await?;
    let access_token = tokens["access"].as_str().ok_or("no access token")?.to_owned();
    let bearer = format!("Bearer {access_token}");

    // A page of posts to list, and one post with comments to read.
    let mut post_id = String::new();
    for n in 0..20 {
        let input =
            json!({"title": format!("Bench post {n}"), "body": "A paragraph of text. ".repeat(20), "is_public": true});
        let post = invoker
            .expect(&HttpRequest::post_json("/api/v1/posts", &input).header("authorization", &bearer), 201)
            .await?;
        post_id = post["id"].as_str().ok_or("no post id")?.to_owned();
    }
    for n in 0..20 {
        let comment = json!({"body": format!("Comment number {n}.")});
        let path = format!("/api/v1/posts/{post_id}/comments");
        invoker.expect(&HttpRequest::post_json(path, &comment).header("authorization", &bearer), 201).await?;
    }
    let product_id = products
        .as_array()
        .and_then(|all| all.iter().find(|p| p["currency"] == "usd" && p["active"] == true))
        .and_then(|p| p["id"].as_str())
        .ok_or("no active usd product in the seed")?
        .to_owned();
    let order = json!({"email": "bench-intent@example.com", "items": [{"product_id": product_id, "quantity": 1}]});
    let order = invoker.expect(&HttpRequest::post_json("/api/v1/orders", &order), 201).await?;
    let field = |name: &str| order[name].as_str().map(str::to_owned).ok_or(format!("order without {name}"));
    let intent_order = (field("id")?, field("order_token")?);

    let won_product = products
        .as_array()
        .and_then(|all| all.iter().find(|p| p["currency"] == "krw" && p["active"] == true))
        .and_then(|p| p["id"].as_str())
        .ok_or("no active krw product in the seed")?;
    let order = json!({"email": "bench-portone@example.com", "items": [{"product_id": won_product, "quantity": 1}]});
    let order = invoker.expect(&HttpRequest::post_json("/api/v1/orders", &order), 201).await?;
    let field = |name: &str| order[name].as_str().map(str::to_owned).ok_or(format!("order without {name}"));
    let (won_id, won_token) = (field("id")?, field("order_token")?);
    let base = e2e_tests::required_setting("PORTONE_API_BASE");
    let payment: Value = reqwest::Client::new()
        .post(format!("{base}/_fake/payments"))
        .json(&json!({"merchant_uid": won_id, "amount": order["amount"], "currency": "KRW"}))
        .send()
        .await
        .map_err(|e| format!("the local PortOne: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the local PortOne: {e}"))?;
    let imp_uid = payment["imp_uid"].as_str().ok_or("the local PortOne made no payment")?.to_owned();
    Ok(Fixtures { access_token, post_id, product_id, intent_order, portone_order: (won_id, won_token, imp_uid) })
}
