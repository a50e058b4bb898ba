//! # experiment-runner
//!
//! The library behind the `compact` binary: experiment specs ([`spec`]), resumable parallel sweeps with one JSON
//! record per point ([`sweep`]), tables ([`table`], polars) and figures ([`plot`], plotters). Only this crate reads
//! `datasets/`, writes `results/` or prints.

pub mod experiments;
pub mod plot;
pub mod report;
pub mod spec;
pub mod sweep;
pub mod table;
