//! Quantities of a secure computation's cost, as newtypes so that rounds, bytes and operation counts cannot be
//! mixed up: [`Rounds`] (simultaneous exchanges on the critical path), [`Bytes`] (bytes one party sends, or dealer
//! material it receives) and [`Count`] (comparisons, products, AES calls). They compose the way costs do: they add
//! (`+`, `+=`, `Sum`), rounds take the larger of two parallel branches ([`Ord::max`]), and bytes and counts scale
//! with the number of elements (`* n`, and `/ n` for a per-element share). Each serializes as its bare integer (`#[serde(transparent)]`), so JSON
//! records and tables print the same numbers as the plain integers did. The raw integer is reached with `.get()`
//! (for a table cell or a float estimate), never implicitly.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};

use serde::{Deserialize, Serialize};

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(0);

            /// The raw integer (for a table cell or a floating-point estimate).
            pub const fn get(self) -> u64 {
                self.0
            }

            /// Whether it is zero (for `skip_serializing_if`).
            pub fn is_zero(&self) -> bool {
                self.0 == 0
            }
        }

        impl Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name(self.0 + o.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, o: $name) {
                self.0 += o.0;
            }
        }

        /// The difference of two meter readings (`after − before`); the left side must be the larger.
        impl Sub for $name {
            type Output = $name;
            fn sub(self, o: $name) -> $name {
                $name(self.0 - o.0)
            }
        }

        impl Sum for $name {
            fn sum<I: Iterator<Item = $name>>(it: I) -> $name {
                it.fold($name::ZERO, Add::add)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

quantity!(
    /// Communication rounds: simultaneous exchanges (both parties send, then both receive) on the critical path.
    Rounds
);
quantity!(
    /// Bytes sent (online) or dealer material received (offline) by one party.
    Bytes
);
quantity!(
    /// A number of operations: comparisons, products, AES calls.
    Count
);

/// `n` copies of a per-element amount: bytes scale with the number of elements.
impl Mul<u64> for Bytes {
    type Output = Bytes;
    fn mul(self, n: u64) -> Bytes {
        Bytes(self.0 * n)
    }
}

/// `n` copies of a per-element count.
impl Mul<u64> for Count {
    type Output = Count;
    fn mul(self, n: u64) -> Count {
        Count(self.0 * n)
    }
}

/// Per-element share of a batch's amount (integer division; callers check divisibility where it matters).
impl Div<u64> for Bytes {
    type Output = Bytes;
    fn div(self, n: u64) -> Bytes {
        Bytes(self.0 / n)
    }
}

/// Per-element share of a batch's count (integer division).
impl Div<u64> for Count {
    type Output = Count;
    fn div(self, n: u64) -> Count {
        Count(self.0 / n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_printing_match_the_integers() {
        assert_eq!(Bytes(8) + Bytes(16), Bytes(24));
        assert_eq!(Bytes(8) * 3, Bytes(24));
        assert_eq!(Count(2) * 5, Count(10));
        assert_eq!(Bytes(1232) / 4, Bytes(308));
        assert_eq!(Rounds(9) - Rounds(4), Rounds(5));
        let mut r = Rounds(1);
        r += Rounds(2);
        assert_eq!(r, Rounds(3));
        assert_eq!([Bytes(1), Bytes(2), Bytes(3)].into_iter().sum::<Bytes>(), Bytes(6));
        assert_eq!(Rounds(8).max(Rounds(3)), Rounds(8));
        assert_eq!(format!("{} {:>5}|", Bytes(224), Rounds(9)), "224     9|");
        assert_eq!(serde_json::to_string(&Rounds(11)).unwrap(), "11");
        assert_eq!(serde_json::from_str::<Bytes>("1232").unwrap(), Bytes(1232));
    }
}
