//! ApiVersions: the table of served APIs. Must never list an API without a handler.

use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::ApiVersion;

/// The served-versions response body (error code 0).
pub fn served() -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.api_keys = strait_protocol::versions::all_served()
        .into_iter()
        .map(|(api, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = api as i16;
            v.min_version = min;
            v.max_version = max;
            v
        })
        .collect();
    resp.finalized_features_epoch = -1;
    resp
}

pub fn handle() -> ApiVersionsResponse {
    served()
}
