//! A loopback HTTP/1.1 proxy in front of DynamoDB Local or moto that holds
//! every request for a set delay before forwarding it: an operation then
//! takes the delay once more for each AWS call on its critical path, and no
//! more for calls made side by side, so its duration counts its round trips.
//!
//! Bytes are forwarded as they come. The SDK signs each request for the
//! proxy's address, which neither DynamoDB Local nor moto checks, so the
//! upstream being on another port does not matter.
//!
//! The proxy also keeps the account a bill would: it asks DynamoDB for the
//! capacity of every data call (`ReturnConsumedCapacity: TOTAL`, added when
//! the call does not ask already) and adds up what the answers report, read
//! and write units apart; and it counts SQS `SendMessage` and SES
//! `SendEmail` calls.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request or response head larger than this is refused (the SDK's are
/// well under 4 KiB).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// DynamoDB operations billed in read units, and those billed in write units.
const READ_OPERATIONS: [&str; 5] = ["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"];
const WRITE_OPERATIONS: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

/// What went through a proxy: calls by service and DynamoDB's capacity.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Tally {
    pub dynamodb_calls: u64,
    pub read_units: f64,
    pub write_units: f64,
    /// Data calls whose answer reported no capacity (an error answer, say).
    pub dynamodb_calls_without_capacity: u64,
    pub sqs_calls: u64,
    pub sqs_send_message: u64,
    pub ses_calls: u64,
    pub ses_send_email: u64,
    pub other_calls: u64,
}

impl Tally {
    /// What was added since `earlier`, a snapshot of the same counts.
    pub fn since(&self, earlier: &Tally) -> Tally {
        Tally {
            dynamodb_calls: self.dynamodb_calls.saturating_sub(earlier.dynamodb_calls),
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            dynamodb_calls_without_capacity: self
                .dynamodb_calls_without_capacity
                .saturating_sub(earlier.dynamodb_calls_without_capacity),
            sqs_calls: self.sqs_calls.saturating_sub(earlier.sqs_calls),
            sqs_send_message: self.sqs_send_message.saturating_sub(earlier.sqs_send_message),
            ses_calls: self.ses_calls.saturating_sub(earlier.ses_calls),
            ses_send_email: self.ses_send_email.saturating_sub(earlier.ses_send_email),
            other_calls: self.other_calls.saturating_sub(earlier.other_calls),
        }
    }

    pub fn plus(&self, other: &Tally) -> Tally {
        Tally {
            dynamodb_calls: self.dynamodb_calls + other.dynamodb_calls,
            read_units: self.read_units + other.read_units,
            write_units: self.write_units + other.write_units,
            dynamodb_calls_without_capacity: self.dynamodb_calls_without_capacity
                + other.dynamodb_calls_without_capacity,
            sqs_calls: self.sqs_calls + other.sqs_calls,
            sqs_send_message: self.sqs_send_message + other.sqs_send_message,
            ses_calls: self.ses_calls + other.ses_calls,
            ses_send_email: self.ses_send_email + other.ses_send_email,
            other_calls: self.other_calls + other.other_calls,
        }
    }
}

/// The two proxies a function is pointed at: one before DynamoDB Local, one
/// before moto (SQS, SES, SNS).
pub struct Proxies {
    pub dynamodb: LatencyProxy,
    pub moto: LatencyProxy,
}

impl Proxies {
    /// Proxies before the stack's `AWS_ENDPOINT_URL_DYNAMODB` and
    /// `AWS_ENDPOINT_URL`.
    pub async fn start(delay: Duration) -> Result<Proxies, String> {
        let dynamodb = e2e_tests::setting("AWS_ENDPOINT_URL_DYNAMODB").ok_or("AWS_ENDPOINT_URL_DYNAMODB is not set")?;
        let moto = e2e_tests::setting("AWS_ENDPOINT_URL").ok_or("AWS_ENDPOINT_URL is not set")?;
        Ok(Proxies {
            dynamodb: LatencyProxy::start(&dynamodb, delay).await?,
            moto: LatencyProxy::start(&moto, delay).await?,
        })
    }

