//! What is measured outside the functions: binary and zip sizes, and
//! throughput through the local gateway under `wrk`.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Size {
    pub binary_bytes: u64,
    /// `bootstrap.zip` as Lambda takes it: the binary named `bootstrap`,
    /// deflated.
    pub zip_bytes: u64,
}

/// The binary's size, and its deployment zip's (made with Python's
/// `zipfile`, deflate level 9, as `cargo lambda build --output-format zip`
/// makes it).
pub fn size(binary: &Path, work_dir: &Path) -> Result<Size, String> {
    let binary_bytes = std::fs::metadata(binary).map_err(|e| format!("{}: {e}", binary.display()))?.len();
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("function");
    let zip = work_dir.join(format!("{name}.zip"));
    let script = "import sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
        \x20   info = zipfile.ZipInfo('bootstrap')\n\
        \x20   info.external_attr = 0o755 << 16\n\
        \x20   info.compress_type = zipfile.ZIP_DEFLATED\n\
        \x20   z.writestr(info, open(sys.argv[1], 'rb').read())\n";
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(binary)
        .arg(&zip)
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if !status.success() {
        return Err(format!("zipping {} failed", binary.display()));
    }
    let zip_bytes = std::fs::metadata(&zip).map_err(|e| e.to_string())?.len();
    Ok(Size { binary_bytes, zip_bytes })
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub target: String,
    pub url_path: String,
    pub connections: u32,
    pub seconds: u32,
    pub requests_per_sec: f64,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    pub non_2xx: u64,
}

/// `wrk` at fixed concurrency against `url`.
pub fn wrk(target: &str, base: &str, path: &str, connections: u32, seconds: u32) -> Result<Throughput, String> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"])
        .arg(format!("{base}{path}"))
        .output()
        .map_err(|e| format!("wrk: {e} (make bench installs Debian's wrk)"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    parse_wrk(&text).map(|(rps, p50, p90, p99, non_2xx)| Throughput {
        target: target.to_owned(),
        url_path: path.to_owned(),
        connections,
        seconds,
        requests_per_sec: rps,
        latency_p50_ms: p50,
        latency_p90_ms: p90,
        latency_p99_ms: p99,
        non_2xx,
    })
}

/// Requests/sec, the 50/90/99 % latencies (ms) and non-2xx answers from
/// wrk's `--latency` output.
fn parse_wrk(text: &str) -> Result<(f64, f64, f64, f64, u64), String> {
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let percentile = |p: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(p))
            .and_then(|v| parse_latency(v.trim()))
            .ok_or_else(|| format!("no {p} latency in wrk's output"))
    };
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok((rps, percentile("50%")?, percentile("90%")?, percentile("99%")?, non_2xx))
}

/// `812.00us`, `3.41ms`, `1.02s` → milliseconds.
fn parse_latency(v: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|x| crate::measure::round2(x * factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 5s test @ http://127.0.0.1:1/echo\n  1 threads and 4 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    3.41ms\n     99%    1.02s\n  4000 requests in 5.00s, 1.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:    800.12\nTransfer/sec:    200.00KB\n";
        assert_eq!(parse_wrk(text).unwrap(), (800.12, 0.81, 3.41, 1020.0, 3));
        assert!(parse_wrk("garbage").is_err());
    }
}
