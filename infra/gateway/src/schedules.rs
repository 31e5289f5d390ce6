//! `Schedule` events, run as EventBridge runs them: the function is invoked
//! with a `Scheduled Event` every rate of the template (or every
//! `GATEWAY_SCHEDULE_SECONDS`). A run that fails is reported; the next one
//! comes at its time, as EventBridge's next would.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::pool::FunctionPool;
use crate::template::ScheduleSource;

const LOCAL_ACCOUNT: &str = "123456789012";
const LOCAL_REGION: &str = "us-east-1";

/// One `Schedule` event of one function, ready to run.
#[derive(Clone)]
pub struct ScheduleRunner {
    pub function: String,
    pub pool: FunctionPool,
    pub source: ScheduleSource,
    pub every: Duration,
}

impl ScheduleRunner {
    fn label(&self) -> String {
        format!("{}.{}", self.function, self.source.event_name)
    }

    /// Invokes the function every period until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let label = self.label();
        println!(
            "local-gateway: running {label} every {:.1}s (template: {})",
            self.every.as_secs_f64(),
            self.source.expression
        );
        let mut ticks = tokio::time::interval_at(Instant::now() + self.every, self.every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let event = scheduled_event(&self.function, &self.source.event_name, time::OffsetDateTime::now_utc());
            if let Err(error) = self.pool.invoke(Bytes::from(event.to_string())).await {
                eprintln!("local-gateway: {label}: the scheduled run failed: {error}");
            }
        }
    }
}

/// The event EventBridge sends a scheduled rule's target.
pub fn scheduled_event(function: &str, event_name: &str, at: time::OffsetDateTime) -> Value {
    let time = at
        .replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": time,
        "region": LOCAL_REGION,
        "resources": [format!("arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT}:rule/{function}-{event_name}")],
        "detail": {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_eventbridges_scheduled_event() {
        let event = scheduled_event("OrderSweeperFunction", "Sweep", time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["time"], "1970-01-01T00:00:00Z");
        assert!(event["resources"][0].as_str().unwrap().ends_with(":rule/OrderSweeperFunction-Sweep"));
    }
}
