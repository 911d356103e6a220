//! librdkafka load through the `rdkafka` crate: the tuned producer and
//! consumer settings every benchmark shares, topic creation, log end offsets,
//! a (optionally rate-limited) producer loop, a counting consumer, a
//! lag-measuring consumer and the consume-and-produce pipeline that stands in
//! for MirrorMaker.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

/// Producer and consumer tuning, settable from the command line.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub linger_ms: u32,
    pub batch_size: u32,
    /// Extra librdkafka producer properties (override the defaults).
    pub producer: Vec<(String, String)>,
    /// Extra librdkafka consumer properties (override the defaults).
    pub consumer: Vec<(String, String)>,
}

impl Tuning {
    /// The producer configuration used everywhere: acks=all, no compression,
    /// large batches and a deep local queue.
    pub fn producer_config(&self, bootstrap: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", bootstrap)
            .set("client.id", "strait-bench-producer")
            .set("acks", "all")
            .set("compression.type", "none")
            .set("linger.ms", self.linger_ms.to_string())
            .set("batch.size", self.batch_size.to_string())
            // Requests may carry one full batch for each of several partitions.
            .set("message.max.bytes", "16777216")
            .set("queue.buffering.max.kbytes", "1048576")
            .set("queue.buffering.max.messages", "2000000")
            .set("max.in.flight.requests.per.connection", "5")
            .set("enable.idempotence", "false")
            .set("socket.send.buffer.bytes", "4194304");
        for (k, v) in &self.producer {
            c.set(k, v);
        }
        c
    }

    /// The consumer configuration used everywhere: manual assignment, big
    /// fetches, no commits.
    pub fn consumer_config(&self, bootstrap: &str, group: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", bootstrap)
            .set("client.id", "strait-bench-consumer")
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            .set("fetch.min.bytes", "1")
            .set("max.partition.fetch.bytes", "4194304")
            .set("fetch.max.bytes", "67108864")
            .set("queued.max.messages.kbytes", "262144")
            .set("socket.receive.buffer.bytes", "4194304");
        for (k, v) in &self.consumer {
            c.set(k, v);
        }
        c
    }
}

/// Producer context that counts delivery reports.
#[derive(Default)]
pub struct Counting {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut slot) = self.first_error.lock()
                    && slot.is_none()
                {
                    *slot = Some(e.to_string());
                }
            }
        }
    }
}

impl Counting {
    fn check(&self) -> Result<()> {
        if self.failed.load(Ordering::Relaxed) > 0 {
            let first = self
                .first_error
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_default();
            bail!(
                "{} record(s) failed delivery; first error: {first}",
                self.failed.load(Ordering::Relaxed)
            );
        }
        Ok(())
    }
}

pub type CountingProducer = BaseProducer<Counting>;

pub fn producer(config: &ClientConfig) -> Result<CountingProducer> {
    config
        .create_with_context(Counting::default())
        .context("creating the librdkafka producer")
}

pub fn consumer(config: &ClientConfig) -> Result<BaseConsumer> {
    config.create().context("creating the librdkafka consumer")
}

/// Wall clock in microseconds since the epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Creates a topic (replication factor 1) and waits for the answer.
pub fn create_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating the librdkafka admin client")?;
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = futures_executor::block_on(admin.create_topics([&topic], &opts))
        .with_context(|| format!("creating topic {name} on {bootstrap}"))?;
    for r in results {
        if let Err((topic, code)) = r {
            bail!("creating topic {topic} on {bootstrap}: {code}");
        }
    }
    Ok(())
}

/// Assigns partitions 0..n of a topic to a consumer, from `offset`.
pub fn assign_all(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
    offset: Offset,
) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, offset)
            .with_context(|| format!("assigning {topic}-{p}"))?;
    }
    consumer.assign(&tpl).context("assigning partitions")?;
    Ok(())
}

/// High watermarks (what a consumer can read up to) of partitions 0..n.
pub fn high_watermarks(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Result<Vec<i64>> {
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map(|(_, high)| high)
                .with_context(|| format!("reading the offsets of {topic}-{p}"))
        })
        .collect()
}

