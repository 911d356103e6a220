//! Checks of the topic, config and cluster APIs: Metadata (DESCRIBE on each
//! topic; unauthorized topics are left out of "all topics" and refused when
//! named; CREATE on the cluster or the topic to auto-create),
//! DescribeTopicPartitions (DESCRIBE, the same way), CreateTopics
//! (CREATE; DESCRIBE_CONFIGS to see the configs), DeleteTopics (DELETE;
//! DESCRIBE to learn a name from an id), CreatePartitions (ALTER),
//! DescribeConfigs / AlterConfigs / IncrementalAlterConfigs
//! (DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic, the cluster for broker
//! resources, the group), DescribeCluster (authorized operations),
//! DescribeLogDirs (DESCRIBE on the cluster), the SCRAM credential APIs and
//! the ACL APIs (DESCRIBE / ALTER on the cluster). Must never create,
//! change or hide a resource the session is allowed to see.

use std::collections::{BTreeSet, HashSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
use kafka_protocol::messages::describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResult;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse, CreateAclsRequest, CreateAclsResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteAclsRequest, DeleteAclsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeAclsRequest, DescribeAclsResponse, DescribeClusterRequest, DescribeClusterResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, MetadataRequest,
    MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;
use strait_metadata::{AclOperation, AclResourceType};

use super::{Check, Deny, Outcome, failure, message, pass, pass_then, restore_order, split_by};
use crate::handlers::{str_bytes, topic_name};

const TOPIC_DENIED: ResponseError = ResponseError::TopicAuthorizationFailed;
const CLUSTER_DENIED: ResponseError = ResponseError::ClusterAuthorizationFailed;

// ----- Metadata ---------------------------------------------------------------

/// A requested topic, as Metadata names it.
#[derive(Clone, PartialEq, Eq)]
enum Wanted {
    Name(String),
    Id(uuid::Uuid),
}

pub(super) fn metadata(
    check: &Check<'_>,
    mut req: MetadataRequest,
) -> Outcome<MetadataRequest, MetadataResponse> {
    let version = check.version;
    let all = match &req.topics {
        None => true,
        Some(list) => list.is_empty() && version == 0,
    };
    let include_topic_ops = version >= 8 && req.include_topic_authorized_operations;
    let include_cluster_ops =
        (8..=10).contains(&version) && req.include_cluster_authorized_operations;
    let broker = check.broker;
    let mut refused: Vec<MetadataResponseTopic> = Vec::new();
    let mut kept_names: Vec<Wanted> = Vec::new();
    if !all {
        let auto_create = broker.config.auto_create_topics_enable
            && (version < 4 || req.allow_auto_topic_creation);
        let mut may_create_any: Option<bool> = None;
        let mut kept = Vec::new();
        for wanted in req.topics.take().unwrap_or_default() {
            let (name, key) = match &wanted.name {
                Some(n) => (Some(n.0.to_string()), Wanted::Name(n.0.to_string())),
                None => (
                    broker
                        .topics
                        .get_by_id(wanted.topic_id)
                        .map(|t| t.name.clone()),
                    Wanted::Id(wanted.topic_id),
                ),
            };
            let Some(name) = name else {
                // An unknown id: the handler answers UNKNOWN_TOPIC_ID.
                kept_names.push(key);
                kept.push(wanted);
                continue;
            };
            let mut error = |with_name: bool, id: uuid::Uuid| {
                let mut t = MetadataResponseTopic::default();
                t.error_code = TOPIC_DENIED.code();
                t.name = with_name.then(|| topic_name(name.clone()));
                t.topic_id = id;
                t.is_internal = false;
                t.topic_authorized_operations = i32::MIN;
                refused.push(t);
            };
            if !check.topic(AclOperation::Describe, &name) {
                // Topic ids are not secret: an id is answered with itself, a
                // name with itself and no id.
                match key {
                    Wanted::Id(id) => error(false, id),
                    Wanted::Name(_) => error(true, uuid::Uuid::nil()),
                }
                continue;
            }
            if auto_create && wanted.name.is_some() && broker.topics.get(&name).is_none() {
                let may_create = *may_create_any
                    .get_or_insert_with(|| check.cluster(AclOperation::Create))
                    || check.topic(AclOperation::Create, &name);
                if !may_create {
                    error(true, uuid::Uuid::nil());
                    continue;
                }
            }
            kept_names.push(key);
            kept.push(wanted);
        }
        req.topics = Some(kept);
    }
    let fix = move |resp: &mut MetadataResponse, c: &Check<'_>| {
        if all {
            resp.topics.retain(|t| {
                t.name
                    .as_ref()
                    .is_none_or(|n| c.topic(AclOperation::Describe, n.0.as_str()))
            });
        } else {
            // Only what was asked and allowed (v0 reads an empty list as "all").
            resp.topics.retain(|t| {
                kept_names.iter().any(|k| match k {
                    Wanted::Name(n) => t.name.as_ref().is_some_and(|tn| tn.0.as_str() == n),
                    Wanted::Id(id) => t.topic_id == *id,
                })
            });
        }
        if include_topic_ops {
            for t in &mut resp.topics {
                if t.error_code == 0
                    && let Some(n) = &t.name
                {
                    t.topic_authorized_operations =
                        c.operations(AclResourceType::Topic, n.0.as_str());
                }
            }
        }
        if include_cluster_ops {
            resp.cluster_authorized_operations = if c.cluster(AclOperation::Describe) {
                c.operations(AclResourceType::Cluster, super::super::acl::CLUSTER_NAME)
            } else {
                0
            };
        }
        resp.topics.extend(refused);
    };
    pass_then(req, fix)
}

