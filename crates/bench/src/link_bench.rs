//! `strait-bench link`: three brokers on one machine: a source, a
//! destination that holds a cluster link to the source, and a plain
//! destination for the consume-and-produce pipeline.
//!
//! * catchup: the source topic is pre-filled with `--bytes` of values over
//!   `--partitions` partitions; the clock starts when the mirror is created
//!   and stops when every mirror partition's high watermark equals the
//!   source's.
//! * pipeline: the same copy by one librdkafka consumer on the source and one
//!   producer (acks=all) to the plain destination, same partition, key,
//!   value and timestamp: the MirrorMaker approach. The clock stops at the
//!   last acknowledgement.
//! * lag / pipeline-lag: a steady `--lag-rate` into a fresh source topic with
//!   message.timestamp.type=LogAppendTime, a consumer on the destination
//!   records for each value (now - record timestamp), i.e. ms from source
//!   append to destination visibility, and (now - send time in the payload).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::LinkArgs;
use crate::admin::Admin;
use crate::broker_bench::{round1, verdict};
use crate::kafka::{self, ProduceSpec, Tuning};
use crate::report::{self, mb_per_s};
use crate::server::{self, RssSampler, Server};

const LINK: &str = "bench-link";
const CATCHUP_TOPIC: &str = "catchup";
const RATIO_TARGET: f64 = 3.0;
const P99_TARGET_MS: f64 = 100.0;

