//! Figures (plotters): line charts written as PNG and SVG side by side, optionally over a shaded density.

use std::fs;
use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One named curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (x, y) points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The curves.
    pub series: Vec<Series>,
    /// Logarithmic y axis (non-positive values are dropped).
    pub log_y: bool,
    /// A density to shade under the curves, scaled to the y range: (x, pdf) points.
    pub shade: Option<Vec<(f64, f64)>>,
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
        y1 = y0 + 1.0;
    }
    ((x0, x1), (y0, y1))
}

impl LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let keep = |y: f64| !self.log_y || y > 0.0;
        let ((x0, x1), (y0, y1)) =
            bounds(self.series.iter().flat_map(|s| s.points.iter().copied()).filter(|&(_, y)| keep(y)));
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, ("sans-serif", 22)).margin(12).x_label_area_size(40).y_label_area_size(70);
        let palette = [&BLUE, &RED, &GREEN, &MAGENTA, &CYAN, &BLACK, &RGBColor(230, 140, 0), &RGBColor(120, 60, 160)];
        macro_rules! body {
            ($chart:ident, $ymin:expr, $ymax:expr) => {{
                $chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .draw()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                if let Some(shade) = &self.shade {
                    let peak = shade.iter().map(|p| p.1).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
                    let scale = |p: f64| $ymin + (($ymax - $ymin) * 0.9) * p / peak;
                    $chart
                        .draw_series(AreaSeries::new(
                            shade.iter().map(|&(x, p)| (x, scale(p))),
                            $ymin,
                            RGBColor(200, 200, 200).mix(0.5),
                        ))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?
                        .label("input density (scaled)")
                        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], RGBColor(200, 200, 200).filled()));
                }
                for (i, s) in self.series.iter().enumerate() {
                    let colour = palette[i % palette.len()];
                    $chart
                        .draw_series(LineSeries::new(
                            s.points.iter().copied().filter(|&(_, y)| keep(y)),
                            colour.stroke_width(2),
                        ))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?
                        .label(s.name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
                }
                $chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .position(SeriesLabelPosition::UpperLeft)
                    .draw()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }};
        }
        if self.log_y {
            let (lo, hi) = (y0 / 1.5, y1 * 1.5);
            let mut chart =
                builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            body!(chart, lo, hi);
        } else {
            let pad = 0.05 * (y1 - y0);
            let (lo, hi) = (y0 - pad, y1 + pad);
            let mut chart = builder.build_cartesian_2d(x0..x1, lo..hi).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            body!(chart, lo, hi);
        }
        root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(())
    }

    /// Writes `<dir>/<stem>.png` and `<dir>/<stem>.svg`.
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create figures folder '{}'", dir.display()))?;
        let png = dir.join(format!("{stem}.png"));
        // Drawn to a temporary file beside the figure, then renamed over it (atomic).
        crate::output::with_atomic(&png, |tmp| {
            self.draw(&BitMapBackend::new(tmp, (900, 560)).into_drawing_area())
                .with_context(|| format!("cannot draw '{}'", png.display()))
        })?;
        let svg = dir.join(format!("{stem}.svg"));
        crate::output::with_atomic(&svg, |tmp| {
            self.draw(&SVGBackend::new(tmp, (900, 560)).into_drawing_area())
                .with_context(|| format!("cannot draw '{}'", svg.display()))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let xs: Vec<f64> = (0..50).map(|i| -4.0 + i as f64 * 0.16).collect();
        let chart = LineChart {
            title: "test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series { name: "x²".into(), points: xs.iter().map(|&x| (x, x * x)).collect() }],
            log_y: false,
            shade: Some(xs.iter().map(|&x| (x, (-x * x / 2.0).exp())).collect()),
        };
        chart.write(dir.path(), "f").unwrap();
        let png = fs::read(dir.path().join("f.png")).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        let svg = fs::read_to_string(dir.path().join("f.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("x²"));
        let log = LineChart { log_y: true, shade: None, ..chart };
        log.write(dir.path(), "g").unwrap();
    }
}
