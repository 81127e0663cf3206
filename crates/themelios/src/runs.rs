//! Several model-checking runs at once: `check --consistency all` and `check --matrix` give every run its
//! own budget, and run as many side by side as the cores allow, so that one endless model neither starves
//! the others nor keeps them waiting.

use crate::report;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use themelios_check::explore::Progress;

/// How many runs go side by side when the user does not say: the cores divided among runs of `threads`
/// checker threads each.
pub fn default_jobs(threads: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (cores / threads.max(1)).max(1)
}

/// Runs `run` on every item on `jobs` threads at once, handing each result to `finished` as it comes (in
/// the order runs end), and returns the results in the items' order. `run` gets the item's index and a
/// [`Board`] to show its progress on.
pub fn run_all<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    run: impl Fn(usize, &T, &Board) -> R + Sync,
    finished: impl FnMut(usize, &R) + Send,
) -> Vec<R> {
    let board = Board::default();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let finished = Mutex::new(finished);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else { return };
                let result = run(index, item, &board);
                board.clear(index);
                let mut finished = finished.lock().unwrap_or_else(|e| e.into_inner());
                finished(index, &result);
                results.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(result);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}

/// The progress line of the runs in flight: one run shows its figures in full, several show their states
/// side by side.
#[derive(Default)]
pub struct Board {
    running: Mutex<BTreeMap<usize, (String, Progress)>>,
}

impl Board {
    /// Notes the progress of run `index` and redraws the line.
    pub fn show(&self, index: usize, label: &str, progress: &Progress) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.insert(index, (label.to_string(), *progress));
        if running.len() == 1 {
            report::progress_line(label, progress);
            return;
        }
        // Several runs: each by the part of its label after the scenario's name (`model / instances`).
        let line: Vec<String> = running
            .values()
            .map(|(label, p)| {
                let short = label.split_once(" / ").map_or(label.as_str(), |(_, rest)| rest);
                format!("{short}: {} unique, {:.0}s", p.unique_states, p.elapsed.as_secs_f64())
            })
            .collect();
        // Kept to one terminal line: the runs that do not fit are counted.
        let mut shown = String::new();
        let mut left = line.len();
        for part in &line {
            if shown.len() + part.len() > 150 {
                break;
            }
            shown.push_str(if shown.is_empty() { "  " } else { " | " });
            shown.push_str(part);
            left -= 1;
        }
        if left > 0 {
            shown.push_str(&format!(" | {left} more"));
        }
        eprint!("\r{shown:<170}");
        let _ = std::io::stderr().flush();
    }

    /// Run `index` ended: its figures leave the line.
    fn clear(&self, index: usize) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.remove(&index).is_some() {
            eprint!("\r{:<170}\r", "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_items_order_whatever_order_runs_end_in() {
        let items: Vec<u64> = vec![30, 0, 20, 10];
        let mut ended = Vec::new();
        let results = run_all(
            &items,
            4,
            |_, millis, _| {
                std::thread::sleep(std::time::Duration::from_millis(*millis));
                millis * 2
            },
            |index, _| ended.push(index),
        );
        assert_eq!(results, [60, 0, 40, 20]);
        ended.sort_unstable();
        assert_eq!(ended, [0, 1, 2, 3], "every run reported once");
    }

    #[test]
    fn runs_go_side_by_side_up_to_the_number_of_jobs() {
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        run_all(
            &[(); 6],
            3,
            |_, _, _| {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(50));
                in_flight.fetch_sub(1, Ordering::SeqCst);
            },
            |_, _| {},
        );
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }
}