pub fn run(bin_dir: &Path, work: &Path, args: &LinkArgs) -> Result<Value> {
    let load = &args.load;
    let tuning = load.tuning();
    let phases: Vec<&str> = args.phases.iter().map(String::as_str).collect();
    for p in &phases {
        if !["catchup", "pipeline", "lag", "pipeline-lag"].contains(p) {
            bail!("unknown phase {p:?} (catchup, pipeline, lag, pipeline-lag)");
        }
    }
    let want = |p: &str| phases.contains(&p);
    let records = args.bytes / load.record_size as u64;
    println!(
        "link benchmark: {} records of {} B ({:.2} GiB) over {} partitions; lag at {:.1} MB/s for {} s; phases {}; load average {}",
        records,
        load.record_size,
        (records * load.record_size as u64) as f64 / 1073741824.0,
        load.partitions,
        args.lag_rate as f64 / 1e6,
        args.lag_seconds,
        phases.join(","),
        report::loadavg()
    );

    let source = Server::start(bin_dir, work, "source", 1, &load.server_config)?;
    let dest = Server::start(bin_dir, work, "link-dest", 2, &load.server_config)?;
    let needs_pipe = want("pipeline") || want("pipeline-lag");
    let pipe_dest = if needs_pipe {
        Some(Server::start(
            bin_dir,
            work,
            "pipeline-dest",
            3,
            &load.server_config,
        )?)
    } else {
        None
    };
    println!(
        "source pid {} on {}, link destination pid {} on {}{}",
        source.pid(),
        source.bootstrap(),
        dest.pid(),
        dest.bootstrap(),
        pipe_dest
            .as_ref()
            .map(|p| format!(
                ", pipeline destination pid {} on {}",
                p.pid(),
                p.bootstrap()
            ))
            .unwrap_or_default()
    );
    let mut out = json!({
        "benchmark": "link",
        "record_size": load.record_size,
        "partitions": load.partitions,
        "bytes": args.bytes,
        "records": records,
        "link_config": args.link_config.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "linger_ms": load.linger_ms,
        "batch_size": load.batch_size,
    });
    let dest_sampler = RssSampler::start(dest.pid());
    let mut admin = Admin::connect(&dest.bootstrap())?;
    admin.create_link(LINK, &source.bootstrap(), &args.link_config)?;

    let copy_timeout = Duration::from_secs(args.copy_timeout_seconds);
    if want("catchup") || want("pipeline") {
        // Pre-fill.
        kafka::create_topic(&source.bootstrap(), CATCHUP_TOPIC, load.partitions, &[])?;
        let producer = kafka::producer(&tuning.producer_config(&source.bootstrap()))?;
        let load_before = report::loadavg();
        let filled = kafka::produce(
            &producer,
            &ProduceSpec {
                topic: CATCHUP_TOPIC,
                partitions: load.partitions,
                records,
                record_size: load.record_size,
                rate: None,
            },
        )?;
        drop(producer);
        let fill_mb_s = mb_per_s(filled.payload_bytes, filled.elapsed);
        println!(
            "pre-fill: {} records in {:.1} s ({:.1} MB/s produce, {} partitions); load {}",
            filled.records,
            filled.elapsed.as_secs_f64(),
            fill_mb_s,
            load.partitions,
            report::loadavg()
        );
        out["prefill"] = json!({
            "seconds": filled.elapsed.as_secs_f64(),
            "mb_per_s": round1(fill_mb_s),
            "load_average_before": load_before,
            "load_average_after": report::loadavg(),
        });
    }
    let source_hw = if want("catchup") || want("pipeline") {
        let c = kafka::consumer(&tuning.consumer_config(&source.bootstrap(), "bench-offsets"))?;
        kafka::high_watermarks(&c, CATCHUP_TOPIC, load.partitions)?
    } else {
        Vec::new()
    };

    if want("catchup") {
        let load_before = report::loadavg();
        let cpu0 = cpu_of(&[&source, &dest]);
        let self0 = report::self_cpu_seconds();
        let watcher = kafka::consumer(&tuning.consumer_config(&dest.bootstrap(), "bench-watch"))?;
        let start = Instant::now();
        admin.create_mirror(LINK, CATCHUP_TOPIC)?;
        let mut last_print = Instant::now();
        loop {
            let hw = kafka::high_watermarks(&watcher, CATCHUP_TOPIC, load.partitions)
                .unwrap_or_default();
            if hw == source_hw {
                break;
            }
            if start.elapsed() > copy_timeout {
                bail!("mirror did not catch up in {copy_timeout:?}: {hw:?} vs {source_hw:?}");
            }
            if last_print.elapsed() > Duration::from_secs(10) {
                let done: i64 = hw.iter().sum();
                let total: i64 = source_hw.iter().sum();
                println!(
                    "  catch-up: {done}/{total} records after {:.0} s",
                    start.elapsed().as_secs_f64()
                );
                last_print = Instant::now();
            }
            thread::sleep(Duration::from_millis(50));
        }
        let elapsed = start.elapsed();
        let cpu1 = cpu_of(&[&source, &dest]);
        let self1 = report::self_cpu_seconds();
        let desc = admin.describe_mirror(CATCHUP_TOPIC)?;
        let bytes = records * load.record_size as u64;
        let mbs = mb_per_s(bytes, elapsed);
        println!(
            "catch-up (link): {:.1} MB/s, {} records in {:.2} s; mirror state {}; CPU source {:.1} s, destination {:.1} s, bench {:.1} s; load {}",
            mbs,
            records,
            elapsed.as_secs_f64(),
            desc.state,
            cpu1[0] - cpu0[0],
            cpu1[1] - cpu0[1],
            self1 - self0,
            report::loadavg()
        );
        out["catchup"] = json!({
            "seconds": elapsed.as_secs_f64(),
            "mb_per_s": round1(mbs),
            "mirror_state": desc.state,
            "source_cpu_s": round1(cpu1[0] - cpu0[0]),
            "dest_cpu_s": round1(cpu1[1] - cpu0[1]),
            "bench_cpu_s": round1(self1 - self0),
            "load_average_before": load_before,
            "load_average_after": report::loadavg(),
        });
    }

    if want("pipeline") {
        let pipe = pipe_dest
            .as_ref()
            .ok_or_else(|| anyhow!("no pipeline destination"))?;
        kafka::create_topic(&pipe.bootstrap(), CATCHUP_TOPIC, load.partitions, &[])?;
        let load_before = report::loadavg();
        let cpu0 = cpu_of(&[&source, pipe]);
        let self0 = report::self_cpu_seconds();
        let copied = kafka::pipeline(
            &tuning.consumer_config(&source.bootstrap(), "bench-pipeline"),
            &tuning.producer_config(&pipe.bootstrap()),
            CATCHUP_TOPIC,
            CATCHUP_TOPIC,
            load.partitions,
            records,
            copy_timeout,
        )?;
        let cpu1 = cpu_of(&[&source, pipe]);
        let self1 = report::self_cpu_seconds();
        let mbs = mb_per_s(copied.payload_bytes, copied.elapsed);
        println!(
            "pipeline (librdkafka consume + produce): {:.1} MB/s, {} records in {:.2} s; CPU source {:.1} s, destination {:.1} s, bench {:.1} s; load {}",
            mbs,
            copied.records,
            copied.elapsed.as_secs_f64(),
            cpu1[0] - cpu0[0],
            cpu1[1] - cpu0[1],
            self1 - self0,
            report::loadavg()
        );
        out["pipeline"] = json!({
            "seconds": copied.elapsed.as_secs_f64(),
            "mb_per_s": round1(mbs),
            "source_cpu_s": round1(cpu1[0] - cpu0[0]),
            "dest_cpu_s": round1(cpu1[1] - cpu0[1]),
            "bench_cpu_s": round1(self1 - self0),
            "load_average_before": load_before,
            "load_average_after": report::loadavg(),
        });
    }

    let lag_records = args.lag_rate * args.lag_seconds / load.record_size as u64;
    if want("lag") {
        let topic = "lag";
        kafka::create_topic(
            &source.bootstrap(),
            topic,
            load.partitions,
            &[("message.timestamp.type", "LogAppendTime")],
        )?;
        admin.create_mirror(LINK, topic)?;
        let result = lag_phase(
            &tuning,
            args,
            &source.bootstrap(),
            &dest.bootstrap(),
            topic,
            lag_records,
            None,
        )?;
        println!("lag (link): {}", summary_line(&result));
        out["lag"] = result;
    }

    if want("pipeline-lag") {
        let pipe = pipe_dest
            .as_ref()
            .ok_or_else(|| anyhow!("no pipeline destination"))?;
        let topic = "lag-pipeline";
        kafka::create_topic(
            &source.bootstrap(),
            topic,
            load.partitions,
            &[("message.timestamp.type", "LogAppendTime")],
        )?;
        kafka::create_topic(&pipe.bootstrap(), topic, load.partitions, &[])?;
        let result = lag_phase(
            &tuning,
            args,
            &source.bootstrap(),
            &pipe.bootstrap(),
            topic,
            lag_records,
            Some(&pipe.bootstrap()),
        )?;
        println!("lag (pipeline): {}", summary_line(&result));
        out["pipeline_lag"] = result;
    }

    let dest_peak_kib = dest_sampler.finish();
    let dest_hwm = server::memory_kib(dest.pid()).map(|(_, h)| h).unwrap_or(0);
    let source_hwm = server::memory_kib(source.pid())
        .map(|(_, h)| h)
        .unwrap_or(0);
    out["memory"] = json!({
        "link_dest_vm_hwm_mib": round1(dest_hwm as f64 / 1024.0),
        "link_dest_sampled_peak_rss_mib": round1(dest_peak_kib as f64 / 1024.0),
        "source_vm_hwm_mib": round1(source_hwm as f64 / 1024.0),
    });
    for s in [Some(source), Some(dest), pipe_dest].into_iter().flatten() {
        s.stop()?;
    }

    println!("--- link benchmark summary ---");
    let catchup = out["catchup"]["mb_per_s"].as_f64();
    let pipe = out["pipeline"]["mb_per_s"].as_f64();
    let mut targets =
        json!({"catchup_ratio_at_least": RATIO_TARGET, "p99_ms_below": P99_TARGET_MS});
    if let (Some(c), Some(p)) = (catchup, pipe) {
        let ratio = c / p;
        println!(
            "catch-up {c:.1} MB/s vs pipeline {p:.1} MB/s: {ratio:.2}x (target >= {RATIO_TARGET}x: {})",
            verdict(ratio >= RATIO_TARGET)
        );
        targets["catchup_ratio"] = json!((ratio * 100.0).round() / 100.0);
        targets["catchup_met"] = json!(ratio >= RATIO_TARGET);
    }
    if let Some(p99) = out["lag"]["append_to_visible"]["p99_ms"].as_f64() {
        let p50 = out["lag"]["append_to_visible"]["p50_ms"]
            .as_f64()
            .unwrap_or(f64::NAN);
        println!(
            "link lag at {:.0} MB/s: p50 {p50:.1} ms, p99 {p99:.1} ms (target p99 < {P99_TARGET_MS} ms: {})",
            args.lag_rate as f64 / 1e6,
            verdict(p99 < P99_TARGET_MS)
        );
        targets["lag_p99_met"] = json!(p99 < P99_TARGET_MS);
    }
    if let Some(p99) = out["pipeline_lag"]["append_to_visible"]["p99_ms"].as_f64() {
        let p50 = out["pipeline_lag"]["append_to_visible"]["p50_ms"]
            .as_f64()
            .unwrap_or(f64::NAN);
        println!(
            "pipeline lag at {:.0} MB/s: p50 {p50:.1} ms, p99 {p99:.1} ms",
            args.lag_rate as f64 / 1e6
        );
    }
    println!(
        "link destination RSS: VmHWM {:.1} MiB",
        dest_hwm as f64 / 1024.0
    );
    out["targets"] = targets;
    Ok(out)
}

