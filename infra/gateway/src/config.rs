//! Gateway configuration from the environment and the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::GatewayError;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
pub const DEFAULT_TEMPLATE: &str = "infra/template.yaml";
pub const DEFAULT_BIN_DIR: &str = "target/debug";
pub const DEFAULT_MAX_INSTANCES: usize = 4;

pub const USAGE: &str = "\
usage: local-gateway [--listen ADDR] [--template PATH] [--bin-dir DIR] [--max-instances N]

Serves every HttpApi route of a SAM template, running each function's binary
behind a local Lambda Runtime API.

Environment (arguments win):
  GATEWAY_LISTEN         address to listen on        (default 127.0.0.1:3000)
  GATEWAY_TEMPLATE       SAM template                (default infra/template.yaml)
  GATEWAY_BIN_DIR        where the binaries are      (default target/debug)
  GATEWAY_MAX_INSTANCES  instances per function, >=1 (default 4)
  GATEWAY_SCHEDULE_SECONDS  run every Schedule event this often instead of
                         its template rate (default: the rate)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    pub template_path: PathBuf,
    pub bin_dir: PathBuf,
    pub listen: SocketAddr,
    pub max_instances_per_function: usize,
    /// Set in every instance's environment, over both the gateway's own
    /// environment and the template's variables.
    pub extra_env: Vec<(String, String)>,
    /// Every `Schedule` event runs this often instead of at its rate (tests
    /// and demos do not wait a minute).
    pub schedule_every: Option<Duration>,
}

impl GatewayConfig {
    /// A configuration with the defaults and the given template and bin dir.
    pub fn new(template_path: impl Into<PathBuf>, bin_dir: impl Into<PathBuf>) -> GatewayConfig {
        GatewayConfig {
            template_path: template_path.into(),
            bin_dir: bin_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            max_instances_per_function: DEFAULT_MAX_INSTANCES,
            extra_env: Vec::new(),
            schedule_every: None,
        }
    }

    /// Reads `GATEWAY_*` from the process environment and the process's
    /// arguments (which win). A malformed value is an error naming it.
    pub fn from_env_and_args() -> Result<GatewayConfig, GatewayError> {
        GatewayConfig::from_lookup(|k| std::env::var(k).ok(), std::env::args().skip(1))
    }

    /// [`from_env_and_args`](Self::from_env_and_args) with the environment
    /// and arguments given (for tests).
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<GatewayConfig, GatewayError> {
        let mut listen = env("GATEWAY_LISTEN").map(|v| ("GATEWAY_LISTEN", v));
        let mut template = env("GATEWAY_TEMPLATE");
        let mut bin_dir = env("GATEWAY_BIN_DIR");
        let mut max = env("GATEWAY_MAX_INSTANCES").map(|v| ("GATEWAY_MAX_INSTANCES", v));
        let schedule_every = match env("GATEWAY_SCHEDULE_SECONDS").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Some(Duration::from_secs_f64(seconds)),
                _ => {
                    return Err(GatewayError::Config(format!(
                        "GATEWAY_SCHEDULE_SECONDS={v:?} is not a number of seconds above 0"
                    )));
                }
            },
        };

        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| GatewayError::Config(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--listen" => listen = Some(("--listen", value()?)),
                "--template" => template = Some(value()?),
                "--bin-dir" => bin_dir = Some(value()?),
                "--max-instances" => max = Some(("--max-instances", value()?)),
                other => {
                    return Err(GatewayError::Config(format!("unknown argument {other:?}\n{USAGE}")));
                }
            }
        }

        let listen = match listen {
            None => DEFAULT_LISTEN.parse().map_err(|_| GatewayError::Config("bad default listen address".into()))?,
            Some((name, v)) => v.trim().parse().map_err(|_| {
                GatewayError::Config(format!("{name}={v:?} is not a socket address like 127.0.0.1:3000"))
            })?,
        };
        let max_instances_per_function = match max {
            None => DEFAULT_MAX_INSTANCES,
            Some((name, v)) => match v.trim().parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(GatewayError::Config(format!("{name}={v:?} is not a whole number of at least 1")));
                }
            },
        };
        let non_empty = |name: &str, v: Option<String>, default: &str| match v {
            Some(v) if v.trim().is_empty() => Err(GatewayError::Config(format!("{name} is empty"))),
            Some(v) => Ok(PathBuf::from(v)),
            None => Ok(PathBuf::from(default)),
        };
        Ok(GatewayConfig {
            template_path: non_empty("GATEWAY_TEMPLATE", template, DEFAULT_TEMPLATE)?,
            bin_dir: non_empty("GATEWAY_BIN_DIR", bin_dir, DEFAULT_BIN_DIR)?,
            listen,
            max_instances_per_function,
            extra_env: Vec::new(),
            schedule_every,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(env: &[(&str, &str)], args: &[&str]) -> Result<GatewayConfig, GatewayError> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        GatewayConfig::from_lookup(
            |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            args.iter().map(|s| s.to_string()),
        )
    }

    #[test]
    fn defaults() {
        let c = cfg(&[], &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(c.template_path, PathBuf::from("infra/template.yaml"));
        assert_eq!(c.bin_dir, PathBuf::from("target/debug"));
        assert_eq!(c.max_instances_per_function, 4);
    }

    #[test]
    fn env_and_args() {
        let c = cfg(
            &[("GATEWAY_LISTEN", "0.0.0.0:8080"), ("GATEWAY_MAX_INSTANCES", "2"), ("GATEWAY_BIN_DIR", "out")],
            &["--template", "t.yaml", "--max-instances=3"],
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.template_path, PathBuf::from("t.yaml"));
        assert_eq!(c.bin_dir, PathBuf::from("out"));
        assert_eq!(c.max_instances_per_function, 3);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let e = cfg(&[("GATEWAY_LISTEN", "localhost")], &[]).unwrap_err().to_string();
        assert!(e.contains("GATEWAY_LISTEN"), "{e}");
        let e = cfg(&[("GATEWAY_MAX_INSTANCES", "0")], &[]).unwrap_err().to_string();
        assert!(e.contains("GATEWAY_MAX_INSTANCES"), "{e}");
        let e = cfg(&[("GATEWAY_MAX_INSTANCES", "many")], &[]).unwrap_err().to_string();
        assert!(e.contains("GATEWAY_MAX_INSTANCES"), "{e}");
        assert!(cfg(&[], &["--bogus"]).is_err());
        assert!(cfg(&[], &["--listen"]).is_err());
    }
}
