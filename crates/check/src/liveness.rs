//! Eventually stable reconciliation, decided on the explored state graph.
//!
//! Every fair path must end in a quiescent state. In a finite graph a path that never does stays, from
//! some point on, inside one strongly connected component of non-quiescent states; it is *fair* (weak
//! fairness per actor and per cache) when every fairness class that is enabled in every state of the
//! component is also taken on some edge inside it — then a path can go round the component taking
//! each of them forever. Such a component is a livelock: controllers fighting, or one retrying for ever.
//! Environment actions (user operations, crashes) are not owed fairness: the environment may stay quiet.
//!
//! Stateright's `eventually` properties are checked per path and miss cycles; this looks at the cycles.

use crate::explore::{Graph, StateId};
use std::collections::{BTreeSet, VecDeque};

pub use crate::state::UNCONSTRAINED;

/// A reachable fair cycle of non-quiescent states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Livelock {
    /// From the initial state to the first state of the cycle.
    pub prefix: Vec<StateId>,
    /// The cycle, starting and ending at the last state of `prefix`.
    pub cycle: Vec<StateId>,
}

/// The livelock reached by the shortest prefix, if any. The graph must be fully expanded.
pub fn find_livelock(graph: &Graph) -> Option<Livelock> {
    let components = strongly_connected(graph);
    let mut best: Option<(StateId, Vec<StateId>)> = None;
    for component in components {
        // A state where nothing but time passes, back to itself, is quiescent, not a cycle of work.
        let settled = component.iter().all(|s| graph.is_terminal(*s));
        if settled || !is_cycle(graph, &component) || !is_fair(graph, &component) {
            continue;
        }
        let entry = component.iter().copied().min()?;
        if best.as_ref().is_none_or(|(e, _)| entry < *e) {
            best = Some((entry, component));
        }
    }
    let (entry, component) = best?;
    let members: BTreeSet<StateId> = component.into_iter().collect();
    Some(Livelock { prefix: graph.path_to(entry), cycle: shortest_cycle(graph, entry, &members)? })
}

fn is_cycle(graph: &Graph, component: &[StateId]) -> bool {
    component.len() > 1 || graph.edges(component[0]).any(|(t, _)| t == component[0])
}

fn is_fair(graph: &Graph, component: &[StateId]) -> bool {
    let members: BTreeSet<StateId> = component.iter().copied().collect();
    let mut always_enabled: Option<BTreeSet<u16>> = None;
    let mut taken = BTreeSet::new();
    for &state in component {
        let enabled: BTreeSet<u16> = graph.edges(state).map(|(_, c)| c).filter(|c| *c != UNCONSTRAINED).collect();
        always_enabled = Some(match always_enabled {
            None => enabled,
            Some(before) => before.intersection(&enabled).copied().collect(),
        });
        taken.extend(graph.edges(state).filter(|(t, _)| members.contains(t)).map(|(_, c)| c));
    }
    always_enabled.unwrap_or_default().is_subset(&taken)
}

/// The shortest path inside `members` from `entry` back to itself.
fn shortest_cycle(graph: &Graph, entry: StateId, members: &BTreeSet<StateId>) -> Option<Vec<StateId>> {
    let mut parent = std::collections::HashMap::new();
    let mut queue = VecDeque::from([entry]);
    while let Some(at) = queue.pop_front() {
        for (next, _) in graph.edges(at) {
            if !members.contains(&next) {
                continue;
            }
            if next == entry {
                let mut path = vec![entry, at];
                let mut back = at;
                while back != entry {
                    back = parent[&back];
                    path.push(back);
                }
                path.reverse();
                return Some(path);
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = parent.entry(next) {
                slot.insert(at);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Tarjan's algorithm, iteratively, over the non-terminal expanded states.
fn strongly_connected(graph: &Graph) -> Vec<Vec<StateId>> {
    let n = graph.expanded();
    let mut tarjan = Tarjan {
        graph,
        index: vec![UNSEEN; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        calls: Vec::new(),
        counter: 0,
    };
    let mut components = Vec::new();
    for root in 0..n as StateId {
        if tarjan.index[root as usize] != UNSEEN || graph.is_terminal(root) {
            continue;
        }
        tarjan.enter(root);
        while let Some((at, pending)) = tarjan.calls.last_mut() {
            let at = *at;
            if let Some(next) = pending.pop() {
                if tarjan.index[next as usize] == UNSEEN {
                    tarjan.enter(next);
                } else if tarjan.on_stack[next as usize] {
                    tarjan.low[at as usize] = tarjan.low[at as usize].min(tarjan.index[next as usize]);
                }
                continue;
            }
            tarjan.calls.pop();
            if let Some((caller, _)) = tarjan.calls.last() {
                tarjan.low[*caller as usize] = tarjan.low[*caller as usize].min(tarjan.low[at as usize]);
            }
            if tarjan.low[at as usize] == tarjan.index[at as usize] {
                let mut component = Vec::new();
                while let Some(member) = tarjan.stack.pop() {
                    tarjan.on_stack[member as usize] = false;
                    component.push(member);
                    if member == at {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

const UNSEEN: u32 = u32::MAX;

/// Tarjan's bookkeeping; `calls` is the explicit recursion stack: (state, the successors still to visit).
struct Tarjan<'g> {
    graph: &'g Graph,
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<StateId>,
    calls: Vec<(StateId, Vec<StateId>)>,
    counter: u32,
}

impl Tarjan<'_> {
    /// Visits a state for the first time.
    fn enter(&mut self, state: StateId) {
        let n = self.index.len();
        self.index[state as usize] = self.counter;
        self.low[state as usize] = self.counter;
        self.counter += 1;
        self.stack.push(state);
        self.on_stack[state as usize] = true;
        let successors =
            self.graph.edges(state).map(|(t, _)| t).filter(|t| (*t as usize) < n && !self.graph.is_terminal(*t));
        self.calls.push((state, successors.collect()));
    }
}
