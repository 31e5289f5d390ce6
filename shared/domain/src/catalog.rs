//! Products: the catalog orders are priced from. Clients read it; the seed
//! command and staff write it.

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::ids::is_plausible_id;
use crate::post::WriteMode;
use crate::validate::{BLANK, REQUIRED, length_between};
use crate::{FieldErrors, Result};

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;

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

/// `POST /products` and `PATCH /products/{id}` as sent (staff only).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ProductInput {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200, example = "Field notes, issue 3")]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, max_length = 5000)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 99_999_999, example = 1299)]
    pub unit_amount: Field<i64>,
    /// Lower-case ISO 4217; upper case is accepted and folded.
    #[serde(default)]
    #[schema(value_type = String, min_length = 3, max_length = 3, example = "usd")]
    pub currency: Field<String>,
    /// Default `true`.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub active: Field<bool>,
    /// How many are left to sell; `null` for no limit (the default).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub stock: Field<i64>,
}

/// What a product write changes, validated. `stock: Some(None)` lifts the
/// limit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_amount: Option<i64>,
    pub currency: Option<String>,
    pub active: Option<bool>,
    pub stock: Option<Option<i64>>,
}

impl ProductInput {
    /// A create (`Full`) needs name, unit amount and currency; a PATCH
    /// (`Partial`) takes any of the fields.
    pub fn validate(self, mode: WriteMode) -> Result<ProductChanges> {
        let mut errors = FieldErrors::new();
        let mut changes = ProductChanges::default();
        let full = mode == WriteMode::Full;
        let not_null = "This field may not be null.";
        match self.name {
            Field::Value(name) => {
                let name = name.trim().to_owned();
                if name.is_empty() {
                    errors.add("name", BLANK);
                } else {
                    length_between(&mut errors, "name", &name, 1, NAME_MAX);
                }
                changes.name = Some(name);
            }
            Field::Null => errors.add("name", not_null),
            Field::Absent if full => errors.add("name", REQUIRED),
            Field::Absent => {}
        }
        match self.description {
            Field::Value(description) => {
                length_between(&mut errors, "description", &description, 0, DESCRIPTION_MAX);
                changes.description = Some(description);
            }
            Field::Null => errors.add("description", not_null),
            Field::Absent if full => changes.description = Some(String::new()),
            Field::Absent => {}
        }
        match self.unit_amount {
            Field::Value(amount) if !(1..=MAX_AMOUNT).contains(&amount) => errors.add(
                "unit_amount",
                format!("Ensure this value is between 1 and {MAX_AMOUNT} (the currency's minor unit)."),
            ),
            Field::Value(amount) => changes.unit_amount = Some(amount),
            Field::Null => errors.add("unit_amount", not_null),
            Field::Absent if full => errors.add("unit_amount", REQUIRED),
            Field::Absent => {}
        }
        match self.currency {
            Field::Value(currency) => {
                let currency = currency.trim().to_ascii_lowercase();
                if is_currency_code(&currency) {
                    changes.currency = Some(currency);
                } else {
                    errors.add("currency", "Enter a three-letter ISO 4217 currency code.");
                }
            }
            Field::Null => errors.add("currency", not_null),
            Field::Absent if full => errors.add("currency", REQUIRED),
            Field::Absent => {}
        }
        match self.active {
            Field::Value(active) => changes.active = Some(active),
            Field::Null => errors.add("active", not_null),
            Field::Absent if full => changes.active = Some(true),
            Field::Absent => {}
        }
        match self.stock {
            Field::Value(stock) if stock < 0 => errors.add("stock", "Ensure this value is greater than or equal to 0."),
            Field::Value(stock) => changes.stock = Some(Some(stock)),
            Field::Null => changes.stock = Some(None),
            Field::Absent if full => changes.stock = Some(None),
            Field::Absent => {}
        }
        errors.into_result(changes)
    }
}

impl ProductChanges {
    /// The product a create makes, under `id`.
    pub fn into_product(self, id: String) -> Product {
        Product {
            id,
            name: self.name.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            unit_amount: self.unit_amount.unwrap_or_default(),
            currency: self.currency.unwrap_or_default(),
            active: self.active.unwrap_or(true),
            stock: self.stock.flatten(),
        }
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

    fn input(json: serde_json::Value) -> ProductInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_new_product_needs_a_name_a_price_and_a_currency() {
        let Err(crate::Error::Validation(errors)) = input(serde_json::json!({})).validate(WriteMode::Full) else {
            panic!("an empty product was accepted");
        };
        for field in ["name", "unit_amount", "currency"] {
            assert_eq!(errors.get(field).unwrap(), [REQUIRED], "{field}");
        }
        let made = input(serde_json::json!({"name": " Tote ", "unit_amount": 2200, "currency": "KRW", "stock": 5}))
            .validate(WriteMode::Full)
            .unwrap()
            .into_product("01P".into());
        assert_eq!(
            (made.name.as_str(), made.currency.as_str(), made.active, made.stock),
            ("Tote", "krw", true, Some(5))
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_stock_lifts_the_limit() {
        let changes = input(serde_json::json!({"stock": null})).validate(WriteMode::Partial).unwrap();
        assert_eq!(changes, ProductChanges { stock: Some(None), ..ProductChanges::default() });
        let bad = input(serde_json::json!({"unit_amount": 0, "stock": -1, "name": null})).validate(WriteMode::Partial);
        let Err(crate::Error::Validation(errors)) = bad else { panic!("accepted") };
        for field in ["unit_amount", "stock", "name"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn currency_codes_are_three_lower_case_letters() {
        assert!(is_currency_code("krw"));
        for bad in ["KRW", "us", "usdd", "u5d", ""] {
            assert!(!is_currency_code(bad), "{bad}");
        }
    }
}
