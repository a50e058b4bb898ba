//! Result tables: built column by column, written as CSV through polars and as Markdown for the README.

use std::fs;
use std::path::Path;

use anyhow::{Context, bail};
use polars::prelude::{CsvWriter, DataFrame, NamedFrom, SerWriter, Series};

/// File suffix of a table's CSV with its wall-clock columns ([`Table::write`]).
pub const WITH_TIMINGS: &str = "with-timings.csv";

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Text.
    Str(Vec<String>),
    /// Real numbers (NaN prints as `–`).
    F64(Vec<f64>),
    /// Counts.
    U64(Vec<u64>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Str(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::U64(v) => v.len(),
        }
    }

    fn cell(&self, row: usize) -> String {
        match self {
            Values::Str(v) => v[row].clone(),
            Values::F64(v) => fmt_f64(v[row]),
            Values::U64(v) => v[row].to_string(),
        }
    }
}

/// Formats a real for a table: 4 significant digits, scientific below 1e-3 or from 1e6.
pub fn fmt_f64(x: f64) -> String {
    if x.is_nan() {
        "–".to_string()
    } else if x == 0.0 {
        "0".to_string()
    } else if x.abs() < 1e-3 || x.abs() >= 1e6 {
        format!("{x:.3e}")
    } else {
        let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.digits$}")
    }
}

