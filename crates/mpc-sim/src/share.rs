//! Parties, per-party data and additively shared values.
//!
//! A secret v ∈ Z_{2^64} is held as two shares v_0 + v_1 = v (wrapping). [`Pair<T>`] holds one `T` per party with
//! its halves private to this module: the only way to read a half is [`PartyView::own`], and a [`PartyView`] is only
//! handed out by [`Pair::build`] / [`Pair::try_build`], which run the given per-party closure once as party 0 and
//! once as party 1. Party code therefore sees its own share, its own dealer material and the messages it received,
//! never the other party's half. Opening a value is a protocol that goes through the metered channel
//! (`Session::reveal`).

use activation_approx::FixedPoint;

use crate::error::{MpcError, Result};

/// One of the two computing parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// Party 0 (adds public constants).
    P0,
    /// Party 1.
    P1,
}

impl Party {
    /// 0 or 1.
    pub fn index(self) -> usize {
        match self {
            Party::P0 => 0,
            Party::P1 => 1,
        }
    }

    /// True for party 0, the one that adds public terms.
    pub fn is_first(self) -> bool {
        self == Party::P0
    }
}

/// The capability to read one party's halves. Only [`Pair::build`] creates it.
#[derive(Debug, Clone, Copy)]
pub struct PartyView {
    id: Party,
}

impl PartyView {
    /// Which party this view belongs to.
    pub fn party(&self) -> Party {
        self.id
    }

    /// The message this party received in a delivered exchange (the other party's half of what was sent).
    pub fn received<'a, M>(&self, inc: &crate::meter::Incoming<'a, M>) -> &'a M {
        &inc.sent.halves[1 - self.id.index()]
    }

    /// This party's half of a chunk of dealer material drawn in a pass ([`crate::dealer::Stream::chunk`]).
    pub(crate) fn dealt<'a, T, const K: usize, F: Fn(&[u64; K]) -> (T, T)>(
        &self,
        m: &'a crate::dealer::Material<'_, T, K, F>,
    ) -> impl Iterator<Item = T> + 'a {
        m.half(self.id)
    }

    /// This party's half of `pair` (its own share, own dealer material, or the message it received).
    pub fn own<'a, T>(&self, pair: &'a Pair<T>) -> &'a T {
        &pair.halves[self.id.index()]
    }
}

/// One `T` per party; each half is readable only through that party's [`PartyView`] (or, explicitly, by corrupting a
/// party with [`Pair::corrupt`] in a security test). [`Pair::build`] takes an `Fn` closure, so party code cannot carry
/// one party's data into the other's run without interior mutability.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair<T> {
    halves: [T; 2],
}

impl<T> Pair<T> {
    /// Runs `f` as party 0 then as party 1 and keeps each result as that party's half.
    pub fn build(f: impl Fn(PartyView) -> T) -> Pair<T> {
        let a = f(PartyView { id: Party::P0 });
        let b = f(PartyView { id: Party::P1 });
        Pair { halves: [a, b] }
    }

    /// Fallible [`Pair::build`].
    pub fn try_build(f: impl Fn(PartyView) -> Result<T>) -> Result<Pair<T>> {
        let a = f(PartyView { id: Party::P0 })?;
        let b = f(PartyView { id: Party::P1 })?;
        Ok(Pair { halves: [a, b] })
    }

    /// The trusted dealer's (or the input owner's) constructor: it knows both halves.
    pub(crate) fn from_halves(p0: T, p1: T) -> Pair<T> {
        Pair { halves: [p0, p1] }
    }

    /// Both halves, to return a protocol's finished internal buffers to the session's scratch pool.
    pub(crate) fn into_halves(self) -> [T; 2] {
        self.halves
    }

    /// Party 0's half of a value both parties hold identically (an opened value).
    pub(crate) fn into_first(self) -> T {
        let [a, _] = self.halves;
        a
    }

    /// Both halves, for the channel's byte count only.
    pub(crate) fn halves(&self) -> &[T; 2] {
        &self.halves
    }

