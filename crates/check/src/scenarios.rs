//! The built-in scenarios: the files under `scenarios/` in the repository, compiled into the binary so
//! that `themelios check NAME` works anywhere. Each is named after the upstream test it comes from.

use crate::file;
use crate::scenario::Scenario;

macro_rules! scenario_file {
    ($name:literal) => {
        (concat!("scenarios/", $name, ".yaml"), include_str!(concat!("../../../scenarios/", $name, ".yaml")))
    };
}

/// The built-in scenario files: (file name, contents).
pub const FILES: &[(&str, &str)] = &[
    scenario_file!("Deployment-TestNewDeployment"),
    scenario_file!("Deployment-TestDeploymentRollingUpdate"),
    scenario_file!("Deployment-TestPausedDeployment"),
    scenario_file!("Job-TestNonParallelJob"),
    scenario_file!("Job-TestParallelJob"),
    scenario_file!("ReplicaSet-TestSpecReplicasChange"),
    scenario_file!("ReplicaSet-TestOverlappingRSs"),
    scenario_file!("StatefulSet-TestSpecReplicasChange"),
    scenario_file!("StatefulSet-TestStatefulSetAvailable"),
    scenario_file!("StatefulSet-stale-read-59848"),
    scenario_file!("DaemonSet-duplicate-pod-54096"),
    scenario_file!("ReplicaSet-surplus-pods-129795"),
    scenario_file!("Job-double-count-105200"),
];

/// Every built-in scenario.
///
/// ```
/// let names: Vec<String> = themelios_check::scenarios::builtin().into_iter().map(|s| s.name).collect();
/// assert!(names.iter().any(|n| n.contains("59848")));
/// ```
pub fn builtin() -> Vec<Scenario> {
    FILES.iter().filter_map(|(path, text)| file::parse(path, text).ok()).collect()
}

/// A built-in scenario by name.
pub fn by_name(name: &str) -> Option<Scenario> {
    builtin().into_iter().find(|s| s.name == name)
}

/// The scenario of kubernetes issue 59848.
pub fn issue_59848() -> Scenario {
    by_name("StatefulSet-stale-read-59848").unwrap_or_else(|| unreachable!("a built-in scenario parses (tested)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_file_parses() {
        for (path, text) in super::FILES {
            if let Err(e) = crate::file::parse(path, text) {
                panic!("{e}");
            }
        }
    }
}