// ----- DescribeTopicPartitions ---------------------------------------------------

/// DESCRIBE on each topic, checked before paging so that the page limit and
/// the cursor only ever count topics the session may see. Listing every
/// topic becomes a named request of the visible ones; named topics the
/// session may not describe are refused after the page, with no topic id.
pub(super) fn describe_topic_partitions(
    check: &Check<'_>,
    mut req: DescribeTopicPartitionsRequest,
) -> Outcome<DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse> {
    let fetch_all = req.topics.is_empty();
    let cursor = req
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.0.to_string(), c.partition_index));
    let cursor_name = cursor.as_ref().map_or(String::new(), |(n, _)| n.clone());
    let named: BTreeSet<String> = req
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .filter(|n| *n >= cursor_name)
        .collect();
    let malformed = cursor
        .as_ref()
        .is_some_and(|(n, p)| *p < 0 || (!fetch_all && !named.contains(n)));
    if malformed {
        // The handler rejects the whole request before looking at any topic.
        return pass(req);
    }
    let candidates: BTreeSet<String> = if fetch_all {
        check
            .broker
            .topics
            .all()
            .iter()
            .map(|t| t.name.clone())
            .filter(|n| *n >= cursor_name)
            .collect()
    } else {
        named
    };
    let (allowed, refused): (Vec<String>, Vec<String>) = candidates
        .into_iter()
        .partition(|n| check.topic(AclOperation::Describe, n));
    let refused: Vec<DescribeTopicPartitionsResponseTopic> = if fetch_all {
        Vec::new()
    } else {
        refused
            .into_iter()
            .map(|n| {
                let mut t = DescribeTopicPartitionsResponseTopic::default();
                t.error_code = TOPIC_DENIED.code();
                t.name = Some(topic_name(n));
                t
            })
            .collect()
    };
    if allowed.is_empty() {
        // An empty topic list would mean "every topic" to the handler.
        let mut resp = DescribeTopicPartitionsResponse::default();
        resp.topics = refused;
        return Deny(resp);
    }
    if !allowed.contains(&cursor_name) {
        // The cursor's topic is hidden: every visible topic sorts after it
        // and starts at its first partition.
        req.cursor = None;
    }
    req.topics = allowed
        .into_iter()
        .map(|n| {
            let mut t = TopicRequest::default();
            t.name = topic_name(n);
            t
        })
        .collect();
    pass_then(req, move |resp: &mut DescribeTopicPartitionsResponse, c| {
        if fetch_all {
            // Topics deleted since the listing are not reported missing.
            resp.topics.retain(|t| t.error_code == 0);
        }
        for t in &mut resp.topics {
            if let Some(n) = &t.name {
                t.topic_authorized_operations = c.operations(AclResourceType::Topic, n.0.as_str());
            }
        }
        resp.topics.extend(refused);
    })
}

// ----- CreateTopics / DeleteTopics / CreatePartitions ---------------------------