    /// A function's environment on top of the stack's: its SDK clients
    /// reach AWS through the proxies.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("AWS_ENDPOINT_URL_DYNAMODB".into(), self.dynamodb.url()), ("AWS_ENDPOINT_URL".into(), self.moto.url())]
    }

    pub fn set_delay(&self, delay: Duration) {
        self.dynamodb.set_delay(delay);
        self.moto.set_delay(delay);
    }

    pub fn delay(&self) -> Duration {
        self.dynamodb.delay()
    }

    /// Both proxies' counts so far.
    pub fn tally(&self) -> Tally {
        self.dynamodb.tally().plus(&self.moto.tally())
    }
}

/// One proxy, listening on loopback until dropped.
pub struct LatencyProxy {
    address: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    tally: Arc<Mutex<Tally>>,
    accepting: JoinHandle<()>,
}

impl LatencyProxy {
    /// A proxy to `upstream` (`http://host:port`) that holds each request
    /// for `delay`.
    pub async fn start(upstream: &str, delay: Duration) -> Result<LatencyProxy, String> {
        let upstream: Arc<str> = authority(upstream)?.into();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| format!("latency proxy: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("latency proxy: {e}"))?;
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let accepting = tokio::spawn({
            let (delay_ms, tally) = (delay_ms.clone(), tally.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let relay = Relay { upstream: upstream.clone(), delay_ms: delay_ms.clone(), tally: tally.clone() };
                    // A connection that breaks ends alone; the SDK on the
                    // other side sees it closed and says so in its answer.
                    tokio::spawn(async move {
                        let _ = relay.serve(client).await;
                    });
                }
            }
        });
        Ok(LatencyProxy { address, delay_ms, tally, accepting })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::SeqCst))
    }

    pub fn tally(&self) -> Tally {
        *self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// `http://127.0.0.1:8000/` → `127.0.0.1:8000`.
fn authority(url: &str) -> Result<String, String> {
    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: the latency proxy speaks plain http only"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("{url:?} names no host"));
    }
    Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:80") })
}

/// What one client connection needs: where to forward, for how long to
/// hold each request, and where to count.
struct Relay {
    upstream: Arc<str>,
    delay_ms: Arc<AtomicU64>,
    tally: Arc<Mutex<Tally>>,
}

impl Relay {
    /// Requests from one client connection, one after the other (HTTP/1.1
    /// keep-alive), each over one kept-alive upstream connection.
    async fn serve(&self, client: TcpStream) -> io::Result<()> {
        let _ = client.set_nodelay(true);
        let (client_read, mut client_write) = client.into_split();
        let mut from_client = Reader::new(client_read);
        let mut upstream: Option<Upstream> = None;
        loop {
            let Some(head) = from_client.head().await? else { return Ok(()) };
            let expects_continue = head.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
            if expects_continue {
                // The body is needed before the delay and the forwarding;
                // the proxy answers the client's question itself and does
                // not pass it on.
                client_write.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            }
            let body = from_client.body(request_framing(&head)?).await?;
            let call = Call::of(&head, &body.content);
            let injected = match (&call, head.header("content-length")) {
                (Call::DynamoDb(operation), Some(_)) if is_data_operation(operation) => {
                    with_total_capacity(&body.content)
                }
                _ => None,
            };
            let mut request = if expects_continue || injected.is_some() {
                head.rebuilt(injected.as_ref().map(Vec::len), expects_continue)
            } else {
                head.raw.clone()
            };
            request.extend_from_slice(injected.as_deref().unwrap_or(&body.raw[..]));

            let delay = self.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let is_head = head.start_line.starts_with("HEAD ");
            let answer = exchange(&mut upstream, &self.upstream, &request, is_head).await?;
            self.count(&call, &answer.head, &answer.body.content);
            client_write.write_all(&answer.interim).await?;
            client_write.write_all(&answer.head.raw).await?;
            client_write.write_all(&answer.body.raw).await?;
            // The client reads the upstream's `Connection: close` too, or
            // needs the end of the connection to find the end of the body.
            let client_closes = head.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
            if client_closes || answer.upstream_closes {
                client_write.shutdown().await?;
                return Ok(());
            }
        }
    }

