//! `strait-bench http`: what the HTTP front door costs, side by side in one
//! run on one broker with `confluent.http.server.listeners` set:
//! - a `/metrics` scrape of a broker holding `--scale-partitions`
//!   partitions (default 10,000): wall time per scrape, size and series;
//! - librdkafka produce throughput with and without a scraper polling
//!   `/metrics` every `--scrape-interval-ms`, runs alternating (A B B A ...)
//!   so drift of the shared machine hits both alike; the figure is the
//!   median of the ratios of adjacent pairs, beside the broker's CPU
//!   seconds per GB with and without the scraper, which noise from other
//!   processes moves far less than wall time;
//! - REST produce (`POST /topics/{t}/records`, `--rest-batch` BINARY
//!   records per body, one client) against the librdkafka baseline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Value, json};

use crate::HttpArgs;
use crate::kafka::{self, ProduceSpec};
use crate::report::{self, mb_per_s};
use crate::server::{self, Server};

const SCRAPE_LIMIT_S: f64 = 1.0;
const PRODUCE_SLOWDOWN_LIMIT: f64 = 0.05;

pub fn run(bin_dir: &std::path::Path, work: &std::path::Path, args: &HttpArgs) -> Result<Value> {
    let load = &args.load;
    let http_port = server::free_port()?;
    let mut config = load.server_config.clone();
    // Every partition keeps its series, so each scrape pays for all of them.
    config.push((
        "strait.metrics.partition.series.max".into(),
        "1000000".into(),
    ));
    config.push((
        "confluent.http.server.listeners".into(),
        format!("http://127.0.0.1:{http_port}"),
    ));
    let mut broker = Server::start(bin_dir, work, "broker", 1, &config)?;
    let bootstrap = broker.bootstrap();
    let base = format!("http://127.0.0.1:{http_port}");
    wait_http(&base)?;
    println!(
        "http benchmark: broker pid {} on {bootstrap}, HTTP on {base}; load average {}",
        broker.pid(),
        report::loadavg()
    );

    // 1. The scrape of a broker with many partitions.
    kafka::create_topic(&bootstrap, "scale", args.scale_partitions, &[])?;
    let mut scrape_s = Vec::new();
    let (mut bytes, mut series) = (0usize, 0usize);
    for _ in 0..args.scrapes {
        let t = Instant::now();
        let text = get(&format!("{base}/metrics"))?;
        scrape_s.push(t.elapsed().as_secs_f64());
        bytes = text.len();
        series = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
    }
    // The broker's CPU per scrape, idle otherwise: the scrape's share of
    // a core at an interval is this over the interval.
    let cpu_before = server::cpu_seconds(broker.pid()).unwrap_or(0.0);
    for _ in 0..args.scrapes {
        get(&format!("{base}/metrics"))?;
    }
    let cpu_per_scrape =
        (server::cpu_seconds(broker.pid()).unwrap_or(0.0) - cpu_before) / f64::from(args.scrapes);
    println!(
        "broker CPU per scrape: {:.1} ms, {:.2}% of a core at a 15 s interval, {:.2}% at {} ms",
        cpu_per_scrape * 1e3,
        cpu_per_scrape / 15.0 * 100.0,
        cpu_per_scrape / (args.scrape_interval_ms as f64 / 1e3) * 100.0,
        args.scrape_interval_ms
    );
    let scrape_median = report::median(&scrape_s);
    let scrape_max = scrape_s.iter().copied().fold(0.0, f64::max);
    println!(
        "scrape with {} partitions: median {:.3} s, max {:.3} s over {} scrapes; {} bytes, {} series (limit {SCRAPE_LIMIT_S} s)",
        args.scale_partitions, scrape_median, scrape_max, args.scrapes, bytes, series
    );
    broker.check_alive()?;

    // 2. Produce with and without a scraper, alternating.
    let tuning = load.tuning();
    let mut plain = Vec::new();
    let mut scraped = Vec::new();
    let mut plain_cpu = Vec::new();
    let mut scraped_cpu = Vec::new();
    let mut pair_ratios = Vec::new();
    let mut previous: Option<(bool, f64)> = None;
    let mut scrapes_during = 0u64;
    for run in 0..args.runs * 2 {
        // A B B A A B ...: each pair has both orders over the runs.
        let with_scraper = (run % 4 == 1) || (run % 4 == 2);
        let topic = format!("produce-{run}");
        kafka::create_topic(&bootstrap, &topic, load.partitions, &[])?;
        let producer = kafka::producer(&tuning.producer_config(&bootstrap))?;
        let scraper = with_scraper.then(|| Scraper::start(&base, args.scrape_interval_ms));
        let cpu_before = server::cpu_seconds(broker.pid()).unwrap_or(0.0);
        let out = kafka::produce(
            &producer,
            &ProduceSpec {
                topic: &topic,
                partitions: load.partitions,
                records: args.records,
                record_size: load.record_size,
                rate: None,
            },
        )?;
        let rate = mb_per_s(out.payload_bytes, out.elapsed);
        let cpu_s_per_gb = (server::cpu_seconds(broker.pid()).unwrap_or(0.0) - cpu_before)
            / (out.payload_bytes as f64 / 1e9);
        // Runs 2k and 2k+1 are one pair, one of each kind.
        match previous.take() {
            Some((was_scraped, before)) if was_scraped != with_scraper => {
                let (s, p) = if with_scraper { (rate, before) } else { (before, rate) };
                pair_ratios.push(s / p);
            }
            _ => previous = Some((with_scraper, rate)),
        }
        if with_scraper {
            scraped_cpu.push(cpu_s_per_gb);
        } else {
            plain_cpu.push(cpu_s_per_gb);
        }
        if let Some(s) = scraper {
            let (n, failed) = s.stop();
            if failed > 0 {
                bail!("{failed} scrapes failed during produce run {run}");
            }
            scrapes_during += n;
            scraped.push(rate);
        } else {
            plain.push(rate);
        }
        println!(
            "produce run {run}{}: {rate:.1} MB/s ({} records in {:.2} s), broker {cpu_s_per_gb:.2} CPU s/GB",
            if with_scraper { " while scraping" } else { "" },
            out.records,
            out.elapsed.as_secs_f64()
        );
        broker.check_alive()?;
    }
    let plain_mb_s = report::median(&plain);
    let scraped_mb_s = report::median(&scraped);
    let slowdown = 1.0 - report::median(&pair_ratios);
    let cpu_overhead = report::median(&scraped_cpu) / report::median(&plain_cpu) - 1.0;
    println!(
        "produce while scraping every {} ms: {scraped_mb_s:.1} MB/s vs {plain_mb_s:.1} MB/s (medians); \
         slowdown {:.1}% as the median of {} adjacent pairs (limit {:.0}%); broker CPU per GB {:+.1}% \
         ({:.2} vs {:.2} s/GB); {scrapes_during} scrapes",
        args.scrape_interval_ms,
        slowdown * 100.0,
        pair_ratios.len(),
        PRODUCE_SLOWDOWN_LIMIT * 100.0,
        cpu_overhead * 100.0,
        report::median(&scraped_cpu),
        report::median(&plain_cpu),
    );

    // 3. REST produce.
    kafka::create_topic(&bootstrap, "rest", load.partitions, &[])?;
    let cluster_id = cluster_id(&base)?;
    let url = format!("{base}/v3/clusters/{cluster_id}/topics/rest/records");
    let value = base64::engine::general_purpose::STANDARD.encode(filler(load.record_size));
    let mut body = Vec::new();
    for i in 0..args.rest_batch {
        let line = json!({
            "partition_id": i as i32 % load.partitions.max(1),
            "value": {"type": "BINARY", "data": value},
        });
        body.extend(serde_json::to_vec(&line)?);
        body.push(b'\n');
    }
    let bodies = args.rest_records.div_ceil(args.rest_batch);
    let t = Instant::now();
    for _ in 0..bodies {
        let resp = ureq::post(&url)
            .set("Content-Type", "application/json")
            .send_bytes(&body)
            .context("REST produce")?
            .into_string()?;
        let ok = resp
            .lines()
            .filter(|l| l.contains("\"error_code\":200"))
            .count();
        if ok as u64 != args.rest_batch {
            bail!(
                "REST produce: {ok} of {} records acknowledged: {resp:.300}",
                args.rest_batch
            );
        }
    }
    let rest_elapsed = t.elapsed();
    let rest_records = bodies * args.rest_batch;
    let rest_mb_s = mb_per_s(rest_records * load.record_size as u64, rest_elapsed);
    println!(
        "REST produce: {rest_mb_s:.1} MB/s, {:.0} records/s ({rest_records} records, {} per body, in {:.2} s) = {:.2}x librdkafka's {plain_mb_s:.1} MB/s",
        rest_records as f64 / rest_elapsed.as_secs_f64(),
        args.rest_batch,
        rest_elapsed.as_secs_f64(),
        rest_mb_s / plain_mb_s
    );
    broker.check_alive()?;
    broker.stop()?;
    Ok(json!({
        "benchmark": "http",
        "started": report::utc_now(),
        "scrape": {
            "partitions": args.scale_partitions,
            "median_s": scrape_median,
            "max_s": scrape_max,
            "bytes": bytes,
            "series": series,
            "limit_s": SCRAPE_LIMIT_S,
            "broker_cpu_s_per_scrape": cpu_per_scrape,
        },
        "produce_while_scraping": {
            "interval_ms": args.scrape_interval_ms,
            "plain_mb_s": plain,
            "scraped_mb_s": scraped,
            "pair_ratios": pair_ratios,
            "slowdown": slowdown,
            "plain_broker_cpu_s_per_gb": plain_cpu,
            "scraped_broker_cpu_s_per_gb": scraped_cpu,
            "broker_cpu_overhead": cpu_overhead,
            "limit": PRODUCE_SLOWDOWN_LIMIT,
        },
        "rest_produce": {
            "records": rest_records,
            "per_body": args.rest_batch,
            "mb_s": rest_mb_s,
            "ratio_to_librdkafka": rest_mb_s / plain_mb_s,
        },
    }))
}

