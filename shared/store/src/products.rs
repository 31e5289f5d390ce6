//! The catalog: products by id (for pricing an order), a paged list (by
//! id, so by creation), and the seed command's idempotent upsert.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::paging::Direction;
use super::paging::{self, ListPage, PositionKey, QuerySpec};
use super::{Item, ItemReader, Table, item_with_key, key_of, keys, n, s, sdk_error};
use aws_sdk_dynamodb::types::ReturnValue;
use domain::Result;
use domain::catalog::{Product, ProductChanges};

/// What the seed did to one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

const PRODUCT_POSITION: &[&str] = &[keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK];

#[derive(Debug, Clone)]
pub struct ProductRepository {
    table: Table,
}

impl ProductRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The products with these ids that exist, by id: one BatchGetItem per
    /// hundred ids (an order has at most fifty), strongly consistent.
    pub async fn get_many(&self, ids: &[String]) -> Result<HashMap<String, Product>> {
        let items = self.table.batch_get(ids.iter().map(|id| keys::product(id)), true, None).await?;
        items.iter().map(|item| product_from(item).map(|product| (product.id.clone(), product))).collect()
    }

    /// A page of the catalog, oldest product first.
    pub async fn list(
        &self,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Product>> {
        let spec = QuerySpec {
            index: Some(keys::GSI1),
            key_condition: format!("{} = :all", keys::GSI1_PK),
            filter: None,
            names: HashMap::new(),
            values: HashMap::from([(":all".to_owned(), s(keys::ALL_PRODUCTS))]),
            ascending: true,
            key_attributes: PRODUCT_POSITION,
            per_call: page_size + 1,
        };
        let raw = paging::read_page(&self.table, &spec, direction, start, page_size).await?;
        paging::arrange(raw, direction, start, PRODUCT_POSITION, product_from)
    }

    /// Writes `product` unless the stored one is already the same, so that
    /// seeding twice changes nothing. The stock is the seed's only for a
    /// new product: after that it is what orders left (and staff set).
    pub async fn upsert(&self, product: &Product) -> Result<Upserted> {
        let stored = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::product(&product.id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?
            .item;
        let existing = stored.as_ref().map(product_from).transpose()?;
        let outcome = match &existing {
            Some(existing) if *existing == Product { stock: existing.stock, ..product.clone() } => {
                return Ok(Upserted::Unchanged);
            }
            Some(_) => Upserted::Updated,
            None => Upserted::Created,
        };
        let now = domain::timefmt::rfc3339(domain::timefmt::now());
        let created_at = stored.as_ref().and_then(|i| ItemReader(i).optional_string("created_at"));
        // The count is what orders left: the seed gives it to a new product
        // only, and keeps a stored product's as it is.
        let seeded = Product { stock: if stored.is_some() { None } else { product.stock }, ..product.clone() };
        let mut item = product_item(&seeded, created_at.as_deref().unwrap_or(&now), &now);
        if let Some(stored) = &stored {
            item.extend(stock_attributes(stored).into_iter().map(|(name, value)| (name.to_owned(), value)));
        }
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(outcome)
    }
}

impl ProductRepository {
    /// Adds a new product (staff): the id is new, so nothing is replaced.
    pub async fn create(&self, product: &Product) -> Result<()> {
        let now = domain::timefmt::rfc3339(domain::timefmt::now());
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(product_item(product, &now, &now)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Changes what `changes` names on an existing product (staff); the
    /// product as it now is, or `None` when there is none. A stock value
    /// sets the count and the limit; `null` lifts the limit.
    pub async fn update(&self, product_id: &str, changes: &ProductChanges) -> Result<Option<Product>> {
        let mut sets = vec!["updated_at = :now".to_owned()];
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":now".to_owned(), s(domain::timefmt::rfc3339(domain::timefmt::now())))]);
        let mut set = |attribute: &str, value: AttributeValue| {
            sets.push(format!("#{attribute} = :{attribute}"));
            names.insert(format!("#{attribute}"), attribute.to_owned());
            values.insert(format!(":{attribute}"), value);
        };
        if let Some(name) = &changes.name {
            set("name", s(name));
        }
        if let Some(description) = &changes.description {
            set("description", s(description));
        }
        if let Some(amount) = changes.unit_amount {
            set("unit_amount", n(amount));
        }
        if let Some(currency) = &changes.currency {
            set("currency", s(currency));
        }
        if let Some(active) = changes.active {
            set("active", AttributeValue::Bool(active));
        }
        match changes.stock {
            Some(Some(stock)) => {
                set("stock", n(stock));
                set("stock_limited", AttributeValue::Bool(true));
            }
            Some(None) => set("stock_limited", AttributeValue::Bool(false)),
            None => {}
        }
        let update = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::product(product_id))))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew)
            .update_expression(format!("SET {}", sets.join(", ")))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(Some(values));
        let output = super::updated_if(update.send().await)?;
        output.and_then(|output| output.attributes).as_ref().map(product_from).transpose()
    }
}

fn product_item(product: &Product, created_at: &str, updated_at: &str) -> Item {
    let mut item = item_with_key(keys::product(&product.id));
    let (gsi1pk, gsi1sk) = keys::product_in_catalog(&product.id);
    item.insert("id".into(), s(&product.id));
    item.insert("name".into(), s(&product.name));
    item.insert("description".into(), s(&product.description));
    item.insert("unit_amount".into(), n(product.unit_amount));
    item.insert("currency".into(), s(&product.currency));
    item.insert("active".into(), AttributeValue::Bool(product.active));
    if let Some(stock) = product.stock {
        item.insert("stock".into(), n(stock));
        item.insert("stock_limited".into(), AttributeValue::Bool(true));
    }
    item.insert("created_at".into(), s(created_at));
    item.insert("updated_at".into(), s(updated_at));
    item.insert(keys::GSI1_PK.into(), s(gsi1pk));
    item.insert(keys::GSI1_SK.into(), s(gsi1sk));
    item
}

/// A stored product's stock attributes, kept as they are.
fn stock_attributes(item: &Item) -> Vec<(&'static str, AttributeValue)> {
    ["stock", "stock_limited"]
        .into_iter()
        .filter_map(|name| item.get(name).map(|value| (name, value.clone())))
        .collect()
}

fn product_from(item: &Item) -> Result<Product> {
    let read = ItemReader(item);
    Ok(Product {
        id: read.string("id")?,
        name: read.string("name")?,
        description: read.optional_string("description").unwrap_or_default(),
        unit_amount: read.int("unit_amount")?,
        currency: read.string("currency")?,
        active: read.bool("active"),
        // Limited only while `stock_limited` says so: returns of stock land
        // on the count whatever the limit became meanwhile.
        stock: if read.bool("stock_limited") { Some(read.int("stock").unwrap_or(0).max(0)) } else { None },
    })
}
