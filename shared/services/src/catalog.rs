//! The catalog: everyone reads it; staff add and change products. A price
//! change never touches an order already placed (orders keep their lines'
//! prices).

use domain::catalog::{Product, ProductInput};
use domain::page::{Direction, ListPage, PositionKey};
use domain::post::WriteMode;
use domain::{Error, Result, ids};
use store::{ProductRepository, Table, UserRepository};

use crate::accounts::confirm_staff;
use crate::tokens::Principal;

#[derive(Debug, Clone)]
pub struct CatalogService {
    products: ProductRepository,
    users: UserRepository,
}

impl CatalogService {
    pub fn new(table: Table) -> Self {
        Self { products: ProductRepository::new(table.clone()), users: UserRepository::new(table) }
    }

    /// A page of the catalog, oldest product first.
    pub async fn products(
        &self,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Product>> {
        self.products.list(direction, start, page_size).await
    }

    /// Adds a product (staff only: anyone else gets 403 before the input
    /// is looked at).
    pub async fn create(&self, caller: &Principal, input: ProductInput) -> Result<Product> {
        confirm_staff(&self.users, caller).await?;
        let product = input.validate(WriteMode::Full)?.into_product(ids::new_id());
        self.products.create(&product).await?;
        tracing::info!(product_id = %product.id, stock = ?product.stock, "product created");
        Ok(product)
    }

    /// Changes a product (staff only); 404 when there is none.
    pub async fn update(&self, caller: &Principal, product_id: &str, input: ProductInput) -> Result<Product> {
        confirm_staff(&self.users, caller).await?;
        let changes = input.validate(WriteMode::Partial)?;
        if !ids::is_plausible_id(product_id) {
            return Err(Error::NotFound);
        }
        let product = self.products.update(product_id, &changes).await?.ok_or(Error::NotFound)?;
        tracing::info!(product_id, "product changed");
        Ok(product)
    }
}
