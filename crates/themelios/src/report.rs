//! How `themelios check` shows what it found: a progress line, a verdict per property, and the
//! counterexample as numbered steps with YAML diffs — or all of it as JSON.

use std::io::Write;
use themelios_check::consistency::Staleness;
use themelios_check::explore::Progress;
use themelios_check::{Report, Status};

/// Rewrites the progress line on stderr.
pub fn progress_line(label: &str, p: &Progress) {
    eprint!("\r  {label}: {}   ", progress_text(p));
    let _ = std::io::stderr().flush();
}

/// Prints a report for people.
pub fn print(label: &str, report: &Report) {
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let verdict = if report.violated() {
        "VIOLATED"
    } else if report.complete {
        "holds"
    } else {
        "no violation within the bounds"
    };
    println!(
        "{label}: {verdict} — {} states, {} unique, depth {}, {:.2}s, {:.0} states/s",
        report.states,
        report.unique_states,
        report.depth,
        secs,
        report.states as f64 / secs
    );
    for v in &report.verdicts {
        let status = match &v.status {
            Status::Holds => "holds".to_string(),
            Status::Violated { steps, .. } => format!("VIOLATED ({} steps)", steps.len()),
            Status::NotReached => "not reached (no quiescent state)".to_string(),
            Status::Unknown => "unknown (bounded)".to_string(),
        };
        println!("  {:<10} {:<72} {status}", v.kind, v.property);
    }
    let shortest = report.shortest_violation().and_then(|verdict| match &verdict.status {
        Status::Violated { detail, steps, cycle_from } => Some((verdict, detail, steps, cycle_from)),
        _ => None,
    });
    if let Some((verdict, detail, steps, cycle_from)) = shortest {
        println!("\n  {}: {detail}", verdict.property);
        println!("  counterexample ({} steps, shortest first):", steps.len());
        for (i, step) in steps.iter().enumerate() {
            if Some(i) == cycle_from.map(|c| c + 1) {
                println!("       -- the cycle starts here and repeats for ever --");
            }
            println!("  {:>3}. {}", i + 1, step.account);
            for change in &step.changes {
                println!("         {}:", change.object);
                for line in &change.diff {
                    println!("           {line}");
                }
            }
        }
    }
}

/// A report as a JSON value, with what was checked.
pub fn json(
    scenario: &str,
    consistency: &str,
    staleness: Staleness,
    instances: usize,
    report: &Report,
) -> serde_json::Value {
    let mut value = themelios_api::json::to_value(report);
    if let Some(map) = value.as_object_mut() {
        map.insert("scenario".into(), scenario.into());
        map.insert("consistency".into(), consistency.into());
        map.insert("staleness".into(), staleness.name().into());
        map.insert("instances".into(), instances.into());
        map.insert("violated".into(), report.violated().into());
    }
    value
}

/// Formats a progress report: states, unique, states/s, depth, memory.
pub fn progress_text(p: &Progress) -> String {
    let rate = p.states as f64 / p.elapsed.as_secs_f64().max(1e-9);
    let memory = p.memory.map(|m| format!(", {} MiB", m >> 20)).unwrap_or_default();
    format!(
        "{} states, {} unique, {rate:.0} states/s, depth {}{memory}, {:.0}s",
        p.states,
        p.unique_states,
        p.depth,
        p.elapsed.as_secs_f64()
    )
}
