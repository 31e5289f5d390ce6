//! What each operation would cost on AWS, in dollars per million: API
//! Gateway, Lambda's requests and duration, DynamoDB's request units, SQS
//! requests and SES emails, from the warm run's CPU time and latency mode's
//! round trips and counts.
//!
//! Lambda's billed duration is modelled, not measured (this machine is not
//! Lambda): the CPU time measured here, stretched by the share of a core
//! the function's memory buys, plus a fixed wait for each round trip on the
//! critical path, rounded up to the millisecond.

use serde::Serialize;

use crate::report::{LatencyReport, OperationResult};

/// The prices below are AWS's list prices for this region.
pub const REGION: &str = "us-east-1";
/// The day the prices below were read off AWS's price lists.
pub const PRICES_LISTED_ON: &str = "2026-12-01";

/// HTTP API, first 300 million requests a month.
pub const API_GATEWAY_HTTP_PER_MILLION_REQUESTS: f64 = 1.00;
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// arm64, first 7.5 billion GB-seconds a month.
pub const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// On-demand capacity mode.
pub const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
pub const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
/// Standard queues, past the free million a month.
pub const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
pub const SES_PER_THOUSAND_EMAILS: f64 = 0.10;

/// The template's `Architecture` parameter defaults to arm64 (Graviton),
/// whose GB-second price is the one above.
pub const ARCHITECTURE: &str = "arm64";
/// Lambda gives a function one full vCPU at 1,769 MB, and a proportional
/// share of one below that.
pub const MEMORY_MB_PER_VCPU: f64 = 1769.0;
/// What one round trip to DynamoDB, SQS or SES from a function in the same
/// region is taken to cost in billed duration.
pub const IN_REGION_CALL_MS: f64 = 4.0;
/// A queue-fed function's batch costs SQS two requests of its own: the
/// event source mapping's `ReceiveMessage` that took it and the
/// `DeleteMessageBatch` that removes what succeeded.
pub const QUEUE_REQUESTS_PER_BATCH: f64 = 2.0;

/// The daily mix the total is given for: (operation, share of requests).
/// 90 % reads (three equally), 8 % new orders, 2 % purchases (each one
/// Stripe webhook that pays and one receipt sent).
pub const DAILY_MIX: [(&str, f64); 6] = [
    ("GET /posts/{id}", 0.30),
    ("GET /posts", 0.30),
    ("GET /orders/{id}", 0.30),
    ("POST /orders", 0.08),
    ("webhook: payment_intent.succeeded", 0.02),
    ("mailer: batch of 10", 0.02),
];

/// One operation's cost per million: of requests, or of messages for a
/// queue-fed function.
#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    pub operation: String,
    pub per: String,
    pub memory_mb: u64,
    pub cpu_us: f64,
    pub round_trips: f64,
    /// Billed duration of one invocation (a batch for a queue-fed function).
    pub billed_ms: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub api_gateway: f64,
    pub lambda_requests: f64,
    pub lambda_duration: f64,
    pub dynamodb: f64,
    pub sqs: f64,
    pub ses: f64,
    pub total: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostTable {
    pub region: &'static str,
    pub prices_listed_on: &'static str,
    pub architecture: &'static str,
    pub in_region_call_ms: f64,
    pub rows: Vec<CostRow>,
    /// Dollars per million requests of [`DAILY_MIX`]; `None` if one of its
    /// operations was not measured.
    pub daily_mix: Option<f64>,
}

/// Every operation latency mode measured, priced.
pub fn estimate(operations: &[OperationResult], latency: &LatencyReport) -> CostTable {
    let rows: Vec<CostRow> = operations
        .iter()
        .filter_map(|operation| {
            let measured = latency.of(&operation.operation)?;
            Some(price(operation, measured))
        })
        .collect();
    let daily_mix = DAILY_MIX
        .iter()
        .map(|(name, share)| rows.iter().find(|row| row.operation == *name).map(|row| share * row.total))
        .sum::<Option<f64>>();
    CostTable {
        region: REGION,
        prices_listed_on: PRICES_LISTED_ON,
        architecture: ARCHITECTURE,
        in_region_call_ms: IN_REGION_CALL_MS,
        rows,
        daily_mix,
    }
}

