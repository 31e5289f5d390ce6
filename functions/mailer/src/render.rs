//! Every email, HTML and text, from templates compiled into the binary
//! (`templates/<kind>.html` and `.txt`). Substitution is `{{name}}` → value, nothing more; values going
//! into HTML are escaped first, and a placeholder left unfilled is an error
//! (caught by the tests below, never by a customer).

use domain::order::Order;
use services::email::Letter;

use crate::MailerError;

/// Every email's HTML frame; each kind's template is its `content`.
const LAYOUT: &str = include_str!("../templates/layout.html");
const HTML: &str = include_str!("../templates/receipt.html");
const HTML_LINE: &str = include_str!("../templates/receipt_line.html");
const TEXT: &str = include_str!("../templates/receipt.txt");
const TEXT_LINE: &str = include_str!("../templates/receipt_line.txt");

/// One kind's HTML and text templates.
struct Templates {
    html: &'static str,
    text: &'static str,
}

const REFUND: Templates =
    Templates { html: include_str!("../templates/refund.html"), text: include_str!("../templates/refund.txt") };
const EMAIL_VERIFICATION: Templates = Templates {
    html: include_str!("../templates/email_verification.html"),
    text: include_str!("../templates/email_verification.txt"),
};
const PASSWORD_RESET: Templates = Templates {
    html: include_str!("../templates/password_reset.html"),
    text: include_str!("../templates/password_reset.txt"),
};
const WELCOME: Templates =
    Templates { html: include_str!("../templates/welcome.html"), text: include_str!("../templates/welcome.txt") };

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Where account emails link to: the token goes in the `token` query
/// parameter (`EMAIL_VERIFY_URL`, `PASSWORD_RESET_URL`).
#[derive(Debug, Clone)]
pub struct AccountLinks {
    pub verify_email: String,
    pub reset_password: String,
}

impl AccountLinks {
    fn link(base: &str, token: &str) -> String {
        let joint = if base.contains('?') { '&' } else { '?' };
        // A token is letters, digits and `-_.`: nothing to escape.
        format!("{base}{joint}token={token}")
    }
}

/// Any email but a receipt.
pub fn letter(letter: &Letter, links: &AccountLinks) -> Result<Rendered, MailerError> {
    let (subject, templates, values): (String, Templates, Vec<(&str, String)>) = match letter {
        Letter::Refund { order, refunded, total } => {
            let money = |minor: i64| format_amount(minor, &order.currency);
            (
                format!("Your refund for order {}", order.id),
                REFUND,
                vec![
                    ("order_id", order.id.clone()),
                    ("refunded", money(*refunded)),
                    ("total_refunded", money(*total)),
                    ("order_total", money(order.amount)),
                ],
            )
        }
        Letter::EmailVerification { user, token } => (
            "Confirm your email address".into(),
            EMAIL_VERIFICATION,
            vec![("username", user.username.clone()), ("link", AccountLinks::link(&links.verify_email, token))],
        ),
        Letter::PasswordReset { user, token } => (
            "Reset your password".into(),
            PASSWORD_RESET,
            vec![("username", user.username.clone()), ("link", AccountLinks::link(&links.reset_password, token))],
        ),
        Letter::Welcome { user } => {
            (format!("Welcome, {}", user.username), WELCOME, vec![("username", user.username.clone())])
        }
    };
    let escaped: Vec<(&str, String)> = values.iter().map(|(name, value)| (*name, escape_html(value))).collect();
    let html = framed(&subject, fill(templates.html, &escaped)?)?;
    Ok(Rendered { html, text: fill(templates.text, &values)?, subject })
}

/// `content` in the layout every email shares.
fn framed(subject: &str, content: String) -> Result<String, MailerError> {
    fill(LAYOUT, &[("title", escape_html(subject)), ("content", content)])
}

pub fn receipt(order: &Order) -> Result<Rendered, MailerError> {
    let money = |minor: i64| format_amount(minor, &order.currency);
    let placed_on = order.created_at.date().to_string();
    let mut html_lines = String::new();
    let mut text_lines = String::new();
    for line in &order.lines {
        let values = |escape: fn(&str) -> String| {
            vec![
                ("name", escape(&line.name)),
                ("quantity", line.quantity.to_string()),
                ("unit_amount", escape(&money(line.unit_amount))),
                ("line_amount", escape(&money(line.line_amount))),
            ]
        };
        html_lines.push_str(&fill(HTML_LINE, &values(escape_html))?);
        text_lines.push_str(&fill(TEXT_LINE, &values(str::to_owned))?);
    }
    let common = |lines: String, escape: fn(&str) -> String| {
        vec![
            ("order_id", escape(&order.id)),
            ("placed_on", placed_on.clone()),
            ("total", escape(&money(order.amount))),
            ("lines", lines),
        ]
    };
    let subject = format!("Your receipt for order {}", order.id);
    Ok(Rendered {
        html: framed(&subject, fill(HTML, &common(html_lines, escape_html))?)?,
        subject,
        text: fill(TEXT, &common(text_lines, str::to_owned))?,
    })
}

/// Replaces each `{{name}}` by its value, in one pass (a value that looks
/// like a placeholder stays as it is).
fn fill(template: &str, values: &[(&str, String)]) -> Result<String, MailerError> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or_else(|| MailerError::Template("an unclosed {{".into()))?;
        let name = &rest[start + 2..start + end];
        let value = values
            .iter()
            .find(|(key, _)| *key == name)
            .ok_or_else(|| MailerError::Template(format!("no value for {{{{{name}}}}}")))?;
        out.push_str(&value.1);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Stripe's zero-decimal and three-decimal currencies; every other one has
