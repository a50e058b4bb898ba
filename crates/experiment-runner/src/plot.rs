//! Figures (plotters): line charts written as PNG and SVG side by side, optionally over a shaded density, and
//! small multiples of them.
//!
//! Readability rules every chart follows: the Okabe–Ito colour-blind-safe palette (yellow left out: it vanishes on
//! white), and besides the colour each curve has its own marker and line style, so curves stay apart in grey
//! print; the legend sits in its own column right of the plot, never over the data; tick labels are formatted
//! (`1e-5`, `0.25`, `2`, never `9.999999999e-5`); a log2 x axis labels the measured powers of two. Keep at most
//! about six curves per panel ([`MAX_CURVES`]); put the rest in further panels ([`SmallMultiples`]).

use std::fs;
use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Curves one panel should hold at most.
pub const MAX_CURVES: usize = 6;

/// The Okabe–Ito palette without yellow: black, orange, sky blue, bluish green, blue, vermillion, reddish purple.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
];

/// One named curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (x, y) points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label (with its unit).
    pub x_label: String,
    /// y-axis label (with its unit).
    pub y_label: String,
    /// The curves.
    pub series: Vec<Series>,
    /// Logarithmic y axis (non-positive values are dropped).
    pub log_y: bool,
    /// Log2 x axis labelled at the powers of two (for depths 2, 4, …, 32).
    pub log2_x: bool,
    /// Markers at every point (measured values); otherwise about a dozen per curve, to tell curves apart.
    pub markers_at_points: bool,
    /// A density to shade under the curves, scaled to the y range: (x, pdf) points.
    pub shade: Option<Vec<(f64, f64)>>,
    /// Horizontal reference lines (label, y), drawn dashed in grey.
    pub hlines: Vec<(String, f64)>,
    /// Style (colour, marker, dash) index of each series; empty = the series' position. Small multiples that show
    /// the same names in several panels give each name one index, so a method keeps its look across panels.
    pub styles: Vec<usize>,
}


/// Tick label: integers as integers, very small or large magnitudes as `1e-5`, others with ≤ 3 decimals.
pub fn tick(v: f64) -> String {
    // Rounding noise of an axis crossing zero (1.4e-17) is zero.
    if v.abs() < 1e-12 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        // "{:.1e}" rounds the mantissa and carries into the exponent (9.999999999e-5 → 1.0e-4).
        let t = format!("{v:.1e}");
        return t.replacen(".0e", "e", 1);
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        let d = if y0 == 0.0 { 1.0 } else { 0.1 * y0.abs() };
        y0 -= d;
        y1 += d;
    }
    ((x0, x1), (y0, y1))
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Draws marker `kind` (0 circle, 1 triangle, 2 square, 3 cross, 4 filled circle, 5 diamond) at a pixel.
fn marker<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, (x, y): (i32, i32), kind: usize, c: RGBColor) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let s = 5;
    let style = c.stroke_width(2);
    match kind % 6 {
        0 => area.draw(&Circle::new((x, y), s, style)).map_err(err)?,
        1 => area.draw(&Polygon::new(vec![(x, y - s - 1), (x - s, y + s - 1), (x + s, y + s - 1)], c.filled())).map_err(err)?,
        2 => area.draw(&Rectangle::new([(x - s + 1, y - s + 1), (x + s - 1, y + s - 1)], style)).map_err(err)?,
        3 => {
            area.draw(&PathElement::new(vec![(x - s, y - s), (x + s, y + s)], style)).map_err(err)?;
            area.draw(&PathElement::new(vec![(x - s, y + s), (x + s, y - s)], style)).map_err(err)?;
        }
        4 => area.draw(&Circle::new((x, y), s - 1, c.filled())).map_err(err)?,
        _ => area.draw(&Polygon::new(vec![(x, y - s - 1), (x + s, y), (x, y + s + 1), (x - s, y)], c.filled())).map_err(err)?,
    }
    Ok(())
}

