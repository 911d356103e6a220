//! `kafka-configs --cluster-link NAME` (also `--entity-type cluster-links`):
//! describe and alter the configs of cluster links through Strait's link
//! admin messages, with ConfigCommand's output lines
//! (`Dynamic configs for cluster-link NAME are:`, `Completed updating config
//! for cluster-link NAME.`). It is reached from [`crate::configs`] once that
//! module has checked the arguments; it must never parse properties syntax
//! itself nor print a sensitive value.

use std::collections::BTreeMap;

use strait_client::KafkaClient;
use strait_client::admin::links::{
    AlterClusterLinkConfigsRequest, LinkConfigEntry, ListClusterLinksRequest,
};

use crate::configs::{ConfigsOptions, EntitySelection, EntityType, configs_to_add};
use crate::invocation::{CliError, Console};

/// One `  name=value sensitive=... synonyms={}` line; sensitive values show as `null`.
pub fn link_config_line(entry: &LinkConfigEntry) -> String {
    let value = if entry.sensitive {
        "null"
    } else {
        entry.value.as_deref().unwrap_or("null")
    };
    format!(
        "  {}={value} sensitive={} synonyms={{}}",
        entry.name, entry.sensitive
    )
}

/// The keys of `--delete-config`, trimmed, empty ones dropped.
pub fn keys_to_delete(o: &ConfigsOptions) -> Vec<String> {
    o.delete_config
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// Runs `--describe` or `--alter` for cluster links.
pub async fn execute(
    client: &KafkaClient,
    o: &ConfigsOptions,
    selection: &EntitySelection,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let name = selection.names.first().cloned().filter(|n| !n.is_empty());
    if o.alter {
        let Some(name) = name else {
            return Err(CliError::Usage(
                "An entity name must be specified with --alter of cluster-links".to_string(),
            ));
        };
        return alter(client, o, &name, console).await;
    }
    let names = match name {
        Some(name) => vec![name],
        None => {
            let links = client
                .list_cluster_links(&ListClusterLinksRequest::default())
                .await?;
            let mut names: Vec<String> = links.into_iter().map(|l| l.link_name).collect();
            names.sort();
            names
        }
    };
    for name in names {
        describe(client, &name, o.all, console).await?;
    }
    Ok(())
}

async fn describe(
    client: &KafkaClient,
    name: &str,
    describe_all: bool,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let mut entries = client.describe_cluster_link_configs(name).await?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    writeln!(
        console.out,
        "{}",
        crate::configs::describe_header(EntityType::ClusterLinks, name, describe_all)
    )?;
    for entry in &entries {
        writeln!(console.out, "{}", link_config_line(entry))?;
    }
    Ok(())
}

async fn alter(
    client: &KafkaClient,
    o: &ConfigsOptions,
    name: &str,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let set: BTreeMap<String, String> = configs_to_add(o)?;
    let request = AlterClusterLinkConfigsRequest {
        link_name: name.to_string(),
        set,
        delete: keys_to_delete(o),
        validate_only: false,
    };
    client.alter_cluster_link_configs(&request).await?;
    writeln!(
        console.out,
        "Completed updating config for {} {name}.",
        EntityType::ClusterLinks.singular()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn options(args: &[&str]) -> ConfigsOptions {
        let mut full = vec!["kafka-configs"];
        full.extend_from_slice(args);
        match ConfigsOptions::try_parse_from(full) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn cluster_link_flag_selects_the_entity() {
        let o = options(&[
            "--describe",
            "--cluster-link",
            "example-link",
            "--bootstrap-server",
            "h:1",
        ]);
        let selection = crate::configs::check_options(&o);
        assert_eq!(
            selection.ok(),
            Some(EntitySelection {
                types: vec![EntityType::ClusterLinks],
                names: vec!["example-link".to_string()]
            })
        );
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--cluster-link",
            "example-link",
            "--add-config",
            "cluster.link.retry.timeout.ms=10000,consumer.offset.group.filters=[{\"a\":1,\"b\":2}]",
            "--delete-config",
            "request.timeout.ms",
        ]);
        assert!(crate::configs::check_options(&o).is_ok());
        let added = configs_to_add(&o);
        let Ok(added) = added else {
            panic!("{added:?}")
        };
        assert_eq!(
            added
                .get("cluster.link.retry.timeout.ms")
                .map(String::as_str),
            Some("10000")
        );
        assert_eq!(
            added
                .get("consumer.offset.group.filters")
                .map(String::as_str),
            Some("{\"a\":1,\"b\":2}")
        );
        assert_eq!(keys_to_delete(&o), vec!["request.timeout.ms".to_string()]);
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--entity-type",
            "cluster-links",
            "--entity-name",
            "l",
        ]);
        assert!(matches!(
            crate::configs::check_options(&o),
            Err(CliError::Usage(m)) if m.starts_with("At least one of --add-config")
        ));
    }

    #[test]
    fn output_lines() {
        assert_eq!(
            crate::configs::describe_header(EntityType::ClusterLinks, "example-link", false),
            "Dynamic configs for cluster-link example-link are:"
        );
        let entry = LinkConfigEntry {
            name: "metadata.max.age.ms".into(),
            value: Some("300000".into()),
            sensitive: false,
            read_only: false,
            source: "DEFAULT_CONFIG".into(),
        };
        assert_eq!(
            link_config_line(&entry),
            "  metadata.max.age.ms=300000 sensitive=false synonyms={}"
        );
        let secret = LinkConfigEntry {
            name: "sasl.jaas.config".into(),
            value: Some("leaked".into()),
            sensitive: true,
            read_only: false,
            source: "DYNAMIC_CLUSTER_LINK_CONFIG".into(),
        };
        assert_eq!(
            link_config_line(&secret),
            "  sasl.jaas.config=null sensitive=true synonyms={}"
        );
    }
}
