//! # experiment-runner
//!
//! The library behind the `compact` binary: experiment specs ([`spec`]), resumable parallel sweeps with one JSON
//! record per point ([`sweep`]), tables ([`table`], polars) and figures ([`plot`], plotters). Only this crate reads
//! `datasets/`, writes `results/` or prints.

pub mod constrained;
pub mod experiments;
pub mod models;
pub mod plot;
pub mod records;
pub mod report;
pub mod reproduce;
pub mod spec;
pub mod sweep;
pub mod table;
