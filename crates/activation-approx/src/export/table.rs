//! A piecewise polynomial as a table written by hand, so that an approximation from elsewhere joins the harness
//! (`compact import --table FILE`), and back (`compact export --target csv`).
//!
//! CSV (lines starting with `#` and blank lines are ignored; the header line is optional):
//!
//! ```text
//! segment,lo,hi,c0,c1,c2,...
//! left,,,-0.157                  # x < t_0: c0 + c1·x (degree ≤ 1; missing c1 = 0)
//! piece,-2.6,0,0.0001,0.5,0.25   # t_i ≤ x < t_(i+1): Σ c_j x^j, constant first
//! piece,0,2.6,0.0001,0.5,0.25
//! right,,,-0.158,1               # x ≥ t_n
//! ```
//!
//! Pieces must be listed left to right and touch (hi of one = lo of the next). JSON:
//! `{"activation": "silu", "breakpoints": [t_0, …, t_n], "pieces": [[c_0, …], …], "left_tail": [c0, c1],
//! "right_tail": [c0, c1]}` (`activation` optional).

use serde::{Deserialize, Serialize};

use crate::activation::{Activation, Tail};
use crate::cost::{CostModel, TwoPartyCostModel};
use crate::density::DensitySpec;
use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;
use crate::format::{ApproximationFile, SearchInfo};
use crate::metrics::ErrorReport;
use crate::piecewise::PiecewisePoly;
use crate::poly::Polynomial;

/// The JSON form of a hand-written table (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableJson {
    /// Activation the table approximates, if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// t_0 … t_n.
    pub breakpoints: Vec<f64>,
    /// Coefficients of each piece, constant first.
    pub pieces: Vec<Vec<f64>>,
    /// [c0, c1] of the left tail.
    pub left_tail: Vec<f64>,
    /// [c0, c1] of the right tail.
    pub right_tail: Vec<f64>,
}

fn bad(msg: String) -> ApproxError {
    ApproxError::Format(format!("table: {msg}"))
}

fn tail_from(side: &str, c: &[f64]) -> Result<Tail> {
    let (c0, c1) = match c {
        [c0] => (*c0, 0.0),
        [c0, c1] => (*c0, *c1),
        _ => return Err(bad(format!("{side} tail has {} coefficients; give c0 or c0,c1 (degree ≤ 1)", c.len()))),
    };
    Ok(match (c0, c1) {
        (0.0, 0.0) => Tail::Zero,
        (v, 0.0) => Tail::Constant { value: v },
        (0.0, 1.0) => Tail::Identity,
        (intercept, slope) => Tail::Linear { slope, intercept },
    })
}

fn tail_coeffs(t: &Tail) -> Vec<f64> {
    let (a, b) = t.slope_intercept();
    if a == 0.0 { vec![b] } else { vec![b, a] }
}

impl TableJson {
    /// The table as a validated [`PiecewisePoly`].
    pub fn piecewise(&self) -> Result<PiecewisePoly> {
        let pieces = self.pieces.iter().map(|c| Polynomial::new(c.clone())).collect();
        if self.pieces.iter().any(Vec::is_empty) {
            return Err(bad("a piece has no coefficients".into()));
        }
        PiecewisePoly::new(
            tail_from("left", &self.left_tail)?,
            self.breakpoints.clone(),
            pieces,
            tail_from("right", &self.right_tail)?,
        )
    }

    /// The table of a piecewise polynomial.
    pub fn from_piecewise(activation: Option<&str>, pp: &PiecewisePoly) -> Self {
        TableJson {
            activation: activation.map(str::to_string),
            breakpoints: pp.breakpoints.clone(),
            pieces: pp.pieces.iter().map(|p| p.coeffs.clone()).collect(),
            left_tail: tail_coeffs(&pp.left),
            right_tail: tail_coeffs(&pp.right),
        }
    }

