//! One page of a Query, read on through filter expressions within a bounded
//! budget, and the cursor keys to go on either way.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Item, Table, sdk_error};
use domain::Result;
pub use domain::page::{Direction, ListPage, PositionKey};

/// The most Query calls one page may make when filters skip items. Past it
/// the page is returned short (even empty) with a cursor to go on: a search
/// for a rare word costs a bounded amount per request, never a table's worth.
pub const MAX_QUERY_CALLS_PER_PAGE: usize = 5;

/// A Query on the table or one of its indexes, in the listing's natural
/// order (`ascending`); pages going backward flip it.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub index: Option<&'static str>,
    pub key_condition: String,
    pub filter: Option<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    pub ascending: bool,
    /// The attributes that make an item's position: the table's keys plus
    /// the index's.
    pub key_attributes: &'static [&'static str],
    /// Items read per call; filters that skip many items want more.
    pub per_call: usize,
}

#[derive(Debug)]
pub struct RawPage {
    /// In the direction read (callers reverse a backward page).
    pub items: Vec<Item>,
    /// Where to go on in the same direction, if anything may be left.
    pub more: Option<PositionKey>,
}

pub fn position_of(item: &Item, attributes: &[&str]) -> PositionKey {
    attributes
        .iter()
        .filter_map(|name| match item.get(*name) {
            Some(AttributeValue::S(value)) => Some(((*name).to_owned(), value.clone())),
            _ => None,
        })
        .collect()
}

fn start_key(position: &PositionKey) -> HashMap<String, AttributeValue> {
    position.iter().map(|(k, v)| (k.clone(), AttributeValue::S(v.clone()))).collect()
}

/// Reads up to `page_size` matching items after `start` (exclusive).
pub async fn read_page(
    table: &Table,
    spec: &QuerySpec,
    direction: Direction,
    start: Option<&PositionKey>,
    page_size: usize,
) -> Result<RawPage> {
    let forward = spec.ascending == (direction == Direction::Forward);
    let mut items = Vec::new();
    let mut exclusive_start = start.map(start_key);
    if let Some(position) = start {
        // A cursor may only name attributes this listing positions by.
        if position.keys().any(|k| !spec.key_attributes.contains(&k.as_str())) {
            return Err(domain::Error::Validation(domain::FieldErrors::single("cursor", "Invalid cursor.")));
        }
    }
    for _ in 0..MAX_QUERY_CALLS_PER_PAGE {
        let wanted = page_size + 1 - items.len();
        let limit = spec.per_call.max(wanted).min(1000);
        let output = table
            .client
            .query()
            .table_name(&table.name)
            .set_index_name(spec.index.map(str::to_owned))
            .key_condition_expression(&spec.key_condition)
            .set_filter_expression(spec.filter.clone())
            .set_expression_attribute_names((!spec.names.is_empty()).then(|| spec.names.clone()))
            .set_expression_attribute_values(Some(spec.values.clone()))
            .scan_index_forward(forward)
            .set_exclusive_start_key(exclusive_start.take())
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        items.extend(output.items.unwrap_or_default());
        if items.len() > page_size {
            items.truncate(page_size);
            let more = items.last().map(|last| position_of(last, spec.key_attributes));
            return Ok(RawPage { items, more });
        }
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => exclusive_start = Some(key),
            _ => return Ok(RawPage { items, more: None }),
        }
    }
    // Budget spent: go on from the last item evaluated, matched or not.
    let more = exclusive_start.map(|key| {
        key.into_iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::S(s) => Some((k, s)),
                _ => None,
            })
            .collect()
    });
    Ok(RawPage { items, more })
}

/// Turns a raw page into listing order with both links. `start` is the
/// cursor's position (None on the first page).
pub fn arrange<T>(
    raw: RawPage,
    direction: Direction,
    start: Option<&PositionKey>,
    key_attributes: &[&str],
    convert: impl Fn(&Item) -> Result<T>,
) -> Result<ListPage<T>> {
    let mut items = raw.items;
    if direction == Direction::Backward {
        items.reverse();
    }
    let first = items.first().map(|i| position_of(i, key_attributes));
    let last = items.last().map(|i| position_of(i, key_attributes));
    let results = items.iter().map(convert).collect::<Result<Vec<_>>>()?;
    let (next, previous) = match direction {
        // Forward: the way on is `more`; the way back starts before this
        // page's first item (or where this page started, if it is empty).
        Direction::Forward => (raw.more, start.map(|s| first.unwrap_or_else(|| s.clone()))),
        // Backward: mirrored; there is always a way on, the page we came from.
        Direction::Backward => (Some(last.unwrap_or_else(|| start.cloned().unwrap_or_default())), raw.more),
    };
    Ok(ListPage { results, next, previous })
}
