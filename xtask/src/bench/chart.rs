//! The chart of `cargo xtask bench`: one horizontal bar per configuration,
//! its cost as a ratio to the baseline of its group (log scale, 1 = no
//! cost), with the range of the rounds as a whisker. SVG, made with
//! plotters and no system library.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

/// A group of bars under a title.
pub struct Group {
    pub title: String,
    pub bars: Vec<Bar>,
}

pub struct Bar {
    pub label: String,
    /// Median cost ratio (time, or time per request, against the baseline).
    pub ratio: f64,
    /// The ratios of the fastest and slowest round.
    pub low: f64,
    pub high: f64,
    pub tool: Tool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ours,
    Bpftrace,
    Strace,
    Seccomp,
    Empty,
}

impl Tool {
    fn colour(self) -> RGBColor {
        match self {
            Tool::Ours => RGBColor(0x1f, 0x77, 0xb4),
            Tool::Bpftrace => RGBColor(0xff, 0x7f, 0x0e),
            Tool::Strace => RGBColor(0xd6, 0x27, 0x28),
            Tool::Seccomp => RGBColor(0x2c, 0xa0, 0x2c),
            Tool::Empty => RGBColor(0x7f, 0x7f, 0x7f),
        }
    }
}

const ROW: u32 = 22;
const LABEL_WIDTH: u32 = 470;
const WIDTH: u32 = 1200;

pub fn draw(path: &Path, title: &str, groups: &[Group]) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let rows: usize = groups.iter().map(|g| g.bars.len() + 1).sum();
    let height = 90 + ROW * rows as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let highest = groups
        .iter()
        .flat_map(|g| &g.bars)
        .map(|b| b.high.max(b.ratio))
        .filter(|r| r.is_finite())
        .fold(2.0f64, f64::max);
    let lowest = groups
        .iter()
        .flat_map(|g| &g.bars)
        .map(|b| b.low.min(b.ratio))
        .filter(|r| r.is_finite() && *r > 0.0)
        .fold(0.9f64, f64::min);
    let x_range = (lowest * 0.9)..(highest * 1.6);
    let y_range = 0f64..rows as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(LABEL_WIDTH)
        .build_cartesian_2d(x_range.log_scale(), y_range)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("cost: time (or time per request) / baseline's, log scale; 1 = free")
        .x_label_formatter(&|x| format!("{x}×"))
        .draw()
        .map_err(|e| fail(&e))?;

    // Row 0 is at the top.
    let y = |row: usize, offset: f64| rows as f64 - row as f64 - offset;
    let label_x = chart.backend_coord(&(lowest * 0.9, 0.0)).0 - 8;
    // Text at `(x, y)`, right of x or (`right`) ending at it.
    let text = |text: String, at: (i32, i32), size, style, right: bool| {
        let hpos = if right { HPos::Right } else { HPos::Left };
        let font = ("sans-serif", size).into_font().style(style).color(&BLACK);
        let font = font.pos(Pos::new(hpos, VPos::Center));
        root.draw(&Text::new(text, at, font)).map_err(|e| fail(&e))
    };
    let mut row = 0;
    for group in groups {
        let (_, py) = chart.backend_coord(&(1.0, y(row, 0.5)));
        text(
            group.title.clone(),
            (label_x, py),
            14,
            FontStyle::Bold,
            true,
        )?;
        row += 1;
        for bar in &group.bars {
            let (_, py) = chart.backend_coord(&(1.0, y(row, 0.5)));
            let colour = bar.tool.colour();
            if bar.ratio.is_finite() && bar.ratio > 0.0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(1.0, y(row, 0.8)), (bar.ratio, y(row, 0.2))],
                        colour.mix(0.8).filled(),
                    )))
                    .map_err(|e| fail(&e))?;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(bar.low, y(row, 0.5)), (bar.high, y(row, 0.5))],
                        BLACK.stroke_width(1),
                    )))
                    .map_err(|e| fail(&e))?;
                let (px, _) = chart.backend_coord(&(bar.ratio.max(bar.high), y(row, 0.5)));
                let ratio = format!("{:.2}×", bar.ratio);
                text(ratio, (px + 6, py), 12, FontStyle::Normal, false)?;
            }
            text(
                bar.label.clone(),
                (label_x, py),
                12,
                FontStyle::Normal,
                true,
            )?;
            row += 1;
        }
    }
    // The line at 1×: no cost.
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, rows as f64)],
            BLACK.stroke_width(1),
        )))
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
