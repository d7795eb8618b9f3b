//! ReturnScope integration tests: one binary (each test binary links DuckDB again).
//!
//! Real files in, real tables out: CSV fixtures written to temp dirs, the pipeline run through its
//! public API or the real `returnscope` binary, DuckDB tables and files checked against values
//! computed by hand from ../shared/FEATURES.md.

mod cli;
mod cluster_stage_bench;
mod common;
mod features_adjacency;
mod features_families;
mod features_invariance;
mod ingest_validate;
mod memory_budget;
mod over_time;
mod privacy;
mod report;
mod segments;
mod silver;
mod spark_parity;
mod structure;
mod trust_input;
mod trust_interrupt;
mod trust_records;
