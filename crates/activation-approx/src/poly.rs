//! Polynomials in the monomial basis, the form MPC evaluates (shared powers times public coefficients).

use serde::{Deserialize, Serialize};

/// p(x) = Σ_j coeffs[j]·x^j. At least one coefficient; the degree is `coeffs.len() − 1` as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Polynomial {
    /// Monomial coefficients, constant term first.
    pub coeffs: Vec<f64>,
}

impl Polynomial {
    /// A polynomial from monomial coefficients (constant first). An empty vector is the zero polynomial.
    pub fn new(mut coeffs: Vec<f64>) -> Self {
        if coeffs.is_empty() {
            coeffs.push(0.0);
        }
        Polynomial { coeffs }
    }

    /// Degree as stored (`coeffs.len() − 1`).
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// Degree after dropping trailing exact zeros (what the MPC evaluation must compute).
    pub fn effective_degree(&self) -> usize {
        self.coeffs.iter().rposition(|&c| c != 0.0).unwrap_or(0)
    }

    /// p(x) in f64 by Horner's rule.
    pub fn eval(&self, x: f64) -> f64 {
        self.coeffs.iter().rev().fold(0.0, |acc, &c| acc * x + c)
    }
}
