//! Flame graphs of a function's process while it serves warm requests.
//!
//! `perf record` samples the process's call stacks by pid ([`start`] /
//! [`Recording::stop`]), `perf script` prints them and [`collapse`] folds them
//! into collapsed stacks (`root;…;leaf` → samples), [`render_svg`] draws those
//! as a self-contained SVG and [`top_frames_markdown`] lists the heaviest
//! frames for the report.
//!
//! Everything after the recording is plain text processing, so the parser
//! ([`fold_perf_script`]) and the renderer are pure and tested without `perf`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Resolved through `PATH`; on Debian that is `/usr/bin/perf`.
const PERF: &str = "perf";

const SIGINT: i32 = 2;

/// How long [`start`] watches `perf record` before trusting it: a bad pid, a
/// refused frequency or missing privileges make perf exit within this window,
/// and it is also long enough for perf to have opened its events on every
/// thread before the caller starts sending requests.
const ATTACH_GRACE: Duration = Duration::from_millis(250);

/// Frame-pointer recordings are written in well under a second; this only
/// bounds a perf that hangs instead of finishing its file.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

const POLL: Duration = Duration::from_millis(25);

/// Longest frame name kept: long generic instantiations otherwise make the
/// tooltips, the Markdown table and the SVG's size unreadable.
const MAX_NAME_CHARS: usize = 120;

const SVG_WIDTH: f64 = 1200.0;
const SIDE_PAD: f64 = 10.0;
const FRAME_HEIGHT: f64 = 16.0;
const HEADER_HEIGHT: f64 = 52.0;
const BOTTOM_PAD: f64 = 10.0;
/// Average advance of a 12 px Verdana glyph, to decide how much of a name
/// fits in its rect without measuring text.
const CHAR_WIDTH: f64 = 7.0;
/// Frames narrower than this share of all samples are not drawn: their width
/// stays inside their parent, beside its self time.
const MIN_FRACTION: f64 = 0.001;

/// A running `perf record` of one process.
pub struct Recording {
    /// `None` once stopped, so that `Drop` knows there is nothing left to end.
    child: Option<Child>,
    data_path: PathBuf,
    /// perf's stderr, read on a thread so a chatty perf can never block on a
    /// full pipe while nobody reads it.
    stderr: Option<JoinHandle<String>>,
}

