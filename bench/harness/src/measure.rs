//! Running a function's binary under the local gateway's pool and reading
//! what it cost: cold starts (spawn → first poll, spawn → first answer),
//! warm invocations (CPU time, peak memory, duration) and the AWS calls its
//! log lines report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use local_gateway::{FunctionPool, FunctionSpec, Measured};
use serde::Serialize;
use serde_json::Value;

use crate::events::AwsCalls;

/// Median and 90th percentile, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Spread {
    pub median_ms: f64,
    pub p90_ms: f64,
}

impl Spread {
    pub fn of(samples: &[Duration]) -> Spread {
        if samples.is_empty() {
            return Spread::default();
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Spread { median_ms: round2(at(0.5)), p90_ms: round2(at(0.9)) }
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// What checks a function's answer.
pub type Check = fn(&[u8]) -> Result<(), String>;

/// A function and the spec to start it with; each instance logs to its own
/// file so its lines can be read back.
pub struct Subject {
    pub spec: FunctionSpec,
}

impl Subject {
    pub fn new(mut spec: FunctionSpec, log_dir: &Path) -> Subject {
        spec.log_file = Some(log_dir.join(format!("{}.log", spec.name)));
        Subject { spec }
    }

    pub fn log_file(&self) -> PathBuf {
        self.spec.log_file.clone().unwrap_or_default()
    }

    /// `spawns` cold starts, each in a fresh process that takes one event.
    pub async fn cold_starts(
        &self,
        spawns: usize,
        mut event: impl FnMut(usize) -> Result<Bytes, String>,
        check: Check,
    ) -> Result<ColdStarts, String> {
        let mut init = Vec::with_capacity(spawns);
        let mut first_response = Vec::with_capacity(spawns);
        let mut first_request = Vec::with_capacity(spawns);
        let mut second_request = Vec::with_capacity(spawns);
        for n in 0..spawns {
            let pool = FunctionPool::new(self.spec.clone(), 1);
            let first = pool.invoke_measured(event(n)?).await;
            // The same kind of event again, on the now warm instance: what
            // the first cost beyond it was lazy start-up.
            let second = pool.invoke_measured(event(n)?).await;
            pool.shutdown().await;
            for (which, (result, _)) in [("first", &first), ("second", &second)] {
                let answer =
                    result.as_ref().map_err(|e| format!("{}: cold start {n}, {which}: {e}", self.spec.name))?;
                check(answer).map_err(|e| format!("{}: cold start {n}, {which}: {e}", self.spec.name))?;
            }
            let (first, second) = (first.1, second.1);
            init.push(first.init.ok_or("a cold start reported no init")?);
            first_response.push(first.first_response.ok_or("a cold start reported no first response")?);
            first_request.push(first.duration);
            second_request.push(second.duration);
        }
        Ok(ColdStarts {
            spawns,
            init: Spread::of(&init),
            first_response: Spread::of(&first_response),
            first_request: Spread::of(&first_request),
            second_request: Spread::of(&second_request),
        })
    }

    /// One instance: a first (cold) invocation, then `events` warm ones.
    /// CPU time is counted over the warm ones only.
    /// With `keep_answers`, every answer (the first included) is kept.
    pub async fn warm_run(&self, mut events: Vec<Bytes>, check: Check, keep_answers: bool) -> Result<WarmRun, String> {
        if events.len() < 2 {
            return Err("a warm run needs at least two events".into());
        }
        let first = events.remove(0);
        let pool = FunctionPool::new(self.spec.clone(), 1);
        let result = async {
            let mut answers = Vec::new();
            let (answer, cold) = pool.invoke_measured(first).await;
            let answer = answer.map_err(|e| e.to_string())?;
            check(&answer)?;
            if keep_answers {
                answers.push(answer);
            }
            let cpu_before = cold.cpu_time.ok_or("no CPU time (is /proc mounted?)")?;
            let mut durations = Vec::with_capacity(events.len());
            let mut last: Option<Measured> = None;
            let mut request_ids = Vec::with_capacity(events.len());
            for event in events {
                let (answer, measured) = pool.invoke_measured(event).await;
                let answer = answer.map_err(|e| e.to_string())?;
                check(&answer)?;
                if keep_answers {
                    answers.push(answer);
                }
                durations.push(measured.duration);
                request_ids.push(measured.request_id.clone());
                last = Some(measured);
            }
            let last = last.ok_or("no warm invocation")?;
            let cpu = last.cpu_time.ok_or("no CPU time")?.saturating_sub(cpu_before);
            let requests = durations.len() as f64;
            Ok::<_, String>(WarmRun {
                requests: durations.len(),
                duration: Spread::of(&durations),
                cpu_us_per_request: round2(cpu.as_secs_f64() * 1e6 / requests),
                max_rss_kib: last.max_memory_kib.unwrap_or_default(),
                request_ids,
                answers,
            })
        }
        .await;
        pool.shutdown().await;
        result.map_err(|e| format!("{}: {e}", self.spec.name))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ColdStarts {
    pub spawns: usize,
    /// Spawn → first poll of the Runtime API.
    pub init: Spread,
    /// Spawn → the first answer.
    pub first_response: Spread,
    /// The first invocation alone (delivery → answer).
    pub first_request: Spread,
    /// The same event again on the same, now warm, instance.
    pub second_request: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct WarmRun {
    pub requests: usize,
    pub duration: Spread,
    pub cpu_us_per_request: f64,
    pub max_rss_kib: u64,
    #[serde(skip)]
    pub request_ids: Vec<String>,
    #[serde(skip)]
    pub answers: Vec<Bytes>,
}

/// The AWS calls a function's log reports for the lines carrying one of
/// `request_ids`, per line that ends an operation (`request completed` or
/// `event completed`): per service, the count most lines report (the
/// steady state; a first request that did more, say, does not set it).
pub fn aws_calls_per_operation(log_file: &Path, request_ids: &[String]) -> Result<AwsCalls, String> {
    let text = std::fs::read_to_string(log_file).map_err(|e| format!("{}: {e}", log_file.display()))?;
    let wanted: std::collections::HashSet<&str> = request_ids.iter().map(String::as_str).collect();
    let mut seen: BTreeMap<String, BTreeMap<u64, usize>> = BTreeMap::new();
    let mut lines = 0;
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<Value>(line) else { continue };
        let ends = matches!(value["msg"].as_str(), Some("request completed" | "event completed"));
        let ours = value["request_id"].as_str().is_some_and(|id| wanted.contains(id));
        if !(ends && ours) {
            continue;
        }
        lines += 1;
        for service in ["dynamodb", "sqs", "ses"] {
            let n = value["aws_calls"][service].as_u64().unwrap_or(0);
            *seen.entry(service.to_owned()).or_default().entry(n).or_insert(0) += 1;
        }
    }
    if lines == 0 {
        return Err(format!("no completed line for these requests in {}", log_file.display()));
    }
    Ok(seen
        .into_iter()
        .map(|(service, counts)| {
            let most = counts.iter().max_by_key(|(n, times)| (**times, **n)).map(|(n, _)| *n).unwrap_or(0);
            (service, most)
        })
        .collect())
}

/// Checks for answers.
pub fn http_ok(payload: &[u8]) -> Result<(), String> {
    match crate::events::http_status(payload) {
        Some(status) if status < 400 => Ok(()),
        Some(status) => Err(format!("answered {status}: {}", String::from_utf8_lossy(payload))),
        None => Err(format!("not an HTTP answer: {}", String::from_utf8_lossy(payload))),
    }
}

/// An HTTP answer that is exactly a 200.
pub fn http_200(payload: &[u8]) -> Result<(), String> {
    match crate::events::http_status(payload) {
        Some(200) => Ok(()),
        Some(status) => Err(format!("answered {status}, not 200: {}", String::from_utf8_lossy(payload))),
        None => Err(format!("not an HTTP answer: {}", String::from_utf8_lossy(payload))),
    }
}

/// A scheduled sweep's answer: what it did, no failure.
pub fn sweep_ok(payload: &[u8]) -> Result<(), String> {
    let swept: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("not a sweep's answer ({e}): {}", String::from_utf8_lossy(payload)))?;
    match swept.get("failed").and_then(serde_json::Value::as_u64) {
        Some(0) => Ok(()),
        _ => Err(format!("the sweep did not finish: {swept}")),
    }
}

pub fn batch_ok(payload: &[u8]) -> Result<(), String> {
    let failed = crate::events::batch_failures(payload);
    if failed.is_empty() { Ok(()) } else { Err(format!("{} message(s) failed", failed.len())) }
}

/// A GraphQL answer: a 2xx whose body carries no `errors` (they come with a 200).
pub fn graphql_ok(payload: &[u8]) -> Result<(), String> {
    http_ok(payload)?;
    // The body is a JSON string inside the proxy answer: its quotes escaped.
    if String::from_utf8_lossy(payload).contains(r#"\"errors\""#) {
        return Err(format!("GraphQL errors: {}", String::from_utf8_lossy(payload)));
    }
    Ok(())
}