    /// Parses the JSON form.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| bad(format!("{e}; expected breakpoints, pieces, left_tail, right_tail")))
    }

    /// Parses the CSV form (module docs).
    pub fn from_csv(text: &str) -> Result<Self> {
        let (mut left, mut right) = (None, None);
        let mut breakpoints: Vec<f64> = Vec::new();
        let mut pieces = Vec::new();
        for (no, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let kind = cells[0].to_ascii_lowercase();
            if kind == "segment" {
                continue;
            }
            let num = |s: &str| -> Result<f64> {
                s.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    bad(format!("line {}: '{s}' is not a finite number", no + 1))
                })
            };
            if cells.len() < 4 {
                return Err(bad(format!("line {}: need segment,lo,hi,c0[,c1,...]; got '{line}'", no + 1)));
            }
            let coeffs = cells[3..].iter().filter(|c| !c.is_empty()).map(|c| num(c)).collect::<Result<Vec<_>>>()?;
            match kind.as_str() {
                "left" => left = Some(coeffs),
                "right" => right = Some(coeffs),
                "piece" => {
                    let (lo, hi) = (num(cells[1])?, num(cells[2])?);
                    match breakpoints.last() {
                        None => breakpoints.push(lo),
                        Some(&prev) if prev != lo => {
                            return Err(bad(format!(
                                "line {}: piece starts at {lo} but the previous one ends at {prev}; pieces must touch, left to right",
                                no + 1
                            )));
                        }
                        Some(_) => {}
                    }
                    breakpoints.push(hi);
                    pieces.push(coeffs);
                }
                other => {
                    return Err(bad(format!("line {}: segment '{other}' is not left, piece or right", no + 1)));
                }
            }
        }
        let table = TableJson {
            activation: None,
            breakpoints,
            pieces,
            left_tail: left.ok_or_else(|| bad("no 'left' row (the tail for x < t_0)".into()))?,
            right_tail: right.ok_or_else(|| bad("no 'right' row (the tail for x ≥ t_n)".into()))?,
        };
        table.piecewise()?;
        Ok(table)
    }

    /// Writes the CSV form, with every number in Rust's shortest round-trip notation.
    pub fn to_csv(&self) -> String {
        let row = |kind: &str, lo: String, hi: String, c: &[f64]| {
            let cs: Vec<String> = c.iter().map(|v| format!("{v:?}")).collect();
            format!("{kind},{lo},{hi},{}\n", cs.join(","))
        };
        let mut s = String::from("segment,lo,hi,c0,c1,...\n");
        s += &row("left", String::new(), String::new(), &self.left_tail);
        for (t, c) in self.breakpoints.windows(2).zip(&self.pieces) {
            s += &row("piece", format!("{:?}", t[0]), format!("{:?}", t[1]), c);
        }
        s += &row("right", String::new(), String::new(), &self.right_tail);
        s
    }
}

/// An imported table as a versioned approximation file: errors against `activation` under `density`, cost in the
/// default two-party model, provenance `search.method = "import"`.
pub fn import_table(
    name: &str,
    activation: &dyn Activation,
    pp: &PiecewisePoly,
    density: DensitySpec,
    fx: FixedPoint,
) -> ApproximationFile {
    let errors = ErrorReport::measure(activation, pp, &density, &fx);
    let model = TwoPartyCostModel::default();
    let info = SearchInfo {
        method: "import".into(),
        seed: None,
        evaluations: 0,
        restarts: None,
        iterations: None,
        fit: None,
    };
    ApproximationFile::new(name, pp, Some(density), None, fx, errors, model.piecewise_cost(pp), Some(model), Some(info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Builtin;

    const CSV: &str = "# a hand-written SiLU\nsegment,lo,hi,c0,c1,c2\nleft,,,0\npiece,-4,0,0.0,0.25,0.06\n\
                       piece,0,4,0, 0.75,-0.06 # comment\nright,,,0,1\n";

    #[test]
    fn csv_roundtrip_both_ways() {
        let t = TableJson::from_csv(CSV).unwrap();
        let pp = t.piecewise().unwrap();
        assert_eq!(pp.breakpoints, vec![-4.0, 0.0, 4.0]);
        assert_eq!(pp.left, Tail::Zero);
        assert_eq!(pp.right, Tail::Identity);
        assert_eq!(pp.eval(1.0), 0.75 - 0.06);
        // table → CSV → table, and JSON → table.
        assert_eq!(TableJson::from_csv(&t.to_csv()).unwrap(), t);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(TableJson::from_json(&json).unwrap(), t);
        // table → versioned file → table.
        let file = import_table("silu", &Builtin::Silu, &pp, DensitySpec::standard_normal(), FixedPoint::default());
        let back = ApproximationFile::from_json(&file.to_json().unwrap()).unwrap();
        assert_eq!(TableJson::from_piecewise(None, &back.piecewise().unwrap()), t);
        assert_eq!(back.search.unwrap().method, "import");
        assert!(back.errors.weighted > 0.0 && back.errors.weighted < 0.1, "{}", back.errors.weighted);
    }

    #[test]
    fn bad_tables_give_one_line_errors() {
        let cases = [
            (CSV.replace("piece,0,4", "piece,0.5,4"), "must touch"),
            (CSV.replace("left,,,0\n", ""), "no 'left' row"),
            (CSV.replace("right,,,0,1", "right,,,0,1,2"), "right tail has 3 coefficients"),
            (CSV.replace("0.06", "x"), "'x' is not a finite number"),
            (CSV.replace("piece,-4", "middle,-4"), "segment 'middle'"),
        ];
        for (text, want) in cases {
            let e = TableJson::from_csv(&text).unwrap_err().to_string();
            assert!(e.contains(want), "want '{want}' in: {e}");
            assert!(!e.contains('\n'));
        }
        assert!(TableJson::from_json("{\"breakpoints\": [0, 1]}").unwrap_err().to_string().contains("missing field"));
    }
}