/// One operation's cost per million units (requests, or messages).
fn price(operation: &OperationResult, measured: &crate::report::LatencyResult) -> CostRow {
    let http = operation.messages_per_batch.is_none();
    let messages = operation.messages_per_batch.unwrap_or(1.0).max(1.0);
    let memory_mb = operation.memory_mb as f64;
    let core_share = (memory_mb / MEMORY_MB_PER_VCPU).min(1.0);
    // A batch's messages are handled in turn: its round trips are each
    // message's, one after the other.
    let waiting_ms = measured.round_trips * messages * IN_REGION_CALL_MS;
    let computing_ms = operation.warm.cpu_us_per_request / 1000.0 / core_share;
    let billed_ms = (computing_ms + waiting_ms).ceil().max(1.0);
    let per_unit = |per_invocation: f64| per_invocation / messages;

    let api_gateway = if http { API_GATEWAY_HTTP_PER_MILLION_REQUESTS } else { 0.0 };
    let lambda_requests = per_unit(LAMBDA_PER_MILLION_REQUESTS);
    let gb_seconds = billed_ms / 1000.0 * memory_mb / 1024.0;
    let lambda_duration = per_unit(gb_seconds * LAMBDA_ARM64_PER_GB_SECOND * 1e6);
    // Latency mode's counts are per message already (batches of 1).
    let dynamodb =
        measured.read_units * DYNAMODB_PER_MILLION_READ_UNITS + measured.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS;
    let queue_requests = if http { 0.0 } else { per_unit(QUEUE_REQUESTS_PER_BATCH) };
    let sqs = (measured.sqs_calls + queue_requests) * SQS_PER_MILLION_REQUESTS;
    let ses = measured.ses_send_email * SES_PER_THOUSAND_EMAILS * 1000.0;
    CostRow {
        operation: operation.operation.clone(),
        per: if http { "request".to_owned() } else { format!("{} (batches of {messages:.0})", operation.per) },
        memory_mb: operation.memory_mb,
        cpu_us: operation.cpu_us_per_unit(),
        round_trips: measured.round_trips,
        billed_ms,
        read_units: measured.read_units,
        write_units: measured.write_units,
        api_gateway,
        lambda_requests,
        lambda_duration,
        dynamodb,
        sqs,
        ses,
        total: api_gateway + lambda_requests + lambda_duration + dynamodb + sqs + ses,
    }
}

fn dollars(x: f64) -> String {
    if x == 0.0 { "–".to_owned() } else { format!("${x:.3}") }
}