/// two decimals.
fn decimals(currency: &str) -> u32 {
    const ZERO: &[&str] = &[
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    ];
    const THREE: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];
    if ZERO.contains(&currency) {
        0
    } else if THREE.contains(&currency) {
        3
    } else {
        2
    }
}

/// `1299, "usd"` → `12.99 USD`; `15000, "krw"` → `15000 KRW`.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let places = decimals(currency);
    if places == 0 {
        return format!("{minor} {code}");
    }
    let unit = 10i64.pow(places);
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:0width$} {code}", minor / unit as u64, minor % unit as u64, width = places as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::order::{OrderLine, OrderStatus, ReceiptStatus};

    fn order() -> Order {
        let at = time::macros::datetime!(2026-11-25 10:00 UTC);
        Order {
            id: "01JF2Z3B7K9M1N4P6Q8R0S2T4V".into(),
            status: OrderStatus::Paid,
            email: "alice@example.com".into(),
            user_id: None,
            token_hash: None,
            correlation_id: "01JF2Z3B7K9M1N4P6Q8R0S2T4W".into(),
            lines: vec![
                OrderLine {
                    product_id: "p1".into(),
                    name: "Field <notes> & co".into(),
                    unit_amount: 1299,
                    quantity: 2,
                    line_amount: 2598,
                },
                OrderLine {
                    product_id: "p2".into(),
                    name: "Pencil".into(),
                    unit_amount: 150,
                    quantity: 1,
                    line_amount: 150,
                },
            ],
            refunded_amount: 0,
            refund_totals: vec![],
            holds: vec![],
            amount: 2748,
            currency: "usd".into(),
            payment_intent_id: None,
            receipt_status: ReceiptStatus::Queued,
            receipt_sent_at: None,
            created_at: at,
            expires_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn both_parts_carry_the_order_id_lines_and_total() {
        let receipt = receipt(&order()).unwrap();
        assert_eq!(receipt.subject, "Your receipt for order 01JF2Z3B7K9M1N4P6Q8R0S2T4V");
        for part in [&receipt.html, &receipt.text] {
            assert!(part.contains("01JF2Z3B7K9M1N4P6Q8R0S2T4V"));
            assert!(part.contains("27.48 USD"));
            assert!(part.contains("25.98 USD") && part.contains("1.50 USD"));
            assert!(part.contains("2026-11-25"));
            assert!(!part.contains("{{"), "{part}");
        }
        assert!(receipt.text.contains("2 x Field <notes> & co at 12.99 USD: 25.98 USD"));
    }

    #[test]
    fn names_are_escaped_in_html() {
        let receipt = receipt(&order()).unwrap();
        assert!(receipt.html.contains("Field &lt;notes&gt; &amp; co"));
        assert!(!receipt.html.contains("<notes>"));
    }

    fn user() -> domain::user::User {
        domain::user::User {
            id: "01JF2Z3B7K9M1N4P6Q8R0S2T4U".into(),
            username: "ann<b>".into(),
            email: "ann@example.com".into(),
            email_verified: false,
            is_staff: false,
            date_joined: time::macros::datetime!(2026-11-25 10:00 UTC),
        }
    }

    fn links() -> AccountLinks {
        AccountLinks {
            verify_email: "http://localhost:5173/verify-email".into(),
            reset_password: "http://localhost:5173/reset?from=mail".into(),
        }
    }

    #[test]
    fn every_letter_fills_both_parts() {
        let refunded = Order { refunded_amount: 1000, refund_totals: vec![1000], ..order() };
        let letters = [
            Letter::Refund { order: Box::new(refunded), refunded: 1000, total: 1000 },
            Letter::EmailVerification { user: user(), token: "01U.abc-_".into() },
            Letter::PasswordReset { user: user(), token: "01U.def".into() },
            Letter::Welcome { user: user() },
        ];
        for letter in &letters {
            let rendered = super::letter(letter, &links()).unwrap();
            for part in [&rendered.html, &rendered.text] {
                assert!(!part.contains("{{"), "{part}");
            }
            assert!(!rendered.html.contains("ann<b>"), "escaped in HTML");
            assert!(rendered.html.starts_with("<!DOCTYPE html>") && rendered.html.trim_end().ends_with("</html>"));
        }
        let refund = super::letter(&letters[0], &links()).unwrap();
        assert!(refund.text.contains("We refunded 10.00 USD") && refund.text.contains("10.00 USD of 27.48 USD"));
        let verify = super::letter(&letters[1], &links()).unwrap();
        assert!(verify.text.contains("http://localhost:5173/verify-email?token=01U.abc-_"), "{}", verify.text);
        let reset = super::letter(&letters[2], &links()).unwrap();
        assert!(reset.text.contains("http://localhost:5173/reset?from=mail&token=01U.def"), "{}", reset.text);
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_blank() {
        assert!(fill("Hello {{who}}", &[]).is_err());
        assert!(fill("Hello {{who", &[("who", "x".into())]).is_err());
        assert_eq!(fill("{{a}}{{b}}", &[("a", "{{b}}".into()), ("b", "!".into())]).unwrap(), "{{b}}!");
    }

    #[test]
    fn amounts_in_the_minor_unit_of_each_currency() {
        assert_eq!(format_amount(1299, "usd"), "12.99 USD");
        assert_eq!(format_amount(5, "eur"), "0.05 EUR");
        assert_eq!(format_amount(15000, "krw"), "15000 KRW");
        assert_eq!(format_amount(1234, "kwd"), "1.234 KWD");
        assert_eq!(format_amount(-250, "usd"), "-2.50 USD");
    }
}
