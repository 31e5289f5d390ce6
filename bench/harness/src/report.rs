//! The results as JSON and as a Markdown table, with the ratios to the
//! floor and the targets each figure is held to.

use std::path::Path;

use serde::Serialize;

use crate::events::AwsCalls;
use crate::load::{Size, Throughput};
use crate::measure::{ColdStarts, WarmRun};

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Serialize)]
pub struct FunctionResult {
    pub function: String,
    pub binary: String,
    pub cold: ColdStarts,
    pub max_rss_kib: u64,
    pub size: Size,
}

#[derive(Debug, Clone, Serialize)]
pub struct OperationResult {
    pub operation: String,
    pub function: String,
    /// What one warm invocation is: a request, or a batch of messages.
    pub per: String,
    pub warm: WarmRun,
    /// Per request (per message for a queue): service → calls.
    pub aws_calls: AwsCalls,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub machine: String,
    pub spawns: usize,
    pub warm_requests: usize,
    pub functions: Vec<FunctionResult>,
    pub operations: Vec<OperationResult>,
    pub throughput: Vec<Throughput>,
    pub targets: Vec<Target>,
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}, {}", std::env::consts::ARCH)
}

impl Report {
    pub fn new(
        functions: Vec<FunctionResult>,
        operations: Vec<OperationResult>,
        throughput: Vec<Throughput>,
        spawns: usize,
        warm_requests: usize,
    ) -> Report {
        let mut report = Report {
            generated_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            machine: machine(),
            spawns,
            warm_requests,
            functions,
            operations,
            throughput,
            targets: Vec::new(),
        };
        report.targets = report.check_targets();
        report
    }

    fn floor(&self) -> Option<&FunctionResult> {
        self.functions.iter().find(|f| f.function == crate::FLOOR)
    }

    fn floor_operation(&self) -> Option<&OperationResult> {
        self.operations.iter().find(|o| o.function == crate::FLOOR)
    }

