//! Route matching the way API Gateway HTTP APIs do it.
//!
//! A route is a method (or `ANY`) and a path of literal segments, `{name}`
//! segments and an optional final greedy `{name+}`. Of all routes that match a
//! request, the most specific wins: comparing segment by segment from the left,
//! a literal beats `{param}` beats `{greedy+}`; on equal paths a route with the
//! exact method beats `ANY`. No match falls back to `$default`, if any.

use std::collections::BTreeMap;

use http::Method;

/// A compiled route table. `T` is what a route leads to (a function's id).
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<Route<T>>,
    default: Option<T>,
}

#[derive(Debug, Clone)]
struct Route<T> {
    /// `None` is `ANY`.
    method: Option<Method>,
    segments: Vec<Segment>,
    route_key: String,
    target: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

impl Segment {
    /// Higher is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
            Segment::Greedy(_) => 0,
        }
    }
}

/// The route chosen for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a, T> {
    /// `"GET /posts/{id}"`, `"ANY /api/{proxy+}"` or `"$default"`.
    pub route_key: &'a str,
    pub target: &'a T,
    /// Percent-decoded; a greedy parameter holds the rest of the path.
    pub path_params: BTreeMap<String, String>,
}

const DEFAULT_KEY: &str = "$default";

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router { routes: Vec::new(), default: None }
    }
}

impl<T> Router<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `method` (`ANY` or a verb, any case) + `path`. Fails on a
    /// malformed path or a route key that is already taken.
    pub fn add(&mut self, method: &str, path: &str, target: T) -> Result<(), String> {
        sam_template::validate_path(path)?;
        let upper = method.to_ascii_uppercase();
        let method = match upper.as_str() {
            "ANY" => None,
            m => Some(Method::from_bytes(m.as_bytes()).map_err(|_| format!("{method:?} is not an HTTP method"))?),
        };
        let route_key = format!("{upper} {path}");
        let segments = parse_segments(path);
        // API Gateway compares paths ignoring parameter names: `/a/{x}` and
        // `/a/{y}` are the same route.
        let shape = |s: &[Segment]| {
            s.iter()
                .map(|s| match s {
                    Segment::Literal(l) => l.clone(),
                    Segment::Param(_) => "{}".into(),
                    Segment::Greedy(_) => "{+}".into(),
                })
                .collect::<Vec<_>>()
        };
        if self.routes.iter().any(|r| r.method == method && shape(&r.segments) == shape(&segments)) {
            return Err(format!("route {route_key} is defined twice"));
        }
        self.routes.push(Route { method, segments, route_key, target });
        Ok(())
    }

    /// Sets the `$default` route.
    pub fn set_default(&mut self, target: T) -> Result<(), String> {
        if self.default.is_some() {
            return Err("the $default route is defined twice".into());
        }
        self.default = Some(target);
        Ok(())
    }

    /// Route keys, for the start-up banner.
    pub fn route_keys(&self) -> impl Iterator<Item = (&str, &T)> {
        self.routes
            .iter()
            .map(|r| (r.route_key.as_str(), &r.target))
            .chain(self.default.iter().map(|t| (DEFAULT_KEY, t)))
    }

    /// Finds the route for a request; `path` is the raw (still
    /// percent-encoded) request path.
    pub fn find(&self, method: &Method, path: &str) -> Option<RouteMatch<'_, T>> {
        let request: Vec<&str> = split_path(path);
        // (specificity, route, its parameters) of the best match so far.
        // Specificity compares the segment ranks left to right, then whether
        // the method is exact.
        type Specificity = (Vec<u8>, bool);
        let mut best: Option<(Specificity, &Route<T>, BTreeMap<String, String>)> = None;
        for route in &self.routes {
            if route.method.as_ref().is_some_and(|m| m != method) {
                continue;
            }
            let Some(params) = match_segments(&route.segments, &request) else {
                continue;
            };
            let specificity = (route.segments.iter().map(Segment::rank).collect(), route.method.is_some());
            if best.as_ref().is_none_or(|(b, _, _)| specificity > *b) {
                best = Some((specificity, route, params));
            }
        }
        match best {
            Some((_, route, path_params)) => {
                Some(RouteMatch { route_key: &route.route_key, target: &route.target, path_params })
            }
            None => self.default.as_ref().map(|target| RouteMatch {
                route_key: DEFAULT_KEY,
                target,
                path_params: BTreeMap::new(),
            }),
        }
    }
}

fn parse_segments(path: &str) -> Vec<Segment> {
    split_path(path)
        .into_iter()
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => match inner.strip_suffix('+') {
                Some(name) => Segment::Greedy(name.to_owned()),
                None => Segment::Param(inner.to_owned()),
            },
            None => Segment::Literal(seg.to_owned()),
        })
        .collect()
}

/// `/` → `[]`, `/a/b` → `[a, b]`, `/a/` → `[a, ""]` (a trailing slash is a
/// distinct path, as in API Gateway).
fn split_path(path: &str) -> Vec<&str> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() { Vec::new() } else { rest.split('/').collect() }
}