    /// Both halves, mutably: only to hand each party its own output buffer in [`each_party`] (or its chunk of it).
    pub(crate) fn halves_mut(&mut self) -> &mut [T; 2] {
        &mut self.halves
    }

    /// The adversary's view: the half of a *corrupted* party `p`, for security tests and audits. Protocol code never
    /// calls this; it reads halves only through [`PartyView::own`].
    pub fn corrupt(&self, p: Party) -> &T {
        &self.halves[p.index()]
    }
}

/// Runs `f` as party 0 on `outs[0]` then as party 1 on `outs[1]`: the in-place form of [`Pair::build`] for a pass
/// that fills preallocated per-party outputs chunk by chunk. As with `build`, `f` is `Fn`, and each run gets only
/// that party's output.
pub(crate) fn each_party<M>(outs: [M; 2], f: impl Fn(PartyView, M)) {
    let [o0, o1] = outs;
    f(PartyView { id: Party::P0 }, o0);
    f(PartyView { id: Party::P1 }, o1);
}

impl<A, B> Pair<(A, B)> {
    /// Splits per-party pairs into two [`Pair`]s (each party keeps its own halves).
    pub fn unzip(self) -> (Pair<A>, Pair<B>) {
        let [(a0, b0), (a1, b1)] = self.halves;
        (Pair { halves: [a0, a1] }, Pair { halves: [b0, b1] })
    }
}

/// What every value (shared or plaintext) carries besides its data: fixed-point setting, scale and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The session's fixed-point setting.
    pub fx: FixedPoint,
    /// Fractional bits the ring elements currently carry: f for ordinary values, 2f for an untruncated product,
    /// 0 for bits and integers.
    pub scale: u32,
    /// Row-major shape; the number of elements is its product.
    pub shape: Vec<usize>,
}

impl Meta {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the value holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that `other` has the same fixed-point setting, scale and shape.
    pub fn check_same(&self, op: &'static str, other: &Meta) -> Result<()> {
        other.check_fx(op, &self.fx)?;
        if self.scale != other.scale {
            return Err(MpcError::ScaleMismatch { op, left: self.scale, right: other.scale });
        }
        if self.shape != other.shape {
            return Err(MpcError::ShapeMismatch { op, left: self.shape.clone(), right: other.shape.clone() });
        }
        Ok(())
    }

    /// Checks the fixed-point setting against `fx` (the error names `fx` first, then this value's f).
    pub fn check_fx(&self, op: &'static str, fx: &FixedPoint) -> Result<()> {
        if self.fx != *fx {
            return Err(MpcError::FixedPointMismatch { op, left: fx.frac_bits, right: self.fx.frac_bits });
        }
        Ok(())
    }

    /// Checks that `len` values fill `shape`.
    pub fn check_len(len: usize, shape: &[usize]) -> Result<()> {
        let expected: usize = shape.iter().product();
        if len != expected {
            return Err(MpcError::LengthMismatch { len, shape: shape.to_vec(), expected });
        }
        Ok(())
    }

    /// Same setting, another scale.
    pub fn with_scale(&self, scale: u32) -> Meta {
        Meta { fx: self.fx, scale, shape: self.shape.clone() }
    }

    /// Same setting, another shape.
    pub fn with_shape(&self, shape: Vec<usize>) -> Meta {
        Meta { fx: self.fx, scale: self.scale, shape }
    }

    /// Scale of a product of two values, checked against the ring.
    pub fn product_scale(op: &'static str, a: u32, b: u32) -> Result<u32> {
        let scale = a + b;
        if scale > 62 {
            return Err(MpcError::ScaleOverflow { op, scale });
        }
        Ok(scale)
    }
}

/// A secret-shared tensor: v = v_0 + v_1 in Z_{2^64}, elementwise, with its [`Meta`].
#[derive(Debug, Clone)]
pub struct Shared {
    pub(crate) meta: Meta,
    pub(crate) shares: Pair<Vec<u64>>,
}

impl Shared {
    /// Fixed-point setting, scale and shape.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.meta.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The two shares, each readable only by its party.
    pub fn shares(&self) -> &Pair<Vec<u64>> {
        &self.shares
    }
}
