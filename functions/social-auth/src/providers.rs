//! The configured providers, from the environment:
//!
//! - `google`: OpenID Connect, `SOCIAL_GOOGLE_ISSUER` (discovery),
//!   `SOCIAL_GOOGLE_CLIENT_ID`, `SOCIAL_GOOGLE_CLIENT_SECRET`;
//! - `github`: OAuth 2, `SOCIAL_GITHUB_BASE` (github.com), `SOCIAL_GITHUB_API`
//!   (api.github.com), `SOCIAL_GITHUB_CLIENT_ID`, `SOCIAL_GITHUB_CLIENT_SECRET`;
//! - company sign-on: each id in `SOCIAL_OIDC_PROVIDERS`, with
//!   `SOCIAL_<ID>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` and `_NAME`; their
//!   sign-ins are held to `SOCIAL_ALLOWED_EMAIL_DOMAINS`.
//!
//! A provider whose settings are absent is simply not offered; one whose
//! settings are half there stops start-up, naming what is missing.

use domain::{Error, Result};

use crate::github::GitHub;
use crate::oidc::OidcProvider;

pub enum Provider {
    Oidc(OidcProvider),
    GitHub(GitHub),
}

impl Provider {
    pub fn id(&self) -> &str {
        match self {
            Self::Oidc(p) => &p.id,
            Self::GitHub(_) => "github",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Oidc(p) => &p.name,
            Self::GitHub(_) => "GitHub",
        }
    }
}

/// Reads a setting that the function may live without: `None` when unset
/// or empty.
fn setting(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn needed(lookup: &impl Fn(&str) -> Option<String>, name: String, because: &str) -> Result<String> {
    setting(lookup, &name)
        .ok_or_else(|| Error::Config { name: "SOCIAL_*", reason: format!("{name} is needed by {because}") })
}

/// Every configured provider, in the order offered.
pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, http: &reqwest::Client) -> Result<Vec<Provider>> {
    let mut providers = Vec::new();
    if let Some(issuer) = setting(&lookup, "SOCIAL_GOOGLE_ISSUER") {
        providers.push(Provider::Oidc(OidcProvider::new(
            "google",
            "Google",
            &issuer,
            needed(&lookup, "SOCIAL_GOOGLE_CLIENT_ID".into(), "google")?,
            needed(&lookup, "SOCIAL_GOOGLE_CLIENT_SECRET".into(), "google")?,
            None,
            http.clone(),
        )));
    }
    if let Some(client_id) = setting(&lookup, "SOCIAL_GITHUB_CLIENT_ID") {
        let base = setting(&lookup, "SOCIAL_GITHUB_BASE").unwrap_or_else(|| "https://github.com".into());
        let api = setting(&lookup, "SOCIAL_GITHUB_API").unwrap_or_else(|| "https://api.github.com".into());
        providers.push(Provider::GitHub(GitHub::new(
            &base,
            &api,
            client_id,
            needed(&lookup, "SOCIAL_GITHUB_CLIENT_SECRET".into(), "github")?,
            http.clone(),
        )));
    }
    let domains: Vec<String> = setting(&lookup, "SOCIAL_ALLOWED_EMAIL_DOMAINS")
        .map(|v| v.split(',').map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()).collect())
        .unwrap_or_default();
    for id in setting(&lookup, "SOCIAL_OIDC_PROVIDERS").unwrap_or_default().split(',').map(str::trim) {
        if id.is_empty() {
            continue;
        }
        if !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) || matches!(id, "google" | "github") {
            return Err(Error::Config {
                name: "SOCIAL_OIDC_PROVIDERS",
                reason: format!("{id:?}: ids are lower-case letters and digits, not google or github"),
            });
        }
        let var = |suffix: &str| format!("SOCIAL_{}_{suffix}", id.to_ascii_uppercase());
        let name = setting(&lookup, &var("NAME")).unwrap_or_else(|| id.to_owned());
        providers.push(Provider::Oidc(OidcProvider::new(
            id,
            &name,
            &needed(&lookup, var("ISSUER"), id)?,
            needed(&lookup, var("CLIENT_ID"), id)?,
            needed(&lookup, var("CLIENT_SECRET"), id)?,
            Some(domains.clone()),
            http.clone(),
        )));
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn only_configured_providers_are_offered() {
        let http = reqwest::Client::new();
        assert!(from_lookup(lookup(&[]), &http).unwrap().is_empty());
        let all = from_lookup(
            lookup(&[
                ("SOCIAL_GOOGLE_ISSUER", "https://accounts.google.com"),
                ("SOCIAL_GOOGLE_CLIENT_ID", "g"),
                ("SOCIAL_GOOGLE_CLIENT_SECRET", "gs"),
                ("SOCIAL_GITHUB_CLIENT_ID", "h"),
                ("SOCIAL_GITHUB_CLIENT_SECRET", "hs"),
                ("SOCIAL_OIDC_PROVIDERS", "acme"),
                ("SOCIAL_ACME_ISSUER", "https://sso.acme.example"),
                ("SOCIAL_ACME_CLIENT_ID", "a"),
                ("SOCIAL_ACME_CLIENT_SECRET", "as"),
                ("SOCIAL_ACME_NAME", "Acme SSO"),
            ]),
            &http,
        )
        .unwrap();
        let ids: Vec<(&str, &str)> = all.iter().map(|p| (p.id(), p.name())).collect();
        assert_eq!(ids, [("google", "Google"), ("github", "GitHub"), ("acme", "Acme SSO")]);
    }

    #[test]
    fn half_a_provider_stops_start_up() {
        let http = reqwest::Client::new();
        let error = from_lookup(lookup(&[("SOCIAL_GOOGLE_ISSUER", "https://accounts.google.com")]), &http)
            .err()
            .expect("a missing client id is an error");
        assert!(error.to_string().contains("SOCIAL_GOOGLE_CLIENT_ID"), "{error}");
        assert!(from_lookup(lookup(&[("SOCIAL_OIDC_PROVIDERS", "Bad Id")]), &http).is_err());
    }
}
