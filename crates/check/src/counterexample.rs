//! Counterexamples: the path to a violation replayed from the initial state, as numbered steps with the
//! objects each step changed shown as a YAML diff.

use crate::explore::{step_to, Graph, StateId};
use crate::model::{Account, ClusterModel, State};
use stateright::Model;
use themelios_api::Kind;

/// One step of a counterexample.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NarratedStep {
    /// Who acted, what it read, asked and got.
    #[serde(flatten)]
    pub account: Account,
    /// The objects the step changed in the datastore, each as a YAML diff.
    pub changes: Vec<ObjectDiff>,
}

/// How one object changed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ObjectDiff {
    /// `Kind namespace/name`.
    pub object: String,
    /// Lines of YAML, each starting with `+ ` (added) or `- ` (removed).
    pub diff: Vec<String>,
}

/// The steps along a path of states of the graph, replayed from the model's initial state.
pub fn replay(model: &ClusterModel, graph: &Graph, path: &[StateId]) -> Vec<NarratedStep> {
    let Some(mut state) = model.init_states().into_iter().next() else { return Vec::new() };
    let mut steps = Vec::new();
    for next in path.iter().skip(1) {
        let Some((action, _)) = step_to(model, &state, graph.fingerprint(*next)) else { break };
        let Some((after, account)) = model.narrated(&state, action) else { break };
        steps.push(NarratedStep { account, changes: changes(&state, &after) });
        state = after;
    }
    steps
}

/// The objects that differ between two states' datastores.
pub fn changes(before: &State, after: &State) -> Vec<ObjectDiff> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let (old, new) = (before.store.objects().of_kind(*kind), after.store.objects().of_kind(*kind));
        if old == new {
            continue;
        }
        let names: std::collections::BTreeSet<_> = old.keys().chain(new.keys()).collect();
        for name in names {
            let (a, b) = (old.get(name), new.get(name));
            if a == b {
                continue;
            }
            let yaml = |o: Option<&std::sync::Arc<themelios_api::StoredObject>>| {
                o.and_then(|o| serde_yaml_ng::to_string(o.object()).ok()).unwrap_or_default()
            };
            let object = if name.namespace.is_empty() {
                format!("{kind} {}", name.name)
            } else {
                format!("{kind} {}/{}", name.namespace, name.name)
            };
            out.push(ObjectDiff { object, diff: line_diff(&yaml(a), &yaml(b)) });
        }
    }
    out
}

/// The lines removed from `old` and added in `new`, in order, by longest common subsequence.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn a_line_diff_shows_removed_and_added_lines_in_order() {
        let old = "a: 1\nb: 2\nc: 3\n";
        let new = "a: 1\nb: 5\nc: 3\nd: 4\n";
        assert_eq!(line_diff(old, new), vec!["- b: 2", "+ b: 5", "+ d: 4"]);
        assert!(line_diff(old, old).is_empty());
        assert_eq!(line_diff("", "x: 1\n"), vec!["+ x: 1"]);
    }
}
