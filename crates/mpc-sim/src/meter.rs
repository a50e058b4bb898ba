//! The metered channel: everything that crosses between the parties goes through [`Channel::exchange`], which counts
//! rounds and bytes; the dealer's material is counted as offline bytes by the session. Protocols never count.
//!
//! # Rounds
//! One call to [`Channel::exchange`] is one simultaneous exchange (both parties send, then both receive): one round.
//! The channel keeps a *clock*, the number of rounds on the critical path so far. Concurrent sub-protocols are run as
//! branches of a fork ([`Channel::fork`] / [`Channel::next_branch`] / [`Channel::join`]): every branch starts at the
//! fork's clock and the join sets the clock to the latest branch end, so rounds compose as max(branch rounds) while
//! bytes add up. This is exact for a real implementation that sends the messages of concurrent branches in the same
//! exchange.
//!
//! # Labels
//! [`Channel::enter`] / [`Channel::exit`] push and pop labels; costs are attributed to the path of labels
//! (`layer3/silu`) and to every enclosing path, so each path's figures are inclusive. A path's rounds are the clock
//! advance between entering and leaving it (summed over visits).
//!
//! # Bytes
//! Bytes are those sent by each party, counted from the message's in-memory size (`len · size_of::<T>()`); the wire
//! carries the sum of both parties' figures.

use std::collections::BTreeMap;

use activation_approx::Cost;
use serde::{Deserialize, Serialize};

use crate::share::{Pair, Party};

/// A message that can cross the channel; its size is what the meter counts.
pub trait Wire {
    /// Bytes this message occupies on the wire.
    fn byte_len(&self) -> u64;
    /// The message as words (each element zero-extended), for transcripts.
    fn words(&self) -> Vec<u64>;
}

/// An element of a message: a fixed-size word or array of words.
pub trait WireElem: Copy {
    /// Appends the element's words.
    fn push_words(&self, out: &mut Vec<u64>);
}

macro_rules! wire_word {
    ($($t:ty),*) => {$(
        impl WireElem for $t {
            fn push_words(&self, out: &mut Vec<u64>) {
                out.push(*self as u64);
            }
        }
    )*};
}
wire_word!(u8, u16, u32, u64);

impl<T: WireElem, const N: usize> WireElem for [T; N] {
    fn push_words(&self, out: &mut Vec<u64>) {
        self.iter().for_each(|x| x.push_words(out));
    }
}

impl<T: WireElem> Wire for Vec<T> {
    fn byte_len(&self) -> u64 {
        (self.len() * std::mem::size_of::<T>()) as u64
    }

    fn words(&self) -> Vec<u64> {
        let mut out = Vec::new();
        self.iter().for_each(|x| x.push_words(&mut out));
        out
    }
}

/// A delivered exchange: party p reads the message the other party sent.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a, M> {
    pub(crate) sent: &'a Pair<M>,
}

/// Counters of one label path (inclusive of its sub-paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Rounds on the critical path while the path was active.
    pub rounds: u64,
    /// Bytes sent by party 0 and party 1.
    pub bytes: [u64; 2],
    /// Dealer bytes received by party 0 and party 1.
    pub offline_bytes: [u64; 2],
    /// Messages sent (two per exchange).
    pub messages: u64,
}

impl Stats {
    /// As the workspace's [`Cost`] (rounds, the larger party's online and offline bytes; no counts).
    pub fn cost(&self) -> Cost {
        Cost::communication(self.rounds, self.bytes[0].max(self.bytes[1]), self.offline_bytes[0].max(self.offline_bytes[1]))
    }
}

#[derive(Debug, Clone, Default)]
struct Fork {
    start: u64,
    latest: u64,
}

/// The one channel between the two parties, with its meter.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    clock: u64,
    path: Vec<String>,
    scope_start: Vec<u64>,
    forks: Vec<Fork>,
    stats: BTreeMap<String, Stats>,
    total: Stats,
    views: Option<[Vec<ViewItem>; 2]>,
}

/// What one item of a party's recorded view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewKind {
    /// A share the party made of its own input (the owner's half of input sharing).
    OwnShare,
    /// The party's half of a piece of dealer material.
    Dealt,
    /// A message the party received (the other party's half of an exchange, possibly empty).
    Received,
}

/// One item of a party's view, in the order the party obtained it: its words (each element zero-extended to
/// 64 bits, element after element, the words of one element consecutive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewItem {
    /// What the item is.
    pub kind: ViewKind,
    /// Its words.
    pub words: Vec<u64>,
}

impl Channel {
    /// A fresh channel with zero counters.
    pub fn new() -> Self {
        Channel::default()
    }