/// Starts `perf record -F <frequency_hz> -g -p <pid> -o <data_path>`, sampling
/// every thread of `pid` with its call stacks.
///
/// Stacks are unwound with frame pointers (`-g`), not DWARF: `--call-graph
/// dwarf` copies a slice of the stack with every sample, which makes the data
/// file tens of times larger and `perf script` minutes slower, and LBR is
/// hardware-specific and only a few frames deep, so it is never used. Frame
/// pointers are only as good as the binary, though. The release profile
/// strips binaries (`strip = true`) and builds them without debug info, and
/// Rust omits frame pointers by default: a plain release build therefore
/// yields short, broken stacks whose frames are named only when the symbol
/// table left something, and otherwise `[bootstrap]`. When it profiles, the
/// harness is expected to build the profiled binaries with
/// `CARGO_PROFILE_RELEASE_STRIP=false` and `RUSTFLAGS="-C
/// force-frame-pointers=yes"`; that choice belongs to the caller.
///
/// Any existing file at `data_path` is removed first (perf would otherwise
/// keep it as `<data_path>.old`), and its parent directory is created.
///
/// Blocks for about a quarter of a second to catch a perf that exits at once;
/// perf's error message is then part of the returned error.
pub fn start(pid: u32, data_path: &Path, frequency_hz: u32) -> Result<Recording, String> {
    if frequency_hz == 0 {
        return Err("perf record: the sampling frequency must be above 0 Hz".to_string());
    }
    if let Some(dir) = data_path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    match std::fs::remove_file(data_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing the old {}: {e}", data_path.display())),
    }

    let mut child = Command::new(PERF)
        .arg("record")
        .arg("-F")
        .arg(frequency_hz.to_string())
        .arg("-g")
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(data_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting `{PERF} record`: {e}"))?;
    let stderr = child.stderr.take().map(drain);
    let mut recording = Recording { child: Some(child), data_path: data_path.to_path_buf(), stderr };

    let deadline = Instant::now() + ATTACH_GRACE;
    while Instant::now() < deadline {
        if let Some(status) = recording.exited()? {
            // Already reaped: nothing for `Drop` to kill.
            recording.child = None;
            let stderr = recording.take_stderr();
            return Err(format!("perf record on pid {pid} exited at once ({status}): {stderr}"));
        }
        std::thread::sleep(POLL);
    }
    Ok(recording)
}

impl Recording {
    /// Stops the recording: SIGINT to perf, which is how perf expects to be
    /// told to finish, then waits for it to write its file (up to a minute,
    /// after which perf is killed and an error returned).
    ///
    /// If the profiled process exited first, perf has already finished on its
    /// own and its file is kept as is. Fails when perf failed or left no data.
    pub fn stop(mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Err("perf record was already stopped".to_string());
        };
        let status = match child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => {
                if let Err(e) = interrupt(child.id()) {
                    end(&mut child);
                    return Err(e);
                }
                wait_until(&mut child, STOP_TIMEOUT)?
            }
            Err(e) => {
                end(&mut child);
                return Err(format!("waiting for perf record: {e}"));
            }
        };
        let stderr = self.take_stderr();
        // perf exits with 128 + SIGINT after a clean SIGINT shutdown.
        let interrupted = status.code() == Some(128 + SIGINT) || status.signal() == Some(SIGINT);
        if !status.success() && !interrupted {
            return Err(format!("perf record failed ({status}): {stderr}"));
        }
        let size = std::fs::metadata(&self.data_path)
            .map_err(|e| format!("perf record left no {}: {e} ({stderr})", self.data_path.display()))?
            .len();
        if size == 0 {
            return Err(format!("perf record wrote an empty {} ({stderr})", self.data_path.display()));
        }
        Ok(())
    }

    fn exited(&mut self) -> Result<Option<ExitStatus>, String> {
        match self.child.as_mut() {
            Some(child) => child.try_wait().map_err(|e| format!("waiting for perf record: {e}")),
            None => Ok(None),
        }
    }

    fn take_stderr(&mut self) -> String {
        join(self.stderr.take())
    }
}

impl Drop for Recording {
    /// A recording abandoned on an error path must not outlive the harness
    /// and keep sampling; its file is of no use then, so SIGKILL is enough.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            end(&mut child);
        }
    }
}

