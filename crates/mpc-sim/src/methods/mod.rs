//! Secure evaluation of every baseline and of Compact: the methods of `activation_approx::baselines` run on any
//! [`Evaluator`] — the two-party [`Session`], the [`PlainEvaluator`] or the [`crate::CostEvaluator`].
//!
//! A method's program is written once against `activation_approx::baselines::program::Ops` (activation-approx cannot
//! depend on this crate). [`run`] records it as a data-flow graph ([`Recorder`]) and executes the graph on an
//! evaluator: local operations as soon as their inputs exist, interactive ones (products, squares, comparisons,
//! muxes) in *waves*: every interactive node whose inputs are ready at round r (its start round on the critical
//! path, computed with the same latencies as `CostOps`) runs in the wave of r, all of a wave inside one
//! [`Evaluator::parallel`]. The values are those of the plaintext program step for step, so on a
//! [`PlainEvaluator`] the result equals the method's `eval_fixed_encoded` bit for bit (tested), and securely it
//! differs only by the truncation errors of [`crate::secure`].
//!
//! Cost: bytes are exactly `CostOps`'s prediction. Rounds are the sum over waves of the longest operation in each wave,
//! which can exceed the critical path when an 8-round comparison overlaps a chain of products (PUMA: predicted 9,
//! waves 11); [`check_method`] reports both.
//!
//! Operation mapping (f fractional bits): `lin_comb` = Σ `mul_const_raw`(x_j, enc(c_j)) then one `truncate`, plus
//! enc(c_0); `lin_comb_scaled` = per term `mul_const_raw` at scale f + s_j (raw scale 2f + s_j), then `truncate`
//! while at least f of the f + s_j bits remain to be removed, and for a remainder r < f a multiplication by the
//! integer 2^(f−r) followed by one more `truncate`: exactly f + s_j bits go (nested floors compose,
//! ⌊⌊v/2^a⌋/2^b⌋ = ⌊v/2^(a+b)⌋); `ge` = `ge_public`; `mux` = `select`; `and` = `mul_raw` of bits; `bit_affine` =
//! integer multiples and a raw constant at scale 0.

use activation_approx::baselines::program::{Bit, CostOps, Ops, Val};
use activation_approx::baselines::{BaselineError, SecureMethod};
use activation_approx::{Cost, Truncation, TwoPartyCostModel};

use crate::error::{MpcError, Result};
use crate::evaluator::{Evaluator, encode_at};
use crate::plain::PlainEvaluator;
use crate::secure::{Session, SessionConfig};
use crate::share::Party;

/// An operand: a fixed-point value or a bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    V(usize),
    B(usize),
}

/// One recorded operation.
#[derive(Debug, Clone)]
enum Node {
    Input,
    Add(Operand, Operand),
    Sub(Operand, Operand),
    AddConst(Operand, f64),
    ScaleInt(Operand, i64),
    LinComb(Vec<(f64, Operand)>, f64),
    LinCombScaled(Vec<(f64, Operand, u32)>, f64),
    Mul(Operand, Operand),
    Square(Operand),
    Ge(Operand, f64),
    Mux(Operand, Operand, Operand),
    And(Operand, Operand),
    Not(Operand),
    BitAffine(Vec<(i64, Operand)>, i64),
}

impl Node {
    fn inputs(&self) -> Vec<Operand> {
        match self {
            Node::Input => vec![],
            Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::And(a, b) => vec![*a, *b],
            Node::AddConst(a, _) | Node::ScaleInt(a, _) | Node::Square(a) | Node::Ge(a, _) | Node::Not(a) => vec![*a],
            Node::LinComb(t, _) => t.iter().map(|x| x.1).collect(),
            Node::LinCombScaled(t, _) => t.iter().map(|x| x.1).collect(),
            Node::Mux(b, x, y) => vec![*b, *x, *y],
            Node::BitAffine(t, _) => t.iter().map(|x| x.1).collect(),
        }
    }

    /// Rounds of the operation itself under local truncation (0 for local operations). A scaled linear combination
    /// counts as interactive (1): its chains of truncations cost rounds under dealer-pair truncation, so it runs in
    /// a wave beside the other pieces' combinations (under local truncation the wave costs nothing).
    fn latency(&self, model: &TwoPartyCostModel) -> u64 {
        match self {
            Node::Mul(..) | Node::Square(_) | Node::Mux(..) | Node::And(..) | Node::LinCombScaled(..) => 1,
            Node::Ge(..) => u64::from(model.cmp_rounds),
            _ => 0,
        }
    }
}