fn match_segments(route: &[Segment], request: &[&str]) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for (i, seg) in route.iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                if request.get(i) != Some(&l.as_str()) {
                    return None;
                }
            }
            Segment::Param(name) => {
                let value = request.get(i).filter(|v| !v.is_empty())?;
                params.insert(name.clone(), percent_decode(value));
            }
            Segment::Greedy(name) => {
                // One or more segments, whatever they hold.
                let rest = request.get(i..).filter(|r| !r.is_empty())?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(name.clone(), percent_decode(&rest));
                return Some(params);
            }
        }
    }
    (route.len() == request.len()).then_some(params)
}

/// Decodes `%XX` escapes (not `+`: that is only a space in form bodies and
/// query strings). Invalid escapes are kept as they are; invalid UTF-8 is
/// replaced.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        let mut r = Router::new();
        r.add("ANY", "/api/v1/auth/{proxy+}", "auth").unwrap();
        r.add("GET", "/api/v1/posts", "list").unwrap();
        r.add("post", "/api/v1/posts", "create").unwrap();
        r.add("GET", "/api/v1/posts/{id}", "get-post").unwrap();
        r.add("ANY", "/api/v1/posts/{id}", "any-post").unwrap();
        r.add("GET", "/api/v1/posts/mine", "mine").unwrap();
        r.add("GET", "/api/v1/posts/{id}/comments", "comments").unwrap();
        r.add("ANY", "/api/v1/{proxy+}", "api-greedy").unwrap();
        r.add("GET", "/", "root").unwrap();
        r
    }

    fn target(r: &Router<&'static str>, m: Method, p: &str) -> Option<&'static str> {
        r.find(&m, p).map(|m| *m.target)
    }

    #[test]
    fn literal_beats_param_beats_greedy() {
        let r = router();
        assert_eq!(target(&r, Method::GET, "/api/v1/posts/mine"), Some("mine"));
        assert_eq!(target(&r, Method::GET, "/api/v1/posts/42"), Some("get-post"));
        assert_eq!(target(&r, Method::GET, "/api/v1/posts/42/comments"), Some("comments"));
        assert_eq!(target(&r, Method::GET, "/api/v1/posts/42/likes"), Some("api-greedy"));
        assert_eq!(target(&r, Method::GET, "/api/v1/auth/token"), Some("auth"));
        assert_eq!(target(&r, Method::GET, "/"), Some("root"));
    }

    #[test]
    fn exact_method_beats_any() {
        let r = router();
        assert_eq!(target(&r, Method::GET, "/api/v1/posts/7"), Some("get-post"));
        assert_eq!(target(&r, Method::DELETE, "/api/v1/posts/7"), Some("any-post"));
        assert_eq!(target(&r, Method::POST, "/api/v1/posts"), Some("create"));
        // No route for PUT /api/v1/posts except the greedy one.
        assert_eq!(target(&r, Method::PUT, "/api/v1/posts"), Some("api-greedy"));
        assert_eq!(target(&r, Method::POST, "/"), None);
    }

    #[test]
    fn params_and_greedy_values() {
        let r = router();
        let m = r.find(&Method::GET, "/api/v1/posts/a%20b").unwrap();
        assert_eq!(m.route_key, "GET /api/v1/posts/{id}");
        assert_eq!(m.path_params.get("id").map(String::as_str), Some("a b"));
        let m = r.find(&Method::POST, "/api/v1/auth/token/refresh").unwrap();
        assert_eq!(m.route_key, "ANY /api/v1/auth/{proxy+}");
        assert_eq!(m.path_params.get("proxy").map(String::as_str), Some("token/refresh"));
        // Greedy needs at least one segment.
        assert_eq!(target(&r, Method::GET, "/api/v1/auth"), Some("api-greedy"));
        assert_eq!(target(&r, Method::GET, "/api/v1/auth/"), Some("api-greedy"));
    }

    #[test]
    fn default_route_and_not_found() {
        let mut r = router();
        assert_eq!(target(&r, Method::GET, "/nope"), None);
        // A param never matches an empty segment, and a trailing slash is a
        // different path.
        assert_eq!(target(&r, Method::GET, "/api/v1/posts/"), Some("api-greedy"));
        r.set_default("fallback").unwrap();
        let m = r.find(&Method::GET, "/nope").unwrap();
        assert_eq!((m.route_key, *m.target), ("$default", "fallback"));
        assert!(m.path_params.is_empty());
        assert!(r.set_default("again").is_err());
    }

    #[test]
    fn duplicates_and_bad_paths_rejected() {
        let mut r = router();
        assert!(r.add("GET", "/api/v1/posts/{other}", "dup").is_err());
        assert!(r.add("any", "/api/v1/posts/{x}", "dup").is_err());
        assert!(r.add("GET", "/a/{p+}/b", "x").is_err());
        assert!(r.add("GET", "/a//b", "x").is_err());
        assert!(r.add("GET", "/a/x{p}", "x").is_err());
        assert!(r.add("FROB LY", "/a", "x").is_err());
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2Fb%20c+d"), "a/b c+d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }
}
