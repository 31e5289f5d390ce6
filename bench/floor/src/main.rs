//! The floor `make bench` compares every function with: a `lambda_http`
//! function that echoes the request's path and body, with the same runtime
//! flavour and build profile as ours and nothing else (no logging set-up,
//! no AWS SDK, no router).

use lambda_http::{Body, Error, Request, Response, service_fn};

async fn echo(request: Request) -> Result<Response<Body>, Error> {
    let mut text = request.uri().path().to_owned();
    text.push('\n');
    text.push_str(std::str::from_utf8(request.body()).unwrap_or_default());
    Ok(Response::builder().status(200).header("content-type", "text/plain").body(Body::from(text))?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(echo)).await
}