/// The table, its model, and the daily mix's total.
pub fn markdown(table: &CostTable) -> String {
    let mut md = format!("## Cost per million ({}, prices as listed on {})\n\n", table.region, table.prices_listed_on);
    md.push_str(&format!(
        "Dollars per million operations (per million messages for the queue-fed functions), at list prices: \
         API Gateway HTTP API ${API_GATEWAY_HTTP_PER_MILLION_REQUESTS:.2} per million requests (HTTP operations only); \
         Lambda ${LAMBDA_PER_MILLION_REQUESTS:.2} per million requests and ${LAMBDA_ARM64_PER_GB_SECOND} per GB-second \
         ({}, the template's `Architecture` default); DynamoDB on demand ${DYNAMODB_PER_MILLION_READ_UNITS:.3} per \
         million read and ${DYNAMODB_PER_MILLION_WRITE_UNITS:.3} per million write request units; SQS \
         ${SQS_PER_MILLION_REQUESTS:.2} per million requests; SES ${SES_PER_THOUSAND_EMAILS:.2} per 1,000 emails. \
         Free tiers are left out.\n\n",
        table.architecture
    ));
    md.push_str(&format!(
        "Billed duration (a model: this machine is not Lambda, and its CPU is not Graviton) = the CPU time measured \
         per invocation ÷ the share of a vCPU the function's `MemorySize` buys (memory / {MEMORY_MB_PER_VCPU:.0} MB) \
         + latency mode's round trips × {} ms for an in-region DynamoDB, SQS or SES call, rounded up to the \
         millisecond; a batch of a queue-fed function is billed once and its messages handled in turn, so its figures \
         are shared by its messages, and it costs SQS {QUEUE_REQUESTS_PER_BATCH:.0} requests more (the event source \
         mapping's receive and delete). The floors are priced at the functions' usual `MemorySize`. Request units \
         are DynamoDB's own `ConsumedCapacity` as latency mode counted it, the throttle's writes included; SQS \
         requests are the function's own calls; the payment providers' calls are not AWS's and cost nothing here.\n\n",
        table.in_region_call_ms
    ));
    md.push_str(
        "| operation | per | memory | CPU µs | round trips | billed ms | RRU | WRU | API Gateway | Lambda requests | Lambda duration | DynamoDB | SQS | SES | total |\n",
    );
    md.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in &table.rows {
        md.push_str(&format!(
            "| {} | {} | {} MB | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | **{}** |\n",
            row.operation,
            row.per,
            row.memory_mb,
            row.cpu_us,
            row.round_trips,
            row.billed_ms,
            row.read_units,
            row.write_units,
            dollars(row.api_gateway),
            dollars(row.lambda_requests),
            dollars(row.lambda_duration),
            dollars(row.dynamodb),
            dollars(row.sqs),
            dollars(row.ses),
            dollars(row.total),
        ));
    }
    let mix: Vec<String> = DAILY_MIX.iter().map(|(name, share)| format!("{:.0} % {name}", share * 100.0)).collect();
    md.push_str(&format!(
        "\nA day's mix — 90 % reads (`GET /posts/{{id}}`, `GET /posts`, `GET /orders/{{id}}` equally), 8 % writes \
         (`POST /orders`), 2 % purchases (the Stripe webhook that pays, and its receipt; counted as one request of the \
         mix): {}. **{}** per million requests of the mix.\n",
        mix.join(", "),
        table.daily_mix.map_or_else(|| "not measured".to_owned(), dollars)
    ));
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Spread, WarmRun};
    use crate::report::LatencyResult;

    fn operation(name: &str, cpu_us: f64, messages_per_batch: Option<f64>) -> OperationResult {
        OperationResult {
            operation: name.to_owned(),
            function: "F".to_owned(),
            per: "receipt".to_owned(),
            warm: WarmRun {
                requests: 10,
                duration: Spread::default(),
                cpu_us_per_request: cpu_us,
                max_rss_kib: 0,
                request_ids: Vec::new(),
                answers: Vec::new(),
            },
            aws_calls: Default::default(),
            messages_per_batch,
            memory_mb: 256,
        }
    }

    fn measured(name: &str, round_trips: f64, read_units: f64, write_units: f64) -> LatencyResult {
        LatencyResult {
            operation: name.to_owned(),
            function: "F".to_owned(),
            per: "request".to_owned(),
            undelayed: Spread::default(),
            delayed: Spread::default(),
            round_trips,
            dynamodb_calls: 1.0,
            read_units,
            write_units,
            sqs_calls: 0.0,
            sqs_send_message: 0.0,
            ses_send_email: 0.0,
            dynamodb_calls_without_capacity: 0,
        }
    }

    #[test]
    fn a_read_costs_the_gateway_lambda_and_its_read_units() {
        // 1447 µs of CPU at 256 MB (a seventh of a core) is 10 ms; one
        // round trip adds 4 ms.
        let row = price(&operation("GET /posts/{id}", 1447.0, None), &measured("GET /posts/{id}", 1.0, 1.0, 0.0));
        assert_eq!(row.billed_ms, 14.0);
        let duration = 0.014 * 0.25 * LAMBDA_ARM64_PER_GB_SECOND * 1e6;
        assert!((row.lambda_duration - duration).abs() < 1e-9);
        assert!((row.total - (1.0 + 0.2 + duration + 0.125)).abs() < 1e-9);
    }

    #[test]
    fn a_batch_is_shared_by_its_messages() {
        let mut receipt = measured("mailer: batch of 10", 4.0, 1.0, 2.0);
        receipt.ses_send_email = 1.0;
        let row = price(&operation("mailer: batch of 10", 10_000.0, Some(10.0)), &receipt);
        assert_eq!(row.api_gateway, 0.0);
        assert!((row.lambda_requests - 0.02).abs() < 1e-12);
        assert!((row.sqs - 0.2 * SQS_PER_MILLION_REQUESTS).abs() < 1e-12);
        assert!((row.ses - 100.0).abs() < 1e-9);
        assert!((row.dynamodb - (0.125 + 1.25)).abs() < 1e-12);
    }

    #[test]
    fn the_mix_needs_every_operation() {
        let names = DAILY_MIX.map(|(name, _)| name);
        let operations: Vec<OperationResult> = names.iter().map(|n| operation(n, 1000.0, None)).collect();
        let latency = LatencyReport {
            delay_ms: 20,
            requests: 10,
            operations: names.iter().map(|n| measured(n, 1.0, 1.0, 0.0)).collect(),
        };
        let table = estimate(&operations, &latency);
        let one = table.rows[0].total;
        // A purchase is two operations, counted as one request of the mix.
        assert!((table.daily_mix.unwrap() - 1.02 * one).abs() < 1e-9);
        let table = estimate(&operations[..5], &latency);
        assert_eq!(table.daily_mix, None);
    }
}
