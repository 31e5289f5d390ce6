//! Products: the catalog orders are priced from. Clients read it; the seed
//! command and staff write it.

use serde::{Deserialize, Serialize};

use crate::ids::is_plausible_id;

/// A product as stored and as clients see it. Money is an integer in the
/// currency's minor unit plus a lower-case ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    #[schema(example = "01JF2Y7ZQ6D0K8V3N5B1X4M9TA")]
    pub id: String,
    #[schema(example = "Field notes, issue 1")]
    pub name: String,
    #[schema(example = "The first printed issue.")]
    pub description: String,
    /// In the currency's minor unit (cents for `usd`, won for `krw`).
    #[schema(example = 1299, minimum = 1)]
    pub unit_amount: i64,
    #[schema(example = "usd", min_length = 3, max_length = 3)]
    pub currency: String,
    /// Inactive products are listed but cannot be ordered.
    pub active: bool,
    /// How many are left to sell; `null` for no limit. An order holds its
    /// items' stock from the moment it exists.
    #[serde(default)]
    #[schema(minimum = 0, example = 25)]
    pub stock: Option<i64>,
}

/// Stripe's ceiling for an amount (eight digits in the minor unit).
pub const MAX_AMOUNT: i64 = 99_999_999;

/// A lower-case three-letter ISO 4217 code, as the contract spells them.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase())
}

impl Product {
    /// What the seed file must satisfy; each problem named.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_plausible_id(&self.id) {
            problems.push(format!("id {:?} is not 1-64 letters, digits, '_' or '-'", self.id));
        }
        if self.name.trim().is_empty() {
            problems.push("name is blank".into());
        }
        if !(1..=MAX_AMOUNT).contains(&self.unit_amount) {
            problems.push(format!("unit_amount {} is not between 1 and {MAX_AMOUNT}", self.unit_amount));
        }
        if !is_currency_code(&self.currency) {
            problems.push(format!("currency {:?} is not a lower-case ISO code", self.currency));
        }
        if self.stock.is_some_and(|stock| stock < 0) {
            problems.push("stock is negative".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            id: "01JF2Y7ZQ6D0K8V3N5B1X4M9TA".into(),
            name: "Notes".into(),
            description: String::new(),
            unit_amount: 1299,
            currency: "usd".into(),
            active: true,
            stock: None,
        }
    }

    #[test]
    fn a_good_product_has_no_problems() {
        assert!(product().problems().is_empty());
    }

    #[test]
    fn each_problem_is_named() {
        let bad = Product { id: "a b".into(), name: " ".into(), unit_amount: 0, currency: "USD".into(), ..product() };
        let problems = bad.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn currency_codes_are_three_lower_case_letters() {
        assert!(is_currency_code("krw"));
        for bad in ["KRW", "us", "usdd", "u5d", ""] {
            assert!(!is_currency_code(bad), "{bad}");
        }
    }
}
