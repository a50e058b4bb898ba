//! # mpc-sim
//!
//! A simulated semi-honest two-party computation backend: additive secret sharing over Z_{2^64}, fixed point,
//! a trusted dealer, and a metered channel that counts every round and byte. It evaluates the approximations of
//! `activation-approx` on real shares.
