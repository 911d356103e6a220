//! strait-client
