//! A page of a listing, as every layer speaks of it: its results in listing
//! order and the positions its `next` and `previous` links start from. How a
//! position is found is the store's; how it is signed into a cursor and
//! written into links is the web layer's.

use std::collections::BTreeMap;

/// Which way a listing is read: in its index's order, or against it (a
/// `previous` page). Cursors carry it, spelled `f` / `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    #[serde(rename = "f")]
    Forward,
    #[serde(rename = "b")]
    Backward,
}

/// A position in a listing, as a cursor carries it.
pub type PositionKey = BTreeMap<String, String>;

/// A page ready for the envelope.
#[derive(Debug)]
pub struct ListPage<T> {
    pub results: Vec<T>,
    pub next: Option<PositionKey>,
    pub previous: Option<PositionKey>,
}