    fn count(&self, call: &Call, answer_head: &Head, answer_body: &[u8]) {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        match call {
            Call::DynamoDb(operation) => {
                tally.dynamodb_calls += 1;
                if !is_data_operation(operation) {
                    return;
                }
                let encoded =
                    answer_head.header("content-encoding").is_some_and(|v| !v.eq_ignore_ascii_case("identity"));
                let units = if encoded { None } else { consumed_units(answer_body) };
                match units {
                    Some(units) if READ_OPERATIONS.contains(&operation.as_str()) => tally.read_units += units,
                    Some(units) => tally.write_units += units,
                    None => tally.dynamodb_calls_without_capacity += 1,
                }
            }
            Call::Sqs(operation) => {
                tally.sqs_calls += 1;
                if operation == "SendMessage" {
                    tally.sqs_send_message += 1;
                }
            }
            Call::SesSendEmail => {
                tally.ses_calls += 1;
                tally.ses_send_email += 1;
            }
            Call::Ses => tally.ses_calls += 1,
            Call::Other => tally.other_calls += 1,
        }
    }
}

/// One kept-alive connection to the upstream.
struct Upstream {
    reader: Reader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Upstream {
    async fn open(address: &str) -> io::Result<Upstream> {
        let stream = TcpStream::connect(address).await?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Ok(Upstream { reader: Reader::new(read), writer: write })
    }
}

/// An upstream's answer to one request, as it came.
struct Answer {
    /// `1xx` heads before the answer, passed on as they came.
    interim: Vec<u8>,
    head: Head,
    body: Body,
    /// The upstream closes the connection after this answer (it says so,
    /// or the body ran to the connection's end).
    upstream_closes: bool,
}

/// Sends `request` and reads the answer, on the kept-alive connection if
/// there is one (and keeps it after, unless the upstream closes it). A
/// kept-alive connection the upstream has closed in the meantime fails
/// before any answer: the request is sent once more on a fresh one.
async fn exchange(upstream: &mut Option<Upstream>, address: &str, request: &[u8], is_head: bool) -> io::Result<Answer> {
    for attempt in 0..2 {
        let reused = upstream.is_some();
        let mut connection = match upstream.take() {
            Some(connection) => connection,
            None => Upstream::open(address).await?,
        };
        let first_head = match connection.writer.write_all(request).await {
            Ok(()) => connection.reader.head().await,
            Err(error) => Err(error),
        };
        let mut head = match first_head {
            Ok(Some(head)) => head,
            Ok(None) | Err(_) if reused && attempt == 0 => continue,
            Ok(None) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the upstream closed without answering"));
            }
            Err(error) => return Err(error),
        };
        let mut interim = Vec::new();
        while head.status().is_some_and(|s| (100..200).contains(&s) && s != 101) {
            interim.extend_from_slice(&head.raw);
            head = connection
                .reader
                .head()
                .await?
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no answer after an interim one"))?;
        }
        let framing = response_framing(&head, is_head)?;
        let body = connection.reader.body(framing).await?;
        // HTTP/1.0 closes after each answer unless it says otherwise.
        let connection_header = head.header("connection").map(str::to_ascii_lowercase);
        let http_1_0 = head.start_line.starts_with("HTTP/1.0");
        let upstream_closes = framing == Framing::UntilClose
            || connection_header.as_deref() == Some("close")
            || (http_1_0 && connection_header.as_deref() != Some("keep-alive"));
        if !upstream_closes {
            *upstream = Some(connection);
        }
        return Ok(Answer { interim, head, body, upstream_closes });
    }
    Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the upstream closed the connection twice"))
}

/// A request or response head: its start line and headers, and the bytes
/// it came as (forwarded unchanged unless a header must change).
#[derive(Debug)]
struct Head {
    raw: Vec<u8>,
    start_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: Vec<u8>) -> io::Result<Head> {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut lines = text.split("\r\n");
        let start_line = lines.next().unwrap_or_default().to_owned();
        if start_line.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "an empty start line"));
        }
        let headers = lines
            .filter(|line| !line.is_empty())
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        Ok(Head { raw, start_line, headers })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A response's status code.
    fn status(&self) -> Option<u16> {
        self.start_line.split(' ').nth(1).and_then(|code| code.parse().ok())
    }

    /// The head again with a new `Content-Length` and without `Expect`.
    fn rebuilt(&self, content_length: Option<usize>, drop_expect: bool) -> Vec<u8> {
        let mut text = format!("{}\r\n", self.start_line);
        for (name, value) in &self.headers {
            if drop_expect && name.eq_ignore_ascii_case("expect") {
                continue;
            }
            match content_length {
                Some(length) if name.eq_ignore_ascii_case("content-length") => {
                    text.push_str(&format!("{name}: {length}\r\n"));
                }
                _ => text.push_str(&format!("{name}: {value}\r\n")),
            }
        }
        text.push_str("\r\n");
        text.into_bytes()
    }
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

