//! Every function's cargo-lambda event fixture (`functions/*/events/*.json`)
//! is an event Lambda could send: it parses as lambda_http parses it, and
//! HTTP ones name a documented route of that function.

use std::path::Path;

#[test]
fn every_http_fixture_parses_and_names_a_documented_route() {
    let functions = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"));
    let doc = openapi_doc::document();
    let mut checked = 0;
    for function in std::fs::read_dir(functions).unwrap().flatten() {
        let events = function.path().join("events");
        let Ok(entries) = std::fs::read_dir(&events) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let text = std::fs::read_to_string(&path).unwrap();
            let json: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if json.get("routeKey").is_none() {
                continue; // not an API Gateway event (e.g. an SQS batch)
            }
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let route = json["routeKey"].as_str().unwrap().split_once(' ').unwrap().1;
            let method = json["requestContext"]["http"]["method"].as_str().unwrap().to_lowercase();
            assert!(doc["paths"][route][&method].is_object(), "{}: {method} {route} is not documented", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 6, "found only {checked} fixtures");
}