/// A named table of equally long columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Columns in display order.
    pub columns: Vec<(String, Values)>,
    /// Names of the columns measured by a clock ([`Table::with_wall_clock`]).
    pub wall_clock: Vec<String>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// Adds a column (builder style).
    pub fn with(mut self, name: &str, values: Values) -> Self {
        self.columns.push((name.to_string(), values));
        self
    }

    /// Adds a column of wall-clock measurements (seconds, rates): it differs from run to run and machine to machine,
    /// so [`Table::write`] keeps it out of the table's CSV, which then depends on the records' results alone.
    pub fn with_wall_clock(mut self, name: &str, values: Values) -> Self {
        self.wall_clock.push(name.to_string());
        self.with(name, values)
    }

    /// Number of rows (0 for no columns).
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, v)| v.len())
    }

    fn check(&self) -> anyhow::Result<()> {
        let n = self.n_rows();
        if let Some((name, v)) = self.columns.iter().find(|(_, v)| v.len() != n) {
            bail!("table column '{name}' has {} rows, expected {n}", v.len());
        }
        Ok(())
    }

    /// The table as a polars DataFrame, with or without its wall-clock columns.
    pub fn to_frame(&self, wall_clock: bool) -> anyhow::Result<DataFrame> {
        self.check()?;
        let cols: Vec<polars::prelude::Column> = self
            .columns
            .iter()
            .filter(|(name, _)| wall_clock || !self.wall_clock.contains(name))
            .map(|(name, v)| {
                let s = match v {
                    Values::Str(x) => Series::new(name.as_str().into(), x),
                    Values::F64(x) => Series::new(name.as_str().into(), x),
                    Values::U64(x) => Series::new(name.as_str().into(), x),
                };
                s.into()
            })
            .collect();
        Ok(DataFrame::new(self.n_rows(), cols)?)
    }

    /// GitHub Markdown.
    pub fn to_markdown(&self) -> anyhow::Result<String> {
        self.check()?;
        let mut out = String::new();
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        out.push_str(&format!("| {} |\n", names.join(" | ")));
        out.push_str(&format!("|{}\n", self.columns.iter().map(|_| "---|").collect::<String>()));
        for row in 0..self.n_rows() {
            let cells: Vec<String> = self.columns.iter().map(|(_, v)| v.cell(row)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        Ok(out)
    }

    /// Writes `<dir>/<stem>.csv` (polars; every column but the wall-clock ones, so the same records give the same
    /// bytes on any machine), `<dir>/<stem>.md` (every column) and, when the table has wall-clock columns,
    /// `<dir>/<stem>.with-timings.csv` (every column).
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create tables folder '{}'", dir.display()))?;
        // Every file is written atomically (temporary file + rename): a reader never sees half a table.
        let write_csv = |wall_clock: bool, path: &Path| -> anyhow::Result<()> {
            let mut bytes: Vec<u8> = Vec::new();
            CsvWriter::new(&mut bytes).include_header(true).finish(&mut self.to_frame(wall_clock)?)?;
            crate::output::write_atomic(path, &bytes)
        };
        write_csv(false, &dir.join(format!("{stem}.csv")))?;
        let timed = dir.join(format!("{stem}.{WITH_TIMINGS}"));
        if self.wall_clock.is_empty() {
            // A table that lost its wall-clock columns leaves no stale copy behind.
            if timed.exists() {
                fs::remove_file(&timed).with_context(|| format!("cannot remove the stale '{}'", timed.display()))?;
            }
        } else {
            write_csv(true, &timed)?;
        }
        let md = dir.join(format!("{stem}.md"));
        crate::output::write_atomic(&md, self.to_markdown()?.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_csv_and_markdown() {
        let t = Table::new()
            .with("method", Values::Str(vec!["compact".into(), "nfgen".into()]))
            .with("bytes", Values::U64(vec![240, 1040]))
            .with("error", Values::F64(vec![9.5e-4, f64::NAN]));
        let dir = tempfile::tempdir().unwrap();
        t.write(dir.path(), "x").unwrap();
        let csv = fs::read_to_string(dir.path().join("x.csv")).unwrap();
        assert_eq!(csv.lines().next().unwrap(), "method,bytes,error");
        assert!(csv.contains("compact,240,0.00095"));
        let md = fs::read_to_string(dir.path().join("x.md")).unwrap();
        assert!(md.contains("| compact | 240 | 9.500e-4 |") && md.contains("| nfgen | 1040 | – |"), "{md}");
        assert!(!dir.path().join("x.with-timings.csv").exists());
    }

    #[test]
    fn wall_clock_columns_stay_out_of_the_csv() {
        let t = |secs: f64| {
            Table::new()
                .with("method", Values::Str(vec!["compact".into()]))
                .with_wall_clock("s/point", Values::F64(vec![secs]))
                .with("bytes", Values::U64(vec![240]))
        };
        let dir = tempfile::tempdir().unwrap();
        t(1.5).write(dir.path(), "x").unwrap();
        let csv = fs::read(dir.path().join("x.csv")).unwrap();
        assert_eq!(String::from_utf8_lossy(&csv), "method,bytes\ncompact,240\n");
        let timed = fs::read_to_string(dir.path().join("x.with-timings.csv")).unwrap();
        assert_eq!(timed, "method,s/point,bytes\ncompact,1.5,240\n");
        assert!(fs::read_to_string(dir.path().join("x.md")).unwrap().contains("| compact | 1.500 | 240 |"));
        // Another run's clock changes only the timed copy.
        t(7.25).write(dir.path(), "x").unwrap();
        assert_eq!(fs::read(dir.path().join("x.csv")).unwrap(), csv);
        assert!(fs::read_to_string(dir.path().join("x.with-timings.csv")).unwrap().contains("7.25"));
        // The same stem without wall-clock columns removes the stale timed copy.
        Table::new().with("method", Values::Str(vec!["compact".into()])).write(dir.path(), "x").unwrap();
        assert!(!dir.path().join("x.with-timings.csv").exists());
    }

    #[test]
    fn ragged_table_is_an_error() {
        let t = Table::new().with("a", Values::U64(vec![1])).with("b", Values::U64(vec![]));
        assert!(t.to_markdown().unwrap_err().to_string().contains("'b' has 0 rows"));
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_f64(1234.5), "1234");
        assert_eq!(fmt_f64(0.98765), "0.9877");
        assert_eq!(fmt_f64(2.0e-5), "2.000e-5");
    }
}
