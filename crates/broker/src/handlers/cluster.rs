//! DescribeCluster and DescribeLogDirs: what this one-node cluster looks like.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse,
};

use super::{str_bytes, topic_name};
use crate::state::Broker;

pub fn describe_cluster(
    broker: &Broker,
    req: DescribeClusterRequest,
    ctx: &crate::server::ConnectionContext,
) -> DescribeClusterResponse {
    let mut resp = DescribeClusterResponse::default();
    // endpoint_type 1 = brokers; 2 = controllers (this node is both).
    resp.endpoint_type = if req.endpoint_type == 0 {
        1
    } else {
        req.endpoint_type
    };
    resp.cluster_id = str_bytes(broker.cluster_id());
    resp.controller_id = BrokerId(broker.node_id());
    resp.cluster_authorized_operations = i32::MIN;
    let (host, port) = broker.endpoint_for(&ctx.listener);
    let mut b = DescribeClusterBroker::default();
    b.broker_id = BrokerId(broker.node_id());
    b.host = str_bytes(host);
    b.port = port;
    resp.brokers = vec![b];
    resp
}

pub fn describe_log_dirs(broker: &Broker, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let mut resp = DescribeLogDirsResponse::default();
    let wanted = |topic: &str, partition: i32| -> bool {
        match &req.topics {
            None => true,
            Some(list) => list
                .iter()
                .any(|t| t.topic.0.as_str() == topic && t.partitions.contains(&partition)),
        }
    };
    let mut all = broker.topics.all();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    for dir in broker.topics.dirs() {
        let mut result = DescribeLogDirsResult::default();
        result.log_dir = str_bytes(dir.display().to_string());
        let (total, usable) = disk_space(dir);
        result.total_bytes = total;
        result.usable_bytes = usable;
        for topic in &all {
            let mut out = DescribeLogDirsTopic::default();
            out.name = topic_name(topic.name.clone());
            for p in &topic.partitions {
                if p.dir.parent() != Some(dir.as_path()) || !wanted(&topic.name, p.index) {
                    continue;
                }
                let mut dp = DescribeLogDirsPartition::default();
                dp.partition_index = p.index;
                dp.partition_size = p.log.size_bytes() as i64;
                out.partitions.push(dp);
            }
            if !out.partitions.is_empty() {
                result.topics.push(out);
            }
        }
        if !dir.exists() {
            result.error_code = ResponseError::KafkaStorageError.code();
        }
        resp.results.push(result);
    }
    resp
}

/// Total and free bytes of the file system holding `dir` (-1 if unknown).
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(st) => {
            let frag = st.fragment_size() as i64;
            (
                st.blocks() as i64 * frag,
                st.blocks_available() as i64 * frag,
            )
        }
        Err(_) => (-1, -1),
    }
}
