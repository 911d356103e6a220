//! strait-metadata