    fn check_targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let Some(floor) = self.floor() else { return targets };
        for f in self.functions.iter().filter(|f| f.function != crate::FLOOR) {
            let limit = 2.0 * floor.cold.init.median_ms;
            targets.push(Target {
                target: format!("{}: init ≤ 2× the floor ({limit:.2} ms)", f.function),
                measured: format!(
                    "{:.2} ms ({:.1}×)",
                    f.cold.init.median_ms,
                    f.cold.init.median_ms / floor.cold.init.median_ms
                ),
                met: f.cold.init.median_ms <= limit,
            });
            // The function's own work and round trips: the same event on the
            // same instance once warm, at the same moment (the table has
            // grown since the warm runs, so those would not compare).
            let own = f.cold.second_request.median_ms;
            let limit = floor.cold.first_response.median_ms + own;
            targets.push(Target {
                target: format!("{}: first response ≤ floor's + own work when warm ({limit:.2} ms)", f.function),
                measured: format!(
                    "{:.2} ms (first request {:.2} ms, the same again {:.2} ms)",
                    f.cold.first_response.median_ms, f.cold.first_request.median_ms, own
                ),
                met: f.cold.first_response.median_ms <= limit,
            });
            targets.push(Target {
                target: format!("{}: max RSS ≤ 32 MiB", f.function),
                measured: format!("{:.1} MiB", f.max_rss_kib as f64 / 1024.0),
                met: f.max_rss_kib <= 32 * 1024,
            });
            targets.push(Target {
                target: format!("{}: zip ≤ 6 MiB", f.function),
                measured: format!("{:.2} MiB", f.size.zip_bytes as f64 / MIB),
                met: f.size.zip_bytes as f64 <= 6.0 * MIB,
            });
        }
        let calls = |name: &str| self.operations.iter().find(|o| o.operation.starts_with(name)).map(|o| &o.aws_calls);
        let get = |c: &AwsCalls, s: &str| c.get(s).copied().unwrap_or(0);
        if let Some(c) = calls("GET /posts/{id}") {
            targets.push(Target {
                target: "GET /posts/{id}: 1 DynamoDB call".into(),
                measured: format!("{}", get(c, "dynamodb")),
                met: get(c, "dynamodb") == 1,
            });
        }
        if let Some(c) = calls("POST /orders") {
            targets.push(Target {
                target: "POST /orders: ≤ 2 DynamoDB calls".into(),
                measured: format!("{}", get(c, "dynamodb")),
                met: get(c, "dynamodb") <= 2,
            });
        }
        if let Some(c) = calls("webhook") {
            let all: u64 = c.values().sum();
            targets.push(Target {
                target: "webhook event: ≤ 3 AWS calls in all".into(),
                measured: format!("{all} ({} DynamoDB, {} SQS)", get(c, "dynamodb"), get(c, "sqs")),
                met: all <= 3,
            });
        }
        if let Some(c) = calls("mailer") {
            targets.push(Target {
                target: "one receipt: 1 SES call + ≤ 2 DynamoDB calls".into(),
                measured: format!("{} SES, {} DynamoDB", get(c, "ses"), get(c, "dynamodb")),
                met: get(c, "ses") == 1 && get(c, "dynamodb") <= 2,
            });
        }
        targets
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("latest.json"), json + "\n").map_err(|e| e.to_string())?;
        std::fs::write(dir.join("latest.md"), self.markdown()).map_err(|e| e.to_string())
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let floor = self.floor();
        let floor_op = self.floor_operation();
        let ratio = |x: f64, base: Option<f64>| match base {
            Some(b) if b > 0.0 => format!("{:.1}×", x / b),
            _ => "–".into(),
        };
        md.push_str("# Benchmark: every function beside the floor\n\n");
        md.push_str(&format!(
            "`make bench` on {}, {}. Release build (the workspace's `[profile.release]`), \
             functions run by the local gateway's Runtime API against DynamoDB Local (AWS's own, in memory), \
             moto (SQS, SES) and localstripe on loopback. \
             The floor is the smallest `lambda_http` function (`bench/floor`), built the same way. \
             Cold starts: {} fresh processes per function; warm figures over {} requests per operation, \
             reading or writing (the webhook and the mailer take one event per order written). Peak memory \
             is after all of a function's warm requests.\n\n",
            self.generated_at, self.machine, self.spawns, self.warm_requests
        ));
        md.push_str("## Cold start, memory, size\n\n");
        md.push_str("Init: spawn → the first poll of the Runtime API. First response: spawn → the first answer. First and again: that first invocation alone, and the same event once more on the same instance, now warm (their difference is start-up work left to the first request).\n\n");
        md.push_str("| function | init median | init p90 | × floor | first response median | p90 | × floor | first / again | max RSS (warm) | binary | zip |\n");
        md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for f in &self.functions {
            md.push_str(&format!(
                "| {} | {:.2} ms | {:.2} ms | {} | {:.2} ms | {:.2} ms | {} | {:.2} / {:.2} ms | {:.1} MiB | {:.2} MiB | {:.2} MiB |\n",
                f.function,
                f.cold.init.median_ms,
                f.cold.init.p90_ms,
                ratio(f.cold.init.median_ms, floor.map(|f| f.cold.init.median_ms)),
                f.cold.first_response.median_ms,
                f.cold.first_response.p90_ms,
                ratio(f.cold.first_response.median_ms, floor.map(|f| f.cold.first_response.median_ms)),
                f.cold.first_request.median_ms,
                f.cold.second_request.median_ms,
                f.max_rss_kib as f64 / 1024.0,
                f.size.binary_bytes as f64 / MIB,
                f.size.zip_bytes as f64 / MIB,
            ));
        }
        md.push_str("\n## Handler cost and AWS round trips (warm)\n\n");
        md.push_str("CPU is the instance's own CPU time (user + system, from `/proc/<pid>/schedstat`) over the warm requests, divided by their number; it includes the throttle's work where the route is throttled. AWS calls are read from each operation's `request completed` / `event completed` log lines (`aws_calls`; per message for the mailer).\n\n");
        md.push_str(
            "| operation | function | per | duration median | p90 | CPU µs | × floor | DynamoDB | SQS | SES |\n",
        );
        md.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for o in &self.operations {
            let get = |s: &str| o.aws_calls.get(s).copied().unwrap_or(0);
            md.push_str(&format!(
                "| {} | {} | {} | {:.2} ms | {:.2} ms | {:.1} | {} | {} | {} | {} |\n",
                o.operation,
                o.function,
                o.per,
                o.warm.duration.median_ms,
                o.warm.duration.p90_ms,
                o.warm.cpu_us_per_request,
                ratio(o.warm.cpu_us_per_request, floor_op.map(|f| f.warm.cpu_us_per_request)),
                get("dynamodb"),
                get("sqs"),
                get("ses"),
            ));
        }
        md.push_str("\n## Throughput through the local gateway (`wrk`)\n\n");
        md.push_str("The machine's two cores bound these now: `wrk`, the gateway, the functions and DynamoDB Local (a JVM) share them, and each throttled read is 3 DynamoDB calls (the read and two throttle-counter writes). DynamoDB Local answers calls concurrently; the launcher that made moto answer one at a time is gone. They compare the functions with the floor through the same gateway; they are not Lambda's numbers.\n\n");
        md.push_str("| target | connections | seconds | requests/s | p50 | p90 | p99 | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for t in &self.throughput {
            md.push_str(&format!(
                "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} |\n",
                t.target,
                t.connections,
                t.seconds,
                t.requests_per_sec,
                t.latency_p50_ms,
                t.latency_p90_ms,
                t.latency_p99_ms,
                t.non_2xx
            ));
        }
        md.push_str("\n## Targets\n\n| target | measured | met |\n|---|---|---|\n");
        for t in &self.targets {
            md.push_str(&format!("| {} | {} | {} |\n", t.target, t.measured, if t.met { "yes" } else { "**no**" }));
        }
        md
    }
}
