//! The SDK floor `make bench` compares every read with: a `lambda_http`
//! function that makes one DynamoDB `GetItem` of a small item per request,
//! with the functions' own SDK set-up (`platform::aws`: the same HTTP
//! client, timeouts, retries and call counting) and build profile, and
//! nothing else (no logging set-up, no router, no throttle). What a read
//! costs above it is ours to cut.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

/// The item read, written by the bench's set-up: a few small attributes,
/// about the size of a post's key attributes.
const PARTITION: &str = "bench-sdk-floor";

async fn read_one(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<Response<Body>, Error> {
    let output = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(PARTITION.into()))
        .key("sk", AttributeValue::S(PARTITION.into()))
        .consistent_read(true)
        .send()
        .await?;
    let found = output.item.is_some_and(|item| item.contains_key("pk"));
    Ok(Response::builder()
        .status(if found { 200 } else { 404 })
        .header("content-type", "text/plain")
        .body(Body::from(if found { "found" } else { "missing" }))?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let table = std::env::var("TABLE_NAME")?;
    let sdk = platform::aws::load_sdk_config().await;
    let client = platform::aws::dynamodb_client(&sdk);
    let (client, table) = (&client, table.as_str());
    lambda_http::run(service_fn(move |_request: Request| read_one(client, table))).await
}
