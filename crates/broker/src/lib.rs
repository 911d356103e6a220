//! strait-broker