/// Dash pattern of curve `i`: solid, dashed, dotted, dash-dot-like (long dashes), in turn.
fn dashes(i: usize) -> Option<(u32, u32)> {
    match i % 4 {
        0 => None,
        1 => Some((10, 5)),
        2 => Some((3, 4)),
        _ => Some((18, 6)),
    }
}

/// Splits a polyline (pixels) into dashes of `on` pixels separated by `off`.
fn dash_path(pts: &[(i32, i32)], on: u32, off: u32) -> Vec<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    let (mut drawing, mut left) = (true, on as f64);
    let mut cur: Vec<(i32, i32)> = Vec::new();
    for w in pts.windows(2) {
        let (a, b) = ((w[0].0 as f64, w[0].1 as f64), (w[1].0 as f64, w[1].1 as f64));
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut t = 0.0;
        if drawing && cur.is_empty() {
            cur.push(w[0]);
        }
        while len > 0.0 && t < len {
            let step = left.min(len - t);
            t += step;
            left -= step;
            let p = ((a.0 + (b.0 - a.0) * t / len).round() as i32, (a.1 + (b.1 - a.1) * t / len).round() as i32);
            if drawing {
                cur.push(p);
            }
            if left <= 1e-9 {
                if drawing {
                    out.push(std::mem::take(&mut cur));
                } else {
                    cur.push(p);
                }
                drawing = !drawing;
                left = if drawing { on as f64 } else { off as f64 };
            }
        }
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

impl LineChart {
    /// Style index of series `i`.
    fn style(&self, i: usize) -> usize {
        self.styles.get(i).copied().unwrap_or(i)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let (w, _) = root.dim_in_pixel();
        let legend_w = (w as f64 * 0.3).clamp(150.0, 290.0) as u32;
        let (plot, legend) = root.split_horizontally(w.saturating_sub(legend_w));
        let keep = |y: f64| !self.log_y || y > 0.0;
        let tx = |x: f64| if self.log2_x { x.log2() } else { x };
        let pts: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| s.points.iter().filter(|&&(x, y)| keep(y) && (!self.log2_x || x > 0.0)).map(|&(x, y)| (tx(x), y)).collect())
            .collect();
        let ((mut x0, mut x1), _) = bounds(pts.iter().flatten().copied());
        let ys = pts.iter().flatten().map(|p| p.1).chain(self.hlines.iter().map(|h| h.1)).filter(|&y| keep(y));
        let (_, (y0, y1)) = bounds(ys.map(|y| (0.0, y)));
        if self.log2_x {
            x0 -= 0.25;
            x1 += 0.25;
        } else if self.markers_at_points {
            // Room for the markers at the ends.
            let pad = 0.04 * (x1 - x0);
            x0 -= pad;
            x1 += pad;
        }
        let mut builder = ChartBuilder::on(&plot);
        builder.caption(&self.title, ("sans-serif", 20)).margin(14).x_label_area_size(46).y_label_area_size(78);
        let log2 = self.log2_x;
        let xfmt = move |v: &f64| {
            if log2 {
                if (v - v.round()).abs() < 1e-6 { tick(2f64.powf(v.round())) } else { String::new() }
            } else {
                tick(*v)
            }
        };
        let n_x = if log2 { ((x1 - x0).ceil() as usize + 1).max(2) } else { 9 };
        let curves = &pts;
        // Chart coordinates are pixels of the whole backend; the drawing area adds its own offset.
        let base = plot.get_base_pixel();
        let rel = |(x, y): (i32, i32)| (x - base.0, y - base.1);
        macro_rules! body {
            ($chart:ident, $ymin:expr, $ymax:expr) => {{
                $chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .x_labels(n_x)
                    .x_label_formatter(&xfmt)
                    .y_label_formatter(&|v: &f64| tick(*v))
                    .axis_desc_style(("sans-serif", 16))
                    .label_style(("sans-serif", 14))
                    .light_line_style(RGBColor(235, 235, 235))
                    .draw()
                    .map_err(err)?;
                if let Some(shade) = &self.shade {
                    let peak = shade.iter().map(|p| p.1).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
                    let scale = |p: f64| $ymin + (($ymax - $ymin) * 0.9) * p / peak;
                    $chart
                        .draw_series(AreaSeries::new(
                            shade.iter().map(|&(x, p)| (tx(x), scale(p))),
                            $ymin,
                            RGBColor(215, 215, 215).mix(0.6),
                        ))
                        .map_err(err)?;
                }
                for (_, y) in self.hlines.iter().filter(|h| keep(h.1)) {
                    let line = vec![(x0, *y), (x1, *y)];
                    let px: Vec<(i32, i32)> = line.iter().map(|&p| rel($chart.backend_coord(&p))).collect();
                    for seg in dash_path(&px, 8, 5) {
                        plot.draw(&PathElement::new(seg, RGBColor(110, 110, 110).stroke_width(2))).map_err(err)?;
                    }
                }
                for (k, p) in curves.iter().enumerate() {
                    let i = self.style(k);
                    let c = PALETTE[i % PALETTE.len()];
                    let px: Vec<(i32, i32)> = p.iter().map(|q| rel($chart.backend_coord(q))).collect();
                    match dashes(i) {
                        None => plot.draw(&PathElement::new(px.clone(), c.stroke_width(2))).map_err(err)?,
                        Some((on, off)) => {
                            for seg in dash_path(&px, on, off) {
                                plot.draw(&PathElement::new(seg, c.stroke_width(2))).map_err(err)?;
                            }
                        }
                    }
                    let every = if self.markers_at_points { 1 } else { (px.len() / 12).max(1) };
                    let offset = if self.markers_at_points { 0 } else { (i * every / 5) % every };
                    for q in px.iter().skip(offset).step_by(every) {
                        marker(&plot, *q, i, c)?;
                    }
                }
            }};
        }
        if self.log_y {
            let (lo, hi) = (y0 / 1.5, y1 * 1.5);
            let mut chart = builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale()).map_err(err)?;
            body!(chart, lo, hi);
        } else {
            let pad = 0.06 * (y1 - y0);
            let (lo, hi) = (y0 - pad, y1 + pad);
            let mut chart = builder.build_cartesian_2d(x0..x1, lo..hi).map_err(err)?;
            body!(chart, lo, hi);
        }
        // The legend, in its own column.
        let mut y = 50;
        let font = ("sans-serif", 15).into_font();
        if self.shade.is_some() {
            legend.draw(&Rectangle::new([(6, y - 6), (36, y + 6)], RGBColor(215, 215, 215).filled())).map_err(err)?;
            legend.draw(&Text::new("input density (scaled)", (44, y - 8), font.clone())).map_err(err)?;
            y += 26;
        }
        for (label, _) in &self.hlines {
            for seg in dash_path(&[(6, y), (36, y)], 8, 5) {
                legend.draw(&PathElement::new(seg, RGBColor(110, 110, 110).stroke_width(2))).map_err(err)?;
            }
            legend.draw(&Text::new(label.as_str(), (44, y - 8), font.clone())).map_err(err)?;
            y += 26;
        }
        for (k, s) in self.series.iter().enumerate() {
            let i = self.style(k);
            let c = PALETTE[i % PALETTE.len()];
            let line = [(4, y), (38, y)];
            match dashes(i) {
                None => legend.draw(&PathElement::new(line.to_vec(), c.stroke_width(2))).map_err(err)?,
                Some((on, off)) => {
                    for seg in dash_path(&line, on.min(8), off.min(4)) {
                        legend.draw(&PathElement::new(seg, c.stroke_width(2))).map_err(err)?;
                    }
                }
            }
            marker(&legend, (21, y), i, c)?;
            legend.draw(&Text::new(s.name.as_str(), (44, y - 8), font.clone())).map_err(err)?;
            y += 26;
        }
        Ok(())
    }

    /// Writes `<dir>/<stem>.png` and `<dir>/<stem>.svg`.
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<()> {
        SmallMultiples { title: String::new(), panels: vec![self.clone()], cols: 1 }.write(dir, stem)
    }
}

