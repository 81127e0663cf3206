//! Completion indexes of Indexed Jobs: the pod's index, and the interval strings of completedIndexes.

use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;

/// Annotation and label carrying a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Annotation on a replacement pod: how many times its index has failed before.
pub const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";

/// A pod's completion index, from its annotation (or label).
pub fn index_of(pod: &Pod) -> Option<i32> {
    let from = |m: Option<&std::collections::BTreeMap<String, String>>| m?.get(COMPLETION_INDEX)?.parse().ok();
    from(pod.metadata.annotations.as_ref()).or_else(|| from(pod.metadata.labels.as_ref()))
}

/// How many times the pod's index had failed when the pod was created.
pub fn prior_failures(pod: &Pod) -> i32 {
    pod.metadata.annotations.as_ref().and_then(|a| a.get(INDEX_FAILURE_COUNT)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Parses `"0-3,5,7-8"` (malformed parts are skipped, as upstream tolerates them).
///
/// ```
/// use themelios_controllers::job::{format_intervals, parse_intervals};
/// let set = parse_intervals("0-3,5");
/// assert_eq!(set.len(), 5);
/// assert_eq!(format_intervals(&set), "0-3,5");
/// ```
pub fn parse_intervals(text: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(v) = part.parse() {
                    out.insert(v);
                }
            }
        }
    }
    out
}

/// Formats a set of indexes as intervals.
pub fn format_intervals(set: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
    }
    parts.join(",")
}
