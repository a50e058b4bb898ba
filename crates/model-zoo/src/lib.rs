//! # model-zoo
//!
//! Dataset loaders and candle models for the four tasks, with a pluggable activation taken from
//! `activation-approx`'s catalogue.
