//! `account-demo` (`make demo-account`): account email against the running
//! local stack, each step printed — a registration, its verification link
//! as SES (moto) got it, the link used, the welcome, a password reset asked
//! for and completed with the emailed link, the old password refused and
//! the new one accepted.

use std::time::{Duration, Instant};

use commerce_ops::{OpsError, exit_with};
use platform::config::{optional, required};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "account-demo")
}

fn demo(message: impl Into<String>) -> OpsError {
    OpsError::Demo(message.into())
}

struct Demo {
    http: reqwest::Client,
    api: String,
    moto: String,
}

impl Demo {
    /// POSTs `body` to the API; the answer's status and JSON body.
    async fn post(&self, path: &str, body: &Value, access: Option<&str>) -> Result<(StatusCode, Value), OpsError> {
        let mut request = self.http.post(format!("{}/api/v1{path}", self.api)).json(body);
        if let Some(access) = access {
            request = request.bearer_auth(access);
        }
        let response = request.send().await.map_err(|e| demo(format!("POST {path}: {e} (is `make run` up?)")))?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn expect(&self, path: &str, body: &Value, want: StatusCode) -> Result<Value, OpsError> {
        let (status, answer) = self.post(path, body, None).await?;
        if status != want {
            return Err(demo(format!("POST {path}: HTTP {status}, expected {want}: {answer}")));
        }
        Ok(answer)
    }

    /// Waits for an email to `to` whose subject starts with `subject`, and
    /// returns the token of the link to `link_base` in it.
    async fn token_from_email(&self, to: &str, subject: &str, link_base: &str) -> Result<String, OpsError> {
        let started = Instant::now();
        let prefix = format!("{link_base}?token=");
        loop {
            let mailbox: Value = self
                .http
                .get(format!("{}/moto-api/data.json", self.moto))
                .send()
                .await
                .map_err(|e| demo(format!("moto: {e}")))?
                .json()
                .await
                .map_err(|e| demo(format!("moto's data: {e}")))?;
            let found = mailbox["ses"]["Message"].as_array().and_then(|all| {
                all.iter().rev().find(|m| {
                    m["destinations"]["ToAddresses"][0] == to
                        && m["subject"].as_str().is_some_and(|s| s.starts_with(subject))
                })
            });
            if let Some(body) = found.and_then(|m| m["body"].as_str()) {
                let start = body.find(&prefix).ok_or_else(|| demo(format!("no {link_base} link in the email")))?;
                let link: String = body[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || ":/?=&._-".contains(*c))
                    .collect();
                println!("   email to {to}: \"{subject}\"");
                println!("   link: {link}");
                return Ok(link[prefix.len()..].to_owned());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(demo(format!("no \"{subject}\" email to {to} after 30 s (is the mailer running?)")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn run() -> Result<(), OpsError> {
    let api = optional("API_BASE_URL")
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", optional("GATEWAY_PORT").unwrap_or_else(|| "3000".into())));
    let d = Demo {
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| demo(e.to_string()))?,
        api,
        moto: required("AWS_ENDPOINT_URL")?,
    };
    let (verify_url, reset_url) = (required("EMAIL_VERIFY_URL")?, required("PASSWORD_RESET_URL")?);
    let username = format!("demo-{}", ulid::Ulid::new().to_string().to_lowercase());
    let email = format!("{username}@example.com");
    let (first, second) = ("first-password-1", "second-password-2");

    println!("1. Register (POST /api/v1/auth/register)");
    let user = d
        .expect(
            "/auth/register",
            &json!({"username": username, "email": email, "password": first}),
            StatusCode::CREATED,
        )
        .await?;
    println!("   {username}: email_verified {}", user["email_verified"]);

    println!("2. The verification email, queued and sent by the mailer through SES");
    let token = d.token_from_email(&email, "Confirm your email address", &verify_url).await?;

    println!("3. The link used (POST /api/v1/auth/email/verify)");
    let verified = d.expect("/auth/email/verify", &json!({"token": token}), StatusCode::OK).await?;
    println!("   email_verified {}", verified["email_verified"]);
    let (status, _) = d.post("/auth/email/verify", &json!({"token": token}), None).await?;
    println!("   the same link again: HTTP {status} (single use)");

    println!("4. The welcome email, once");
    let started = Instant::now();
    let welcome = loop {
        let mailbox: Value = d
            .http
            .get(format!("{}/moto-api/data.json", d.moto))
            .send()
            .await
            .map_err(|e| demo(e.to_string()))?
            .json()
            .await
            .map_err(|e| demo(e.to_string()))?;
        let subject = mailbox["ses"]["Message"].as_array().and_then(|all| {
            all.iter()
                .find(|m| {
                    m["destinations"]["ToAddresses"][0] == email.as_str()
                        && m["subject"].as_str().is_some_and(|s| s.starts_with("Welcome"))
                })
                .map(|m| m["subject"].clone())
        });
        match subject {
            Some(subject) => break subject,
            None if started.elapsed() > Duration::from_secs(30) => return Err(demo("no welcome email after 30 s")),
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    println!("   {welcome}");

    println!("5. A password reset asked for (POST /api/v1/auth/password/reset)");
    let asked = d.expect("/auth/password/reset", &json!({"email": email}), StatusCode::ACCEPTED).await?;
    let unknown = format!("nobody-{}@example.com", ulid::Ulid::new().to_string().to_lowercase());
    let (status, same) = d.post("/auth/password/reset", &json!({"email": unknown}), None).await?;
    println!("   {asked} for {email}; HTTP {status} {same} for an address nobody has (the same answer)");
    let token = d.token_from_email(&email, "Reset your password", &reset_url).await?;

    println!("6. The new password set (POST /api/v1/auth/password/reset/confirm)");
    d.expect("/auth/password/reset/confirm", &json!({"token": token, "password": second}), StatusCode::NO_CONTENT)
        .await?;
    let (old, _) = d.post("/auth/token", &json!({"username": username, "password": first}), None).await?;
    let (new, _) = d.post("/auth/token", &json!({"username": username, "password": second}), None).await?;
    println!("   old password: HTTP {old}; new password: HTTP {new}");
    if old != StatusCode::UNAUTHORIZED || new != StatusCode::OK {
        return Err(demo("the reset did not take"));
    }
    println!("Done: registered, verified, welcomed, reset.");
    Ok(())
}
