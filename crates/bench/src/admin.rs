//! Strait's admin messages for cluster links and mirror topics (Kafka v1
//! request header + JSON body, see `strait_protocol::admin`), sent over a
//! plain TCP connection: create a link, create a mirror, describe mirrors.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strait_protocol::admin::{
    AdminApi, AdminError, CreateClusterLinkRequest, CreateMirrorTopicRequest,
    DescribeMirrorsRequest, DescribeMirrorsResponse, MirrorDescription, decode_admin_response,
    encode_admin_request,
};

/// Kafka's COORDINATOR_NOT_AVAILABLE: the broker's link engine is starting.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// One connection to a broker for admin requests.
pub struct Admin {
    stream: TcpStream,
    bootstrap: String,
    correlation_id: i32,
}

impl Admin {
    pub fn connect(bootstrap: &str) -> Result<Admin> {
        let stream = TcpStream::connect(bootstrap)
            .with_context(|| format!("connecting to {bootstrap} for admin requests"))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_nodelay(true)?;
        Ok(Admin {
            stream,
            bootstrap: bootstrap.to_string(),
            correlation_id: 0,
        })
    }

    fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        api: AdminApi,
        request: &Req,
    ) -> Result<Resp> {
        self.correlation_id += 1;
        let body = encode_admin_request(api, self.correlation_id, Some("strait-bench"), request)?;
        let len = u32::try_from(body.len())?;
        self.stream.write_all(&len.to_be_bytes())?;
        self.stream.write_all(&body)?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .with_context(|| format!("reading the {api:?} response from {}", self.bootstrap))?;
        let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut frame)?;
        let (correlation_id, response) = decode_admin_response(&frame)?;
        if correlation_id != self.correlation_id {
            bail!(
                "{api:?}: response correlation id {correlation_id}, expected {}",
                self.correlation_id
            );
        }
        Ok(response)
    }

    /// Calls an API whose response is only an error, retrying while the
    /// link engine is still starting.
    fn call_checked<Req: Serialize>(&mut self, api: AdminApi, request: &Req) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let e: AdminError = self.call(api, request)?;
            if !e.is_error() {
                return Ok(());
            }
            if e.error_code == COORDINATOR_NOT_AVAILABLE && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(200));
                continue;
            }
            bail!(
                "{api:?} failed on {}: error {} {}",
                self.bootstrap,
                e.error_code,
                e.error_message.unwrap_or_default()
            );
        }
    }

    /// Creates link `name` on this (destination) broker, reading from `source`.
    pub fn create_link(
        &mut self,
        name: &str,
        source: &str,
        extra: &[(String, String)],
    ) -> Result<()> {
        let mut configs = BTreeMap::from([("bootstrap.servers".to_string(), source.to_string())]);
        configs.extend(extra.iter().cloned());
        let request = CreateClusterLinkRequest {
            link_name: name.to_string(),
            configs,
            validate_link: true,
            ..Default::default()
        };
        self.call_checked(AdminApi::CreateClusterLink, &request)
    }

    /// Creates mirror topic `topic` of the source topic of the same name.
    pub fn create_mirror(&mut self, link: &str, topic: &str) -> Result<()> {
        let request = CreateMirrorTopicRequest {
            mirror_topic: topic.to_string(),
            link_name: link.to_string(),
            ..Default::default()
        };
        self.call_checked(AdminApi::CreateMirrorTopic, &request)
    }

    /// Describes one mirror topic.
    pub fn describe_mirror(&mut self, topic: &str) -> Result<MirrorDescription> {
        let request = DescribeMirrorsRequest {
            topics: Some(vec![topic.to_string()]),
            ..Default::default()
        };
        let r: DescribeMirrorsResponse = self.call(AdminApi::DescribeMirrors, &request)?;
        if r.error.is_error() {
            bail!(
                "DescribeMirrors failed: error {} {}",
                r.error.error_code,
                r.error.error_message.unwrap_or_default()
            );
        }
        r.mirrors
            .into_iter()
            .next()
            .with_context(|| format!("mirror {topic} not described"))
    }
}
