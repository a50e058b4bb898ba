//! # experiment-runner
//!
//! The library behind the `compact` binary: experiment specs ([`spec`]), resumable parallel sweeps with one JSON
//! record per point ([`sweep`]), tables ([`table`], polars) and figures ([`plot`], plotters). Only this crate reads
//! `datasets/`, writes `results/` or prints. Sweeps split into shards ([`shard`]) for a cluster's job array are
//! merged back into the single-process record file by [`merge`].

pub mod constrained;
pub mod experiments;
pub mod merge;
pub mod plan;
pub mod models;
pub mod input;
pub mod lock;
pub mod names;
pub mod output;
pub mod params;
pub mod per_layer;
pub mod plot;
pub mod records;
pub mod report;
pub mod shard;
pub mod softmax_exp;
pub mod report_softmax;
pub mod reproduce;
pub mod report_any;
pub mod report_transformers;
pub mod spec;
pub mod sweep;
pub mod table;
pub mod transformer_costs;