/// What a produce run did.
#[derive(Debug, Clone, Copy)]
pub struct ProduceOutcome {
    pub records: u64,
    pub payload_bytes: u64,
    /// From the first send to the last acknowledgement.
    pub elapsed: Duration,
}

/// What to produce.
pub struct ProduceSpec<'a> {
    pub topic: &'a str,
    pub partitions: i32,
    pub records: u64,
    pub record_size: usize,
    /// Payload bytes per second; None = as fast as possible.
    pub rate: Option<f64>,
}

/// Produces `records` values of `record_size` bytes round-robin over the
/// partitions and waits for every acknowledgement. Each value starts with the
/// send time (microseconds since the epoch, big-endian), then filler bytes
/// that do not compress.
pub fn produce(producer: &CountingProducer, spec: &ProduceSpec<'_>) -> Result<ProduceOutcome> {
    if spec.record_size < 8 {
        bail!("records must be at least 8 bytes to carry their send time");
    }
    let mut payload = filler(spec.record_size);
    let ctx = producer.context().clone();
    let start = Instant::now();
    for i in 0..spec.records {
        if let Some(rate) = spec.rate {
            loop {
                let due = (start.elapsed().as_secs_f64() * rate / spec.record_size as f64) as u64;
                if i < due {
                    break;
                }
                producer.poll(Duration::ZERO);
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        payload[..8].copy_from_slice(&now_micros().to_be_bytes());
        let partition = (i % spec.partitions.max(1) as u64) as i32;
        loop {
            let record = BaseRecord::<(), [u8]>::to(spec.topic)
                .payload(&payload[..])
                .partition(partition);
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(anyhow!("producing to {}: {e}", spec.topic)),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
            ctx.check()?;
        }
    }
    producer
        .flush(Duration::from_secs(300))
        .context("waiting for the last acknowledgements")?;
    let elapsed = start.elapsed();
    ctx.check()?;
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    if delivered < spec.records {
        bail!(
            "only {delivered} of {} records were acknowledged",
            spec.records
        );
    }
    Ok(ProduceOutcome {
        records: spec.records,
        payload_bytes: spec.records * spec.record_size as u64,
        elapsed,
    })
}

fn filler(size: usize) -> Vec<u8> {
    // xorshift: incompressible, deterministic, no dependency.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// What a consume run did.
#[derive(Debug, Clone, Copy)]
pub struct ConsumeOutcome {
    pub records: u64,
    pub payload_bytes: u64,
    /// From the assignment to the last record.
    pub elapsed: Duration,
}

/// Reads `expect` records from the beginning of `partitions`, calling
/// `ready` once connected (so that several consumers can start together).
pub fn consume_partitions(
    config: &ClientConfig,
    topic: &str,
    partitions: &[i32],
    expect: u64,
    timeout: Duration,
    ready: &dyn Fn(),
) -> Result<ConsumeOutcome> {
    let c = consumer(config)?;
    ready();
    let start = Instant::now();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .with_context(|| format!("assigning {topic}-{p}"))?;
    }
    c.assign(&tpl).context("assigning partitions")?;
    let (mut records, mut bytes) = (0u64, 0u64);
    while records < expect {
        if start.elapsed() > timeout {
            bail!("consumed only {records} of {expect} records of {topic} in {timeout:?}");
        }
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => eprintln!("consumer error (continuing): {e}"),
            None => {}
        }
    }
    Ok(ConsumeOutcome {
        records,
        payload_bytes: bytes,
        elapsed: start.elapsed(),
    })
}

/// Latencies seen by a consumer, in milliseconds.
#[derive(Debug, Default)]
pub struct LagSamples {
    /// Visible on the destination minus the record's timestamp (the source's
    /// log append time).
    pub append_to_visible_ms: Vec<f64>,
    /// Visible on the destination minus the producer's send time in the payload.
    pub send_to_visible_ms: Vec<f64>,
    pub records: u64,
}

/// Consumes `expect` records from the beginning of partitions 0..n and
/// records, for each record sent at or after `measure_from_us`, how long
/// after its source append (record timestamp) and its send (payload) it
/// became visible here. Signals `ready` once assigned.
pub fn consume_lag(
    config: &ClientConfig,
    topic: &str,
    partitions: i32,
    expect: u64,
    measure_from_us: Arc<AtomicU64>,
    ready: Arc<AtomicBool>,
    timeout: Duration,
) -> Result<LagSamples> {
    let c = consumer(config)?;
    assign_all(&c, topic, partitions, Offset::Beginning)?;
    // One empty poll so the fetchers are running before the load starts.
    let _ = c.poll(Duration::from_millis(200));
    ready.store(true, Ordering::Release);
    let start = Instant::now();
    let mut out = LagSamples::default();
    while out.records < expect {
        if start.elapsed() > timeout {
            bail!(
                "saw only {} of {expect} records of {topic} in {timeout:?}",
                out.records
            );
        }
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let now = now_micros();
                out.records += 1;
                let Some(payload) = m.payload() else { continue };
                let Some(sent) = payload.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                    continue;
                };
                let sent = i64::from_be_bytes(sent);
                if sent < measure_from_us.load(Ordering::Relaxed) as i64 {
                    continue;
                }
                out.send_to_visible_ms.push((now - sent) as f64 / 1000.0);
                if let Some(ts) = m.timestamp().to_millis() {
                    out.append_to_visible_ms
                        .push(now as f64 / 1000.0 - ts as f64);
                }
            }
            Some(Err(e)) => eprintln!("consumer error (continuing): {e}"),
            None => {}
        }
    }
    Ok(out)
}

