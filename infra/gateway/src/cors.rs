//! CORS as API Gateway (HTTP API) does it, from the template's own
//! `CorsConfiguration`, so the local stack and the deployed API answer
//! browsers the same way: preflights are answered by the gateway without
//! invoking anything, and allowed origins get their headers on every
//! response; other origins get none.
//!
//! `AllowOrigins` may be a list or a `!Ref` to a parameter; a parameter is
//! read locally from its environment variable (`CorsAllowedOrigins` →
//! `CORS_ALLOWED_ORIGINS`, comma-separated; the template model's rule).

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use sam_template::CorsConfig;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    pub allow_origins: Vec<String>,
    pub allow_credentials: bool,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

impl CorsPolicy {
    /// The policy of the template's HttpApi, its parameters read through `env`.
    pub fn from_config(config: &CorsConfig, env: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            allow_origins: config.allow_origins.resolve(env),
            allow_credentials: config.allow_credentials,
            allow_methods: config.allow_methods.resolve(env).into_iter().map(|m| m.to_uppercase()).collect(),
            allow_headers: config.allow_headers.resolve(env).into_iter().map(|h| h.to_lowercase()).collect(),
            expose_headers: config.expose_headers.resolve(env),
            max_age: config.max_age,
        }
    }

    fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.allow_origins.iter().any(|o| o == "*" || o == text).then_some(origin)
    }

    /// `Some(response)` when this request is a preflight: the gateway
    /// answers it. Disallowed ones get a bare 204, as API Gateway gives.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<http::Response<()>> {
        if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return None;
        }
        let mut response = http::Response::new(());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let requested_method =
            headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let requested_headers: Vec<String> = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .map(|list| list.split(',').map(|h| h.trim().to_lowercase()).filter(|h| !h.is_empty()).collect())
            .unwrap_or_default();
        let method_ok = self.allow_methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(requested_method));
        let headers_ok =
            requested_headers.iter().all(|h| self.allow_headers.iter().any(|allowed| allowed == "*" || allowed == h));
        if let (Some(origin), true, true) = (self.allowed_origin(headers), method_ok, headers_ok) {
            let out = response.headers_mut();
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            self.credentials(out);
            insert_list(out, header::ACCESS_CONTROL_ALLOW_METHODS, &self.allow_methods);
            insert_list(out, header::ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers);
            if let Some(age) = self.max_age {
                out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
            }
        }
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
        Some(response)
    }

    /// Adds the headers an actual (non-preflight) response gets.
    pub fn decorate(&self, request_headers: &HeaderMap, response_headers: &mut HeaderMap) {
        // API Gateway replaces whatever CORS headers the function set.
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
        ] {
            response_headers.remove(name);
        }
        if let Some(origin) = self.allowed_origin(request_headers) {
            response_headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            self.credentials(response_headers);
            insert_list(response_headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, &self.expose_headers);
            response_headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }

    fn credentials(&self, headers: &mut HeaderMap) {
        if self.allow_credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
    }
}

fn insert_list(headers: &mut HeaderMap, name: header::HeaderName, values: &[String]) {
    if values.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&values.join(",")) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref CorsAllowedOrigins
        AllowCredentials: true
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization, content-type]
        ExposeHeaders: [x-request-id]
        MaxAge: 600
";

    fn policy() -> CorsPolicy {
        let env = |name: &str| {
            (name == "CORS_ALLOWED_ORIGINS").then(|| "https://app.example, http://localhost:5173".to_owned())
        };
        let template = sam_template::Template::parse(TEMPLATE).unwrap();
        CorsPolicy::from_config(template.cors.as_ref().unwrap(), &env)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn origins_come_from_the_parameter_s_environment_variable() {
        let p = policy();
        assert_eq!(p.allow_origins, ["https://app.example", "http://localhost:5173"]);
        assert_eq!(p.allow_headers, ["authorization", "content-type"]);
        assert_eq!(p.max_age, Some(600));
    }

    #[test]
    fn an_allowed_preflight_is_answered_with_the_policy() {
        let request = headers(&[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "Content-Type, Authorization"),
        ]);
        let response = policy().preflight(&Method::OPTIONS, &request).unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let h = response.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET,POST");
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
    }

    #[test]
    fn other_origins_methods_or_headers_get_no_cors_headers() {
        for request in [
            headers(&[("origin", "https://evil.example"), ("access-control-request-method", "GET")]),
            headers(&[("origin", "https://app.example"), ("access-control-request-method", "DELETE")]),
            headers(&[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-secret"),
            ]),
        ] {
            let response = policy().preflight(&Method::OPTIONS, &request).unwrap();
            assert!(!response.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{request:?}");
        }
    }

    #[test]
    fn plain_options_and_other_methods_are_not_preflights() {
        assert!(policy().preflight(&Method::OPTIONS, &headers(&[("origin", "https://app.example")])).is_none());
        let request = headers(&[("origin", "https://app.example"), ("access-control-request-method", "GET")]);
        assert!(policy().preflight(&Method::GET, &request).is_none());
    }

    #[test]
    fn actual_responses_are_decorated_for_allowed_origins_only() {
        let mut out = HeaderMap::new();
        policy().decorate(&headers(&[("origin", "http://localhost:5173")]), &mut out);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:5173");
        assert_eq!(out[header::ACCESS_CONTROL_EXPOSE_HEADERS], "x-request-id");
        assert_eq!(out[header::VARY], "Origin");

        let mut out = headers(&[("access-control-allow-origin", "*")]);
        policy().decorate(&headers(&[("origin", "https://evil.example")]), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
