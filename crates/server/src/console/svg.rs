//! Charts drawn on the server as SVG: no script, no external library, and
//! each chart carries a `<title>` and a text summary for screen readers.

use maud::{Markup, html};

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

/// One bar segment, placed.
struct Bar<'a> {
    x: f64,
    y: f64,
    height: f64,
    colour: &'a str,
    label: &'a str,
    series: &'a str,
    count: i64,
}

impl Stacked<'_> {
    fn bars(&self, width: f64) -> Vec<Bar<'_>> {
        let max = self.columns.iter().map(|(_, v)| v.iter().sum::<i64>()).max().unwrap_or(0).max(1);
        let slot = (W - LEFT) / self.columns.len().max(1) as f64;
        let plot = H - BOTTOM - 8.0;
        let mut out = Vec::new();
        for (i, (label, counts)) in self.columns.iter().enumerate() {
            let x = LEFT + i as f64 * slot + (slot - width) / 2.0;
            let mut y = H - BOTTOM;
            for (k, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                let height = *count as f64 / max as f64 * plot;
                y -= height;
                let (series, colour) = self.series.get(k).copied().unwrap_or(("", "#888"));
                out.push(Bar { x, y, height, colour, label, series, count: *count });
            }
        }
        out
    }

    /// The chart, summarized for screen readers by its total.
    pub(crate) fn render(&self) -> Markup {
        let total: i64 = self.columns.iter().flat_map(|(_, v)| v).sum();
        self.render_with(&total.to_string())
    }

    /// The chart, summarized for screen readers by `summary` (where a
    /// total means nothing, as for a score's peaks).
    pub(crate) fn render_with(&self, summary: &str) -> Markup {
        let max = self.columns.iter().map(|(_, v)| v.iter().sum::<i64>()).max().unwrap_or(0).max(1);
        let slot = (W - LEFT) / self.columns.len().max(1) as f64;
        let width = (slot * 0.8).max(1.0);
        let f = |v: f64| format!("{v:.1}");
        html! {
            svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label={ (self.title) ": " (summary) } {
                title { (self.title) }
                // Axis: zero and the maximum.
                line x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) stroke="#555" {}
                text x=(LEFT - 6.0) y=(H - BOTTOM) class="axis" { "0" }
                text x=(LEFT - 6.0) y=(18.0) class="axis" { (max) }
                @for b in self.bars(width) {
                    rect x=(f(b.x)) y=(f(b.y)) width=(f(width)) height=(f(b.height)) fill=(b.colour) {
                        title { (b.label) " " (b.series) ": " (b.count) }
                    }
                }
                @for (i, (label, _)) in self.columns.iter().enumerate().filter(|(_, (l, _))| !l.is_empty()) {
                    text x=(f(LEFT + i as f64 * slot + slot / 2.0)) y=(H - 6.0) class="axis" text-anchor="middle" { (label) }
                }
            }
            p.legend {
                @for (name, colour) in self.series {
                    // A swatch as SVG: presentation attributes pass the
                    // console's content security policy, inline styles would not.
                    span { svg width="10" height="10" aria-hidden="true" { rect width="10" height="10" fill=(colour) {} } " " (name) } " "
                }
            }
        }
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
        let svg = chart.render().into_string();
        assert!(svg.contains("aria-label=\"Alerts &lt;24h&gt;: 6\""), "{svg}");
        assert_eq!(svg.matches("<rect x=").count(), 3);
        // The tallest column fills the plot: 4 of 4.
        assert!(svg.contains(r##"height="150.0" fill="#4a7""##), "{svg}");
        assert!(svg.contains(r##"height="37.5" fill="#c33""##), "{svg}");
        assert!(!svg.contains("NaN"));
        let empty = Stacked { title: "x", series: &[], columns: vec![] }.render().into_string();
        assert!(empty.starts_with("<svg") && !empty.contains("NaN"));
    }
}
