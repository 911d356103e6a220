//! The JSON the live page polls (`/live/status.json`): every link (state,
//! source, availability, sync tasks and their last errors) and every
//! mirror (state, per-partition lag in records and seconds, and the lag
//! history the sampler kept), built from the link engine's read-only
//! figures. Must never carry a link config other than `bootstrap.servers`.

use serde::Serialize;
use strait_link::{LinkStatus, MirrorStatus};

use super::sampler::{HISTORY_WINDOW, LagHistory, LagSample, SAMPLE_INTERVAL};

#[derive(Debug, Serialize)]
pub struct LiveStatus {
    pub cluster_id: String,
    /// The broker's wall-clock ms when the figures were read.
    pub now_ms: i64,
    pub sample_interval_ms: u64,
    pub history_window_ms: u64,
    /// False when the broker's link engine is not running yet.
    pub links_ready: bool,
    pub links: Vec<LiveLink>,
    pub mirrors: Vec<LiveMirror>,
}

#[derive(Debug, Serialize)]
pub struct LiveLink {
    pub link_name: String,
    pub link_state: &'static str,
    pub source_available: bool,
    pub source_cluster_id: Option<String>,
    pub bootstrap_servers: Option<String>,
    pub fetched_records: u64,
    pub fetched_bytes: u64,
    pub mirror_count: usize,
    pub tasks: Vec<LiveTask>,
}

#[derive(Debug, Serialize)]
pub struct LiveTask {
    pub task_name: String,
    pub state: &'static str,
    pub last_error_ms: Option<i64>,
    pub last_error_message: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LiveMirror {
    pub link_name: String,
    pub mirror_topic_name: String,
    pub source_topic_name: String,
    pub mirror_status: &'static str,
    pub reason: Option<String>,
    /// The sum over the partitions.
    pub lag_records: i64,
    /// The largest over the partitions.
    pub max_lag_seconds: f64,
    pub partitions: Vec<LivePartition>,
    /// Samples after the request's `since` (all kept ones without it).
    pub history: Vec<LivePoint>,
}

#[derive(Debug, Serialize)]
pub struct LivePartition {
    pub partition: i32,
    pub lag_records: i64,
    pub lag_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct LivePoint {
    pub time_ms: i64,
    pub lag_records: i64,
    pub max_lag_seconds: f64,
}

impl From<LagSample> for LivePoint {
    fn from(s: LagSample) -> Self {
        LivePoint {
            time_ms: s.time_ms,
            lag_records: s.lag_records,
            max_lag_seconds: s.max_lag_seconds,
        }
    }
}

/// What the page is shown: `links` and `mirrors` read at `now_ms`, with the
/// history samples taken after `since_ms`; `None` for the figures when the
/// link engine is not running.
pub fn build(
    cluster_id: String,
    now_ms: i64,
    figures: Option<(Vec<LinkStatus>, Vec<MirrorStatus>)>,
    history: &LagHistory,
    since_ms: Option<i64>,
) -> LiveStatus {
    let links_ready = figures.is_some();
    let (mut links, mut mirrors) = figures.unwrap_or_default();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    mirrors.sort_by(|a, b| (&a.link, &a.topic).cmp(&(&b.link, &b.topic)));
    let links = links
        .into_iter()
        .map(|l| LiveLink {
            mirror_count: mirrors.iter().filter(|m| m.link == l.name).count(),
            link_state: l.state,
            source_available: l.source_available,
            source_cluster_id: l.source_cluster_id,
            bootstrap_servers: l.bootstrap_servers,
            fetched_records: l.fetched_records,
            fetched_bytes: l.fetched_bytes,
            tasks: l
                .tasks
                .into_iter()
                .map(|t| LiveTask {
                    task_name: t.task,
                    state: t.state,
                    last_error_ms: t.last_error_ms,
                    last_error_message: t.last_error,
                })
                .collect(),
            link_name: l.name,
        })
        .collect();
    let mut samples = history.samples_after(since_ms);
    let mirrors = mirrors
        .into_iter()
        .map(|m| {
            let now = LagSample::of(&m, now_ms);
            LiveMirror {
                history: samples
                    .remove(&m.topic)
                    .unwrap_or_default()
                    .into_iter()
                    .map(LivePoint::from)
                    .collect(),
                lag_records: now.lag_records,
                max_lag_seconds: now.max_lag_seconds,
                partitions: m
                    .partitions
                    .iter()
                    .map(|p| LivePartition {
                        partition: p.partition,
                        lag_records: p.records,
                        lag_seconds: p.seconds,
                    })
                    .collect(),
                mirror_status: m.state,
                reason: m.reason,
                source_topic_name: m.source_topic,
                mirror_topic_name: m.topic,
                link_name: m.link,
            }
        })
        .collect();
    LiveStatus {
        cluster_id,
        now_ms,
        sample_interval_ms: u64::try_from(SAMPLE_INTERVAL.as_millis()).unwrap_or(u64::MAX),
        history_window_ms: u64::try_from(HISTORY_WINDOW.as_millis()).unwrap_or(u64::MAX),
        links_ready,
        links,
        mirrors,
    }
}

#[cfg(test)]
mod tests {
    use strait_link::{PartitionLag, TaskStatus};

    use super::*;

    #[test]
    fn links_mirrors_and_history_since() {
        let link = LinkStatus {
            name: "dr".into(),
            state: "ACTIVE",
            source_available: false,
            source_cluster_id: Some("src-id".into()),
            bootstrap_servers: Some("h:9092".into()),
            tasks: vec![TaskStatus {
                task: "AclSync".into(),
                state: "IN_ERROR",
                last_error_ms: Some(5),
                last_error: Some("refused".into()),
            }],
            fetched_bytes: 10,
            fetched_records: 1,
        };
        let mirror = MirrorStatus {
            link: "dr".into(),
            topic: "orders".into(),
            state: "ACTIVE",
            source_topic: "orders".into(),
            reason: None,
            fetched_bytes: 0,
            fetched_records: 0,
            verifications: vec![],
            partitions: vec![
                PartitionLag {
                    partition: 0,
                    records: 2,
                    seconds: 4.0,
                },
                PartitionLag {
                    partition: 1,
                    records: 3,
                    seconds: 1.0,
                },
            ],
        };
        let history = LagHistory::new(10, 10);
        history.record(100, std::slice::from_ref(&mirror));
        history.record(200, std::slice::from_ref(&mirror));
        let s = build(
            "c".into(),
            250,
            Some((vec![link], vec![mirror])),
            &history,
            Some(100),
        );
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json["links"][0]["source_cluster_id"], "src-id");
        assert_eq!(json["links"][0]["mirror_count"], 1);
        assert_eq!(
            json["links"][0]["tasks"][0]["last_error_message"],
            "refused"
        );
        assert_eq!(json["mirrors"][0]["lag_records"], 5);
        assert_eq!(json["mirrors"][0]["max_lag_seconds"], 4.0);
        assert_eq!(json["mirrors"][0]["partitions"][1]["lag_records"], 3);
        let times: Vec<i64> = s.mirrors[0].history.iter().map(|p| p.time_ms).collect();
        assert_eq!(times, [200]);
    }

    #[test]
    fn no_engine_no_links() {
        let s = build("c".into(), 1, None, &LagHistory::new(1, 1), None);
        assert!(!s.links_ready && s.links.is_empty() && s.mirrors.is_empty());
    }
}
