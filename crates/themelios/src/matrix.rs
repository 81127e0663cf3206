//! `themelios check --matrix`: every built-in scenario under every consistency model with one and two
//! instances of each controller — a table on stdout, `matrix.csv` and `matrix.svg`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use themelios_check::consistency::{Consistency, Staleness};
use themelios_check::explore::Bounds;
use themelios_check::{check_with, scenarios};

/// Distinct states per cell under the weaker models unless `--max-states` says otherwise: keeps the whole
/// matrix within minutes on two cores; a cell that reaches it is reported as "unknown (bound)", never as
/// holding. Linearizable cells run without a bound.
pub const DEFAULT_BOUND: usize = 250_000;

/// One cell of the matrix.
pub struct Cell {
    scenario: String,
    consistency: &'static str,
    staleness: Staleness,
    instances: usize,
    verdict: Verdict,
    states: usize,
    unique: usize,
    elapsed: Duration,
}

/// What a cell came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every property holds.
    Holds,
    /// A property is violated; the shortest counterexample has this many steps.
    Violated { property: String, steps: usize },
    /// No violation within the state bound.
    Unknown,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Holds => f.write_str("holds"),
            Verdict::Violated { steps, .. } => write!(f, "violated ({steps} steps)"),
            Verdict::Unknown => f.write_str("unknown (bound)"),
        }
    }
}

/// Runs the matrix with caches as stale as `staleness` allows, `jobs` cells side by side; exit 0 when every
/// cell ran (violations are findings, not failures of the run).
pub fn run(out: &Path, threads: usize, jobs: usize, max_states: Option<usize>, staleness: Staleness) -> ExitCode {
    println!("caches may miss a write: {}", describe(staleness));
    println!(
        "{:<40} {:<33} {:>3}  {:<22} {:>10} {:>10} {:>8}",
        "scenario", "consistency", "n", "verdict", "states", "unique", "time"
    );
    let builtin = scenarios::builtin();
    let planned: Vec<(&themelios_check::scenario::Scenario, Consistency, usize)> = builtin
        .iter()
        .flat_map(|s| Consistency::all().into_iter().flat_map(move |c| [1, 2].map(|n| (s, c, n))))
        .collect();
    let started = std::time::Instant::now();
    let cells = crate::runs::run_all(
        &planned,
        jobs,
        |index, (scenario, consistency, instances), board| {
            let mut model = scenario.under(*consistency, *instances);
            model.staleness = staleness;
            // Linearizable cells are the baseline every scenario must hold on: they run exhaustively.
            let bound = match max_states {
                None if *consistency == Consistency::LINEARIZABLE => None,
                None => Some(DEFAULT_BOUND),
                explicit => explicit,
            };
            let bounds = Bounds { max_states: bound, ..Bounds::default() };
            let label = format!("{} / {consistency} / {instances}", scenario.name);
            let report = check_with(&model, threads.max(1), bounds, |p| board.show(index, &label, &p));
            let verdict = match report.shortest_violation() {
                Some(v) => {
                    Verdict::Violated { property: v.property.clone(), steps: v.status.steps().map_or(0, <[_]>::len) }
                }
                None if report.complete => Verdict::Holds,
                None => Verdict::Unknown,
            };
            Cell {
                scenario: scenario.name.clone(),
                consistency: consistency.name(),
                staleness,
                instances: *instances,
                verdict,
                states: report.states,
                unique: report.unique_states,
                elapsed: report.elapsed,
            }
        },
        |_, cell| {
            println!(
                "{:<40} {:<33} {:>3}  {:<22} {:>10} {:>10} {:>7.2}s",
                cell.scenario,
                cell.consistency,
                cell.instances,
                cell.verdict.to_string(),
                cell.states,
                cell.unique,
                cell.elapsed.as_secs_f64()
            );
        },
    );
    println!(
        "{} cells, {jobs} side by side with {threads} thread(s) each, in {:.1}s",
        cells.len(),
        started.elapsed().as_secs_f64()
    );
    let total: Duration = cells.iter().map(|c| c.elapsed).sum();
    println!("{:.1}s of checking in all", total.as_secs_f64());
    let csv_path = out.join("matrix.csv");
    let svg_path = out.join("matrix.svg");
    if let Err(e) = std::fs::create_dir_all(out)
        .and_then(|_| std::fs::write(&csv_path, csv(&cells)))
        .and_then(|_| std::fs::write(&svg_path, svg(&cells)))
    {
        eprintln!("error: cannot write the matrix files into {}: {e}", out.display());
        return ExitCode::from(2);
    }
    println!("wrote {} and {}", csv_path.display(), svg_path.display());
    ExitCode::SUCCESS
}

/// What a staleness bound means, for the table's and the chart's heading.
fn describe(staleness: Staleness) -> &'static str {
    match staleness {
        Staleness::Unbounded => "for ever (time moves on while a cache is behind)",
        Staleness::BelowTimers => "only until time next moves (staleness below every timer)",
    }
}

