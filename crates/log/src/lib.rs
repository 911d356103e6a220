//! strait-log
