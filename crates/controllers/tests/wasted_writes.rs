//! The property every controller answers to: never send an update that changes nothing. A controller
//! that builds a status with zeros the server drops (Go's `omitempty`, which kube-apiserver applies and so
//! does our shared `apply()`) and compares it with the stored status never sees them equal: against a
//! real API server it writes for ever. The harness stops it at its first such write.

use k8s_openapi::api::apps::v1::ReplicaSet;
use themelios_api::{Op, Resource};
use themelios_controllers::fixtures;
use themelios_controllers::framework::{status_update, ClusterView, Controller, Timers, NO_WASTED_WRITES};
use themelios_controllers::harness::{Harness, RunError};

/// Records `readyReplicas` (and, carelessly, `fullyLabeledReplicas: 0`) in the ReplicaSet's status.
struct StatusWriter {
    /// Compares its status with the stored one as Rust values (the bug) instead of as the server stores it.
    compares_naively: bool,
}

impl Controller for StatusWriter {
    type Local = ();
    fn name(&self) -> String {
        "status-writer".into()
    }
    fn step(&self, view: &ClusterView, _: &mut (), _timers: &mut Timers) -> Option<Op> {
        let rs = view.get::<ReplicaSet>("default", "web")?;
        let record = |rs: &mut ReplicaSet| {
            let status = rs.status.get_or_insert_with(Default::default);
            status.fully_labeled_replicas = Some(0);
            status.ready_replicas = Some(0);
        };
        if !self.compares_naively {
            return status_update(rs, record);
        }
        let mut desired = rs.clone();
        record(&mut desired);
        (desired.status != rs.status).then(|| Op::UpdateStatus(desired.into_object()))
    }
}

fn run(compares_naively: bool) -> Result<(), RunError> {
    let mut h = Harness::new();
    h.add(StatusWriter { compares_naively });
    h.create(fixtures::replica_set("default", "web", 0, &[("app", "web")])).expect("a valid ReplicaSet");
    h.run_to_quiescence()
}

#[test]
fn a_status_write_of_zeros_the_server_drops_is_a_violation() {
    match run(true) {
        Err(RunError::Violation { violation, .. }) => {
            assert_eq!(violation.property, NO_WASTED_WRITES);
            assert!(violation.detail.contains("changed nothing"), "{violation}");
        }
        other => panic!("the wasted write went unnoticed: {other:?}"),
    }
}

#[test]
fn comparing_as_the_server_stores_it_writes_nothing() {
    run(false).expect("nothing to write, and nothing written");
}