/// Sends SIGINT through `kill(1)`, which keeps this crate free of `unsafe`
/// and of a libc dependency.
fn interrupt(pid: u32) -> Result<(), String> {
    let status = Command::new("kill")
        .args(["-s", "INT", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("running kill -s INT {pid}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("kill -s INT {pid} failed ({status})")) }
}

fn wait_until(child: &mut Child, timeout: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            Ok(None) => {
                end(child);
                return Err(format!("perf record did not finish within {} s of SIGINT", timeout.as_secs()));
            }
            Err(e) => {
                end(child);
                return Err(format!("waiting for perf record: {e}"));
            }
        }
    }
}

/// Best effort: the process may already be gone, which is what we want.
fn end(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn drain<R: Read + Send + 'static>(mut stream: R) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error only loses diagnostics; whatever was read is kept.
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join(handle: Option<JoinHandle<String>>) -> String {
    handle.and_then(|handle| handle.join().ok()).unwrap_or_default().trim().to_string()
}

/// Runs `perf script -i data_path` and folds its samples into collapsed
/// stacks: `"root;…;leaf"` with the number of samples that had exactly that
/// stack, sorted by stack. See [`fold_perf_script`] for the naming rules.
///
/// The whole output is read before folding: some 100 bytes per frame, so tens
/// of megabytes for seconds of warm requests, which keeps the parser a pure
/// function of text. `--no-inline` keeps perf from resolving inlined
/// frames through `addr2line`, which takes minutes on a large binary with
/// debug info and adds nothing on one without.
pub fn collapse(data_path: &Path) -> Result<Vec<(String, u64)>, String> {
    let mut child = Command::new(PERF)
        .arg("script")
        .arg("-i")
        .arg(data_path)
        .arg("--no-inline")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting `{PERF} script`: {e}"))?;
    let stderr = child.stderr.take().map(drain);

    let mut output = Vec::new();
    if let Some(mut stdout) = child.stdout.take()
        && let Err(e) = stdout.read_to_end(&mut output)
    {
        end(&mut child);
        return Err(format!("reading perf script's output: {e}"));
    }
    let status = child.wait().map_err(|e| format!("waiting for perf script: {e}"))?;
    let stderr = join(stderr);
    if !status.success() {
        return Err(format!("perf script -i {} failed ({status}): {stderr}", data_path.display()));
    }
    // Symbol names are not guaranteed to be UTF-8.
    Ok(fold_perf_script(&String::from_utf8_lossy(&output)))
}

/// Folds the text `perf script` prints into collapsed stacks, root first,
/// identical stacks merged, sorted by stack.
///
/// Each sample is a header line starting in column 0 (`comm pid[/tid] [cpu]
/// time: period event:`) followed by indented frame lines, leaf first
/// (`addr symbol+0xoff (dso)`), and a blank line. Frame names:
/// - the `+0x…` offset is dropped, so that samples in one function merge;
/// - Rust's `::h<16 hex>` hash suffix is dropped (perf's demangler usually
///   does it already, not always);
/// - an unknown symbol becomes its object's file name in brackets, e.g.
///   `[bootstrap]` or `[kernel.kallsyms]`, which at least says where it was;
/// - `;`, the collapsed format's separator, becomes `,` (as in `[u8, 32]`);
/// - names over 120 characters keep their start and their end (where the
///   function's own name is) around a `…`.
///
/// Samples of perf itself and frames inside perf's own binary are dropped;
/// a sample left with no frame is dropped too.
pub fn fold_perf_script(text: &str) -> Vec<(String, u64)> {
    let mut folder = Folder::default();
    for line in text.lines() {
        folder.line(line);
    }
    folder.finish()
}

#[derive(Default)]
struct Folder {
    stacks: BTreeMap<String, u64>,
    /// The current sample's command name; `None` between samples.
    comm: Option<String>,
    /// The current sample's frames, leaf first, as perf prints them.
    frames: Vec<String>,
}

impl Folder {
    fn line(&mut self, line: &str) {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            self.flush();
        } else if !line.starts_with(char::is_whitespace) {
            // A header without a blank line before it still starts a sample.
            self.flush();
            self.comm = Some(header_comm(line));
        } else if let Some(frame) = parse_frame(line) {
            self.frames.push(frame);
        }
    }

    fn flush(&mut self) {
        let comm = self.comm.take();
        let frames = std::mem::take(&mut self.frames);
        if frames.is_empty() || comm.as_deref().is_some_and(is_perf_comm) {
            return;
        }
        let stack = frames.into_iter().rev().collect::<Vec<_>>().join(";");
        *self.stacks.entry(stack).or_insert(0) += 1;
    }

    fn finish(mut self) -> Vec<(String, u64)> {
        self.flush();
        self.stacks.into_iter().collect()
    }
}

/// The command name: everything before the pid (`1234` or `1234/1235`), since
/// thread names may contain spaces.
fn header_comm(line: &str) -> String {
    let is_pid = |token: &str| {
        !token.is_empty() && token.split('/').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    let tokens: Vec<&str> = line.split_whitespace().collect();
    match tokens.iter().position(|token| is_pid(token)) {
        Some(0) | None => tokens.first().map(|token| token.to_string()).unwrap_or_default(),
        Some(at) => tokens[..at].join(" "),
    }
}

fn is_perf_comm(comm: &str) -> bool {
    comm == "perf" || comm.starts_with("perf-exec") || comm.starts_with("perf_")
}

/// Perf's own binary, not the `/tmp/perf-<pid>.map` files JIT runtimes write
/// their symbols to, which name frames of the profiled process.
fn is_perf_dso(dso: &str) -> bool {
    let name = dso_file_name(dso);
    name == "perf" || (name.starts_with("perf_") && !name.ends_with(".map"))
}

/// One frame line, or `None` for a line that is not a frame or a frame of perf.
fn parse_frame(line: &str) -> Option<String> {
    let line = line.trim();
    let (address, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (symbol, dso) = split_dso(rest.trim());
    if is_perf_dso(dso) {
        return None;
    }
    Some(frame_name(symbol, dso))
}

/// Splits `symbol (dso)` at the parenthesised group that closes the line,
/// matching parentheses backwards: symbols contain parentheses of their own
/// (`drop_in_place<(A, B)>`) and so do dsos (`/path/bootstrap (deleted)`).
fn split_dso(rest: &str) -> (&str, &str) {
    if !rest.ends_with(')') {
        return (rest, "");
    }
    let mut depth = 0usize;
    for (at, byte) in rest.bytes().enumerate().rev() {
        match byte {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    return (rest[..at].trim_end(), &rest[at + 1..rest.len() - 1]);
                }
            }
            _ => {}
        }
    }
    (rest, "")
}

fn frame_name(symbol: &str, dso: &str) -> String {
    let symbol = strip_offset(symbol.trim());
    let name = if symbol.is_empty() || symbol == "[unknown]" {
        format!("[{}]", dso_file_name(dso))
    } else {
        shorten(&strip_hash_suffixes(symbol))
    };
    name.replace(';', ",")
}

/// `/var/task/bootstrap (deleted)` → `bootstrap`, `[kernel.kallsyms]` →
/// `kernel.kallsyms`, nothing → `unknown`.
fn dso_file_name(dso: &str) -> &str {
    let dso = dso.trim();
    let dso = dso.strip_suffix("(deleted)").map(str::trim_end).unwrap_or(dso);
    let name = dso.rsplit('/').next().unwrap_or(dso);
    let name = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    if name.is_empty() { "unknown" } else { name }
}

/// `memcpy+0x1f` → `memcpy`; a `+` not followed by a hex offset stays.
fn strip_offset(symbol: &str) -> &str {
    match symbol.rfind('+') {
        Some(at) => {
            let offset = &symbol[at + 1..];
            let is_offset =
                offset.len() > 2 && offset.starts_with("0x") && offset.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
            if is_offset { &symbol[..at] } else { symbol }
        }
        None => symbol,
    }
}

/// Removes every `::h` followed by exactly 16 hex digits that ends a path
/// segment: the legacy mangling's hash differs between builds and would split
/// one function into several frames across binaries.
fn strip_hash_suffixes(symbol: &str) -> String {
    let bytes = symbol.as_bytes();
    let mut out = String::with_capacity(symbol.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = symbol[from..].find("::h") {
        let at = from + found;
        let hex_start = at + 3;
        let hex_end = hex_start + 16;
        let is_hash = hex_end <= bytes.len()
            && bytes[hex_start..hex_end].iter().all(u8::is_ascii_hexdigit)
            && bytes.get(hex_end).is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
        if is_hash {
            out.push_str(&symbol[copied..at]);
            copied = hex_end;
            from = hex_end;
        } else {
            from = hex_start;
        }
    }
    out.push_str(&symbol[copied..]);
    out
}

/// Keeps names readable: the start says which type or impl, the end which
/// function, the generic arguments in the middle are what goes.
fn shorten(name: &str) -> String {
    let chars = name.chars().count();
    if chars <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let head = MAX_NAME_CHARS / 3;
    let tail = MAX_NAME_CHARS - head - 1;
    let mut out: String = name.chars().take(head).collect();
    out.push('…');
    out.extend(name.chars().skip(chars - tail));
    out
}

/// Collapsed stacks as a call tree; children are kept sorted by name so that
/// the same profile always draws the same picture.
#[derive(Default)]
struct Node {
    total: u64,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn from_stacks(stacks: &[(String, u64)]) -> Node {
        let mut root = Node::default();
        for (stack, count) in stacks {
            root.total += count;
            let mut node = &mut root;
            for frame in stack.split(';').filter(|frame| !frame.is_empty()) {
                node = node.children.entry(frame.to_string()).or_default();
                node.total += count;
            }
        }
        root
    }

    /// Levels drawn below and including this node, counting only frames at or
    /// above `min` samples.
    fn depth(&self, min: f64) -> usize {
        1 + self.children.values().filter(|child| child.total as f64 >= min).map(|c| c.depth(min)).max().unwrap_or(0)
    }
}

struct Canvas {
    out: String,
    grand_total: u64,
    min: f64,
    scale: f64,
    height: f64,
}

impl Canvas {
    /// Draws `node` at `depth` (0 = the root, at the bottom) starting `x`
    /// pixels from the left, then its wide enough children side by side from
    /// its left edge; what is left on the right is its self time plus the
    /// frames too small to draw.
    fn frame(&mut self, name: &str, node: &Node, depth: usize, x: f64) {
        let width = node.total as f64 * self.scale;
        let y = self.height - BOTTOM_PAD - FRAME_HEIGHT * (depth as f64 + 1.0);
        let percent = 100.0 * node.total as f64 / self.grand_total as f64;
        let plural = if node.total == 1 { "" } else { "s" };
        let (r, g, b) = warm_color(name);
        let _ = write!(
            self.out,
            "<g><title>{} ({} sample{plural}, {percent:.2} %)</title>\
             <rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{width:.2}\" height=\"{:.1}\" rx=\"2\" fill=\"rgb({r},{g},{b})\"/>",
            escape(name),
            node.total,
            FRAME_HEIGHT - 1.0,
        );
        if let Some(label) = fit_label(name, width) {
            let _ = write!(self.out, "<text x=\"{:.2}\" y=\"{:.1}\">{}</text>", x + 3.0, y + 11.5, escape(&label));
        }
        self.out.push_str("</g>\n");

        let mut child_x = x;
        for (child_name, child) in &node.children {
            if (child.total as f64) < self.min {
                continue;
            }
            self.frame(child_name, child, depth + 1, child_x);
            child_x += child.total as f64 * self.scale;
        }
    }
}

/// Renders collapsed stacks as a flame graph SVG, 1200 px wide, 16 px per
/// level, the root (`all`) at the bottom.
///
/// One `<rect>` and `<text>` per frame, with a `<title>` tooltip
/// `name (N samples, P %)`; widths are proportional to samples; frames below
/// 0.1 % of all samples are not drawn and their width stays in their parent's
/// remainder, which keeps the file small; colors come from a stable hash of
/// the name in a warm palette, so a function has the same color in every
/// graph. Names are XML-escaped. The result starts with `<svg` and ends with
/// `</svg>` and a newline.
pub fn render_svg(title: &str, stacks: &[(String, u64)]) -> String {
    let root = Node::from_stacks(stacks);
    let grand_total = root.total;
    let min = grand_total as f64 * MIN_FRACTION;
    let levels = if grand_total == 0 { 1 } else { root.depth(min) };
    let height = HEADER_HEIGHT + FRAME_HEIGHT * levels as f64 + BOTTOM_PAD;

    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{height}\" \
         viewBox=\"0 0 {w} {height}\">\n\
         <style>text{{font-family:Verdana,sans-serif;font-size:12px;fill:#000}}\
         .title{{font-size:17px;text-anchor:middle}}.note{{fill:#555;text-anchor:middle}}</style>\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{height}\" fill=\"#fffaf2\"/>\n\
         <text class=\"title\" x=\"{mid}\" y=\"24\">{}</text>\n",
        escape(title),
        w = SVG_WIDTH,
        mid = SVG_WIDTH / 2.0,
    );
    if grand_total == 0 {
        let _ = writeln!(out, "<text class=\"note\" x=\"{}\" y=\"42\">No samples.</text>", SVG_WIDTH / 2.0);
    } else {
        let plural = if grand_total == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "<text class=\"note\" x=\"{}\" y=\"42\">{grand_total} sample{plural}; \
             frames under 0.1 % are left inside their caller</text>",
            SVG_WIDTH / 2.0,
        );
        let mut canvas =
            Canvas { out, grand_total, min, scale: (SVG_WIDTH - 2.0 * SIDE_PAD) / grand_total as f64, height };
        canvas.frame("all", &root, 0, SIDE_PAD);
        out = canvas.out;
    }
    out.push_str("</svg>\n");
    out
}

