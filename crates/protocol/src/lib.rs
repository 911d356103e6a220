//! The Kafka wire boundary of Strait: length-prefixed framing, request header
//! and body decoding, response encoding, and the table of API versions the
//! broker serves.
//!
//! This crate turns bytes into typed `kafka-protocol` messages and back. It must
//! never decide what a request means: handling belongs to the broker.

pub mod admin;
pub mod chunked;
pub mod codec;
pub mod frame;
pub mod versions;

pub use codec::{
    DecodedRequest, Incoming, ProtocolError, decode_incoming, decode_request, encode_response,
    encode_response_chunks,
};
pub use frame::{FrameError, read_frame, write_frame_chunks};
pub use kafka_protocol;
