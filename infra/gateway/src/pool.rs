//! Instances of one function and invoking them.
//!
//! An instance is one child process of the function's binary with its own
//! Runtime API listener. It runs one invocation at a time. An invocation
//! takes an idle instance, or starts one (a cold start) while fewer than the
//! limit exist, or else waits its turn. An instance that crashed, failed, or
//! timed out is killed and forgotten; the next invocation starts a fresh one.
//!
//! Nothing here knows about HTTP: the payload in and out is whatever the
//! function's event source uses (an API Gateway event, an SQS batch, ...).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, watch};

use crate::error::InvokeError;
use crate::runtime_api::{Invocation, RuntimeApi, RuntimeEvent};
use crate::template::FunctionDef;

/// Lambda's limit on the init phase (on-demand functions).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REGION: &str = "us-east-1";

/// How to run one function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The template's logical id; also `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// The executable.
    pub binary: PathBuf,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// The template's plain variables: the gateway's own environment wins
    /// over these, so a developer can override template literals locally.
    pub template_env: Vec<(String, String)>,
    /// Set on top of everything (except the `AWS_LAMBDA_*` runtime variables).
    pub extra_env: Vec<(String, String)>,
    /// Where the function's stdout and stderr go (appended); `None` shares
    /// the gateway's own, as Lambda sends both to the function's log group.
    pub log_file: Option<PathBuf>,
}

impl FunctionSpec {
    pub fn from_def(def: &FunctionDef, bin_dir: &Path, extra_env: &[(String, String)]) -> FunctionSpec {
        FunctionSpec {
            name: def.logical_id.clone(),
            binary: bin_dir.join(&def.binary),
            timeout: def.timeout,
            memory_mb: def.memory_mb,
            template_env: def.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            extra_env: extra_env.to_vec(),
            log_file: None,
        }
    }
}

/// The instances of one function. Cheap to clone (shared).
#[derive(Clone)]
pub struct FunctionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    spec: FunctionSpec,
    max_instances: usize,
    /// One permit per invocation in flight. An invocation holding a permit
    /// holds at most one instance, and only invocations hold busy
    /// instances, so an invocation that finds no idle instance may start
    /// one without the total ever passing the limit.
    slots: Semaphore,
    /// Warm instances, most recently used last.
    idle: Mutex<Vec<Instance>>,
    /// Instances alive (idle or busy), for observation.
    live: Arc<AtomicUsize>,
    /// `true` once shutting down: busy instances are abandoned too.
    closed: watch::Sender<bool>,
}

struct Instance {
    child: Child,
    pid: Option<u32>,
    api: RuntimeApi,
    spawned_at: Instant,
    /// Has taken an invocation before (so the next one is not a cold start).
    warm: bool,
    _live: LiveGuard,
}

/// Counts an instance as alive for as long as it exists.
struct LiveGuard(Arc<AtomicUsize>);