/// As much of `name` as fits in `width` px, with `..` when cut; nothing when
/// fewer than three characters would fit, where text is only clutter.
fn fit_label(name: &str, width: f64) -> Option<String> {
    let fits = ((width - 6.0) / CHAR_WIDTH).floor();
    if fits < 3.0 {
        return None;
    }
    let fits = fits as usize;
    if name.chars().count() <= fits {
        Some(name.to_string())
    } else {
        let mut label: String = name.chars().take(fits - 2).collect();
        label.push_str("..");
        Some(label)
    }
}

/// Red to yellow with a little blue, like the classic flame graph palette;
/// FNV-1a rather than std's hasher, whose output may change between Rust
/// releases and would recolor every committed graph.
fn warm_color(name: &str) -> (u8, u8, u8) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let channel = |shift: u32| ((hash >> shift) & 0xff) as f64 / 255.0;
    let r = 205.0 + 50.0 * channel(0);
    let g = 230.0 * channel(8);
    let b = 55.0 * channel(16);
    (r.round() as u8, g.round() as u8, b.round() as u8)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The `n` heaviest frames by self time (samples where the frame is the leaf)
/// and by total time (samples where it is anywhere on the stack, counted once
/// per sample so recursion does not exceed 100 %), side by side in one
/// Markdown table, as percentages of all samples.
pub fn top_frames_markdown(stacks: &[(String, u64)], n: usize) -> String {
    let grand_total: u64 = stacks.iter().map(|(_, count)| count).sum();
    if grand_total == 0 || n == 0 {
        return "_No samples._\n".to_string();
    }
    let mut self_time: HashMap<&str, u64> = HashMap::new();
    let mut total_time: HashMap<&str, u64> = HashMap::new();
    for (stack, count) in stacks {
        let frames: Vec<&str> = stack.split(';').filter(|frame| !frame.is_empty()).collect();
        if let Some(leaf) = frames.last() {
            *self_time.entry(leaf).or_insert(0) += count;
        }
        let distinct: HashSet<&str> = frames.into_iter().collect();
        for frame in distinct {
            *total_time.entry(frame).or_insert(0) += count;
        }
    }
    let by_self = heaviest(self_time, n);
    let by_total = heaviest(total_time, n);

    let percent = |count: u64| format!("{:.1}", 100.0 * count as f64 / grand_total as f64);
    let cell = |entry: Option<&(&str, u64)>| match entry {
        Some((name, count)) => (format!("`{}`", markdown_code(name)), percent(*count)),
        None => (String::new(), String::new()),
    };
    let mut out = String::from("| # | Heaviest self time | Self % | Heaviest total time | Total % |\n");
    out.push_str("|---:|---|---:|---|---:|\n");
    for rank in 0..by_self.len().max(by_total.len()) {
        let (self_name, self_percent) = cell(by_self.get(rank));
        let (total_name, total_percent) = cell(by_total.get(rank));
        let _ = writeln!(out, "| {} | {self_name} | {self_percent} | {total_name} | {total_percent} |", rank + 1);
    }
    out
}

