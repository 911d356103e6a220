//! strait-cli
