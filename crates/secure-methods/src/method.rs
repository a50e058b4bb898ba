//! The method traits: [`Method`] (what a method is), [`Program`] (its secure program, generic over the evaluator)
//! and the dyn-compatible [`SecureMethod`] the registry hands out, implemented for every program by one blanket
//! impl with one concrete entry point per evaluator. Adding an evaluator is one method here and one
//! [`MethodEvaluator`] impl.

use std::fmt;

use activation_approx::{Cost, FixedPoint, Truncation};
use mpc_sim::{CostEvaluator, CostValue, Evaluator, FssCostEvaluator, FssSession, Party, PlainEvaluator, PlainValue, Session, Shared};
use serde::Serialize;

/// Structure of a method, for reports: how many pieces of which degree over which range, and by which protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodInfo {
    /// Number of segments the secure program selects among (tails included); 1 for a single formula.
    pub pieces: usize,
    /// The polynomial degree of each segment (empty for iterative methods that are not polynomials).
    pub degrees: Vec<usize>,
    /// The range on which the approximation is a polynomial fit (outside: tails), if any.
    pub range: Option<(f64, f64)>,
    /// One line on how the program evaluates it.
    pub protocol: String,
}

/// What a method is: names, citation, structure, its f64 formula.
pub trait Method: Send + Sync + fmt::Debug {
    /// Method name, as registered (e.g. `"puma"`).
    fn name(&self) -> &str;
    /// The activation approximated (registry name, e.g. `"gelu"`).
    fn activation(&self) -> &str;
    /// Paper or source file and equation the method implements.
    fn citation(&self) -> &str;
    /// Structural summary.
    fn info(&self) -> MethodInfo;
    /// The method's exact formula in f64 (its published formula, or its spline's f64 value). A test asserts that
    /// the fixed-point run of the program stays within a stated tolerance of it for every method.
    fn eval_f64(&self, x: f64) -> f64;
    /// Fixed-point parameters the method targets (default f = 16).
    fn fixed_point(&self) -> FixedPoint {
        FixedPoint::default()
    }
    /// Points where the f64 value is not smooth (its thresholds), for quadrature and max-error search.
    fn kinks(&self) -> Vec<f64> {
        Vec::new()
    }
    /// Inputs on which the fixed-point program is meaningful (no ring overflow).
    fn fixed_domain(&self) -> (f64, f64) {
        (-8.0, 8.0)
    }
    /// The truncation protocol the method needs to be correct on its fixed domain, as a hint for reports: local
    /// truncation fails with probability up to max|v|/2^63 per truncated value, so a method whose raw products
    /// approach 2^62 (NFGen's scaled coefficients) needs dealer-pair truncation. It does not choose the protocol:
    /// every method is priced and run under both.
    fn needs(&self) -> Truncation {
        Truncation::Local
    }
}

/// A method's secure program, written once against [`Evaluator`]: run by the secure [`Session`], the
/// [`PlainEvaluator`] (its exact fixed-point reference) and the [`CostEvaluator`] (its cost). `x` is at scale f.
pub trait Program: Method {
    /// The program.
    fn program<E: Evaluator>(&self, ev: &mut E, x: &E::Value) -> mpc_sim::Result<E::Value>;
}

/// The dyn-compatible face of a [`Program`]: one entry point per evaluator (blanket impl), and the derived
/// fixed-point evaluation and cost.
pub trait SecureMethod: Method {
    /// The program on the secure two-party session.
    fn run_secure(&self, ev: &mut Session, x: &Shared) -> mpc_sim::Result<Shared>;
    /// The program on the plaintext fixed-point evaluator.
    fn run_plain(&self, ev: &mut PlainEvaluator, x: &PlainValue) -> mpc_sim::Result<PlainValue>;
    /// The program on the cost evaluator.
    fn run_cost(&self, ev: &mut CostEvaluator, x: &CostValue) -> mpc_sim::Result<CostValue>;
    /// The program on the function-secret-sharing session (its comparisons and `piecewise` calls are DCF gates).
    fn run_fss(&self, ev: &mut FssSession, x: &Shared) -> mpc_sim::Result<Shared>;
    /// The program on the FSS cost evaluator (exactly what [`SecureMethod::run_fss`] meters, plus AES calls).
    fn run_fss_cost(&self, ev: &mut FssCostEvaluator, x: &CostValue) -> mpc_sim::Result<CostValue>;

    /// Fixed-point run on encoded inputs, returning ring elements (the exact twin of the secure run).
    fn eval_fixed_encoded(&self, xs: &[i64]) -> mpc_sim::Result<Vec<i64>> {
        let fx = self.fixed_point();
        let mut ev = PlainEvaluator::new(fx);
        let x = ev.input_raw(Party::P0, xs, &[xs.len()], fx.frac_bits)?;
        let y = self.run_plain(&mut ev, &x)?;
        ev.reveal_raw(&y)
    }

    /// Fixed-point values at xs (encode, run the program on the [`PlainEvaluator`], decode).
    fn eval_fixed(&self, xs: &[f64]) -> mpc_sim::Result<Vec<f64>> {
        let fx = self.fixed_point();
        let mut ev = PlainEvaluator::new(fx);
        let x = ev.input(Party::P0, xs, &[xs.len()])?;
        let y = self.run_plain(&mut ev, &x)?;
        ev.reveal(&y)
    }

