//! `seed-catalog [FILE]`: writes the products of FILE (default
//! `infra/seed/products.json`) into the table. A product already stored as
//! in the file is left alone, so running it twice changes nothing; one that
//! differs is updated. Products no longer in the file are left as they are
//! (mark them `"active": false` to stop selling them).

use commerce_ops::{OpsError, exit_with, table};
use domain::catalog::Product;
use store::ProductRepository;
use store::products::Upserted;

const DEFAULT_FILE: &str = "infra/seed/products.json";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "seed-catalog")
}

async fn run() -> Result<(), OpsError> {
    let path = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_FILE.to_owned());
    let seed_error = |reason: String| OpsError::SeedFile { path: path.clone(), reason };
    let text = std::fs::read_to_string(&path).map_err(|e| seed_error(e.to_string()))?;
    let products: Vec<Product> = serde_json::from_str(&text).map_err(|e| seed_error(e.to_string()))?;
    let mut problems = Vec::new();
    for product in &products {
        problems.extend(product.problems().into_iter().map(|p| format!("{}: {p}", product.id)));
    }
    let mut ids: Vec<&str> = products.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        problems.push(format!("{} appears twice", pair[0]));
    }
    if !problems.is_empty() {
        return Err(seed_error(problems.join("; ")));
    }
    let repository = ProductRepository::new(table().await?);
    let (mut created, mut updated) = (0, 0);
    for product in &products {
        let outcome = repository.upsert(product).await?;
        match outcome {
            Upserted::Created => created += 1,
            Upserted::Updated => updated += 1,
            Upserted::Unchanged => {}
        }
        if outcome != Upserted::Unchanged {
            println!(
                "seed-catalog: {} {:?} {}",
                product.id,
                product.name,
                if outcome == Upserted::Created { "created" } else { "updated" }
            );
        }
    }
    println!(
        "seed-catalog: {} products, {created} created, {updated} updated, {} unchanged",
        products.len(),
        products.len() - created - updated
    );
    Ok(())
}