/// Panels side by side (row-major, `cols` per row) under one title: small multiples when one panel would hold too
/// many curves.
#[derive(Debug, Clone, PartialEq)]
pub struct SmallMultiples {
    /// Title above all panels (empty: none).
    pub title: String,
    /// The panels.
    pub panels: Vec<LineChart>,
    /// Panels per row.
    pub cols: usize,
}

/// Pixel size of one panel.
const PANEL: (u32, u32) = (900, 540);

impl SmallMultiples {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let area = if self.title.is_empty() { root.clone() } else { root.titled(&self.title, ("sans-serif", 24)).map_err(err)? };
        let cols = self.cols.max(1);
        let rows = self.panels.len().div_ceil(cols).max(1);
        for (panel, sub) in self.panels.iter().zip(area.split_evenly((rows, cols))) {
            panel.draw(&sub)?;
        }
        root.present().map_err(err)?;
        Ok(())
    }

    /// Writes `<dir>/<stem>.png` and `<dir>/<stem>.svg`.
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create figures folder '{}'", dir.display()))?;
        let cols = self.cols.max(1) as u32;
        let rows = self.panels.len().div_ceil(self.cols.max(1)).max(1) as u32;
        let title_h = if self.title.is_empty() { 0 } else { 40 };
        let size = (PANEL.0 * cols, PANEL.1 * rows + title_h);
        let png = dir.join(format!("{stem}.png"));
        // Drawn to a temporary file beside the figure, then renamed over it (atomic).
        crate::output::with_atomic(&png, |tmp| {
            self.draw(BitMapBackend::new(tmp, size).into_drawing_area())
                .with_context(|| format!("cannot draw '{}'", png.display()))
        })?;
        let svg = dir.join(format!("{stem}.svg"));
        crate::output::with_atomic(&svg, |tmp| {
            self.draw(SVGBackend::new(tmp, size).into_drawing_area())
                .with_context(|| format!("cannot draw '{}'", svg.display()))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(9.999999999e-5), "1e-4");
        assert_eq!(tick(1e-5), "1e-5");
        assert_eq!(tick(2.5e-6), "2.5e-6");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(16.0), "16");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-0.5), "-0.5");
    }

    #[test]
    fn dashes_cover_the_path_in_pieces() {
        let segs = dash_path(&[(0, 0), (100, 0)], 10, 5);
        assert!(segs.len() >= 6, "{segs:?}");
        assert!(segs.iter().all(|s| s.len() >= 2));
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let xs: Vec<f64> = (0..50).map(|i| -4.0 + i as f64 * 0.16).collect();
        let chart = LineChart {
            title: "test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series { name: "x²".into(), points: xs.iter().map(|&x| (x, x * x)).collect() }],
            shade: Some(xs.iter().map(|&x| (x, (-x * x / 2.0).exp())).collect()),
            hlines: vec![("reference".into(), 4.0)],
            ..LineChart::default()
        };
        chart.write(dir.path(), "f").unwrap();
        let png = fs::read(dir.path().join("f.png")).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        let svg = fs::read_to_string(dir.path().join("f.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("x²") && svg.contains("reference"));
        let log = LineChart { log_y: true, shade: None, log2_x: false, ..chart.clone() };
        let depth = LineChart {
            series: vec![Series { name: "d".into(), points: vec![(2.0, 1.0), (4.0, 2.0), (32.0, 3.0)] }],
            log2_x: true,
            markers_at_points: true,
            ..chart
        };
        SmallMultiples { title: "two".into(), panels: vec![log, depth], cols: 2 }.write(dir.path(), "g").unwrap();
        let svg = fs::read_to_string(dir.path().join("g.svg")).unwrap();
        let texts: Vec<&str> = svg.split("<text").filter_map(|t| t.split('>').nth(1)?.split('<').next()).map(str::trim).collect();
        for want in ["2", "4", "8", "16", "32"] {
            assert!(texts.contains(&want), "log2 axis labels the power of two {want}: {texts:?}");
        }
    }
}