/// Records a program as a graph; every handle (value or bit) is a node index.
#[derive(Debug, Default)]
pub struct Recorder {
    nodes: Vec<Node>,
}

impl Recorder {
    /// A recorder whose node 0 is the input.
    pub fn new() -> (Self, Val) {
        (Recorder { nodes: vec![Node::Input] }, Val(0))
    }
    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }
    fn v(&mut self, n: Node) -> Val {
        Val(self.push(n))
    }
    fn b(&mut self, n: Node) -> Bit {
        Bit(self.push(n))
    }
}

fn v(x: Val) -> Operand {
    Operand::V(x.0)
}
fn b(x: Bit) -> Operand {
    Operand::B(x.0)
}

impl Ops for Recorder {
    fn add(&mut self, x: Val, y: Val) -> Val {
        self.v(Node::Add(v(x), v(y)))
    }
    fn sub(&mut self, x: Val, y: Val) -> Val {
        self.v(Node::Sub(v(x), v(y)))
    }
    fn add_const(&mut self, x: Val, c: f64) -> Val {
        self.v(Node::AddConst(v(x), c))
    }
    fn scale_int(&mut self, x: Val, k: i64) -> Val {
        self.v(Node::ScaleInt(v(x), k))
    }
    fn lin_comb(&mut self, terms: &[(f64, Val)], c0: f64) -> Val {
        self.v(Node::LinComb(terms.iter().map(|&(c, x)| (c, v(x))).collect(), c0))
    }
    fn lin_comb_scaled(&mut self, terms: &[(f64, Val, u32)], c0: f64) -> Val {
        self.v(Node::LinCombScaled(terms.iter().map(|&(c, x, s)| (c, v(x), s)).collect(), c0))
    }
    fn mul(&mut self, x: Val, y: Val) -> Val {
        self.v(Node::Mul(v(x), v(y)))
    }
    fn square(&mut self, x: Val) -> Val {
        self.v(Node::Square(v(x)))
    }
    fn ge(&mut self, x: Val, t: f64) -> Bit {
        self.b(Node::Ge(v(x), t))
    }
    fn mux(&mut self, c: Bit, x: Val, y: Val) -> Val {
        self.v(Node::Mux(b(c), v(x), v(y)))
    }
    fn and(&mut self, c: Bit, d: Bit) -> Bit {
        self.b(Node::And(b(c), b(d)))
    }
    fn not(&mut self, c: Bit) -> Bit {
        self.b(Node::Not(b(c)))
    }
    fn bit_affine(&mut self, terms: &[(i64, Bit)], c0: i64) -> Bit {
        self.b(Node::BitAffine(terms.iter().map(|&(k, x)| (k, b(x))).collect(), c0))
    }
}

fn idx(o: Operand) -> usize {
    match o {
        Operand::V(i) | Operand::B(i) => i,
    }
}

fn get<E: Evaluator>(vals: &[Option<E::Value>], o: Operand) -> Result<&E::Value> {
    vals[idx(o)].as_ref().ok_or(MpcError::InvalidParameter {
        name: "method graph",
        value: idx(o).to_string(),
        hint: "an operand was used before it was computed (internal scheduling error)",
    })
}

/// Evaluates a local node (inputs available).
fn eval_local<E: Evaluator>(ev: &mut E, node: &Node, vals: &[Option<E::Value>], x: &E::Value) -> Result<E::Value> {
    Ok(match node {
        Node::Input => x.clone(),
        Node::Add(a, c) => {
            let (a, c) = (get::<E>(vals, *a)?.clone(), get::<E>(vals, *c)?.clone());
            ev.add(&a, &c)?
        }
        Node::Sub(a, c) => {
            let (a, c) = (get::<E>(vals, *a)?.clone(), get::<E>(vals, *c)?.clone());
            ev.sub(&a, &c)?
        }
        Node::AddConst(a, c) => {
            let a = get::<E>(vals, *a)?.clone();
            ev.add_public(&a, *c)?
        }
        Node::ScaleInt(a, k) => {
            let a = get::<E>(vals, *a)?.clone();
            ev.mul_int(&a, *k)?
        }
        Node::LinComb(terms, c0) => {
            let acc = if terms.is_empty() {
                ev.mul_int(x, 0)?
            } else {
                let mut acc: Option<E::Value> = None;
                for (c, o) in terms {
                    let a = get::<E>(vals, *o)?.clone();
                    let t = ev.mul_public_raw(&a, *c)?;
                    acc = Some(match acc {
                        Some(s) => ev.add(&s, &t)?,
                        None => t,
                    });
                }
                let s =
                    acc.ok_or(MpcError::InvalidParameter { name: "lin_comb", value: "0".into(), hint: "no terms" })?;
                ev.truncate(&s)?
            };
            ev.add_public(&acc, *c0)?
        }
        Node::Not(a) => {
            let a = get::<E>(vals, *a)?.clone();
            ev.not(&a)?
        }
        Node::BitAffine(terms, c0) => {
            let first = terms.first().map(|t| t.1).ok_or(MpcError::InvalidParameter {
                name: "bit_affine",
                value: "0".into(),
                hint: "needs at least one bit",
            })?;
            let mut acc = {
                let a = get::<E>(vals, first)?.clone();
                ev.mul_int(&a, 0)?
            };
            for (k, o) in terms {
                let a = get::<E>(vals, *o)?.clone();
                let t = ev.mul_int(&a, *k)?;
                acc = ev.add(&acc, &t)?;
            }
            ev.add_const_raw(&acc, *c0)?
        }
        Node::Mul(..) | Node::Square(_) | Node::Ge(..) | Node::Mux(..) | Node::And(..) | Node::LinCombScaled(..) => {
            return Err(MpcError::InvalidParameter {
                name: "method graph",
                value: format!("{node:?}"),
                hint: "interactive node evaluated as local (internal scheduling error)",
            });
        }
    })
}

