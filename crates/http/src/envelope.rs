//! The JSON envelope every REST v3 resource shares: `kind`, `metadata`
//! (`self`, `resource_name`; `next` on lists), `related` links, and
//! Confluent resource names (`crn:///kafka=<id>/topic=<name>`). Must never
//! hold an operation.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `metadata` of one resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceMetadata {
    #[serde(rename = "self")]
    pub self_url: String,
    /// Left out when a resource has none (ACLs), as Confluent does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
}

/// `metadata` of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListMetadata {
    #[serde(rename = "self")]
    pub self_url: String,
    pub next: Option<String>,
}

impl ListMetadata {
    pub fn of(self_url: String) -> Self {
        ListMetadata {
            self_url,
            next: None,
        }
    }
}

/// A link to a related resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Related {
    pub related: String,
}

impl Related {
    pub fn to(url: String) -> Self {
        Related { related: url }
    }
}

/// Characters escaped in one path segment of a `self` or `related` URL:
/// everything but RFC 3986's unreserved set, so a group id or a KIP-848
/// member id (standard base64, which may hold `/` and `+`) stays one
/// segment and comes back whole through the path extractor.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one URL path segment.
pub fn segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// Confluent's resource name: `crn:///kafka=<cluster>` then `/<type>=<name>`
/// for each part.
pub fn crn(cluster: &str, parts: &[(&str, &str)]) -> String {
    let mut out = format!("crn:///kafka={cluster}");
    for (kind, name) in parts {
        out.push('/');
        out.push_str(kind);
        out.push('=');
        out.push_str(name);
    }
    out
}

/// A `{name, value}` pair of a request body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConfigValue {
    pub name: String,
    pub value: Option<String>,
}

/// The body of `PUT .../configs/{name}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConfigUpdate {
    pub value: Option<String>,
}

/// One item of a `configs:alter` body: SET (the default) or DELETE.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AlterConfigItem {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub operation: Option<AlterOperation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AlterOperation {
    Set,
    Delete,
}

/// The body of `configs:alter`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AlterConfigBatch {
    pub data: Vec<AlterConfigItem>,
    #[serde(default)]
    pub validate_only: Option<bool>,
}

/// One change of a `configs:alter`: the config, SET or DELETE, the value.
pub type ConfigChange = (String, AlterOperation, Option<String>);

impl AlterConfigBatch {
    /// The changes (SET when no operation is named) and `validate_only`.
    pub fn into_changes(self) -> (Vec<ConfigChange>, bool) {
        let changes = self
            .data
            .into_iter()
            .map(|i| (i.name, i.operation.unwrap_or(AlterOperation::Set), i.value))
            .collect();
        (changes, self.validate_only.unwrap_or(false))
    }
}

/// Defines a list resource type: `kind`, list metadata, and `data[]`.
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub kind: String,
            pub metadata: $crate::envelope::ListMetadata,
            pub data: Vec<$item>,
        }
    };
}
pub(crate) use list_type;

#[cfg(test)]
mod tests {
    #[test]
    fn resource_names_follow_confluent() {
        assert_eq!(
            super::crn("abc", &[("topic", "t1"), ("partition", "0")]),
            "crn:///kafka=abc/topic=t1/partition=0"
        );
    }

    #[test]
    fn a_segment_keeps_slashes_and_plus_signs_inside() {
        // librdkafka's KIP-848 member ids are standard base64.
        assert_eq!(super::segment("aB3+/x=="), "aB3%2B%2Fx%3D%3D");
        assert_eq!(super::segment("group-1.a_b~"), "group-1.a_b~");
        assert_eq!(super::segment("g p"), "g%20p");
    }
}
