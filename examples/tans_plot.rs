//! Accuracy-vs-steps plots (± 1 s.e. over seeds) of TANS's fine-tuning comparison, one SVG per
//! meta-test set, from the table `examples/tans_finetune.rs` writes.
//!
//! ```text
//! cargo run --release -p metanas --example tans_plot -- docs/results/tans-finetune.md docs/results
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;

use plotters::prelude::*;

/// (arm → [(steps, mean, se)]) per set, in the table's order.
type Curves = BTreeMap<String, Vec<(String, Vec<(f64, f64, f64)>)>>;

fn parse(table: &str) -> Result<Curves, Box<dyn Error>> {
    let mut sets: Curves = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| test/")) {
        // Columns are separated by " | "; a network's `|` are escaped as `\|`.
        let cols: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        // Rows of five columns (set, arm, network, steps, accuracy); the summary's are wider.
        let [set, arm, _, steps, acc] = cols[..] else {
            continue;
        };
        let (mean, se) = acc
            .split_once('±')
            .ok_or_else(|| format!("no `mean ± se` in: {line}"))?;
        let point = (
            steps.parse::<f64>()?,
            mean.trim().parse::<f64>()?,
            se.trim().parse::<f64>()?,
        );
        let arms = sets.entry(set.to_string()).or_default();
        match arms.iter_mut().find(|(a, _)| a == arm) {
            Some((_, points)) => points.push(point),
            None => arms.push((arm.to_string(), vec![point])),
        }
    }
    Ok(sets)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [table, out] = &args[..] else {
        return Err("usage: tans_plot TABLE.md OUT_DIR".into());
    };
    let sets = parse(&std::fs::read_to_string(table)?)?;
    for (set, arms) in &sets {
        let path = PathBuf::from(out).join(format!("tans-finetune-{}.svg", set.replace('/', "-")));
        let points = arms.iter().flat_map(|(_, p)| p.iter());
        let lo = points.clone().map(|p| p.1 - p.2).fold(100.0, f64::min);
        let hi = points.clone().map(|p| p.1 + p.2).fold(0.0, f64::max);
        let (x0, x1) = points
            .map(|p| p.0.log2())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        let root = SVGBackend::new(&path, (760, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{set}: test accuracy after fine-tuning steps (± 1 s.e.)"),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(
                x0 - 0.3..x1 + 0.3,
                (lo - 2.0).max(0.0)..(hi + 2.0).min(100.0),
            )?;
        chart
            .configure_mesh()
            .x_desc("optimiser steps")
            .y_desc("test accuracy (%)")
            .x_label_formatter(&|x| format!("{:.0}", 2f64.powf(*x)))
            .draw()?;
        for (i, (arm, pts)) in arms.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let offset = (i as f64 - arms.len() as f64 / 2.0) * 0.03;
            let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.0.log2() + offset, p.1)).collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), colour.stroke_width(2)))?
                .label(arm.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
            for p in pts {
                let x = p.0.log2() + offset;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, p.1 - p.2), (x, p.1 + p.2)],
                    colour.stroke_width(1),
                )))?;
            }
            chart.draw_series(
                xy.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, colour.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        root.present()?;
        println!("{}", path.display());
    }
    Ok(())
}
