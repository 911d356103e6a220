//! `strait-bench broker`: one broker; per run, a fresh topic is filled with
//! `--records` values by `--producers` tuned librdkafka producers (one by
//! default; acks=all, no compression) as fast as it acknowledges them, then read back from the
//! beginning by one librdkafka consumer. Reports MB/s (payload bytes, 10^6
//! per MB), records/s, the CPU seconds the broker and the load generator
//! used, and the broker's RSS (peak sampled VmRSS and the kernel's VmHWM).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use crate::BrokerArgs;
use crate::kafka::{self, ProduceSpec};
use crate::report::{self, mb_per_s};
use crate::server::{self, RssSampler, Server};

const PRODUCE_TARGET_MB_S: f64 = 300.0;
const CONSUME_TARGET_MB_S: f64 = 600.0;
const RSS_LIMIT_MIB: f64 = 256.0;

pub fn run(bin_dir: &Path, work: &Path, args: &BrokerArgs) -> Result<Value> {
    let load = &args.load;
    let tuning = load.tuning();
    println!(
        "broker benchmark: {} runs x {} records of {} B, {} producer(s), {} consumer(s), {} partitions, acks=all, linger.ms={}, batch.size={}; load average {}",
        args.runs,
        args.records,
        load.record_size,
        args.producers,
        args.consumers,
        load.partitions,
        load.linger_ms,
        load.batch_size,
        report::loadavg()
    );
    let mut broker = Server::start(bin_dir, work, "broker", 1, &load.server_config)?;
    let pid = broker.pid();
    let bootstrap = broker.bootstrap();
    println!("broker pid {pid} on {bootstrap}");
    let sampler = RssSampler::start(pid);
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let topic = format!("bench-{run}");
        kafka::create_topic(&bootstrap, &topic, load.partitions, &[])?;

        let load_before = report::loadavg();
        let (b0, s0) = (cpu(pid), report::self_cpu_seconds());
        let produced = produce_with(args, &tuning, &bootstrap, &topic)?;
        let (b1, s1) = (cpu(pid), report::self_cpu_seconds());
        broker.check_alive()?;
        let produce_mb_s = mb_per_s(produced.payload_bytes, produced.elapsed);
        println!(
            "run {run} produce: {:.1} MB/s, {:.0} records/s ({} records in {:.2} s); broker CPU {:.1} s, bench CPU {:.1} s; load {}",
            produce_mb_s,
            produced.records as f64 / produced.elapsed.as_secs_f64(),
            produced.records,
            produced.elapsed.as_secs_f64(),
            b1 - b0,
            s1 - s0,
            report::loadavg()
        );

        let consumed = consume_with(args, &tuning, &bootstrap, &topic, run)?;
        let (b2, s2) = (cpu(pid), report::self_cpu_seconds());
        broker.check_alive()?;
        let consume_mb_s = mb_per_s(consumed.payload_bytes, consumed.elapsed);
        println!(
            "run {run} consume: {:.1} MB/s, {:.0} records/s ({} records in {:.2} s); broker CPU {:.1} s, bench CPU {:.1} s; load {}",
            consume_mb_s,
            consumed.records as f64 / consumed.elapsed.as_secs_f64(),
            consumed.records,
            consumed.elapsed.as_secs_f64(),
            b2 - b1,
            s2 - s1,
            report::loadavg()
        );
        runs.push(json!({
            "run": run,
            "load_average_before": load_before,
            "load_average_after": report::loadavg(),
            "produce": {
                "records": produced.records,
                "payload_bytes": produced.payload_bytes,
                "seconds": produced.elapsed.as_secs_f64(),
                "mb_per_s": round1(produce_mb_s),
                "records_per_s": round1(produced.records as f64 / produced.elapsed.as_secs_f64()),
                "broker_cpu_s": round1(b1 - b0),
                "bench_cpu_s": round1(s1 - s0),
            },
            "consume": {
                "records": consumed.records,
                "payload_bytes": consumed.payload_bytes,
                "seconds": consumed.elapsed.as_secs_f64(),
                "mb_per_s": round1(consume_mb_s),
                "records_per_s": round1(consumed.records as f64 / consumed.elapsed.as_secs_f64()),
                "broker_cpu_s": round1(b2 - b1),
                "bench_cpu_s": round1(s2 - s1),
            },
        }));
    }
    let peak_rss_kib = sampler.finish();
    let hwm_kib = server::memory_kib(pid).map(|(_, hwm)| hwm).unwrap_or(0);
    broker.stop()?;

    let median = |key: &str| {
        let mut v: Vec<f64> = runs
            .iter()
            .filter_map(|r| r[key]["mb_per_s"].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    };
    let (produce_med, consume_med) = (median("produce"), median("consume"));
    let rss_mib = peak_rss_kib.max(hwm_kib) as f64 / 1024.0;
    println!(
        "--- broker benchmark summary (median of {} run(s)) ---",
        runs.len()
    );
    println!(
        "produce {:.1} MB/s (target >= {PRODUCE_TARGET_MB_S}: {})",
        produce_med,
        verdict(produce_med >= PRODUCE_TARGET_MB_S)
    );
    println!(
        "consume {:.1} MB/s (target >= {CONSUME_TARGET_MB_S}: {})",
        consume_med,
        verdict(consume_med >= CONSUME_TARGET_MB_S)
    );
    println!(
        "broker peak RSS {:.1} MiB (VmHWM {:.1} MiB, sampled peak {:.1} MiB; target < {RSS_LIMIT_MIB} MiB: {})",
        rss_mib,
        hwm_kib as f64 / 1024.0,
        peak_rss_kib as f64 / 1024.0,
        verdict(rss_mib < RSS_LIMIT_MIB)
    );
    Ok(json!({
        "benchmark": "broker",
        "records_per_run": args.records,
        "producers": args.producers,
        "consumers": args.consumers,
        "record_size": load.record_size,
        "partitions": load.partitions,
        "linger_ms": load.linger_ms,
        "batch_size": load.batch_size,
        "runs": runs,
        "produce_mb_per_s_median": round1(produce_med),
        "consume_mb_per_s_median": round1(consume_med),
        "broker_vm_hwm_mib": round1(hwm_kib as f64 / 1024.0),
        "broker_sampled_peak_rss_mib": round1(peak_rss_kib as f64 / 1024.0),
        "targets": {
            "produce_mb_per_s": PRODUCE_TARGET_MB_S,
            "consume_mb_per_s": CONSUME_TARGET_MB_S,
            "rss_mib_below": RSS_LIMIT_MIB,
            "produce_met": produce_med >= PRODUCE_TARGET_MB_S,
            "consume_met": consume_med >= CONSUME_TARGET_MB_S,
            "rss_met": rss_mib < RSS_LIMIT_MIB,
        },
    }))
}

