//! The JSON filters of a link: consumer group filters, auto-create topic
//! filters and ACL filters, in Confluent's formats. Owns parsing (with errors
//! that name the offending field) and matching; must never act on a match.

use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err(msg: impl Into<String>) -> FilterError {
    FilterError(msg.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    Literal,
    Prefixed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFilter {
    pub name: String,
    pub pattern: PatternType,
    pub include: bool,
}

impl NameFilter {
    fn matches(&self, name: &str) -> bool {
        match self.pattern {
            PatternType::Literal => self.name == "*" || self.name == name,
            PatternType::Prefixed => name.starts_with(&self.name),
        }
    }
}

/// Include/exclude filters over names; EXCLUDE wins over INCLUDE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFilters {
    pub filters: Vec<NameFilter>,
}

impl NameFilters {
    pub fn matches(&self, name: &str) -> bool {
        let included = self.filters.iter().any(|f| f.include && f.matches(name));
        let excluded = self.filters.iter().any(|f| !f.include && f.matches(name));
        included && !excluded
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNameFilter {
    name: Option<String>,
    #[serde(rename = "patternType")]
    pattern_type: Option<String>,
    #[serde(rename = "filterType")]
    filter_type: Option<String>,
}

fn parse_name_filters(value: &str, list_field: &str) -> Result<NameFilters, FilterError> {
    if value.trim().is_empty() {
        return Ok(NameFilters::default());
    }
    let doc: serde_json::Value =
        serde_json::from_str(value).map_err(|e| err(format!("invalid JSON: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| err(format!("expected a JSON object with field '{list_field}'")))?;
    for key in obj.keys() {
        if key != list_field {
            return Err(err(format!(
                "unknown field '{key}', expected '{list_field}'"
            )));
        }
    }
    let list = obj
        .get(list_field)
        .ok_or_else(|| err(format!("missing field '{list_field}'")))?
        .as_array()
        .ok_or_else(|| err(format!("field '{list_field}' must be a JSON array")))?;
    let mut filters = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let at = format!("{list_field}[{i}]");
        let raw: RawNameFilter = serde_json::from_value(item.clone()).map_err(|e| {
            let msg = e.to_string();
            let msg = msg
                .replace("`patternType`", "'patternType'")
                .replace("`filterType`", "'filterType'")
                .replace("`name`", "'name'")
                .replace('`', "'");
            err(format!("{at}: {msg}"))
        })?;
        let name = raw
            .name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| err(format!("{at}: field 'name' is required")))?;
        let pattern = match raw
            .pattern_type
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("LITERAL") | None => PatternType::Literal,
            Some("PREFIXED") => PatternType::Prefixed,
            Some(other) => {
                return Err(err(format!(
                    "{at}: invalid value '{other}' for field 'patternType', expected LITERAL or PREFIXED"
                )));
            }
        };
        let include = match raw
            .filter_type
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("INCLUDE") | None => true,
            Some("EXCLUDE") => false,
            Some(other) => {
                return Err(err(format!(
                    "{at}: invalid value '{other}' for field 'filterType', expected INCLUDE or EXCLUDE"
                )));
            }
        };
        filters.push(NameFilter {
            name,
            pattern,
            include,
        });
    }
    Ok(NameFilters { filters })
}

/// `consumer.offset.group.filters`: `{"groupFilters":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFilters(pub NameFilters);

impl GroupFilters {
    pub fn parse(value: &str) -> Result<Self, FilterError> {
        parse_name_filters(value, "groupFilters").map(GroupFilters)
    }
    pub fn matches(&self, group: &str) -> bool {
        self.0.matches(group)
    }
}

/// `auto.create.mirror.topics.filters`: `{"topicFilters":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicFilters(pub NameFilters);

impl TopicFilters {
    pub fn parse(value: &str) -> Result<Self, FilterError> {
        parse_name_filters(value, "topicFilters").map(TopicFilters)
    }
    pub fn matches(&self, topic: &str) -> bool {
        self.0.matches(topic)
    }
}

/// One ACL filter of `acl.filters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: String,
    pub name: Option<String>,
    pub pattern_type: String,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: String,
    pub permission_type: String,
}

/// `acl.filters`: `{"aclFilters":[{"resourceFilter":{..},"accessFilter":{..}}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclFilters(pub Vec<AclFilter>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAclFilters {
    #[serde(rename = "aclFilters")]
    acl_filters: Vec<RawAclFilter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAclFilter {
    #[serde(rename = "resourceFilter")]
    resource_filter: RawResourceFilter,
    #[serde(rename = "accessFilter")]
    access_filter: RawAccessFilter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResourceFilter {
    #[serde(rename = "resourceType")]
    resource_type: String,
    name: Option<String>,
    #[serde(rename = "patternType")]
    pattern_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessFilter {
    principal: Option<String>,
    host: Option<String>,
    operation: String,
    #[serde(rename = "permissionType")]
    permission_type: String,
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, FilterError> {
    let upper = value.to_ascii_uppercase();
    if allowed.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(err(format!(
            "invalid value '{value}' for field '{field}', expected one of {}",
            allowed.join(", ")
        )))
    }
}

impl AclFilters {
    pub fn parse(value: &str) -> Result<Self, FilterError> {
        if value.trim().is_empty() {
            return Ok(AclFilters::default());
        }
        if value.trim() == "null" {
            return Err(err("acl.filters cannot be the JSON null"));
        }
        let raw: RawAclFilters =
            serde_json::from_str(value).map_err(|e| err(e.to_string().replace('`', "'")))?;
        if raw.acl_filters.is_empty() {
            return Err(err("aclFilters field cannot be empty"));
        }
        let mut out = Vec::new();
        for f in raw.acl_filters {
            out.push(AclFilter {
                resource_type: one_of(
                    "resourceType",
                    &f.resource_filter.resource_type,
                    &[
                        "ANY",
                        "TOPIC",
                        "GROUP",
                        "CLUSTER",
                        "TRANSACTIONAL_ID",
                        "DELEGATION_TOKEN",
                        "USER",
                    ],
                )?,
                name: f.resource_filter.name,
                pattern_type: one_of(
                    "patternType",
                    f.resource_filter.pattern_type.as_deref().unwrap_or("ANY"),
                    &["ANY", "MATCH", "LITERAL", "PREFIXED"],
                )?,
                principal: f.access_filter.principal,
                host: f.access_filter.host,
                operation: one_of(
                    "operation",
                    &f.access_filter.operation,
                    &[
                        "ANY",
                        "ALL",
                        "READ",
                        "WRITE",
                        "CREATE",
                        "DELETE",
                        "ALTER",
                        "DESCRIBE",
                        "CLUSTER_ACTION",
                        "DESCRIBE_CONFIGS",
                        "ALTER_CONFIGS",
                        "IDEMPOTENT_WRITE",
                        "CREATE_TOKENS",
                        "DESCRIBE_TOKENS",
                    ],
                )?,
                permission_type: one_of(
                    "permissionType",
                    &f.access_filter.permission_type,
                    &["ANY", "ALLOW", "DENY"],
                )?,
            });
        }
        Ok(AclFilters(out))
    }
}

/// The link configs holding JSON filters.
pub const JSON_FILTER_KEYS: &[&str] = &[
    "consumer.offset.group.filters",
    "auto.create.mirror.topics.filters",
    "acl.filters",
];

/// `json` without the whitespace between tokens (string contents are kept
/// as written), so a filter read from a pretty-printed file is stored and
/// described on one line.
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_beats_include_and_star_matches_all() {
        let f = GroupFilters::parse(
            r#"{"groupFilters": [
                {"name": "*", "patternType": "LITERAL", "filterType": "INCLUDE"},
                {"name": "someGroup", "patternType": "LITERAL", "filterType": "EXCLUDE"},
                {"name": "tmp.", "patternType": "PREFIXED", "filterType": "EXCLUDE"}]}"#,
        )
        .unwrap();
        assert!(f.matches("other"));
        assert!(!f.matches("someGroup"));
        assert!(!f.matches("tmp.x"));
        assert!(!GroupFilters::default().matches("x"));
    }

    #[test]
    fn errors_name_the_field() {
        let e = GroupFilters::parse(r#"{"groupFilters":[{"nme":"a"}]}"#).unwrap_err();
        assert!(e.0.contains("nme"), "{e}");
        let e = GroupFilters::parse(r#"{"groupFilters":[{"name":"a","patternType":"REGEX"}]}"#)
            .unwrap_err();
        assert!(e.0.contains("patternType"), "{e}");
        let e = TopicFilters::parse(r#"{"groupFilters":[]}"#).unwrap_err();
        assert!(
            e.0.contains("groupFilters") && e.0.contains("topicFilters"),
            "{e}"
        );
        assert!(GroupFilters::parse("{not json").is_err());
    }

    #[test]
    fn acl_filters_parse() {
        let f = AclFilters::parse(
            r#"{"aclFilters":[{"resourceFilter":{"resourceType":"topic","name":"t","patternType":"literal"},
                "accessFilter":{"principal":"User:a","host":"*","operation":"read","permissionType":"allow"}}]}"#,
        )
        .unwrap();
        assert_eq!(f.0[0].resource_type, "TOPIC");
        assert!(AclFilters::parse(r#"{"aclFilters":[{"resourceFilter":{"resourceType":"bogus"},"accessFilter":{"operation":"read","permissionType":"allow"}}]}"#).is_err());
        assert_eq!(
            AclFilters::parse(r#"{"aclFilters":[]}"#).unwrap_err().0,
            "aclFilters field cannot be empty"
        );
        assert!(AclFilters::parse("null").is_err());
    }

    #[test]
    fn compact_json_drops_layout_and_keeps_strings() {
        let pretty = "{\n  \"groupFilters\": [\n    {\"name\": \"a b\\\" c\", \"patternType\": \"LITERAL\"}\n  ]\n}\n";
        assert_eq!(
            compact_json(pretty),
            "{\"groupFilters\":[{\"name\":\"a b\\\" c\",\"patternType\":\"LITERAL\"}]}"
        );
    }
}