/// What the consume-and-produce pipeline did.
#[derive(Debug, Clone, Copy)]
pub struct PipelineOutcome {
    pub records: u64,
    pub payload_bytes: u64,
    /// From the assignment to the last acknowledgement on the destination.
    pub elapsed: Duration,
}

/// The MirrorMaker approach: one librdkafka consumer on the source, one
/// producer to the destination, each record sent to the same partition with
/// its key, value and timestamp. Returns once `expect` records are
/// acknowledged by the destination.
pub fn pipeline(
    consumer_config: &ClientConfig,
    producer_config: &ClientConfig,
    source_topic: &str,
    dest_topic: &str,
    partitions: i32,
    expect: u64,
    timeout: Duration,
) -> Result<PipelineOutcome> {
    let c = consumer(consumer_config)?;
    let p = producer(producer_config)?;
    let ctx = p.context().clone();
    let start = Instant::now();
    assign_all(&c, source_topic, partitions, Offset::Beginning)?;
    let (mut sent, mut bytes) = (0u64, 0u64);
    while sent < expect {
        if start.elapsed() > timeout {
            bail!("pipeline copied only {sent} of {expect} records in {timeout:?}");
        }
        let Some(next) = c.poll(Duration::from_millis(100)) else {
            p.poll(Duration::ZERO);
            continue;
        };
        let m = match next {
            Ok(m) => m,
            Err(e) => {
                eprintln!("pipeline consumer error (continuing): {e}");
                continue;
            }
        };
        loop {
            let mut record = BaseRecord::<[u8], [u8]>::to(dest_topic).partition(m.partition());
            if let Some(v) = m.payload() {
                record = record.payload(v);
            }
            if let Some(k) = m.key() {
                record = record.key(k);
            }
            if let Some(ts) = m.timestamp().to_millis() {
                record = record.timestamp(ts);
            }
            match p.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    p.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(anyhow!("pipeline producing to {dest_topic}: {e}")),
            }
        }
        sent += 1;
        bytes += m.payload_len() as u64;
        if sent % 256 == 0 {
            p.poll(Duration::ZERO);
            ctx.check()?;
        }
    }
    p.flush(Duration::from_secs(300))
        .context("pipeline: waiting for the last acknowledgements")?;
    let elapsed = start.elapsed();
    ctx.check()?;
    Ok(PipelineOutcome {
        records: sent,
        payload_bytes: bytes,
        elapsed,
    })
}
