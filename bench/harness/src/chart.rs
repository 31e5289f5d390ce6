//! `latest.svg`: three panels of horizontal bars (init per function, CPU
//! per request per operation, cost per million per operation), the floors
//! drawn in grey and as dashed reference lines across each panel. Written
//! by hand: a few rectangles and labels need no plotting library.

use crate::report::Report;

const WIDTH: f64 = 980.0;
/// Labels end here; bars start a little to the right.
const LABEL_END: f64 = 330.0;
const BAR_START: f64 = 340.0;
const BAR_SPAN: f64 = 520.0;
const ROW: f64 = 20.0;
const BAR_HEIGHT: f64 = 13.0;
/// A bar more than this many times the panel's median is cut short (and
/// marked so): one email's $100 per million would flatten every other bar.
const OUTLIER: f64 = 5.0;

const BAR: &str = "#4878a8";
const FLOOR_BAR: &str = "#a0a0a0";
const API_GATEWAY: &str = "#6b8fb5";
const LAMBDA: &str = "#e0a040";
const DYNAMODB: &str = "#5aa469";
const SQS_SES: &str = "#c05050";

struct Bar {
    label: String,
    /// Lengths in the panel's unit, each with its colour, left to right.
    segments: Vec<(f64, &'static str)>,
    value: String,
}

struct Panel {
    title: String,
    legend: Vec<(&'static str, &'static str)>,
    bars: Vec<Bar>,
    /// Dashed lines across the panel: (name, value).
    references: Vec<(String, f64)>,
    /// Said instead of bars when there are none.
    empty: &'static str,
}

pub fn svg(report: &Report) -> String {
    let panels = [init_panel(report), cpu_panel(report), cost_panel(report)];
    let mut body = String::new();
    let mut y = 8.0;
    for panel in &panels {
        y = draw(&mut body, panel, y) + 28.0;
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{y:.0}\" viewBox=\"0 0 {WIDTH} {y:.0}\" \
         font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

fn init_panel(report: &Report) -> Panel {
    let bars = report
        .functions
        .iter()
        .map(|f| Bar {
            label: f.function.clone(),
            segments: vec![(f.cold.init.median_ms, if crate::is_floor(&f.function) { FLOOR_BAR } else { BAR })],
            value: format!("{:.2} ms", f.cold.init.median_ms),
        })
        .collect();
    let references = report
        .functions
        .iter()
        .filter(|f| crate::is_floor(&f.function))
        .map(|f| (floor_name(&f.function), f.cold.init.median_ms))
        .collect();
    Panel {
        title: "Init median per function (spawn → first poll of the Runtime API), ms".into(),
        legend: Vec::new(),
        bars,
        references,
        empty: "no cold starts measured",
    }
}

fn cpu_panel(report: &Report) -> Panel {
    let bars = report
        .operations
        .iter()
        .map(|o| Bar {
            label: with_unit(&o.operation, o.messages_per_batch.is_some()),
            segments: vec![(o.cpu_us_per_unit(), if crate::is_floor(&o.function) { FLOOR_BAR } else { BAR })],
            value: format!("{:.0} µs", o.cpu_us_per_unit()),
        })
        .collect();
    let references = report
        .operations
        .iter()
        .filter(|o| crate::is_floor(&o.function))
        .map(|o| (floor_name(&o.function), o.cpu_us_per_unit()))
        .collect();
    Panel {
        title: "CPU per request (per message for the queue-fed functions), µs".into(),
        legend: Vec::new(),
        bars,
        references,
        empty: "no warm runs measured",
    }
}

fn cost_panel(report: &Report) -> Panel {
    let floors: Vec<(&str, &str)> = report
        .operations
        .iter()
        .filter(|o| crate::is_floor(&o.function))
        .map(|o| (o.operation.as_str(), o.function.as_str()))
        .collect();
    let rows = report.cost.as_ref().map(|c| c.rows.as_slice()).unwrap_or_default();
    let bars = rows
        .iter()
        .map(|row| Bar {
            label: with_unit(&row.operation, row.per != "request"),
            segments: vec![
                (row.api_gateway, API_GATEWAY),
                (row.lambda_requests + row.lambda_duration, LAMBDA),
                (row.dynamodb, DYNAMODB),
                (row.sqs + row.ses, SQS_SES),
            ],
            value: format!("${:.3}", row.total),
        })
        .collect();
    let references = rows
        .iter()
        .filter_map(|row| {
            let (_, function) = floors.iter().find(|(operation, _)| *operation == row.operation)?;
            Some((floor_name(function), row.total))
        })
        .collect();
    let title = match &report.cost {
        Some(cost) => format!(
            "Cost per million requests (per million messages for the queue-fed functions), $, {} prices of {}",
            cost.region, cost.prices_listed_on
        ),
        None => "Cost per million requests, $".into(),
    };
    Panel {
        title,
        legend: vec![("API Gateway", API_GATEWAY), ("Lambda", LAMBDA), ("DynamoDB", DYNAMODB), ("SQS + SES", SQS_SES)],
        bars,
        references,
        empty: "latency mode was off (BENCH_LATENCY_MS=0): nothing to price",
    }
}

fn floor_name(function: &str) -> String {
    if function == crate::FLOOR { "echo floor".into() } else { "SDK floor".into() }
}

fn with_unit(operation: &str, per_message: bool) -> String {
    if per_message { format!("{operation} (per message)") } else { operation.to_owned() }
}

/// Draws `panel` from `top` down; returns where it ends.
fn draw(out: &mut String, panel: &Panel, top: f64) -> f64 {
    out.push_str(&format!(
        "<text x=\"10\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        top + 16.0,
        escape(&panel.title)
    ));
    let mut y = top + 26.0;
    if !panel.legend.is_empty() {
        let mut x = BAR_START;
        for (name, colour) in &panel.legend {
            out.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
                y + 2.0,
                x + 14.0,
                y + 11.0,
                escape(name)
            ));
            x += 14.0 + 7.0 * name.chars().count() as f64 + 16.0;
        }
        y += 18.0;
    }
    if panel.bars.is_empty() {
        out.push_str(&format!("<text x=\"{BAR_START}\" y=\"{:.1}\" fill=\"#666\">{}</text>\n", y + 12.0, panel.empty));
        return y + ROW;
    }
    // Room for the reference lines' names, one line each.
    let rows_top = y + 12.0 * panel.references.len() as f64 + 4.0;
    let totals: Vec<f64> = panel.bars.iter().map(|bar| bar.segments.iter().map(|(v, _)| v).sum()).collect();
    let scale = BAR_SPAN / scale_max(&totals);
    for (i, (bar, total)) in panel.bars.iter().zip(&totals).enumerate() {
        let row_top = rows_top + ROW * i as f64;
        out.push_str(&format!(
            "<text x=\"{LABEL_END}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            row_top + 12.0,
            escape(&bar.label)
        ));
        let mut x = BAR_START;
        for (value, colour) in &bar.segments {
            let width = (value * scale).min(BAR_START + BAR_SPAN - x).max(0.0);
            if width > 0.0 {
                out.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{BAR_HEIGHT}\" fill=\"{colour}\"/>\n",
                    row_top + 2.0
                ));
            }
            x += width;
        }
        if total * scale > BAR_SPAN + 0.5 {
            // Cut short: a white break across the bar's end.
            let at = BAR_START + BAR_SPAN - 12.0;
            out.push_str(&format!(
                "<path d=\"M{:.1} {:.1} l4 -{BAR_HEIGHT} M{:.1} {:.1} l4 -{BAR_HEIGHT}\" stroke=\"white\" stroke-width=\"2\"/>\n",
                at,
                row_top + 2.0 + BAR_HEIGHT,
                at + 5.0,
                row_top + 2.0 + BAR_HEIGHT
            ));
        }
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            x + 6.0,
            row_top + 12.0,
            escape(&bar.value)
        ));
    }
    let rows_bottom = rows_top + ROW * panel.bars.len() as f64;
    for (j, (name, value)) in panel.references.iter().enumerate() {
        let x = BAR_START + (value * scale).min(BAR_SPAN);
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{rows_bottom:.1}\" stroke=\"#444\" \
             stroke-dasharray=\"4 3\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#444\">{}</text>\n",
            rows_top - 2.0,
            x + 3.0,
            rows_top - 4.0 - 12.0 * j as f64,
            escape(name)
        ));
    }
    rows_bottom
}

/// The value a full-length bar stands for: the largest one, unless it is
/// an outlier (then the largest of the rest).
fn scale_max(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
    sorted.sort_by(f64::total_cmp);
    let Some(median) = sorted.get(sorted.len() / 2).copied() else { return 1.0 };
    sorted.iter().copied().filter(|v| *v <= OUTLIER * median).fold(median, f64::max)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlier_does_not_set_the_scale() {
        assert_eq!(scale_max(&[1.0, 1.2, 1.5, 101.0]), 1.5);
        assert_eq!(scale_max(&[1.0, 2.0, 3.0]), 3.0);
        assert_eq!(scale_max(&[]), 1.0);
        assert_eq!(scale_max(&[0.0, 0.0]), 1.0);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
    }
}