/// The cells as CSV.
pub fn csv(cells: &[Cell]) -> String {
    let mut out = String::from(
        "scenario,consistency,staleness,instances,verdict,property,counterexample_steps,states,unique_states,seconds\n",
    );
    for c in cells {
        let (verdict, property, steps) = match &c.verdict {
            Verdict::Holds => ("holds", String::new(), String::new()),
            Verdict::Violated { property, steps } => ("violated", property.replace('"', "'"), steps.to_string()),
            Verdict::Unknown => ("unknown", String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{verdict},\"{property}\",{steps},{},{},{:.3}",
            c.scenario,
            c.consistency,
            c.staleness,
            c.instances,
            c.states,
            c.unique,
            c.elapsed.as_secs_f64()
        );
    }
    out
}

/// The cells drawn as a grid: a row per scenario and instance count, a column per consistency model.
pub fn svg(cells: &[Cell]) -> String {
    let mut rows: Vec<(String, usize)> = Vec::new();
    let mut columns: Vec<&str> = Vec::new();
    for c in cells {
        if !rows.contains(&(c.scenario.clone(), c.instances)) {
            rows.push((c.scenario.clone(), c.instances));
        }
        if !columns.contains(&c.consistency) {
            columns.push(c.consistency);
        }
    }
    let (left, top, width, height) = (330, 150, 96, 34);
    let staleness = cells.first().map_or(Staleness::default(), |c| c.staleness);
    let total_w = left + width * columns.len() + 20;
    let total_h = top + height * rows.len() + 60;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{total_h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"15\">Themelios consistency matrix: built-in scenarios × consistency models × instances</text>\n<text x=\"10\" y=\"38\">caches may miss a write: {}</text>\n",
        describe(staleness)
    );
    for (j, column) in columns.iter().enumerate() {
        let x = left + j * width + width / 2;
        let _ = writeln!(out, "<text transform=\"translate({x},{}) rotate(-40)\">{column}</text>", top - 8);
    }
    for (i, (scenario, instances)) in rows.iter().enumerate() {
        let y = top + i * height;
        let _ = writeln!(out, "<text x=\"10\" y=\"{}\">{scenario} ×{instances}</text>", y + height / 2 + 4);
        for (j, column) in columns.iter().enumerate() {
            let Some(cell) =
                cells.iter().find(|c| &c.scenario == scenario && c.instances == *instances && c.consistency == *column)
            else {
                continue;
            };
            let (fill, label) = match &cell.verdict {
                Verdict::Holds => ("#8fd19e", "holds".to_string()),
                Verdict::Violated { steps, .. } => ("#f1948a", format!("✗ {steps} steps")),
                Verdict::Unknown => ("#d5d8dc", "bound".to_string()),
            };
            let x = left + j * width;
            let _ = writeln!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"white\"><title>{scenario} / {column} / {instances}: {} — {} unique states, {:.2}s</title></rect>",
                width - 2,
                height - 2,
                cell.verdict,
                cell.unique,
                cell.elapsed.as_secs_f64()
            );
            let _ =
                writeln!(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>", x + width / 2, y + 14);
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#333\">{} st</text>",
                x + width / 2,
                y + 26,
                cell.unique
            );
        }
    }
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"{}\">green: every property holds (exhaustive BFS); red: violated, shortest counterexample length; grey: stopped at the state bound</text>\n</svg>",
        total_h - 20
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(scenario: &str, consistency: &'static str, instances: usize, verdict: Verdict) -> Cell {
        Cell {
            scenario: scenario.into(),
            consistency,
            staleness: Staleness::Unbounded,
            instances,
            verdict,
            states: 10,
            unique: 7,
            elapsed: Duration::from_millis(5),
        }
    }

    #[test]
    fn the_matrix_is_written_as_csv_and_drawn_as_svg() {
        let cells = vec![
            cell("A", "linearizable", 1, Verdict::Holds),
            cell("A", "causal", 1, Verdict::Violated { property: "p: \"q\"".into(), steps: 12 }),
            cell("A", "causal", 2, Verdict::Unknown),
        ];
        let text = csv(&cells);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("scenario,consistency,staleness,instances,verdict"));
        assert_eq!(lines[2], "A,causal,unbounded,1,violated,\"p: 'q'\",12,10,7,0.005");
        assert!(lines[3].starts_with("A,causal,unbounded,2,unknown,"));
        let drawing = svg(&cells);
        assert_eq!(drawing.matches("<rect x=").count(), 3, "one cell per rect");
        assert!(drawing.contains("✗ 12 steps") && drawing.contains("A ×2"));
        assert!(drawing.contains("caches may miss a write: for ever"), "the chart says how stale caches may be");
    }
}
