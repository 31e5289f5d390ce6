//! The code, the committed documents and the SAM template say the same.

use std::collections::BTreeSet;

use local_gateway::{RouteSpec, Template};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"));

#[test]
fn the_committed_documents_are_what_the_code_generates() {
    for (name, generated) in openapi_doc::rendered() {
        let committed = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi/{name} is out of date with the code: run `make openapi` and commit it"
        );
    }
}

#[test]
fn the_template_routes_each_documented_path_to_its_function_and_nothing_else() {
    let template = Template::load(format!("{DIR}/../infra/template.yaml")).unwrap();
    for (function, api) in openapi_doc::functions() {
        let documented: BTreeSet<String> = api.paths.paths.keys().cloned().collect();
        let def = template.function(function).unwrap_or_else(|| panic!("{function} is not in the template"));
        let routed: BTreeSet<String> = def
            .http_routes
            .iter()
            .filter_map(|r| match &r.route {
                RouteSpec::Path { method, path } => {
                    assert_eq!(method, "ANY", "{function} {path}: the function answers 405 itself");
                    Some(path.clone())
                }
                RouteSpec::Default => None,
            })
            .collect();
        assert_eq!(routed, documented, "{function}: template routes vs. documented paths");
    }
    let defaults: Vec<_> = template
        .functions
        .iter()
        .filter(|f| f.http_routes.iter().any(|r| r.route == RouteSpec::Default))
        .map(|f| f.logical_id.as_str())
        .collect();
    assert_eq!(defaults, [openapi_doc::DEFAULT_ROUTE_FUNCTION]);
}

#[test]
fn every_operation_documents_its_errors_in_the_error_format() {
    let doc = openapi_doc::document();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["500", "503"] {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
            let security = operation["security"].to_string();
            if security.contains("bearer") {
                assert!(responses.contains_key("401"), "{method} {path} reads a token and lacks 401");
            }
            if !security.contains("stripeSignature") {
                assert!(responses.contains_key("429"), "{method} {path} is throttled and lacks 429");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                }
            }
            assert!(operation["operationId"].is_string(), "{method} {path}");
        }
    }
    let error = &doc["components"]["schemas"]["ErrorBody"];
    let mut required: Vec<&str> = error["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort();
    assert_eq!(required, ["code", "errors", "message"]);
}
