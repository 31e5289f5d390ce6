//! The contract's catalog and orders, through the gateway: prices from the
//! catalog only, the validation rules with dotted field paths, the order and
//! its lines stored together, owner-or-token access with everyone else a
//! 404, the customer's list, and the AWS calls each request makes.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e_tests::commerce::{
    call, guest_order, guest_order_of, member, run_tool, seed_products, seeded, seeded_active, unique_email,
};
use e2e_tests::{Api, assert_error, aws_calls, dynamodb, fresh_request_id};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_catalog_lists_the_seeded_products_in_pages() {
    let api = Api::new();
    let reply = call(&api, Method::GET, "/api/v1/products?page_size=100", None, None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let listed = reply.body["results"].as_array().unwrap();
    for product in seed_products() {
        let found = listed.iter().find(|p| p["id"] == product["id"]).unwrap_or_else(|| panic!("{product} not listed"));
        let mut expected = product.clone();
        expected["stock"] = product.get("stock").cloned().unwrap_or(Value::Null);
        assert_eq!(found, &expected, "the seed's fields, and its stock (null: no limit)");
        assert_eq!(keys_of(found), ["active", "currency", "description", "id", "name", "stock", "unit_amount"]);
    }
    assert!(listed.iter().any(|p| p["active"] == false), "inactive products are listed too");

    // Two at a time, forward to the end and back again.
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/products?page_size=2".to_owned());
    let mut last_page = Value::Null;
    while let Some(url) = next {
        let page = call(&api, Method::GET, &url, None, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body["results"].as_array().unwrap().len() <= 2);
        seen.extend(page.body["results"].as_array().unwrap().iter().map(|p| p["id"].clone()));
        next = page.body["next"].as_str().map(str::to_owned);
        last_page = page.body;
    }
    let all: Vec<Value> = listed.iter().map(|p| p["id"].clone()).collect();
    assert_eq!(seen, all);
    let previous = last_page["previous"].as_str().expect("the last page links back");
    let back = call(&api, Method::GET, previous, None, None, None).await;
    assert_eq!(back.body["results"].as_array().unwrap().len(), 2, "{}", back.body);

    let bad = call(&api, Method::GET, "/api/v1/products?cursor=made-up", None, None, None).await;
    assert_error(bad.status, &bad.body, 400, "validation_error");
    assert!(bad.body["errors"]["cursor"].is_array());
}

#[tokio::test]
async fn a_guest_order_is_priced_by_the_server_and_read_only_with_its_token() {
    let api = Api::new();
    let issue = seeded("usd", true);
    let others = seeded_active("usd");
    let bag = &others[1];
    let email = unique_email();
    // The client's prices and names are ignored, whatever it sends.
    let input = json!({
        "email": email,
        "currency": "krw",
        "amount": 1,
        "items": [
            {"product_id": issue["id"], "quantity": 3, "unit_amount": 1, "name": "free"},
            {"product_id": bag["id"], "quantity": 1},
        ],
    });
    let reply = call(&api, Method::POST, "/api/v1/orders", None, None, Some(&input)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let order = reply.body;
    let id = order["id"].as_str().unwrap().to_owned();
    assert!(reply.headers[header::LOCATION].to_str().unwrap().ends_with(&format!("/api/v1/orders/{id}")));
    assert_eq!(
        keys_of(&order),
        [
            "amount",
            "created_at",
            "currency",
            "email",
            "expires_at",
            "id",
            "items",
            "order_token",
            "receipt",
            "refunded_amount",
            "status",
            "updated_at"
        ]
    );
    let unit = issue["unit_amount"].as_i64().unwrap();
    let expected = 3 * unit + bag["unit_amount"].as_i64().unwrap();
    assert_eq!(order["amount"], expected);
    assert_eq!(order["currency"], "usd");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["email"], email);
    assert_eq!(order["receipt"], json!({"status": "none", "sent_at": null}));
    assert_eq!(
        order["items"][0],
        json!({"product_id": issue["id"], "name": issue["name"], "unit_amount": unit, "quantity": 3, "line_amount": 3 * unit})
    );
    let token = order["order_token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32);

    // The token reads it; the 200 is the same order without the token.
    let read = call(&api, Method::GET, &format!("/api/v1/orders/{id}"), None, Some(&token), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.headers[header::CACHE_CONTROL], "no-store");
    let mut without_token = order.clone();
    without_token.as_object_mut().unwrap().remove("order_token");
    assert_eq!(read.body, without_token);

    // Everyone else: 404, exactly as for an order that does not exist.
    let stranger = member(&api).await;
    let other = guest_order(&api, 1).await;
    let missing = call(&api, Method::GET, "/api/v1/orders/01JGFJJZ00BVPG0000NOTHERE0", None, Some(&token), None).await;
    for (access, order_token) in [
        (None, None),
        (None, Some("not-the-token")),
        (None, Some(other.token.as_str())),
        (Some(stranger.access.as_str()), None),
        (None, Some(&token[..token.len() - 1])),
    ] {
        let reply = call(&api, Method::GET, &format!("/api/v1/orders/{id}"), access, order_token, None).await;
        assert_error(reply.status, &reply.body, 404, "not_found");
        assert_eq!(reply.body, missing.body);
    }
    // The token is a key to this order only.
    let reply = call(&api, Method::GET, &format!("/api/v1/orders/{}", other.id), None, Some(&token), None).await;
    assert_error(reply.status, &reply.body, 404, "not_found");
    // A guest order is in nobody's list.
    let list = call(&api, Method::GET, "/api/v1/orders", Some(&stranger.access), None, None).await;
    assert!(list.body["results"].as_array().unwrap().iter().all(|o| o["id"] != id.as_str()));

    // Stored: the order as one item, its lines inside, and only a hash of
    // the token.
    let (db, table) = dynamodb().await;
    let items = db
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ORDER#{id}")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    let head = items.iter().find(|i| i["sk"].as_s().unwrap() == "#ORDER").unwrap();
    assert_eq!(head["lines"].as_l().unwrap().len(), 2, "{head:?}");
    let stored_hash = head["token_hash"].as_s().unwrap();
    assert_ne!(stored_hash, &token);
    assert!(items.iter().all(|item| item.values().all(|v| v.as_s().map_or(true, |s| !s.contains(&token)))));
}

#[tokio::test]
async fn a_members_orders_are_theirs_newest_first() {
    let api = Api::new();
    let me = member(&api).await;
    let products = seeded_active("usd");
    let mut placed = Vec::new();
    // Orders of 3, 1 and 2 lines: a page must end on an order's boundary,
    // whatever number of lines each order has in the index.
    for lines in [3, 1, 2] {
        let items: Vec<Value> = products
            .iter()
            .take(lines)
            .enumerate()
            .map(|(i, p)| json!({"product_id": p["id"], "quantity": i + 1}))
            .collect();
        let items = json!({"items": items});
        let reply = call(&api, Method::POST, "/api/v1/orders", Some(&me.access), None, Some(&items)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert!(reply.body.get("order_token").is_none(), "members get no order token");
        assert_eq!(reply.body["email"], format!("{}@example.com", me.username), "the account's email by default");
        placed.push(reply.body);
    }
    let with_email = json!({"email": unique_email(), "items": [{"product_id": products[0]["id"], "quantity": 1}]});
    let reply = call(&api, Method::POST, "/api/v1/orders", Some(&me.access), None, Some(&with_email)).await;
    assert_eq!(reply.body["email"], with_email["email"]);
    placed.push(reply.body);

    let newest_first: Vec<Value> = placed.iter().rev().cloned().collect();
    let everything = call(&api, Method::GET, "/api/v1/orders", Some(&me.access), None, None).await;
    assert_eq!(everything.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(everything.body["results"].as_array().unwrap(), &newest_first, "{}", everything.body);
    assert_eq!((&everything.body["next"], &everything.body["previous"]), (&Value::Null, &Value::Null));
    for page_size in [1, 2, 3] {
        // Forward to the end, then back to the start, page by page.
        let mut pages = Vec::new();
        let mut next = Some(format!("/api/v1/orders?page_size={page_size}"));
        while let Some(url) = next {
            let page = call(&api, Method::GET, &url, Some(&me.access), None, None).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            next = page.body["next"].as_str().map(str::to_owned);
            pages.push(page.body);
        }
        let walked: Vec<Value> = pages.iter().flat_map(|p| p["results"].as_array().unwrap().clone()).collect();
        assert_eq!(walked, newest_first, "page_size={page_size}");
        assert_eq!(pages[0]["previous"], Value::Null);
        let mut back = pages.last().unwrap()["previous"].as_str().map(str::to_owned);
        let mut backwards = Vec::new();
        while let Some(url) = back {
            let page = call(&api, Method::GET, &url, Some(&me.access), None, None).await;
            back = page.body["previous"].as_str().map(str::to_owned);
            backwards.push(page.body["results"].clone());
        }
        let expected: Vec<Value> = pages[..pages.len() - 1].iter().rev().map(|p| p["results"].clone()).collect();
        assert_eq!(backwards, expected, "page_size={page_size}");
    }

    // Mine to read; nobody else's, with or without a token.
    let id = placed[0]["id"].as_str().unwrap();
    let mine = call(&api, Method::GET, &format!("/api/v1/orders/{id}"), Some(&me.access), None, None).await;
    assert_eq!(mine.body, placed[0]);
    let stranger = member(&api).await;
    for access in [None, Some(stranger.access.as_str())] {
        let reply = call(&api, Method::GET, &format!("/api/v1/orders/{id}"), access, None, None).await;
        assert_error(reply.status, &reply.body, 404, "not_found");
    }
    let theirs = call(&api, Method::GET, "/api/v1/orders", Some(&stranger.access), None, None).await;
    assert_eq!(theirs.body["results"], json!([]));

    let anonymous = call(&api, Method::GET, "/api/v1/orders", None, None, None).await;
    assert_error(anonymous.status, &anonymous.body, 401, "not_authenticated");
    let forged = call(&api, Method::GET, &format!("/api/v1/orders/{id}"), Some("not-a-jwt"), None, None).await;
    assert_error(forged.status, &forged.body, 401, "token_not_valid");
}

#[tokio::test]
async fn seeding_the_catalog_again_changes_nothing() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/seed/products.json");
    let output = run_tool("seed-catalog", &[seed]).await;
    let count = seed_products().len();
    assert!(output.contains(&format!("{count} products, 0 created, 0 updated, {count} unchanged")), "{output}");
}

#[tokio::test]
async fn invalid_orders_name_each_field() {
    let api = Api::new();
    let usd = seeded("usd", true);
    let usd2 = &seeded_active("usd")[1];
    let krw = seeded("krw", true);
    let inactive = seeded("usd", false);
    let email = "guest@example.com";
    let item = |product: &Value, quantity: Value| json!({"product_id": product["id"], "quantity": quantity});
    let cases = [
        (json!({"email": email, "items": []}), "items"),
        (json!({"email": email}), "items"),
        (
            json!({"email": email, "items": (0..51).map(|i| json!({"product_id": format!("p{i}"), "quantity": 1})).collect::<Vec<_>>()}),
            "items",
        ),
        (json!({"email": email, "items": [item(&usd, json!(0))]}), "items.0.quantity"),
        (json!({"email": email, "items": [item(&usd, json!(1)), item(usd2, json!(101))]}), "items.1.quantity"),
        (json!({"email": email, "items": [item(&usd, json!(-3))]}), "items.0.quantity"),
        (json!({"email": email, "items": [item(&usd, json!("two"))]}), "items.0.quantity"),
        (json!({"email": email, "items": [item(&usd, json!(1)), item(&usd, json!(2))]}), "items.1.product_id"),
        (
            json!({"email": email, "items": [{"product_id": "01JGFJJZ00BVPG0000NOTHERE0", "quantity": 1}]}),
            "items.0.product_id",
        ),
        (json!({"email": email, "items": [item(&usd, json!(1)), item(&inactive, json!(1))]}), "items.1.product_id"),
        (json!({"email": email, "items": [item(&usd, json!(1)), item(&krw, json!(1))]}), "items"),
        (json!({"items": [item(&usd, json!(1))]}), "email"),
        (json!({"email": "not-an-email", "items": [item(&usd, json!(1))]}), "email"),
        (json!({"email": email, "items": [{"quantity": 1}]}), "items.0.product_id"),
    ];
    for (input, field) in cases {
        let reply = call(&api, Method::POST, "/api/v1/orders", None, None, Some(&input)).await;
        assert_error(reply.status, &reply.body, 400, "validation_error");
        assert!(reply.body["errors"][field].is_array(), "{input} → {}", reply.body);
    }
    // The bounds themselves are allowed.
    let krw_products = seeded_active("krw");
    let ok = guest_order_of(&api, &[(&krw_products[0]["id"], 100), (&krw_products[1]["id"], 1)]).await;
    assert_eq!(ok.body["currency"], "krw");

    let not_json = api
        .http
        .post(api.url("/api/v1/orders"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (status, body) = e2e_tests::status_and_json(not_json).await;
    assert_error(status, &body, 400, "bad_request");
}

#[tokio::test]
async fn each_request_logs_the_aws_calls_it_made() {
    let api = Api::new();
    let usd = seeded("usd", true);
    let send = |method: Method, path: String, token: Option<String>, body: Option<Value>| {
        let api = api.clone();
        async move {
            let request_id = fresh_request_id();
            let mut request = api.http.request(method, api.url(&path)).header("x-request-id", &request_id);
            if let Some(token) = token {
                request = request.header("x-order-token", token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{path}: {}", response.status());
            assert_eq!(response.headers()["x-request-id"], request_id.as_str());
            let body: Value = response.json().await.unwrap();
            (request_id, body)
        }
    };
    let order = json!({"email": unique_email(), "items": [{"product_id": usd["id"], "quantity": 1}]});
    let (placed, body) = send(Method::POST, "/api/v1/orders".into(), None, Some(order)).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let token = body["order_token"].as_str().unwrap().to_owned();
    let (read, _) = send(Method::GET, format!("/api/v1/orders/{id}"), Some(token.clone()), None).await;
    let (listed, _) = send(Method::GET, "/api/v1/products".into(), None, None).await;
    let intent = json!({"order_id": id});
    let (first_intent, _) =
        send(Method::POST, "/api/v1/payments/intent".into(), Some(token.clone()), Some(intent.clone())).await;
    let (again_intent, _) = send(Method::POST, "/api/v1/payments/intent".into(), Some(token), Some(intent)).await;

    // BatchGetItem of the products + the order's transaction.
    assert_eq!(aws_calls(&placed, "dynamodb").await, 2);
    // One Query: the order and its lines.
    assert_eq!(aws_calls(&read, "dynamodb").await, 1);
    assert_eq!(aws_calls(&listed, "dynamodb").await, 1);
    // GetItem, then the transaction that records the intent.
    assert_eq!(aws_calls(&first_intent, "dynamodb").await, 2);
    // GetItem; the intent comes from Stripe.
    assert_eq!(aws_calls(&again_intent, "dynamodb").await, 1);
    for request_id in [&placed, &read, &listed, &first_intent, &again_intent] {
        let line = e2e_tests::completed_log_line(request_id).await;
        assert!(line["throttle_calls"].is_object(), "{line}");
        assert_eq!(line["aws_calls"].get("sqs"), None, "{line}");
    }
}