pub(super) fn create_topics(
    check: &Check<'_>,
    mut req: CreateTopicsRequest,
) -> Outcome<CreateTopicsRequest, CreateTopicsResponse> {
    let version = check.version;
    let order: Vec<String> = req.topics.iter().map(|t| t.name.0.to_string()).collect();
    let mut seen = HashSet::new();
    // Duplicates stay with the handler, which refuses them as Kafka does.
    let duplicates: HashSet<String> = order
        .iter()
        .filter(|n| !seen.insert(n.as_str()))
        .cloned()
        .collect();
    let cluster_create = check.cluster(AclOperation::Create);
    let (kept, refused) = split_by(
        std::mem::take(&mut req.topics),
        |t| {
            let n = t.name.0.to_string();
            (!duplicates.contains(&n)).then_some(n)
        },
        |n| cluster_create || check.topic(AclOperation::Create, n),
    );
    req.topics = kept;
    let refused: Vec<CreatableTopicResult> = refused
        .into_iter()
        .map(|t| {
            let mut r = CreatableTopicResult::default();
            r.name = t.name;
            r.error_code = TOPIC_DENIED.code();
            r.error_message = Some(str_bytes("Authorization failed."));
            r.num_partitions = -1;
            r.replication_factor = -1;
            if version >= 5 && !check.topic(AclOperation::DescribeConfigs, r.name.0.as_str()) {
                r.topic_config_error_code = TOPIC_DENIED.code();
            }
            r
        })
        .collect();
    pass_then(
        req,
        move |resp: &mut CreateTopicsResponse, c: &Check<'_>| {
            if version >= 5 {
                for r in &mut resp.topics {
                    if !c.topic(AclOperation::DescribeConfigs, r.name.0.as_str()) {
                        r.topic_config_error_code = TOPIC_DENIED.code();
                        if r.error_code == 0 {
                            // Without DESCRIBE_CONFIGS the topic's settings stay hidden.
                            r.num_partitions = -1;
                            r.replication_factor = -1;
                            r.configs = Some(Vec::new());
                        }
                    }
                }
            }
            resp.topics.extend(refused);
            restore_order(&mut resp.topics, &order, |r| r.name.0.to_string());
        },
    )
}

pub(super) fn delete_topics(
    check: &Check<'_>,
    mut req: DeleteTopicsRequest,
) -> Outcome<DeleteTopicsRequest, DeleteTopicsResponse> {
    let mut refused: Vec<DeletableTopicResult> = Vec::new();
    let denied = |name: Option<String>, id: uuid::Uuid| {
        let mut r = DeletableTopicResult::default();
        r.name = name.map(topic_name);
        r.topic_id = id;
        r.error_code = TOPIC_DENIED.code();
        r.error_message = None;
        r
    };
    let names = std::mem::take(&mut req.topic_names);
    for n in names {
        if check.topic(AclOperation::Delete, n.0.as_str()) {
            req.topic_names.push(n);
        } else {
            refused.push(denied(Some(n.0.to_string()), uuid::Uuid::nil()));
        }
    }
    let states = std::mem::take(&mut req.topics);
    for t in states {
        let by_id = t.name.is_none();
        let name = match &t.name {
            Some(n) => Some(n.0.to_string()),
            None => check
                .broker
                .topics
                .get_by_id(t.topic_id)
                .map(|l| l.name.clone()),
        };
        let Some(name) = name else {
            req.topics.push(t);
            continue;
        };
        if by_id && !check.topic(AclOperation::Describe, &name) {
            // Without DESCRIBE the name stays hidden; the id is not secret.
            refused.push(denied(None, t.topic_id));
        } else if !check.topic(AclOperation::Delete, &name) {
            refused.push(denied(Some(name), t.topic_id));
        } else {
            req.topics.push(t);
        }
    }
    if refused.is_empty() {
        return pass(req);
    }
    pass_then(req, move |resp: &mut DeleteTopicsResponse, _| {
        resp.responses.extend(refused)
    })
}

pub(super) fn create_partitions(
    check: &Check<'_>,
    mut req: CreatePartitionsRequest,
) -> Outcome<CreatePartitionsRequest, CreatePartitionsResponse> {
    let order: Vec<String> = req.topics.iter().map(|t| t.name.0.to_string()).collect();
    let (kept, refused) = split_by(
        std::mem::take(&mut req.topics),
        |t| Some(t.name.0.to_string()),
        |n| check.topic(AclOperation::Alter, n),
    );
    req.topics = kept;
    if refused.is_empty() {
        return pass(req);
    }
    let refused: Vec<CreatePartitionsTopicResult> = refused
        .into_iter()
        .map(|t| {
            let mut r = CreatePartitionsTopicResult::default();
            r.name = t.name;
            r.error_code = TOPIC_DENIED.code();
            r.error_message = Some(str_bytes("The topic authorization is failed."));
            r
        })
        .collect();
    pass_then(req, move |resp: &mut CreatePartitionsResponse, _| {
        resp.results.extend(refused);
        restore_order(&mut resp.results, &order, |r| r.name.0.to_string());
    })
}

// ----- configs -------------------------------------------------------------------

