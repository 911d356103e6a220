//! The few calls the scrape-time collectors make on prometheus-client's
//! encoder: open a family, write one labelled gauge or counter sample. It
//! owns no data and must never allocate per sample.

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

pub static BYTES: Unit = Unit::Bytes;
pub static SECONDS: Unit = Unit::Seconds;

/// Opens a gauge family (`name` without the unit suffix, which `unit` adds).
pub fn gauges<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    unit: Option<&'a Unit>,
) -> Result<MetricEncoder<'a>, std::fmt::Error> {
    encoder.encode_descriptor(name, help, unit, MetricType::Gauge)
}

/// Opens a counter family (`name` without `_total`, which the encoder adds).
pub fn counters<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    unit: Option<&'a Unit>,
) -> Result<MetricEncoder<'a>, std::fmt::Error> {
    encoder.encode_descriptor(name, help, unit, MetricType::Counter)
}

/// One gauge sample of an open family.
pub fn gauge(
    family: &mut MetricEncoder<'_>,
    labels: &impl EncodeLabelSet,
    value: impl EncodeGaugeValue,
) -> std::fmt::Result {
    family.encode_family(labels)?.encode_gauge(&value)
}

/// One counter sample of an open family.
pub fn counter(
    family: &mut MetricEncoder<'_>,
    labels: &impl EncodeLabelSet,
    value: u64,
) -> std::fmt::Result {
    family
        .encode_family(labels)?
        .encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

/// The one sample of an open counter family without labels.
pub fn counter_value(family: &mut MetricEncoder<'_>, value: u64) -> std::fmt::Result {
    family.encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

/// Writes the `name` gauge saying whether per-partition series follow
/// (`count` partitions at most `max`), and returns that.
pub fn series_enabled(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    count: usize,
    max: usize,
) -> Result<bool, std::fmt::Error> {
    let enabled = count <= max;
    gauges(encoder, name, help, None)?.encode_gauge(&flag(enabled))?;
    Ok(enabled)
}

/// 1 for true, 0 for false (state and availability gauges).
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}
