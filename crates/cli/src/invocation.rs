//! What every tool invocation shares: the error type, argument parsing that
//! reports problems in one line, the output sinks, client construction from
//! `--bootstrap-server` plus `--command-config`, and the async runtime.
//! It must never know any tool's flags or output formats.

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::path::Path;

use strait_client::{ClientConfig, ClientError, KafkaClient};

use crate::properties::{PropertiesError, load_properties_file};

/// A failed tool run. Each tool decides how to prefix the message.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad or inconsistent command-line arguments.
    #[error("{0}")]
    Usage(String),
    /// A client or broker error.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A properties file or `k=v` list could not be parsed.
    #[error(transparent)]
    Properties(#[from] PropertiesError),
    /// The command ran but failed for a reason of its own.
    #[error("{0}")]
    Command(String),
    /// Writing the output failed.
    #[error("Could not write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// True when the output went to a closed pipe (e.g. `| head`), which is not worth reporting.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Where a tool writes: standard output for results, standard error for
/// warnings and the final error line.
pub struct Console<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// Parses arguments with clap. Help and version requests print and yield
/// exit code 0; errors are reported as one line on stderr with exit code 1.
pub fn parse_args<A: clap::Parser>(
    args: Vec<OsString>,
    console: &mut Console<'_>,
) -> Result<A, i32> {
    match A::try_parse_from(args) {
        Ok(parsed) => Ok(parsed),
        Err(err) => match err.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                let _ = write!(console.out, "{}", err.render());
                Err(0)
            }
            clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = writeln!(console.err, "too few arguments; see --help");
                Err(1)
            }
            _ => {
                let _ = writeln!(console.err, "{}", one_line_clap_error(&err));
                Err(1)
            }
        },
    }
}

/// The first meaningful line of a clap error, without the `error: ` prefix.
fn one_line_clap_error(err: &clap::Error) -> String {
    let rendered = err.to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "the following required arguments were not provided:" is followed by the list.
    if first.ends_with(':')
        && let Some(next) = lines.next()
        && !next.starts_with("Usage:")
    {
        return format!("{first} {next}");
    }
    first.to_string()
}

/// Client configuration from an optional `--command-config` file, with
/// `--bootstrap-server` taking precedence over the file's `bootstrap.servers`.
pub fn client_config(
    bootstrap_server: &str,
    command_config: Option<&Path>,
    overrides: &[(&str, String)],
) -> Result<ClientConfig, CliError> {
    let mut props: HashMap<String, String> = match command_config {
        Some(path) => load_properties_file(path)?.into_iter().collect(),
        None => HashMap::new(),
    };
    props.insert(
        "bootstrap.servers".to_string(),
        bootstrap_server.to_string(),
    );
    for (key, value) in overrides {
        props.insert((*key).to_string(), value.clone());
    }
    Ok(ClientConfig::from_properties(&props)?)
}

/// A client for a tool run; no I/O happens until the first call.
pub fn client(config: ClientConfig) -> Result<KafkaClient, CliError> {
    Ok(KafkaClient::new(config)?)
}

/// Runs a tool's async body on a single-threaded runtime.
pub fn block_on<F, T>(future: F) -> Result<T, CliError>
where
    F: Future<Output = Result<T, CliError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Command(format!("Could not start the async runtime: {e}")))?;
    runtime.block_on(future)
}

/// The exit code of a tool run that ended with `result`: 0, or 1 with the
/// error as one line on stderr. Output cut off by a closed pipe (`| head`)
/// is not an error.
pub fn exit_code(result: Result<(), CliError>, console: &mut Console<'_>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(err) if err.is_broken_pipe() => 0,
        Err(err) => {
            let _ = writeln!(console.err, "{err}");
            1
        }
    }
}

/// Runs `run` against the process's real stdout/stderr and converts the exit code.
pub fn run_main(
    run: impl FnOnce(Vec<OsString>, &mut Console<'_>) -> i32,
) -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let code = {
        let mut console = Console {
            out: &mut out,
            err: &mut err,
        };
        run(args, &mut console)
    };
    let _ = out.flush();
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Kafka's textual form of a UUID: URL-safe base64 of the 16 bytes, no padding.
pub fn kafka_uuid(id: &uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0) as u32;
        let b1 = chunk.get(1).copied().unwrap_or(0) as u32;
        let b2 = chunk.get(2).copied().unwrap_or(0) as u32;
        let triple = (b0 << 16) | (b1 << 8) | b2;
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = ((triple >> (18 - 6 * i)) & 0x3f) as usize;
            out.push(char::from(ALPHABET[index]));
        }
    }
    out
}

/// Parses Kafka's base64 UUID text back into a UUID.
pub fn parse_kafka_uuid(text: &str) -> Option<uuid::Uuid> {
    let mut bits: u32 = 0;
    let mut bit_count = 0;
    let mut bytes = Vec::with_capacity(16);
    for c in text.chars() {
        let value = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '-' | '+' => 62,
            '_' | '/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | value;
        bit_count += 6;
        if bit_count >= 8 {
            bit_count -= 8;
            bytes.push(((bits >> bit_count) & 0xff) as u8);
        }
    }
    let array: [u8; 16] = bytes.try_into().ok()?;
    Some(uuid::Uuid::from_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trips_through_kafka_text() {
        let id = uuid::Uuid::from_bytes([
            0xbd, 0x1b, 0x6a, 0x16, 0xfa, 0xa6, 0x47, 0x34, 0x8b, 0x92, 0xb8, 0xf3, 0x8f, 0xcc,
            0x99, 0x56,
        ]);
        let text = kafka_uuid(&id);
        assert_eq!(text.len(), 22);
        assert_eq!(text, "vRtqFvqmRzSLkrjzj8yZVg");
        assert_eq!(parse_kafka_uuid(&text), Some(id));
        assert_eq!(kafka_uuid(&uuid::Uuid::nil()), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn bootstrap_flag_overrides_command_config() {
        let dir = std::env::temp_dir().join(format!("strait-cli-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("client.properties");
        let written = std::fs::write(
            &file,
            "bootstrap.servers=other:1\nrequest.timeout.ms=1234\n",
        );
        assert!(written.is_ok());
        let config = client_config("here:9092", Some(&file), &[]);
        let Ok(config) = config else {
            panic!("{config:?}")
        };
        assert_eq!(config.bootstrap_servers, vec!["here:9092".to_string()]);
        assert_eq!(
            config.request_timeout,
            std::time::Duration::from_millis(1234)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
