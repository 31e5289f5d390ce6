//! Test fixture: a real `lambda_http` function that behaves, and misbehaves,
//! on request. The gateway's end-to-end tests run it as a function binary.
//!
//! - `/echo/...`: 200 with what it saw (method, path, route key, path and
//!   query parameters, body, headers, cookies, some environment, its pid).
//! - `/slow?ms=N`: sleeps N ms, then echoes (for concurrency tests).
//! - `/crash`: aborts the process mid-invocation.
//! - `/sleep`: sleeps far past any test timeout.
//! - `/fail`: returns an error (the runtime posts to `/error`).
//! - `/cookies`: sets two cookies. `/binary`: a non-UTF-8 body.
//! - anything else: 200 `ok`.

use std::collections::BTreeMap;
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response, run, service_fn};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}

async fn handle(req: Request) -> Result<Response<Body>, Error> {
    let path = req.uri().path().to_owned();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("").to_owned();
    match first.as_str() {
        "echo" => echo(&req),
        "slow" => {
            let ms = req
                .query_string_parameters_ref()
                .and_then(|q| q.first("ms"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(300);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            echo(&req)
        }
        "crash" => std::process::abort(),
        "sleep" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            text(StatusCode::OK, "woke up")
        }
        "fail" => Err("asked to fail".into()),
        "cookies" => Ok(Response::builder()
            .status(StatusCode::OK)
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; HttpOnly")
            .body(Body::Empty)?),
        "binary" => Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/octet-stream")
            .body(Body::Binary(vec![0xff, 0x00, 0xfe, 0x80]))?),
        _ => text(StatusCode::OK, "ok"),
    }
}

fn text(status: StatusCode, body: &str) -> Result<Response<Body>, Error> {
    Ok(Response::builder().status(status).header("content-type", "text/plain").body(Body::Text(body.to_owned()))?)
}

fn echo(req: &Request) -> Result<Response<Body>, Error> {
    let pairs = |m: Option<&lambda_http::aws_lambda_events::query_map::QueryMap>| -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(m) = m {
            for (k, v) in m.iter() {
                out.entry(k.to_owned()).or_default().push(v.to_owned());
            }
        }
        out
    };
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let route_key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone(),
        _ => None,
    };
    let env = |k: &str| std::env::var(k).ok();
    let body = json!({
        "method": req.method().as_str(),
        "path": req.raw_http_path(),
        "uri": req.uri().to_string(),
        "route_key": route_key,
        "path_params": pairs(req.path_parameters_ref()),
        "query": pairs(req.query_string_parameters_ref()),
        "body": String::from_utf8_lossy(req.body().as_ref()),
        "headers": headers,
        "pid": std::process::id(),
        "request_id": req.lambda_context_ref().map(|c| c.request_id.clone()),
        "env": {
            "FIXTURE_GREETING": env("FIXTURE_GREETING"),
            "FIXTURE_OVERRIDDEN": env("FIXTURE_OVERRIDDEN"),
            "FIXTURE_TABLE_NAME": env("FIXTURE_TABLE_NAME"),
            "AWS_LAMBDA_FUNCTION_NAME": env("AWS_LAMBDA_FUNCTION_NAME"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            "AWS_REGION": env("AWS_REGION"),
        },
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("x-fixture", "echo")
        .body(Body::Text(body.to_string()))?)
}