/// Evaluates an interactive node given its operands.
fn eval_interactive<E: Evaluator>(ev: &mut E, node: &Node, ops: &[E::Value], x: &E::Value) -> Result<E::Value> {
    match node {
        Node::Mul(..) => ev.mul(&ops[0], &ops[1]),
        Node::Square(_) => ev.square(&ops[0]),
        Node::Ge(_, t) => ev.ge_public(&ops[0], *t),
        Node::Mux(..) => ev.select(&ops[0], &ops[1], &ops[2]),
        Node::And(..) => ev.mul_raw(&ops[0], &ops[1]),
        Node::LinCombScaled(terms, c0) => {
            let (fx, f) = (ev.fixed_point(), ev.fixed_point().frac_bits);
            // Each term: scale 2f + s; remove f + s bits by truncations of f while at least f remain, then lift
            // the rest. The terms' truncation chains are independent, so they run side by side.
            let parts = ev.parallel(terms.len(), |ev, j| {
                let (c, _, s) = terms[j];
                let k = encode_at(fx, c, f + s)?;
                let mut t = ev.mul_const_raw(&ops[j], k, f + s)?;
                let mut remove = f + s;
                while remove >= f {
                    t = ev.truncate(&t)?;
                    remove -= f;
                }
                if remove > 0 {
                    let up = ev.mul_const_raw(&t, 1i64 << (f - remove), f - remove)?;
                    t = ev.truncate(&up)?;
                }
                Ok(t)
            })?;
            // A zero of the right shape: from the first term, or the input when there is none.
            let mut acc = ev.mul_int(ops.first().unwrap_or(x), 0)?;
            for t in &parts {
                acc = ev.add(&acc, t)?;
            }
            ev.add_public(&acc, *c0)
        }
        other => Err(MpcError::InvalidParameter {
            name: "method graph",
            value: format!("{other:?}"),
            hint: "local node scheduled as interactive (internal scheduling error)",
        }),
    }
}

/// Computes node `i` and every local node it needs, recursively (interactive inputs must be done).
fn ensure<E: Evaluator>(
    ev: &mut E,
    nodes: &[Node],
    vals: &mut Vec<Option<E::Value>>,
    i: usize,
    x: &E::Value,
) -> Result<()> {
    if vals[i].is_some() {
        return Ok(());
    }
    for o in nodes[i].inputs() {
        ensure(ev, nodes, vals, idx(o), x)?;
    }
    let v = eval_local(ev, &nodes[i], vals, x)?;
    vals[i] = Some(v);
    Ok(())
}

