//! One list of handlers, two routers: the OpenAPI router the document is
//! generated from (`api`), and the same routes without their OpenAPI
//! operations (`routes`), which is what a function builds when it starts.
//! utoipa's router builds every operation and schema of the document as it
//! goes, work a cold start would pay for and throw away. Both come from each
//! handler's `#[utoipa::path]` (its path and methods), so they cannot
//! disagree.
//!
//! ```ignore
//! web::api_routes!(AuthState; register, token, catalog::list_products);
//! // pub fn api() -> OpenApiRouter<AuthState>, pub fn routes() -> Router<AuthState>
//! ```

#[doc(hidden)]
pub use utoipa_axum::paste as __paste;

/// The method filter of an OpenAPI method.
#[doc(hidden)]
pub fn __method_filter(method: &utoipa::openapi::path::HttpMethod) -> axum::routing::MethodFilter {
    utoipa_axum::PathItemExt::to_method_filter(method)
}

#[macro_export]
macro_rules! api_routes {
    ($state:ty; $($($segment:ident)::+),+ $(,)?) => {
        $crate::api_routes!(api, routes: $state; $($($segment)::+),+);
    };
    ($api:ident, $routes:ident: $state:ty; $($($segment:ident)::+),+ $(,)?) => {
        /// The routes and their OpenAPI operations, for the document.
        pub fn $api() -> ::utoipa_axum::router::OpenApiRouter<$state> {
            ::utoipa_axum::router::OpenApiRouter::new()
                $( .routes(::utoipa_axum::routes!($($segment)::+)) )+
        }

        /// The same routes without their OpenAPI operations: what the
        /// function builds when it starts.
        pub fn $routes() -> ::axum::Router<$state> {
            let router = ::axum::Router::new();
            $( let router = $crate::api_routes!(@route router; []; $($segment)::+); )+
            router
        }
    };
    (@route $router:ident; [$($module:ident)*]; $handler:ident) => {
        $crate::routes::__paste! {{
            let path = <$($module::)* [<__path_ $handler>] as ::utoipa::Path>::path();
            let methods = <$($module::)* [<__path_ $handler>] as ::utoipa::Path>::methods();
            let on = methods.iter().fold(::axum::routing::MethodRouter::new(), |on, method| {
                on.on($crate::routes::__method_filter(method), $($module::)* $handler)
            });
            $router.route(if path.is_empty() { "/" } else { &path }, on)
        }}
    };
    (@route $router:ident; [$($module:ident)*]; $head:ident :: $($rest:ident)::+) => {
        $crate::api_routes!(@route $router; [$($module)* $head]; $($rest)::+)
    };
}