/// Produces `records` at the steady rate into `topic` on the source while a
/// consumer on `visible_on` measures lag. With `pipeline_to`, a
/// consume-and-produce pipeline copies the topic there meanwhile (otherwise
/// the link's mirror of `topic` is what the consumer reads).
fn lag_phase(
    tuning: &Tuning,
    args: &LinkArgs,
    source: &str,
    visible_on: &str,
    topic: &str,
    records: u64,
    pipeline_to: Option<&str>,
) -> Result<Value> {
    let load = &args.load;
    let partitions = load.partitions;
    let timeout = Duration::from_secs(args.lag_seconds * 3 + 120);
    // Wait until the destination knows the topic (the mirror's metadata).
    let probe = kafka::consumer(&tuning.consumer_config(visible_on, "bench-probe"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while kafka::high_watermarks(&probe, topic, partitions).is_err() {
        if Instant::now() > deadline {
            bail!("{topic} never appeared on {visible_on}");
        }
        thread::sleep(Duration::from_millis(200));
    }
    drop(probe);

    let measure_from = Arc::new(AtomicU64::new(u64::MAX));
    let ready = Arc::new(AtomicBool::new(false));
    let consumer_handle = {
        let config = tuning.consumer_config(visible_on, &format!("bench-lag-{topic}"));
        let (topic, measure_from, ready) = (topic.to_string(), measure_from.clone(), ready.clone());
        thread::spawn(move || {
            kafka::consume_lag(
                &config,
                &topic,
                partitions,
                records,
                measure_from,
                ready,
                timeout,
            )
        })
    };
    let pipeline_handle = pipeline_to.map(|dest| {
        let cc = tuning.consumer_config(source, &format!("bench-lag-pipeline-{topic}"));
        let pc = tuning.producer_config(dest);
        let topic = topic.to_string();
        thread::spawn(move || {
            kafka::pipeline(&cc, &pc, &topic, &topic, partitions, records, timeout)
        })
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.load(Ordering::Acquire) {
        if Instant::now() > deadline || consumer_handle.is_finished() {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let load_before = report::loadavg();
    let producer = kafka::producer(&tuning.producer_config(source))?;
    let warmup = Duration::from_secs(args.lag_warmup_seconds);
    measure_from.store(
        (kafka::now_micros() + warmup.as_micros() as i64) as u64,
        Ordering::Relaxed,
    );
    let produced = kafka::produce(
        &producer,
        &ProduceSpec {
            topic,
            partitions,
            records,
            record_size: load.record_size,
            rate: Some(args.lag_rate as f64),
        },
    )?;
    drop(producer);
    let mut samples = consumer_handle
        .join()
        .map_err(|_| anyhow!("lag consumer thread panicked"))?
        .context("lag consumer")?;
    if let Some(h) = pipeline_handle {
        h.join()
            .map_err(|_| anyhow!("pipeline thread panicked"))?
            .context("lag pipeline")?;
    }
    let achieved = mb_per_s(produced.payload_bytes, produced.elapsed);
    Ok(json!({
        "topic": topic,
        "rate_mb_per_s_target": args.lag_rate as f64 / 1e6,
        "rate_mb_per_s_achieved": round1(achieved),
        "seconds": produced.elapsed.as_secs_f64(),
        "records": samples.records,
        "warmup_seconds": args.lag_warmup_seconds,
        "append_to_visible": report::latency_summary(&mut samples.append_to_visible_ms),
        "send_to_visible": report::latency_summary(&mut samples.send_to_visible_ms),
        "load_average_before": load_before,
        "load_average_after": report::loadavg(),
    }))
}

fn summary_line(v: &Value) -> String {
    let a = &v["append_to_visible"];
    let s = &v["send_to_visible"];
    format!(
        "{} MB/s achieved; append->visible p50 {} ms, p99 {} ms, max {} ms; send->visible p50 {} ms, p99 {} ms ({} samples); load {}",
        v["rate_mb_per_s_achieved"],
        a["p50_ms"],
        a["p99_ms"],
        a["max_ms"],
        s["p50_ms"],
        s["p99_ms"],
        a["samples"],
        v["load_average_after"]
    )
}

fn cpu_of(servers: &[&Server]) -> Vec<f64> {
    servers
        .iter()
        .map(|s| server::cpu_seconds(s.pid()).unwrap_or(0.0))
        .collect()
}
