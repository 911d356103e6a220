//! strait-protocol