    /// Per-element cost on the Beaver backend ([`CostEvaluator`], `fss` false) or the FSS backend
    /// ([`FssCostEvaluator`], 64-bit comparisons, `fss` true) under `truncation`: online rounds, online bytes and
    /// dealer bytes (Beaver material, FSS keys and masks) per party, and AES calls per party (0 on Beaver).
    fn backend_cost(&self, fss: bool, truncation: Truncation, input_bound: f64) -> mpc_sim::Result<BackendCost> {
        let fx = self.fixed_point();
        let (total, aes_calls, failure_bound) = if fss {
            let mut ev = FssCostEvaluator::new(fx, truncation, 64)?;
            let x = ev.input_raw(Party::P0, &[0], &[1], fx.frac_bits)?;
            let x = CostValue { bound: input_bound * 2f64.powi(fx.frac_bits as i32), ..x };
            ev.reset_meter();
            self.run_fss_cost(&mut ev, &x)?;
            (ev.total().cost(), ev.aes_calls().online_per_party, ev.failure_mass())
        } else {
            let mut ev = CostEvaluator::new(fx, truncation).with_input_bound(input_bound);
            let x = ev.input(Party::P0, &[0.0], &[1])?;
            ev.reset_meter();
            self.run_cost(&mut ev, &x)?;
            (ev.total().cost(), 0, ev.failure_mass())
        };
        Ok(BackendCost {
            rounds: total.rounds,
            online_bytes: total.bytes_per_party,
            key_bytes: total.offline_bytes_per_party,
            aes_calls,
            failure_bound,
        })
    }

    /// Per-element cost under `truncation`, from the [`CostEvaluator`], with the local-truncation failure bound for
    /// inputs |x| ≤ `input_bound`.
    fn cost(&self, truncation: Truncation, input_bound: f64) -> mpc_sim::Result<MethodCost> {
        let fx = self.fixed_point();
        let mut ev = CostEvaluator::new(fx, truncation).with_input_bound(input_bound);
        let x = ev.input(Party::P0, &[0.0], &[1])?;
        ev.reset_meter();
        self.run_cost(&mut ev, &x)?;
        let total = ev.total().cost();
        let (comparisons, multiplications) = ev.op_counts();
        Ok(MethodCost {
            truncation,
            cost: Cost {
                rounds: total.rounds as u32,
                bytes_per_party: total.bytes_per_party,
                comparisons: comparisons as u32,
                multiplications: multiplications as u32,
                ..Cost::default()
            },
            failure_bound: ev.failure_mass(),
            input_bound,
        })
    }
}

impl<T: Program> SecureMethod for T {
    fn run_secure(&self, ev: &mut Session, x: &Shared) -> mpc_sim::Result<Shared> {
        self.program(ev, x)
    }
    fn run_plain(&self, ev: &mut PlainEvaluator, x: &PlainValue) -> mpc_sim::Result<PlainValue> {
        self.program(ev, x)
    }
    fn run_cost(&self, ev: &mut CostEvaluator, x: &CostValue) -> mpc_sim::Result<CostValue> {
        self.program(ev, x)
    }
    fn run_fss(&self, ev: &mut FssSession, x: &Shared) -> mpc_sim::Result<Shared> {
        self.program(ev, x)
    }
    fn run_fss_cost(&self, ev: &mut FssCostEvaluator, x: &CostValue) -> mpc_sim::Result<CostValue> {
        self.program(ev, x)
    }
}

/// An evaluator a [`SecureMethod`] can run on (the bridge from generic code, e.g. a model's forward pass, to the
/// dyn-compatible method).
pub trait MethodEvaluator: Evaluator + Sized {
    /// Runs `method`'s program on `x`.
    fn run_method(&mut self, method: &dyn SecureMethod, x: &Self::Value) -> mpc_sim::Result<Self::Value>;
}

impl MethodEvaluator for Session {
    fn run_method(&mut self, method: &dyn SecureMethod, x: &Shared) -> mpc_sim::Result<Shared> {
        method.run_secure(self, x)
    }
}

impl MethodEvaluator for PlainEvaluator {
    fn run_method(&mut self, method: &dyn SecureMethod, x: &PlainValue) -> mpc_sim::Result<PlainValue> {
        method.run_plain(self, x)
    }
}

impl MethodEvaluator for CostEvaluator {
    fn run_method(&mut self, method: &dyn SecureMethod, x: &CostValue) -> mpc_sim::Result<CostValue> {
        method.run_cost(self, x)
    }
}

impl MethodEvaluator for FssSession {
    fn run_method(&mut self, method: &dyn SecureMethod, x: &Shared) -> mpc_sim::Result<Shared> {
        method.run_fss(self, x)
    }
}

impl MethodEvaluator for FssCostEvaluator {
    fn run_method(&mut self, method: &dyn SecureMethod, x: &CostValue) -> mpc_sim::Result<CostValue> {
        method.run_fss_cost(self, x)
    }
}

/// A method's per-element cost on one backend ([`SecureMethod::backend_cost`]), per party.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BackendCost {
    /// Online rounds.
    pub rounds: u64,
    /// Online bytes sent.
    pub online_bytes: u64,
    /// Dealer bytes received (Beaver material; on FSS also the DCF keys and masks).
    pub key_bytes: u64,
    /// AES calls to evaluate the FSS keys (0 on the Beaver backend).
    pub aes_calls: u64,
    /// Local-truncation failure bound per element (0 under dealer-pair truncation).
    pub failure_bound: f64,
}

/// A method's per-element cost under one truncation protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MethodCost {
    /// The truncation protocol priced.
    pub truncation: Truncation,
    /// Rounds, bytes per party, comparisons and products per element.
    pub cost: Cost,
    /// Per-element bound on the probability that a local truncation fails (0 under dealer-pair truncation).
    pub failure_bound: f64,
    /// The input bound |x| ≤ B the failure bound assumes.
    pub input_bound: f64,
}