fn content_length(head: &Head) -> io::Result<Option<usize>> {
    head.header("content-length")
        .map(|v| v.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("content-length {v:?}"))))
        .transpose()
}

fn is_chunked(head: &Head) -> bool {
    head.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn request_framing(head: &Head) -> io::Result<Framing> {
    if is_chunked(head) {
        return Ok(Framing::Chunked);
    }
    Ok(content_length(head)?.map_or(Framing::Empty, Framing::Length))
}

fn response_framing(head: &Head, is_head: bool) -> io::Result<Framing> {
    let status = head.status().unwrap_or(200);
    if is_head || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Framing::Empty);
    }
    if is_chunked(head) {
        return Ok(Framing::Chunked);
    }
    Ok(content_length(head)?.map_or(Framing::UntilClose, Framing::Length))
}

/// A body as it came (`raw`, forwarded) and its content (chunks joined).
#[derive(Debug, Default)]
struct Body {
    raw: Vec<u8>,
    content: Vec<u8>,
}

/// A buffered reader of HTTP/1.1 messages.
struct Reader<R> {
    stream: R,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    fn new(stream: R) -> Self {
        Reader { stream, buffer: Vec::new() }
    }

    /// Reads more into the buffer; 0 at the stream's end.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buffer.drain(..n).collect()
    }

    /// The next head; `None` when the stream ends cleanly before one.
    async fn head(&mut self) -> io::Result<Option<Head>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                return Head::parse(self.take(end + 4)).map(Some);
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "a head over 64 KiB"));
            }
            if self.fill().await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a head"))
                };
            }
        }
    }

    async fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buffer.len() < n {
            if self.fill().await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a body"));
            }
        }
        Ok(self.take(n))
    }

    /// One line, its CRLF included.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n") {
                return Ok(self.take(end + 2));
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "a chunk line over 64 KiB"));
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a chunk line"));
            }
        }
    }

    async fn body(&mut self, framing: Framing) -> io::Result<Body> {
        match framing {
            Framing::Empty => Ok(Body::default()),
            Framing::Length(n) => {
                let raw = self.exact(n).await?;
                Ok(Body { content: raw.clone(), raw })
            }
            Framing::UntilClose => {
                while self.fill().await? > 0 {}
                let raw = std::mem::take(&mut self.buffer);
                Ok(Body { content: raw.clone(), raw })
            }
            Framing::Chunked => {
                let mut body = Body::default();
                loop {
                    let size_line = self.line().await?;
                    let size_text = String::from_utf8_lossy(&size_line);
                    let size_text = size_text.trim_end().split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(size_text, 16)
                        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a bad chunk size"))?;
                    body.raw.extend_from_slice(&size_line);
                    if size == 0 {
                        // Trailers, up to the empty line that ends the body.
                        loop {
                            let trailer = self.line().await?;
                            body.raw.extend_from_slice(&trailer);
                            if trailer == b"\r\n" {
                                return Ok(body);
                            }
                        }
                    }
                    let chunk = self.exact(size + 2).await?;
                    body.content.extend_from_slice(&chunk[..size]);
                    body.raw.extend_from_slice(&chunk);
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// What a request asks of which service.
#[derive(Debug, PartialEq)]
enum Call {
    /// `X-Amz-Target: DynamoDB_20120810.<Operation>`.
    DynamoDb(String),
    /// SQS's JSON protocol (`X-Amz-Target: AmazonSQS.<Operation>`) or its
    /// query protocol (`Action=<Operation>` in a form body).
    Sqs(String),
    /// SES v2's `POST /v2/email/outbound-emails`.
    SesSendEmail,
    Ses,
    Other,
}

impl Call {
    fn of(head: &Head, body: &[u8]) -> Call {
        if let Some(target) = head.header("x-amz-target") {
            if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
                return Call::DynamoDb(operation.to_owned());
            }
            if let Some(operation) = target.strip_prefix("AmazonSQS.") {
                return Call::Sqs(operation.to_owned());
            }
            return Call::Other;
        }
        let mut parts = head.start_line.split(' ');
        let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        if path.starts_with("/v2/email/") {
            return if method == "POST" && path.starts_with("/v2/email/outbound-emails") {
                Call::SesSendEmail
            } else {
                Call::Ses
            };
        }
        let form = head.header("content-type").is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            let text = String::from_utf8_lossy(body);
            let action = text.split('&').find_map(|pair| pair.strip_prefix("Action="));
            let is_sqs = text.split('&').any(|pair| pair.starts_with("QueueUrl=") || pair.starts_with("QueueName="));
            if let (Some(action), true) = (action, is_sqs) {
                return Call::Sqs(action.to_owned());
            }
        }
        Call::Other
    }
}

fn is_data_operation(operation: &str) -> bool {
    READ_OPERATIONS.contains(&operation) || WRITE_OPERATIONS.contains(&operation)
}

/// The request's JSON body asking for its consumed capacity too, when it
/// does not ask already (`None`: leave it as it is). The field goes in
/// right after the opening brace, so the rest stays byte for byte.
fn with_total_capacity(body: &[u8]) -> Option<Vec<u8>> {
    let parsed: Value = serde_json::from_slice(body).ok()?;
    let object = parsed.as_object()?;
    if object.contains_key("ReturnConsumedCapacity") {
        return None;
    }
    let open = body.iter().position(|b| *b == b'{')?;
    let mut injected = Vec::with_capacity(body.len() + 40);
    injected.extend_from_slice(&body[..=open]);
    injected.extend_from_slice(br#""ReturnConsumedCapacity":"TOTAL""#);
    if !object.is_empty() {
        injected.push(b',');
    }
    injected.extend_from_slice(&body[open + 1..]);
    Some(injected)
}

/// The capacity units an answer reports: `ConsumedCapacity` is one object
/// for a single-item call or a query, a list (one per table) for batches
/// and transactions.
fn consumed_units(answer: &[u8]) -> Option<f64> {
    let answer: Value = serde_json::from_slice(answer).ok()?;
    let units = |entry: &Value| {
        entry["CapacityUnits"].as_f64().or_else(|| {
            let read = entry["ReadCapacityUnits"].as_f64();
            let write = entry["WriteCapacityUnits"].as_f64();
            if read.is_none() && write.is_none() { None } else { Some(read.unwrap_or(0.0) + write.unwrap_or(0.0)) }
        })
    };
    match &answer["ConsumedCapacity"] {
        Value::Object(_) => units(&answer["ConsumedCapacity"]),
        Value::Array(entries) => Some(entries.iter().filter_map(units).sum()),
        _ => None,
    }
}

/// For tests: sends `request` to `stream` and reads one answer.
#[cfg(test)]
async fn send_and_read<S: AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    request: &[u8],
) -> io::Result<(Head, Body)> {
    let (read, mut write) = tokio::io::split(stream);
    write.write_all(request).await?;
    let mut reader = Reader::new(read);
    let head = reader.head().await?.ok_or_else(|| io::Error::other("no answer"))?;
    let framing = response_framing(&head, false)?;
    let body = reader.body(framing).await?;
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_capacity_as_one_object_or_a_list() {
        let one = br#"{"Item":{},"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#;
        assert_eq!(consumed_units(one), Some(1.0));
        let many =
            br#"{"ConsumedCapacity":[{"TableName":"t","CapacityUnits":2.0},{"TableName":"u","CapacityUnits":0.5}]}"#;
        assert_eq!(consumed_units(many), Some(2.5));
        let split = br#"{"ConsumedCapacity":{"TableName":"t","ReadCapacityUnits":1.0,"WriteCapacityUnits":2.0}}"#;
        assert_eq!(consumed_units(split), Some(3.0));
        assert_eq!(consumed_units(br#"{"Item":{}}"#), None);
        assert_eq!(consumed_units(b"not json"), None);
    }

    #[test]
    fn asks_for_capacity_once_and_keeps_the_rest() {
        let body = br#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#;
        let injected = with_total_capacity(body).unwrap();
        assert_eq!(
            std::str::from_utf8(&injected).unwrap(),
            r#"{"ReturnConsumedCapacity":"TOTAL","TableName":"t","Key":{"pk":{"S":"a"}}}"#
        );
        assert_eq!(with_total_capacity(b"{}").unwrap(), br#"{"ReturnConsumedCapacity":"TOTAL"}"#);
        assert_eq!(with_total_capacity(br#"{"ReturnConsumedCapacity":"INDEXES"}"#), None);
        assert_eq!(with_total_capacity(b"[]"), None);
    }

    #[test]
    fn tells_the_calls_apart() {
        let head = |text: &str| Head::parse(text.as_bytes().to_vec()).unwrap();
        let get = head("POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n\r\n");
        assert_eq!(Call::of(&get, b"{}"), Call::DynamoDb("GetItem".into()));
        let send = head("POST / HTTP/1.1\r\nx-amz-target: AmazonSQS.SendMessage\r\n\r\n");
        assert_eq!(Call::of(&send, b"{}"), Call::Sqs("SendMessage".into()));
        let email = head("POST /v2/email/outbound-emails HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(Call::of(&email, b"{}"), Call::SesSendEmail);
        let form = head("POST / HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\n\r\n");
        assert_eq!(Call::of(&form, b"Action=SendMessage&QueueUrl=q"), Call::Sqs("SendMessage".into()));
        assert_eq!(Call::of(&form, b"Action=Publish&TopicArn=t"), Call::Other);
    }

    #[test]
    fn a_rebuilt_head_has_the_new_length_and_no_expect() {
        let head =
            Head::parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".to_vec())
                .unwrap();
        assert_eq!(head.rebuilt(Some(36), true), b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 36\r\n\r\n".to_vec());
    }

    #[tokio::test]
    async fn reads_chunked_bodies_as_they_came() {
        let message =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n";
        let mut reader = Reader::new(&message[..]);
        let head = reader.head().await.unwrap().unwrap();
        let body = reader.body(response_framing(&head, false).unwrap()).await.unwrap();
        assert_eq!(body.content, b"Wikipedia");
        assert_eq!(head.raw.len() + body.raw.len(), message.len());
    }

    /// A keep-alive upstream that answers every request with a fixed
    /// DynamoDB answer; the proxy in front of it, asked twice on one
    /// connection, forwards the capacity request and counts the answer.
    #[tokio::test]
    async fn forwards_and_counts_over_one_connection() {
        let upstream = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Ok((stream, _)) = upstream.accept().await {
                let seen_tx = seen_tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = Reader::new(read);
                    while let Ok(Some(head)) = reader.head().await {
                        let body = reader.body(request_framing(&head).unwrap()).await.unwrap();
                        let _ = seen_tx.send(body.content);
                        let answer =
                            br#"{"Item":{"pk":{"S":"a"}},"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n",
                            answer.len()
                        );
                        write.write_all(head.as_bytes()).await.unwrap();
                        write.write_all(answer).await.unwrap();
                    }
                });
            }
        });
        let proxy = LatencyProxy::start(&upstream_url, Duration::from_millis(5)).await.unwrap();
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let started = std::time::Instant::now();
            let answer = client
                .post(proxy.url())
                .header("x-amz-target", "DynamoDB_20120810.GetItem")
                .body(r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#)
                .send()
                .await
                .unwrap();
            assert!(started.elapsed() >= Duration::from_millis(5));
            assert_eq!(answer.status(), 200);
            assert!(answer.text().await.unwrap().contains("ConsumedCapacity"));
            let seen = seen_rx.recv().await.unwrap();
            assert!(seen.starts_with(br#"{"ReturnConsumedCapacity":"TOTAL","TableName""#));
        }
        let tally = proxy.tally();
        assert_eq!((tally.dynamodb_calls, tally.read_units, tally.write_units), (2, 2.0, 0.0));

        let (head, body) = send_and_read(
            TcpStream::connect(proxy.address).await.unwrap(),
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await
        .unwrap();
        assert_eq!(head.status(), Some(200));
        assert!(!body.content.is_empty());
        assert_eq!(proxy.tally().write_units, 1.0);
    }
}
