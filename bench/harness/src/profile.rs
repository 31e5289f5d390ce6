//! Flame graphs of the hot operations: each one's warm requests again on a
//! fresh instance, with `perf` sampling that instance, folded and drawn
//! under `bench/results/flame-<operation>.svg`.
//!
//! The measured binaries are stripped and built without frame pointers, as
//! they ship; a profile of them would name nothing. So the profiled ones
//! are their twins from `BENCH_FLAME_BIN_DIR` (`make bench` builds them with
//! symbols and frame pointers into `target/flame`); without that directory,
//! or without `perf`, the step says so and is skipped.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use local_gateway::{FunctionPool, FunctionSpec};
use serde::Serialize;

use crate::flame;
use crate::measure::Check;

/// How often perf samples the instance.
const FREQUENCY_HZ: u32 = 999;
/// Frames in the report's table per operation.
const TOP_FRAMES: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub operation: String,
    pub function: String,
    /// The SVG, relative to the results directory.
    pub file: String,
    pub samples: u64,
    /// The heaviest frames by self and total time, as Markdown.
    pub top_frames: String,
}

/// Where the profiled twins of the binaries are, if they were built.
pub fn flame_bin_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var("BENCH_FLAME_BIN_DIR").ok()?);
    let perf = std::process::Command::new("perf").arg("--version").output();
    match perf {
        Ok(output) if output.status.success() && dir.is_dir() => Some(dir),
        _ => None,
    }
}

/// `events` (the first cold, the rest warm) through a fresh instance of
/// the profiled twin of `spec`, perf recording from the first warm one.
pub async fn profile(
    spec: &FunctionSpec,
    flame_bin_dir: &Path,
    operation: &str,
    events: Vec<Bytes>,
    check: Check,
    out_dir: &Path,
    work_dir: &Path,
) -> Result<Profile, String> {
    let mut spec = spec.clone();
    let binary_name = spec.binary.file_name().ok_or("a binary without a name")?.to_owned();
    spec.binary = flame_bin_dir.join(binary_name);
    if !spec.binary.is_file() {
        return Err(format!("no profiled binary at {}", spec.binary.display()));
    }
    spec.log_file = Some(work_dir.join(format!("{}-flame.log", spec.name)));
    let slug = slug(operation);
    let data = work_dir.join(format!("{slug}.perf.data"));
    let pool = FunctionPool::new(spec.clone(), 1);
    let recorded = async {
        let mut events = events.into_iter();
        let first = events.next().ok_or("no events")?;
        let (answer, cold) = pool.invoke_measured(first).await;
        check(&answer.map_err(|e| e.to_string())?)?;
        let pid = cold.pid.ok_or("the instance has no process id")?;
        let recording = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || flame::start(pid, &data, FREQUENCY_HZ))
                .await
                .map_err(|e| e.to_string())??
        };
        for event in events {
            let (answer, _) = pool.invoke_measured(event).await;
            check(&answer.map_err(|e| e.to_string())?)?;
        }
        tokio::task::spawn_blocking(move || recording.stop()).await.map_err(|e| e.to_string())?
    }
    .await;
    pool.shutdown().await;
    recorded.map_err(|e| format!("{operation}: {e}"))?;
    let stacks = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || flame::collapse(&data)).await.map_err(|e| e.to_string())??
    };
    let samples: u64 = stacks.iter().map(|(_, count)| count).sum();
    let title = format!("{operation} ({}): {samples} samples at {FREQUENCY_HZ} Hz over its warm requests", spec.name);
    let file = format!("flame-{slug}.svg");
    std::fs::write(out_dir.join(&file), flame::render_svg(&title, &stacks)).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&data);
    Ok(Profile {
        operation: operation.to_owned(),
        function: spec.name,
        file,
        samples,
        top_frames: flame::top_frames_markdown(&stacks, TOP_FRAMES),
    })
}

/// `GET /posts/{id}` → `get-posts-id`.
fn slug(operation: &str) -> String {
    let mut slug = String::new();
    for c in operation.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_become_file_names() {
        assert_eq!(slug("GET /posts/{id}"), "get-posts-id");
        assert_eq!(slug("GraphQL posts(first: 20) with authors"), "graphql-posts-first-20-with-authors");
        assert_eq!(slug("GetItem (SDK floor)"), "getitem-sdk-floor");
    }
}