/// Runs `method`'s program on `x` (a value at scale f) with evaluator `ev` (module docs).
pub fn run<E: Evaluator>(method: &dyn SecureMethod, ev: &mut E, x: &E::Value) -> Result<E::Value> {
    let (mut rec, input) = Recorder::new();
    let out = method.program(&mut rec, input);
    let nodes = rec.nodes;
    let model = TwoPartyCostModel::default();
    // Start and ready rounds on the critical path.
    let mut ready = vec![0u64; nodes.len()];
    let mut start = vec![0u64; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        start[i] = n.inputs().iter().map(|&o| ready[idx(o)]).max().unwrap_or(0);
        ready[i] = start[i] + n.latency(&model);
    }
    let mut waves: Vec<(u64, usize)> =
        nodes.iter().enumerate().filter(|(_, n)| n.latency(&model) > 0).map(|(i, _)| (start[i], i)).collect();
    waves.sort();
    let mut vals: Vec<Option<E::Value>> = vec![None; nodes.len()];
    vals[0] = Some(x.clone());
    let mut w = 0;
    while w < waves.len() {
        let r = waves[w].0;
        let wave: Vec<usize> = waves[w..].iter().take_while(|(s, _)| *s == r).map(|&(_, i)| i).collect();
        w += wave.len();
        let mut operands = Vec::with_capacity(wave.len());
        for &i in &wave {
            let mut ops = Vec::new();
            for o in nodes[i].inputs() {
                ensure(ev, &nodes, &mut vals, idx(o), x)?;
                ops.push(get::<E>(&vals, o)?.clone());
            }
            operands.push(ops);
        }
        let results = ev.parallel(wave.len(), |ev, k| eval_interactive(ev, &nodes[wave[k]], &operands[k], x))?;
        for (&i, v) in wave.iter().zip(results) {
            vals[i] = Some(v);
        }
    }
    ensure(ev, &nodes, &mut vals, out.0, x)?;
    vals[out.0].take().ok_or(MpcError::InvalidParameter {
        name: "method graph",
        value: out.0.to_string(),
        hint: "no output",
    })
}

/// The outcome of [`check_method`].
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCheck {
    /// Largest |secure − fixed| over the inputs, in units of 2^−f.
    pub max_diff_lsb: u64,
    /// The plaintext run of the graph equals the method's fixed-point emulation bit for bit.
    pub plain_equals_fixed: bool,
    /// Cost predicted by `CostOps` (per element; rounds on the critical path).
    pub predicted: Cost,
    /// Rounds metered by the secure session (waves; see the module docs).
    pub metered_rounds: u64,
    /// Bytes per party per element metered by the secure session (reveal excluded; dealer-pair truncations included).
    pub metered_bytes: u64,
}

/// Runs `method` on `xs` securely (two-party [`Session`], seeded) and on the [`PlainEvaluator`], and compares both with
/// the method's fixed-point emulation and its predicted cost. Every baseline's test calls this one function.
///
/// `truncation` selects the secure truncation; the prediction uses the same. SecureML's local truncation errs by a
/// wrap with probability ≈ |v|/2^63, so methods whose raw products approach 2^62 (NFGen's wide-range monomials,
/// scaled coefficients) need [`Truncation::DealerPair`].
pub fn check_method(method: &dyn SecureMethod, xs: &[f64], seed: u64, truncation: Truncation) -> Result<MethodCheck> {
    let fx = method.fixed_point();
    let enc = xs.iter().map(|&x| fx.encode(x)).collect::<std::result::Result<Vec<_>, _>>()?;
    let fixed = method.eval_fixed_encoded(enc.clone()).map_err(|e| match e {
        BaselineError::Approx(a) => MpcError::Approx(a),
        other => MpcError::InvalidParameter {
            name: "method",
            value: other.to_string(),
            hint: "the method's fixed-point emulation failed; fix its configuration",
        },
    })?;
    let mut plain = PlainEvaluator::new(fx);
    let px = plain.input_raw(Party::P0, &enc, &[enc.len()], fx.frac_bits)?;
    let py = run(method, &mut plain, &px)?;
    let plain_out = plain.reveal_raw(&py)?;
    let mut s = Session::new(SessionConfig { fx, seed, truncation });
    let sx = s.input_raw(Party::P0, &enc, &[enc.len()], fx.frac_bits)?;
    // The method's own cost only: the input sharing's round and bytes are not the method's.
    s.reset_meter();
    let sy = run(method, &mut s, &sx)?;
    let metered = s.total().cost();
    let secure_out = s.reveal_raw(&sy)?;
    let max_diff_lsb = secure_out.iter().zip(&fixed).map(|(a, b)| a.wrapping_sub(*b).unsigned_abs()).max().unwrap_or(0);
    let (mut cops, cx) = CostOps::with_fixed_point(TwoPartyCostModel { truncation, ..Default::default() }, fx);
    let cy = method.program(&mut cops, cx);
    let n = xs.len().max(1) as u64;
    Ok(MethodCheck {
        max_diff_lsb,
        plain_equals_fixed: plain_out == fixed,
        predicted: cops.cost(cy),
        metered_rounds: metered.rounds,
        metered_bytes: metered.bytes_per_party / n,
    })
}

#[cfg(test)]
mod tests;
