//! # experiment-runner
//!
//! The library behind the `compact` binary: experiment specs ([`spec`]), resumable parallel sweeps with one JSON
//! record per point ([`sweep`]), tables ([`table`], polars) and figures ([`plot`], plotters). Only this crate reads
//! `datasets/`, writes `results/` or prints.

pub mod experiments;
pub mod input;
pub mod lock;
pub mod names;
pub mod output;
pub mod params;
pub mod plot;
pub mod report;
pub mod report_any;
pub mod spec;
pub mod sweep;
pub mod table;