/// Heaviest first, ties by name so the report does not reorder between runs.
fn heaviest(counts: HashMap<&str, u64>, n: usize) -> Vec<(&str, u64)> {
    let mut entries: Vec<(&str, u64)> = counts.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    entries.truncate(n);
    entries
}

/// A backtick would end the code span and a pipe the table cell.
fn markdown_code(name: &str) -> String {
    name.replace('`', "'").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "\
bootstrap 4242 12345.000001:    1001001 cpu-clock:ppp: 
\t          14b2a posts::handler::list::h0123456789abcdef+0x24a (/var/task/bootstrap)
\t          148a5 tokio::runtime::park::CachedParkThread::block_on+0x25 (/var/task/bootstrap)
\t          14f1d main+0x2d (/var/task/bootstrap)

bootstrap 4242 12345.000002:    1001001 cpu-clock:ppp: 
\t          14b2f posts::handler::list::h0123456789abcdef+0x250 (/var/task/bootstrap)
\t          148a5 tokio::runtime::park::CachedParkThread::block_on+0x25 (/var/task/bootstrap)
\t          14f1d main+0x2d (/var/task/bootstrap)

tokio-runtime-w 4242/4250 12345.000003:    1001001 cpu-clock:ppp: 
\t          2e0f1 [unknown] (/var/task/bootstrap (deleted))
\t          96131 _int_free+0x11 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t ffffffff8a0b12 entry_SYSCALL_64+0x6e ([kernel.kallsyms])
\t    7ffe7e031cf0 [unknown] ([unknown])

perf 4300 12345.000004:    1001001 cpu-clock:ppp: 
\t          51234 cmd_record+0x10 (/usr/bin/perf)

bootstrap 4242 12345.000005:    1001001 cpu-clock:ppp: 
\t          14c00 core::ptr::drop_in_place<(alloc::string::String, [u8; 32])>+0x8 (/var/task/bootstrap)
\t          11111 perf_mmap__push+0x3 (/usr/bin/perf)
\t          14f1d main+0x2d (/var/task/bootstrap)
bootstrap 4242 12345.000006:    1001001 cpu-clock:ppp: 
\t          14f1d main+0x2d (/var/task/bootstrap)
";

    #[test]
    fn folds_perf_script_root_first_and_merges_identical_stacks() {
        let stacks = fold_perf_script(SCRIPT);
        let expected: Vec<(String, u64)> = vec![
            ("[unknown];entry_SYSCALL_64;_int_free;[bootstrap]".to_string(), 1),
            ("main".to_string(), 1),
            ("main;core::ptr::drop_in_place<(alloc::string::String, [u8, 32])>".to_string(), 1),
            ("main;tokio::runtime::park::CachedParkThread::block_on;posts::handler::list".to_string(), 2),
        ];
        assert_eq!(stacks, expected);
    }

    #[test]
    fn kernel_frames_with_unknown_symbols_keep_their_object() {
        let stacks =
            fold_perf_script("swapper 0 [000] 1.0: 1 cpu-clock:\n\tffffffff81000000 [unknown] ([kernel.kallsyms])\n");
        assert_eq!(stacks, vec![("[kernel.kallsyms]".to_string(), 1)]);
    }

    #[test]
    fn ignores_lines_that_are_not_frames() {
        let text = "bootstrap 1 1.0: 1 cpu-clock:\n\tnot a frame\n\t1f main (/bin/x)\n\n\n";
        assert_eq!(fold_perf_script(text), vec![("main".to_string(), 1)]);
        assert!(fold_perf_script("").is_empty());
    }

    #[test]
    fn header_comm_keeps_spaces_and_ignores_the_pid() {
        assert_eq!(header_comm("tokio-runtime-w 4242/4250 12345.1: 1 cpu-clock:"), "tokio-runtime-w");
        assert_eq!(header_comm("my worker 12 [001] 1.0: 1 cycles:"), "my worker");
    }

    #[test]
    fn strips_rust_hash_suffixes() {
        assert_eq!(strip_hash_suffixes("core::fmt::write::h0123456789abcdef"), "core::fmt::write");
        assert_eq!(
            strip_hash_suffixes("<T as core::any::Any>::type_id::hAbCdEf0123456789"),
            "<T as core::any::Any>::type_id"
        );
        assert_eq!(
            strip_hash_suffixes("std::rt::lang_start::{{closure}}::h8c507c98f25de309"),
            "std::rt::lang_start::{{closure}}"
        );
        // Not a hash: too short, too long, not hex, or a real name starting with `h`.
        assert_eq!(strip_hash_suffixes("foo::h0123"), "foo::h0123");
        assert_eq!(strip_hash_suffixes("foo::h0123456789abcdef0"), "foo::h0123456789abcdef0");
        assert_eq!(strip_hash_suffixes("foo::h0123456789abcdeg"), "foo::h0123456789abcdeg");
        assert_eq!(strip_hash_suffixes("http::header::handle"), "http::header::handle");
        assert_eq!(strip_hash_suffixes(""), "");
    }

    #[test]
    fn strips_offsets_only() {
        assert_eq!(strip_offset("memcpy+0x1f"), "memcpy");
        assert_eq!(strip_offset("operator+"), "operator+");
        assert_eq!(strip_offset("a+0x"), "a+0x");
    }

    #[test]
    fn splits_the_dso_at_the_closing_group() {
        assert_eq!(split_dso("f<(A, B)> (/bin/x)"), ("f<(A, B)>", "/bin/x"));
        assert_eq!(
            split_dso("[unknown] (/var/task/bootstrap (deleted))"),
            ("[unknown]", "/var/task/bootstrap (deleted)")
        );
        assert_eq!(split_dso("no_dso"), ("no_dso", ""));
        assert_eq!(dso_file_name("/var/task/bootstrap (deleted)"), "bootstrap");
        assert_eq!(dso_file_name(""), "unknown");
    }

    #[test]
    fn shortens_long_names_keeping_both_ends() {
        let long = format!("<impl {}>::poll", "Future<Output = Result<Vec<u8>, Error>> + ".repeat(10));
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_NAME_CHARS);
        assert!(short.starts_with("<impl Future<Output"));
        assert!(short.ends_with(">::poll"));
        assert!(short.contains('…'));
        assert_eq!(shorten("main"), "main");
    }

    fn sample_stacks() -> Vec<(String, u64)> {
        vec![
            ("main;<impl Foo<&T>>::bar;a&b".to_string(), 600),
            ("main;serde_json::to_vec".to_string(), 399),
            ("main;tiny".to_string(), 1),
            ("[bootstrap]".to_string(), 9000),
        ]
    }

    #[test]
    fn renders_well_formed_escaped_svg() {
        let svg = render_svg("posts: list <warm> & \"hot\"", &sample_stacks());
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("&lt;impl Foo&lt;&amp;T&gt;&gt;::bar"));
        assert!(svg.contains("a&amp;b (600 samples, 6.00 %)"));
        assert!(svg.contains("posts: list &lt;warm&gt; &amp; &quot;hot&quot;"));
        assert!(!svg.contains("<impl"));
        assert!(!svg.contains("a&b"));
        assert!(svg.contains("<title>all (10000 samples, 100.00 %)</title>"));
        assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
        assert_eq!(svg.matches("<svg").count(), 1);
        // 1 sample in 10 000 is under 0.1 %: left inside `main`.
        assert!(!svg.contains("tiny"));
        // all, [bootstrap], main, <impl …>::bar, a&b, serde_json::to_vec.
        assert_eq!(svg.matches("<rect x=\"").count(), 1 + 6);
        assert!(svg.contains("width=\"1200\""));
    }

    #[test]
    fn renders_an_empty_profile() {
        let svg = render_svg("nothing", &[]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("No samples."));
    }

    #[test]
    fn colors_are_stable_and_warm() {
        let (r, g, b) = warm_color("posts::handler::list");
        assert_eq!(warm_color("posts::handler::list"), (r, g, b));
        assert!(r >= 205 && g <= 230 && b <= 55);
    }

    #[test]
    fn labels_fit_their_rect() {
        assert_eq!(fit_label("main", 10.0), None);
        assert_eq!(fit_label("main", 100.0).as_deref(), Some("main"));
        assert_eq!(fit_label("serde_json::to_vec", 6.0 + 7.0 * 6.0).as_deref(), Some("serd.."));
    }

    #[test]
    fn top_frames_by_self_and_total_time() {
        let table = top_frames_markdown(&sample_stacks(), 2);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[2], "| 1 | `[bootstrap]` | 90.0 | `[bootstrap]` | 90.0 |");
        assert_eq!(lines[3], "| 2 | `a&b` | 6.0 | `main` | 10.0 |");
        assert_eq!(top_frames_markdown(&[], 5), "_No samples._\n");
    }

    #[test]
    fn recursion_counts_once_in_total_time() {
        let stacks = vec![("main;walk;walk;walk".to_string(), 4)];
        let table = top_frames_markdown(&stacks, 3);
        assert!(table.contains("`walk` | 100.0 |"));
        assert!(!table.contains("300.0"));
    }
}
