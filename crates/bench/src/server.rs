//! Real `strait server` processes for the benchmarks: each one gets an
//! ephemeral port on 127.0.0.1 and its own data directory, is waited for
//! until it accepts connections, and is stopped by its own PID (SIGTERM, then
//! SIGKILL). Also reads a process's memory and CPU time from /proc.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One running `strait server`.
pub struct Server {
    pub name: String,
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts `strait server` from `bin_dir` with a config in `root/name`.
    /// `extra` properties are appended to (and override) the defaults.
    pub fn start(
        bin_dir: &Path,
        root: &Path,
        name: &str,
        node_id: i32,
        extra: &[(String, String)],
    ) -> Result<Server> {
        let exe = bin_dir.join("strait");
        if !exe.is_file() {
            bail!(
                "{} not found: build it with `cargo build --release -p strait` \
                 or pass --bin-dir / STRAIT_BIN_DIR",
                exe.display()
            );
        }
        let dir = root.join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let mut props = vec![
            ("node.id".to_string(), node_id.to_string()),
            (
                "listeners".to_string(),
                format!("PLAINTEXT://127.0.0.1:{port}"),
            ),
            (
                "advertised.listeners".to_string(),
                format!("PLAINTEXT://127.0.0.1:{port}"),
            ),
            (
                "log.dirs".to_string(),
                dir.join("data").display().to_string(),
            ),
            ("num.partitions".to_string(), "1".to_string()),
            ("default.replication.factor".to_string(), "1".to_string()),
            ("auto.create.topics.enable".to_string(), "false".to_string()),
        ];
        for (k, v) in extra {
            props.retain(|(key, _)| key != k);
            props.push((k.clone(), v.clone()));
        }
        let config = dir.join("server.properties");
        let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        let log_path = dir.join("server.log");
        let log = File::create(&log_path)?;
        let child = Command::new(&exe)
            .arg("server")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .current_dir(&dir)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let mut server = Server {
            name: name.to_string(),
            port,
            dir,
            child: Some(child),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = server.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                server.child = None;
                bail!(
                    "strait server {name} exited with {status} during startup\n--- log tail ---\n{}",
                    tail(&log_path)
                );
            }
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                let tail = tail(&log_path);
                server.kill();
                bail!(
                    "strait server {name} did not listen on port {port} within {START_TIMEOUT:?}\n{tail}"
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Fails if the process is gone (crashed under load).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            let log = tail(&self.dir.join("server.log"));
            self.child = None;
            bail!(
                "strait server {} died: {status}\n--- log tail ---\n{log}",
                self.name
            );
        }
        Ok(())
    }

    /// SIGTERM by PID, wait, then SIGKILL.
    pub fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) on our own child's PID; no memory is involved.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let deadline = Instant::now() + STOP_TIMEOUT;
            while child.try_wait()?.is_none() {
                if Instant::now() >= deadline {
                    eprintln!(
                        "strait server {} ignored SIGTERM; sending SIGKILL",
                        self.name
                    );
                    child.kill()?;
                    child.wait()?;
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?;
    Ok(listener.local_addr()?.port())
}

fn tail(path: &Path) -> String {
    let mut out = String::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(4000)));
        let _ = f.read_to_string(&mut out);
    }
    out
}

/// (VmRSS, VmHWM) of a process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User + system CPU seconds a process has used.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) / ticks)
}

/// Samples a process's VmRSS every 50 ms on a thread and keeps the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some((rss, _)) = memory_kib(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    /// Stops sampling; the peak VmRSS seen, in KiB.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
