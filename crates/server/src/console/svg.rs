//! Charts drawn on the server as SVG: no script, no external library, and
//! each chart carries a `<title>` and a text summary for screen readers.

use std::fmt::Write;

use super::view::esc;

/// One stacked bar chart: `columns` of counts per series, labels under
/// some columns. Series colours come with the series.
pub(crate) struct Stacked<'a> {
    pub(crate) title: &'a str,
    pub(crate) series: &'a [(&'a str, &'a str)],
    /// One entry per column: its label and its count per series.
    pub(crate) columns: Vec<(String, Vec<i64>)>,
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;

impl Stacked<'_> {
    pub(crate) fn render(&self) -> String {
        let max = self.columns.iter().map(|(_, v)| v.iter().sum::<i64>()).max().unwrap_or(0).max(1);
        let n = self.columns.len().max(1) as f64;
        let slot = (W - LEFT) / n;
        let bar = (slot * 0.8).max(1.0);
        let plot = H - BOTTOM - 8.0;
        let mut s = String::new();
        let total: i64 = self.columns.iter().flat_map(|(_, v)| v).sum();
        let _ = write!(
            s,
            r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{t}: {total}"><title>{t}</title>"#,
            t = esc(self.title)
        );
        // Axis: zero and the maximum.
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y0}" x2="{W}" y2="{y0}" stroke="#555"/><text x="{lx}" y="{y0}" class="axis">0</text><text x="{lx}" y="{ytop}" class="axis">{max}</text>"##,
            y0 = H - BOTTOM,
            lx = LEFT - 6.0,
            ytop = 8.0 + 10.0,
        );
        for (i, (label, counts)) in self.columns.iter().enumerate() {
            let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
            let mut y = H - BOTTOM;
            for (k, count) in counts.iter().enumerate() {
                if *count <= 0 {
                    continue;
                }
                let h = *count as f64 / max as f64 * plot;
                y -= h;
                let (name, colour) = self.series.get(k).copied().unwrap_or(("", "#888"));
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{colour}"><title>{} {}: {count}</title></rect>"#,
                    esc(label),
                    esc(name)
                );
            }
            if !label.is_empty() {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">{}</text>"#,
                    x + bar / 2.0,
                    H - 6.0,
                    esc(label)
                );
            }
        }
        s.push_str("</svg><p class=\"legend\">");
        for (name, colour) in self.series {
            // A swatch as SVG: presentation attributes pass the console's
            // content security policy, inline styles would not.
            let _ = write!(
                s,
                r#"<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{colour}"/></svg> {}</span> "#,
                esc(name)
            );
        }
        s.push_str("</p>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_column() {
        let chart = Stacked {
            title: "Alerts <24h>",
            series: &[("low", "#4a7"), ("high", "#c33")],
            columns: vec![("00".into(), vec![1, 1]), ("01".into(), vec![0, 0]), ("".into(), vec![4, 0])],
        };
        let svg = chart.render();
        assert!(svg.contains("aria-label=\"Alerts &lt;24h&gt;: 6\""), "{svg}");
        assert_eq!(svg.matches("<rect x=").count(), 3);
        // The tallest column fills the plot: 4 of 4.
        assert!(svg.contains(r##"height="150.0" fill="#4a7""##), "{svg}");
        assert!(svg.contains(r##"height="37.5" fill="#c33""##), "{svg}");
        assert!(!svg.contains("NaN"));
        let empty = Stacked { title: "x", series: &[], columns: vec![] }.render();
        assert!(empty.starts_with("<svg") && !empty.contains("NaN"));
    }
}