const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;
const CONFIG_BROKER_LOGGER: i8 = 8;
const CONFIG_CLIENT_METRICS: i8 = 16;
const CONFIG_GROUP: i8 = 32;

/// Whether the session may `op` (DESCRIBE_CONFIGS or ALTER_CONFIGS) the
/// config resource; `Err` carries the error of a refusal. Unknown resource
/// types go to the handler, which refuses them.
fn config_access(
    check: &Check<'_>,
    op: AclOperation,
    resource_type: i8,
    name: &str,
) -> Result<(), ResponseError> {
    let (allowed, error) = match resource_type {
        CONFIG_TOPIC => (check.topic(op, name), TOPIC_DENIED),
        CONFIG_BROKER | CONFIG_BROKER_LOGGER | CONFIG_CLIENT_METRICS => {
            (check.cluster(op), CLUSTER_DENIED)
        }
        CONFIG_GROUP => (
            check.group(op, name),
            ResponseError::GroupAuthorizationFailed,
        ),
        _ => (true, ResponseError::UnknownServerError),
    };
    if allowed { Ok(()) } else { Err(error) }
}

/// Keeps in `resources` the config resources the session may `op`; the
/// others become refusals through `refuse`. Also returns the request's
/// resource order, which the response must keep.
fn split_config_resources<R, O>(
    check: &Check<'_>,
    op: AclOperation,
    resources: &mut Vec<R>,
    key: impl Fn(&R) -> (i8, StrBytes),
    refuse: impl Fn(R, ResponseError) -> O,
) -> (Vec<(i8, StrBytes)>, Vec<O>) {
    let order: Vec<(i8, StrBytes)> = resources.iter().map(&key).collect();
    let mut refused = Vec::new();
    for r in std::mem::take(resources) {
        let (resource_type, name) = key(&r);
        match config_access(check, op, resource_type, name.as_str()) {
            Ok(()) => resources.push(r),
            Err(error) => refused.push(refuse(r, error)),
        }
    }
    (order, refused)
}

/// Passes a config request on; the refusals join the handler's results,
/// which then take the request's resource order again.
fn pass_config_request<Q, S: 'static, O: Send + 'static>(
    req: Q,
    order: Vec<(i8, StrBytes)>,
    refused: Vec<O>,
    results: fn(&mut S) -> &mut Vec<O>,
    key: fn(&O) -> (i8, StrBytes),
) -> Outcome<Q, S> {
    if refused.is_empty() {
        return pass(req);
    }
    pass_then(req, move |resp: &mut S, _| {
        let results = results(resp);
        results.extend(refused);
        restore_order(results, &order, key);
    })
}

pub(super) fn describe_configs(
    check: &Check<'_>,
    mut req: DescribeConfigsRequest,
) -> Outcome<DescribeConfigsRequest, DescribeConfigsResponse> {
    let (order, refused) = split_config_resources(
        check,
        AclOperation::DescribeConfigs,
        &mut req.resources,
        |r| (r.resource_type, r.resource_name.clone()),
        |r, error| {
            let mut out = DescribeConfigsResult::default();
            (out.error_code, out.error_message) = failure(error);
            out.resource_type = r.resource_type;
            out.resource_name = r.resource_name;
            out
        },
    );
    pass_config_request(
        req,
        order,
        refused,
        |resp: &mut DescribeConfigsResponse| &mut resp.results,
        |r| (r.resource_type, r.resource_name.clone()),
    )
}

pub(super) fn alter_configs(
    check: &Check<'_>,
    mut req: AlterConfigsRequest,
) -> Outcome<AlterConfigsRequest, AlterConfigsResponse> {
    let (order, refused) = split_config_resources(
        check,
        AclOperation::AlterConfigs,
        &mut req.resources,
        |r| (r.resource_type, r.resource_name.clone()),
        |r, error| {
            let mut out = AlterConfigsResourceResponse::default();
            out.error_code = error.code();
            out.resource_type = r.resource_type;
            out.resource_name = r.resource_name;
            out
        },
    );
    pass_config_request(
        req,
        order,
        refused,
        |resp: &mut AlterConfigsResponse| &mut resp.responses,
        |r| (r.resource_type, r.resource_name.clone()),
    )
}