fn cpu(pid: u32) -> f64 {
    server::cpu_seconds(pid).unwrap_or(0.0)
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}

/// Records and payload bytes moved by one client of a phase.
trait Moved {
    fn moved(&self) -> (u64, u64);
}

impl Moved for kafka::ProduceOutcome {
    fn moved(&self) -> (u64, u64) {
        (self.records, self.payload_bytes)
    }
}

impl Moved for kafka::ConsumeOutcome {
    fn moved(&self) -> (u64, u64) {
        (self.records, self.payload_bytes)
    }
}

/// Runs `jobs` on their own threads, released together from a start line
/// once each has connected (`job` calls `wait` when ready); returns the
/// records and bytes they moved and the time from the release to the last
/// one finishing.
fn run_together<J, T>(
    jobs: Vec<J>,
    job: impl Fn(J, &dyn Fn()) -> Result<T> + Sync,
) -> Result<(u64, u64, Duration)>
where
    J: Send,
    T: Moved + Send,
{
    let start_line = std::sync::Barrier::new(jobs.len() + 1);
    let (outcomes, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|j| {
                let (start_line, job) = (&start_line, &job);
                scope.spawn(move || {
                    job(j, &|| {
                        start_line.wait();
                    })
                })
            })
            .collect();
        start_line.wait();
        let started = std::time::Instant::now();
        let outcomes: Vec<Result<T>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a benchmark client thread panicked")))
            })
            .collect();
        (outcomes, started.elapsed())
    });
    let (mut records, mut bytes) = (0, 0);
    for outcome in outcomes {
        let (r, b) = outcome?.moved();
        records += r;
        bytes += b;
    }
    Ok((records, bytes, elapsed))
}

/// Fills `topic` with `args.records` values from `args.producers` producers
/// at once, each on its own thread and client; the clock runs from the
/// moment all are connected and released to the last acknowledgement.
fn produce_with(
    args: &BrokerArgs,
    tuning: &kafka::Tuning,
    bootstrap: &str,
    topic: &str,
) -> Result<kafka::ProduceOutcome> {
    let load = &args.load;
    let n = u64::from(args.producers);
    let jobs = (0..n)
        .map(|i| {
            let share = args.records / n + u64::from(i < args.records % n);
            kafka::producer(&tuning.producer_config(bootstrap)).map(|p| (p, share))
        })
        .collect::<Result<Vec<_>>>()?;
    let (records, payload_bytes, elapsed) = run_together(jobs, |(producer, share), ready| {
        ready();
        kafka::produce(
            &producer,
            &ProduceSpec {
                topic,
                partitions: load.partitions,
                records: share,
                record_size: load.record_size,
                rate: None,
            },
        )
    })?;
    Ok(kafka::ProduceOutcome {
        records,
        payload_bytes,
        elapsed,
    })
}

/// Reads `topic` back with `args.consumers` consumers at once, partitions
/// dealt round-robin between them; each expects its partitions' high
/// watermarks. The clock runs from their common start to the last record.
fn consume_with(
    args: &BrokerArgs,
    tuning: &kafka::Tuning,
    bootstrap: &str,
    topic: &str,
    run: u32,
) -> Result<kafka::ConsumeOutcome> {
    let load = &args.load;
    let config = tuning.consumer_config(bootstrap, &format!("bench-consume-{run}"));
    let n = args.consumers.min(load.partitions.max(1) as u32) as i32;
    let ends = {
        let probe = kafka::consumer(&config)?;
        kafka::high_watermarks(&probe, topic, load.partitions)?
    };
    let shares: Vec<(Vec<i32>, u64)> = (0..n)
        .map(|i| {
            let parts: Vec<i32> = (i..load.partitions).step_by(n as usize).collect();
            let expect = parts.iter().map(|p| ends[*p as usize].max(0) as u64).sum();
            (parts, expect)
        })
        .collect();
    let (records, payload_bytes, elapsed) = run_together(shares, |(parts, expect), ready| {
        kafka::consume_partitions(
            &config,
            topic,
            &parts,
            expect,
            Duration::from_secs(1800),
            ready,
        )
    })?;
    Ok(kafka::ConsumeOutcome {
        records,
        payload_bytes,
        elapsed,
    })
}
