//! The API versions Strait serves: the one table ApiVersions answers from and
//! decoding checks against. Must never list an API the broker cannot handle.

use kafka_protocol::messages::ApiKey;

/// APIs served, each over the whole version range `kafka-protocol` knows.
const SERVED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::ApiVersions,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::AlterUserScramCredentials,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::DescribeCluster,
    ApiKey::DescribeLogDirs,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::ListGroups,
    ApiKey::DescribeGroups,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::DescribeAcls,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::DescribeTransactions,
    ApiKey::ListTransactions,
    ApiKey::DescribeProducers,
    ApiKey::DescribeTopicPartitions,
];

/// APIs a Kafka broker's client listener enables that Strait does not
/// serve: each is answered in its own response shape with
/// UNSUPPORTED_VERSION (`broker::handlers::unserved`), and tools list them
/// as UNSUPPORTED, as Kafka's tools list what a broker does not advertise.
pub const UNSERVED_BROKER_APIS: &[ApiKey] = &[
    ApiKey::DescribeClientQuotas,
    ApiKey::DescribeQuorum,
    ApiKey::UpdateFeatures,
    ApiKey::ListPartitionReassignments,
    ApiKey::AlterPartitionReassignments,
    ApiKey::CreateDelegationToken,
    ApiKey::RenewDelegationToken,
    ApiKey::ExpireDelegationToken,
    ApiKey::DescribeDelegationToken,
    ApiKey::UnregisterBroker,
    ApiKey::GetTelemetrySubscriptions,
    ApiKey::PushTelemetry,
    ApiKey::ListConfigResources,
    ApiKey::AddRaftVoter,
    ApiKey::RemoveRaftVoter,
    ApiKey::ElectLeaders,
    ApiKey::AlterClientQuotas,
    ApiKey::AlterReplicaLogDirs,
    ApiKey::WriteTxnMarkers,
];

/// Every API of a Kafka broker's client listener, served or not, in api
/// key order.
pub fn broker_apis() -> Vec<ApiKey> {
    let mut all: Vec<ApiKey> = SERVED.iter().chain(UNSERVED_BROKER_APIS).copied().collect();
    all.sort_by_key(|api| *api as i16);
    all.dedup();
    all
}

/// APIs whose newest version `kafka-protocol` lists but cannot decode (its
/// request schema stops earlier): the highest decodable version.
const DECODABLE_MAX: &[(ApiKey, i16)] = &[(ApiKey::OffsetCommit, 9), (ApiKey::OffsetFetch, 9)];

/// The version range served for `api`, if it is served at all.
pub fn served_range(api: ApiKey) -> Option<(i16, i16)> {
    if SERVED.contains(&api) {
        let range = api.valid_versions();
        let max = DECODABLE_MAX
            .iter()
            .find(|(a, _)| *a == api)
            .map_or(range.max, |(_, m)| range.max.min(*m));
        Some((range.min, max))
    } else {
        None
    }
}

/// Whether `version` of `api` is served. ApiVersions is special: every version
/// is accepted by the codec so that the broker can answer UNSUPPORTED_VERSION
/// with the list of versions, as Kafka does.
pub fn serves(api: ApiKey, version: i16) -> bool {
    match served_range(api) {
        Some((min, max)) => (min..=max).contains(&version),
        None => {
            let range = api.valid_versions();
            (range.min..=range.max).contains(&version)
        }
    }
}

/// Every served API with its version range, in api key order.
pub fn all_served() -> Vec<(ApiKey, i16, i16)> {
    let mut list: Vec<(ApiKey, i16, i16)> = SERVED
        .iter()
        .filter_map(|api| served_range(*api).map(|(min, max)| (*api, min, max)))
        .collect();
    list.sort_by_key(|(api, _, _)| *api as i16);
    list
}

/// Strait's admin APIs (links and mirrors), advertised beside Kafka's.
pub fn admin_served() -> Vec<(i16, i16, i16)> {
    crate::admin::AdminApi::ALL
        .iter()
        .map(|a| (*a as i16, 0, crate::admin::AdminApi::MAX_VERSION))
        .collect()
}

/// The README's table of served APIs, generated from this module's tables.
pub fn readme_table() -> String {
    let mut out = String::from("| API | key | versions |\n|---|---|---|\n");
    for (api, min, max) in all_served() {
        out.push_str(&format!("| {api:?} | {} | {min}–{max} |\n", api as i16));
    }
    for api in crate::admin::AdminApi::ALL {
        out.push_str(&format!(
            "| {api:?} (Strait admin) | {} | 0–{} |\n",
            api as i16,
            crate::admin::AdminApi::MAX_VERSION
        ));
    }
    out
}

#[cfg(test)]
mod readme_tests {
    const START: &str = "<!-- api-versions:start";
    const END: &str = "<!-- api-versions:end -->";

    /// The README lists exactly the versions served. Run with
    /// `STRAIT_UPDATE_README=1` to rewrite the table after changing `SERVED`.
    #[test]
    fn readme_lists_the_served_api_versions() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let text = std::fs::read_to_string(path).expect("README.md");
        let start = text.find(START).expect("api-versions start marker");
        let start = start + text[start..].find('\n').expect("marker line") + 1;
        let end = text.find(END).expect("api-versions end marker");
        let table = super::readme_table();
        if text[start..end] != table {
            if std::env::var_os("STRAIT_UPDATE_README").is_some() {
                let updated = format!("{}{table}{}", &text[..start], &text[end..]);
                std::fs::write(path, updated).expect("write README.md");
            } else {
                panic!(
                    "README.md's API table is out of date; run with STRAIT_UPDATE_README=1:\n{table}"
                );
            }
        }
    }
}