impl LiveGuard {
    fn new(counter: &Arc<AtomicUsize>) -> LiveGuard {
        counter.fetch_add(1, Ordering::SeqCst);
        LiveGuard(counter.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Instance {
    /// Kills the process and reaps it.
    async fn discard(mut self) {
        // Errors mean it is already gone.
        let _ = self.child.kill().await;
    }

    fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

/// What one run of an invocation measured: Lambda's REPORT line, and the
/// figures `make bench` reads.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The Lambda request id the function saw (and logged).
    pub request_id: String,
    /// From the event's delivery to the function's answer.
    pub duration: Duration,
    /// Cold starts only: from spawning the process to its first poll of the
    /// Runtime API.
    pub init: Option<Duration>,
    /// Cold starts only: from spawning the process to its answer.
    pub first_response: Option<Duration>,
    /// Peak resident memory of the instance so far (`VmHWM`), in KiB.
    pub max_memory_kib: Option<u64>,
    /// CPU time the instance has used so far (user + system).
    pub cpu_time: Option<Duration>,
    /// The instance's process, for a profiler to attach to.
    pub pid: Option<u32>,
}

impl FunctionPool {
    /// A pool that runs at most `max_instances` (at least 1) instances.
    pub fn new(spec: FunctionSpec, max_instances: usize) -> FunctionPool {
        let max_instances = max_instances.max(1);
        FunctionPool {
            inner: Arc::new(PoolInner {
                spec,
                max_instances,
                slots: Semaphore::new(max_instances),
                idle: Mutex::new(Vec::new()),
                live: Arc::new(AtomicUsize::new(0)),
                closed: watch::Sender::new(false),
            }),
        }
    }

    pub fn spec(&self) -> &FunctionSpec {
        &self.inner.spec
    }

    pub fn name(&self) -> &str {
        &self.inner.spec.name
    }

    pub fn max_instances(&self) -> usize {
        self.inner.max_instances
    }

    /// Instances currently alive, idle or busy.
    pub fn live_instances(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Runs one invocation with `payload` as the event and returns the
    /// function's response payload.
    pub async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let (result, measured) = self.invoke_measured(payload).await;
        self.report(&measured, &result);
        result
    }

    /// [`invoke`](Self::invoke) without the REPORT line, returning what it
    /// measured as well.
    pub async fn invoke_measured(&self, payload: Bytes) -> (Result<Bytes, InvokeError>, Measured) {
        let inner = &self.inner;
        let unmeasured = || Measured {
            request_id: String::new(),
            duration: Duration::ZERO,
            init: None,
            first_response: None,
            max_memory_kib: None,
            cpu_time: None,
            pid: None,
        };
        let shutting_down = || InvokeError::ShuttingDown { function: inner.spec.name.clone() };
        let Ok(_permit) = inner.slots.acquire().await else {
            return (Err(shutting_down()), unmeasured());
        };
        if *inner.closed.borrow() {
            return (Err(shutting_down()), unmeasured());
        }
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => match self.spawn().await {
                Ok(instance) => instance,
                Err(e) => {
                    eprintln!("local-gateway: {e}");
                    return (Err(e), unmeasured());
                }
            },
        };
        let (result, measured) = self.run(&mut instance, payload).await;
        match &result {
            Ok(_) if !*inner.closed.borrow() => self.put_back(instance),
            _ => instance.discard().await,
        }
        (result, measured)
    }

    /// Stops taking invocations, abandons the ones in flight and kills every
    /// instance.
    pub async fn shutdown(&self) {
        self.close();
        let idle = self.drain_idle();
        for instance in idle {
            instance.discard().await;
        }
    }

    /// The synchronous half of [`shutdown`](Self::shutdown): takes no new
    /// invocations and makes those in flight fail (`ShuttingDown`) and
    /// discard their instances. Idle instances are left for `shutdown`,
    /// which also waits for them to be gone.
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
        self.inner.slots.close();
    }

    fn drain_idle(&self) -> Vec<Instance> {
        match self.inner.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        loop {
            let mut instance = {
                let mut idle = self.inner.idle.lock().ok()?;
                idle.pop()?
            };
            if instance.has_exited() {
                // Died while idle (e.g. killed from outside): forget it.
                eprintln!("local-gateway: {}: an idle instance exited; starting a new one", self.name());
                continue;
            }
            return Some(instance);
        }
    }

    fn put_back(&self, instance: Instance) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.push(instance);
        }
        // A poisoned lock drops (and so kills) the instance: harmless.
    }

    async fn spawn(&self) -> Result<Instance, InvokeError> {
        let spec = &self.inner.spec;
        let spawn_err = |source| InvokeError::Spawn { binary: spec.binary.clone(), source };
        let api = RuntimeApi::start(&spec.name).await.map_err(spawn_err)?;
        let mut cmd = Command::new(&spec.binary);
        for (k, v) in &spec.template_env {
            if std::env::var_os(k).is_none() {
                cmd.env(k, v);
            }
        }
        for (k, v) in &spec.extra_env {
            cmd.env(k, v);
        }
        let is_set = |key: &str| {
            std::env::var_os(key).is_some() || spec.template_env.iter().chain(&spec.extra_env).any(|(k, _)| k == key)
        };
        for key in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if !is_set(key) {
                cmd.env(key, DEFAULT_REGION);
            }
        }
        let task_root = spec.binary.parent().map(Path::to_path_buf).unwrap_or_default();
        let stream = format!(
            "{}/[$LATEST]{}",
            time::OffsetDateTime::now_utc().date().to_string().replace('-', "/"),
            uuid::Uuid::new_v4().simple()
        );
        cmd.env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", spec.timeout.as_secs().to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", stream)
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", task_root)
            // Lambda Managed Instances' concurrent polling would break the
            // one-invocation-per-instance model this pool relies on.
            .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(path) = &spec.log_file {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(spawn_err)?;
            cmd.stderr(log.try_clone().map_err(spawn_err)?).stdout(log);
        }
        let spawned_at = Instant::now();
        let child = cmd.spawn().map_err(spawn_err)?;
        Ok(Instance { pid: child.id(), child, api, spawned_at, warm: false, _live: LiveGuard::new(&self.inner.live) })
    }

    async fn run(&self, inst: &mut Instance, payload: Bytes) -> (Result<Bytes, InvokeError>, Measured) {
        let spec = &self.inner.spec;
        let request_id = uuid::Uuid::new_v4().to_string();
        let cold = !inst.warm;
        inst.warm = true;
        let crashed = |reason: String| InvokeError::Crashed { function: spec.name.clone(), reason };
        let started = Instant::now();
        let mut delivered_at: Option<Instant> = None;
        // Until the runtime takes the event it is initialising (cold) or
        // about to poll (warm); the function's own timeout starts at delivery.
        let waiting_limit = if cold { INIT_TIMEOUT.max(spec.timeout) } else { spec.timeout };
        let mut closed = self.inner.closed.subscribe();

        let sent =
            inst.api.invocations.send(Invocation { request_id: request_id.clone(), payload, timeout: spec.timeout });
        let result = if sent.is_err() {
            Err(crashed("its Runtime API is gone".into()))
        } else {
            loop {
                let deadline = match delivered_at {
                    Some(at) => at + spec.timeout,
                    None => started + waiting_limit,
                };
                let deadline = tokio::time::Instant::from_std(deadline);
                tokio::select! {
                    // An answer that raced with the process exiting counts.
                    biased;
                    event = inst.api.events.recv() => match event {
                        None => break Err(crashed("its Runtime API stopped".into())),
                        Some(RuntimeEvent::InitError { error_type, body }) => {
                            break Err(crashed(format!("init error {error_type}: {}", String::from_utf8_lossy(&body))));
                        }
                        Some(ev) if ev.request_id() != Some(request_id.as_str()) => continue,
                        Some(RuntimeEvent::Delivered { at, .. }) => delivered_at = Some(at),
                        Some(RuntimeEvent::Response { body, .. }) => break Ok(body),
                        Some(RuntimeEvent::FunctionError { error_type, body, .. }) => {
                            break Err(crashed(format!("function error {error_type}: {}", String::from_utf8_lossy(&body))));
                        }
                    },
                    status = inst.child.wait() => {
                        let how = match status {
                            Ok(s) => s.to_string(),
                            Err(e) => e.to_string(),
                        };
                        let phase = if delivered_at.is_some() { "during the invocation" } else { "before taking the invocation" };
                        break Err(crashed(format!("process exited {phase} ({how})")));
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        break Err(match delivered_at {
                            Some(_) => InvokeError::TimedOut { function: spec.name.clone(), timeout: spec.timeout },
                            None => crashed(format!("did not poll for the invocation within {waiting_limit:?}")),
                        });
                    }
                    _ = closed.wait_for(|c| *c) => {
                        break Err(InvokeError::ShuttingDown { function: spec.name.clone() });
                    }
                }
            }
        };
        let answered_at = Instant::now();
        let init = match (cold, inst.api.first_poll.get()) {
            (true, Some(first)) => Some(first.saturating_duration_since(inst.spawned_at)),
            _ => None,
        };
        let measured = Measured {
            request_id,
            duration: delivered_at.map(|at| answered_at.saturating_duration_since(at)).unwrap_or_default(),
            init,
            first_response: cold.then(|| answered_at.saturating_duration_since(inst.spawned_at)),
            max_memory_kib: inst.pid.and_then(max_memory_kib),
            cpu_time: inst.pid.and_then(cpu_time),
            pid: inst.pid,
        };
        (result, measured)
    }

    /// Prints Lambda's REPORT line.
    fn report(&self, m: &Measured, result: &Result<Bytes, InvokeError>) {
        let spec = &self.inner.spec;
        let ms = m.duration.as_secs_f64() * 1000.0;
        let mut line = format!(
            "REPORT RequestId: {}\tFunction: {}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB",
            m.request_id,
            spec.name,
            ms.ceil().max(1.0) as u64,
            spec.memory_mb
        );
        if let Some(kib) = m.max_memory_kib {
            line.push_str(&format!("\tMax Memory Used: {} MB", kib.div_ceil(1024)));
        }
        if let Some(init) = m.init {
            line.push_str(&format!("\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0));
        }
        match result {
            Ok(_) => {}
            Err(InvokeError::TimedOut { .. }) => line.push_str("\tStatus: timeout"),
            Err(_) => line.push_str("\tStatus: error"),
        }
        println!("{line}");
        if let Err(e) = result {
            eprintln!("local-gateway: {e}");
        }
    }
}

/// Peak resident memory of a process (`VmHWM`), in KiB.
fn max_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm_kib(&status)
}

fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time a process has had so far: the first field of `schedstat`, in
/// nanoseconds (finer than `stat`'s clock ticks).
fn cpu_time(pid: u32) -> Option<Duration> {
    let schedstat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let ns: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        let status = "Name:\tx\nVmPeak:\t  10000 kB\nVmHWM:\t    12289 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(12289));
        assert_eq!(parse_vm_hwm_kib("Name: x\n"), None);
    }

    #[test]
    fn spec_from_template() {
        let t = crate::template::Template::parse(
            "Resources:\n  MyFn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: 7\n      Environment:\n        Variables:\n          A: b\n",
        )
        .unwrap();
        let spec = FunctionSpec::from_def(&t.functions[0], Path::new("/bin/dir"), &[("X".into(), "y".into())]);
        assert_eq!(spec.binary, Path::new("/bin/dir/my-fn"));
        assert_eq!(spec.timeout, Duration::from_secs(7));
        assert_eq!(spec.template_env, vec![("A".to_string(), "b".to_string())]);
        assert_eq!(spec.extra_env, vec![("X".to_string(), "y".to_string())]);
    }

    #[tokio::test]
    async fn missing_binary_is_a_spawn_error() {
        let pool = FunctionPool::new(
            FunctionSpec {
                name: "Nope".into(),
                binary: "/nonexistent/definitely-not-here".into(),
                timeout: Duration::from_secs(1),
                memory_mb: 128,
                template_env: vec![],
                extra_env: vec![],
                log_file: None,
            },
            2,
        );
        let err = pool.invoke(Bytes::from_static(b"{}")).await.unwrap_err();
        assert!(matches!(err, InvokeError::Spawn { .. }), "{err:?}");
        assert_eq!(pool.live_instances(), 0);
        pool.shutdown().await;
        let err = pool.invoke(Bytes::from_static(b"{}")).await.unwrap_err();
        assert!(matches!(err, InvokeError::ShuttingDown { .. }), "{err:?}");
    }
}