fn get(url: &str) -> Result<String> {
    ureq::get(url)
        .timeout(Duration::from_secs(30))
        .call()
        .with_context(|| format!("GET {url}"))?
        .into_string()
        .with_context(|| format!("reading {url}"))
}

fn wait_http(base: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(&format!("{base}/v3/clusters")).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the HTTP listener {base} did not answer within 30 s")
}

fn cluster_id(base: &str) -> Result<String> {
    let clusters: Value = serde_json::from_str(&get(&format!("{base}/v3/clusters"))?)?;
    clusters["data"][0]["cluster_id"]
        .as_str()
        .map(str::to_string)
        .context("no cluster id in /v3/clusters")
}

fn filler(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A thread scraping `/metrics` at a fixed interval until stopped.
struct Scraper {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Scraper {
    fn start(base: &str, interval_ms: u64) -> Scraper {
        let (stop, done, failed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let url = format!("{base}/metrics");
        let (s, d, f) = (stop.clone(), done.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                match get(&url) {
                    Ok(_) => d.fetch_add(1, Ordering::Relaxed),
                    Err(_) => f.fetch_add(1, Ordering::Relaxed),
                };
                let left = Duration::from_millis(interval_ms).saturating_sub(t.elapsed());
                std::thread::sleep(left);
            }
        });
        Scraper {
            stop,
            done,
            failed,
            thread,
        }
    }

    /// Scrapes done and failed.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