pub(super) fn incremental_alter_configs(
    check: &Check<'_>,
    mut req: IncrementalAlterConfigsRequest,
) -> Outcome<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> {
    let (order, refused) = split_config_resources(
        check,
        AclOperation::AlterConfigs,
        &mut req.resources,
        |r| (r.resource_type, r.resource_name.clone()),
        |r, error| {
            let mut out = IncrementalResult::default();
            out.error_code = error.code();
            out.resource_type = r.resource_type;
            out.resource_name = r.resource_name;
            out
        },
    );
    pass_config_request(
        req,
        order,
        refused,
        |resp: &mut IncrementalAlterConfigsResponse| &mut resp.responses,
        |r| (r.resource_type, r.resource_name.clone()),
    )
}

// ----- cluster -------------------------------------------------------------------

/// DescribeCluster answers everyone (as Kafka); the authorized operations it
/// reports need DESCRIBE on the cluster.
pub(super) fn describe_cluster(
    _check: &Check<'_>,
    req: DescribeClusterRequest,
) -> Outcome<DescribeClusterRequest, DescribeClusterResponse> {
    if !req.include_cluster_authorized_operations {
        return pass(req);
    }
    pass_then(req, |resp: &mut DescribeClusterResponse, c: &Check<'_>| {
        if resp.error_code == 0 {
            resp.cluster_authorized_operations = if c.cluster(AclOperation::Describe) {
                c.operations(AclResourceType::Cluster, super::super::acl::CLUSTER_NAME)
            } else {
                0
            };
        }
    })
}

pub(super) fn describe_log_dirs(
    check: &Check<'_>,
    req: DescribeLogDirsRequest,
) -> Outcome<DescribeLogDirsRequest, DescribeLogDirsResponse> {
    if check.cluster(AclOperation::Describe) {
        return pass(req);
    }
    let mut resp = DescribeLogDirsResponse::default();
    if check.version >= 3 {
        resp.error_code = CLUSTER_DENIED.code();
    }
    Deny(resp)
}

pub(super) fn describe_scram(
    check: &Check<'_>,
    req: DescribeUserScramCredentialsRequest,
) -> Outcome<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse> {
    if check.cluster(AclOperation::Describe) {
        return pass(req);
    }
    let mut resp = DescribeUserScramCredentialsResponse::default();
    (resp.error_code, resp.error_message) = failure(CLUSTER_DENIED);
    Deny(resp)
}

pub(super) fn alter_scram(
    check: &Check<'_>,
    req: AlterUserScramCredentialsRequest,
) -> Outcome<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse> {
    if check.cluster(AclOperation::Alter) {
        return pass(req);
    }
    let mut users: Vec<StrBytes> = req
        .deletions
        .iter()
        .map(|d| d.name.clone())
        .chain(req.upsertions.iter().map(|u| u.name.clone()))
        .collect();
    users.sort();
    users.dedup();
    let mut resp = AlterUserScramCredentialsResponse::default();
    resp.results = users
        .into_iter()
        .map(|user| {
            let mut r = AlterUserScramCredentialsResult::default();
            r.user = user;
            (r.error_code, r.error_message) = failure(CLUSTER_DENIED);
            r
        })
        .collect();
    Deny(resp)
}

// ----- ACLs ------------------------------------------------------------------------

pub(super) fn create_acls(
    check: &Check<'_>,
    req: CreateAclsRequest,
) -> Outcome<CreateAclsRequest, CreateAclsResponse> {
    if check.cluster(AclOperation::Alter) {
        return pass(req);
    }
    let mut resp = CreateAclsResponse::default();
    resp.results = req
        .creations
        .iter()
        .map(|_| {
            let mut r = AclCreationResult::default();
            (r.error_code, r.error_message) = failure(CLUSTER_DENIED);
            r
        })
        .collect();
    Deny(resp)
}

pub(super) fn describe_acls(
    check: &Check<'_>,
    req: DescribeAclsRequest,
) -> Outcome<DescribeAclsRequest, DescribeAclsResponse> {
    if check.cluster(AclOperation::Describe) {
        return pass(req);
    }
    let mut resp = DescribeAclsResponse::default();
    resp.error_code = CLUSTER_DENIED.code();
    resp.error_message = Some(str_bytes(message(CLUSTER_DENIED)));
    Deny(resp)
}

pub(super) fn delete_acls(
    check: &Check<'_>,
    req: DeleteAclsRequest,
) -> Outcome<DeleteAclsRequest, DeleteAclsResponse> {
    if check.cluster(AclOperation::Alter) {
        return pass(req);
    }
    let mut resp = DeleteAclsResponse::default();
    resp.filter_results = req
        .filters
        .iter()
        .map(|_| {
            let mut r = DeleteAclsFilterResult::default();
            (r.error_code, r.error_message) = failure(CLUSTER_DENIED);
            r
        })
        .collect();
    Deny(resp)
}