    /// One round: each party sends its half of `outgoing`; returns the delivery, from which each party reads what
    /// it received (the other's half) with [`crate::PartyView::received`] — without copying the message.
    pub fn exchange<'a, M: Wire>(&mut self, outgoing: &'a Pair<M>) -> Incoming<'a, M> {
        let [b0, b1] = outgoing.halves().each_ref().map(Wire::byte_len);
        if let Some([v0, v1]) = &mut self.views {
            let [m0, m1] = outgoing.halves();
            v0.push(ViewItem { kind: ViewKind::Received, words: m1.words() });
            v1.push(ViewItem { kind: ViewKind::Received, words: m0.words() });
        }
        self.clock += 1;
        self.add(|s| {
            s.bytes[0] += b0;
            s.bytes[1] += b1;
            s.messages += 2;
        });
        Incoming { sent: outgoing }
    }

    /// Starts recording both parties' views (a test hook for view-indistinguishability tests; off by default and
    /// free when off): from now on every exchange appends each party's received message to its view, and the
    /// session appends each party's half of the dealer material it hands out and of the input shares it makes
    /// ([`Channel::record`]). Counting is unaffected.
    pub fn record_views(&mut self) {
        self.views = Some([Vec::new(), Vec::new()]);
    }

    /// True while views are being recorded.
    pub fn is_recording(&self) -> bool {
        self.views.is_some()
    }

    /// Appends one item to each party's view (its own half of dealer material or of an input sharing; an empty
    /// half is skipped); a no-op unless [`Channel::record_views`] was called. Callers check
    /// [`Channel::is_recording`] before building the words.
    pub fn record(&mut self, kind: ViewKind, words: [Vec<u64>; 2]) {
        if let Some(v) = &mut self.views {
            for (view, words) in v.iter_mut().zip(words) {
                if !words.is_empty() {
                    view.push(ViewItem { kind, words });
                }
            }
        }
    }

    /// Party `p`'s view since [`Channel::record_views`], in order (empty if not recording).
    pub fn view(&self, p: Party) -> &[ViewItem] {
        self.views.as_ref().map_or(&[], |v| v[p.index()].as_slice())
    }

    /// Charges one round with the given bytes per party without a message: used only by the cost predictor
    /// ([`crate::CostEvaluator`]), never by a protocol.
    pub fn charge_round(&mut self, bytes: [u64; 2]) {
        self.clock += 1;
        self.add(|s| {
            s.bytes[0] += bytes[0];
            s.bytes[1] += bytes[1];
            s.messages += 2;
        });
    }

    /// Counts dealer material received by each party.
    pub fn offline(&mut self, bytes: [u64; 2]) {
        self.add(|s| {
            s.offline_bytes[0] += bytes[0];
            s.offline_bytes[1] += bytes[1];
        });
    }

    fn add(&mut self, f: impl Fn(&mut Stats)) {
        f(&mut self.total);
        let mut key = String::new();
        for (i, label) in self.path.iter().enumerate() {
            if i > 0 {
                key.push('/');
            }
            key.push_str(label);
            f(self.stats.entry(key.clone()).or_default());
        }
    }

    /// Enters a label scope (nested under the current one).
    pub fn enter(&mut self, label: &str) {
        self.path.push(label.to_string());
        self.scope_start.push(self.clock);
        let key = self.path.join("/");
        self.stats.entry(key).or_default();
    }

    /// Leaves the innermost label scope, attributing the rounds spent in it.
    pub fn exit(&mut self) {
        if let Some(start) = self.scope_start.pop() {
            let key = self.path.join("/");
            let rounds = self.clock - start;
            self.stats.entry(key).or_default().rounds += rounds;
            self.path.pop();
        }
    }

    /// Starts a group of concurrent branches; the first branch starts now.
    pub fn fork(&mut self) {
        self.forks.push(Fork { start: self.clock, latest: self.clock });
    }

    /// Ends the current branch and starts the next one at the fork's clock.
    pub fn next_branch(&mut self) {
        if let Some(f) = self.forks.last_mut() {
            f.latest = f.latest.max(self.clock);
            self.clock = f.start;
        }
    }

    /// Ends the group: the clock becomes the latest branch end.
    pub fn join(&mut self) {
        if let Some(f) = self.forks.pop() {
            self.clock = f.latest.max(self.clock);
        }
    }

    /// Rounds on the critical path so far.
    pub fn rounds(&self) -> u64 {
        self.clock
    }

    /// Totals since creation (or the last [`Channel::reset`]); `rounds` is the critical-path clock.
    pub fn total(&self) -> Stats {
        Stats { rounds: self.clock, ..self.total }
    }

    /// Inclusive counters per label path, sorted by path.
    pub fn by_label(&self) -> Vec<(String, Stats)> {
        self.stats.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Counters of one label path, if it was entered.
    pub fn label(&self, path: &str) -> Option<Stats> {
        self.stats.get(path).copied()
    }

    /// Zeroes every counter (labels in scope stay in scope).
    pub fn reset(&mut self) {
        self.clock = 0;
        self.total = Stats::default();
        self.stats.clear();
        for s in &mut self.scope_start {
            *s = 0;
        }
        self.forks.clear();
    }
}

/// A network for latency estimates: latency = rounds · RTT + bytes per party · 8 / bandwidth (full duplex: both
/// parties send at once, so one party's bytes set the transfer time).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Round-trip time in seconds.
    pub rtt_s: f64,
    /// Bandwidth in bits per second.
    pub bandwidth_bps: f64,
}

impl Network {
    /// LAN: 1 Gbit/s, 0.5 ms RTT.
    pub const LAN: Network = Network { rtt_s: 0.5e-3, bandwidth_bps: 1e9 };
    /// WAN: 100 Mbit/s, 40 ms RTT.
    pub const WAN: Network = Network { rtt_s: 40e-3, bandwidth_bps: 100e6 };

    /// Estimated online latency in seconds.
    pub fn latency_s(&self, cost: &Cost) -> f64 {
        cost.rounds.get() as f64 * self.rtt_s + cost.bytes_per_party.get() as f64 * 8.0 / self.bandwidth_bps
    }
}
