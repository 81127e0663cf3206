//! Every controller by name, once: the names the controller-manager's `--controllers` and scenario files
//! take, how to make each, and the properties it brings.
//!
//! ```
//! use themelios_controllers::registry;
//!
//! let podgc = registry::by_name("podgc").expect("an alias of pod-garbage-collector");
//! assert_eq!(podgc.name, "pod-garbage-collector");
//! assert!(podgc.in_controller_manager);
//! assert!(!registry::by_name("scheduler").expect("registered").in_controller_manager);
//! assert_eq!((podgc.make)(&registry::Settings::default()).name(), "pod-garbage-collector");
//! ```

use crate::framework::{AnyController, Property};
use crate::{
    cronjob, daemonset, deployment, fixtures, garbagecollector, job, namespace, nodelifecycle, podgc, replicaset,
    rootcacert, scheduler, serviceaccount, statefulset, ttlafterfinished, volumeprotection,
};

/// What a controller may need from the process that runs it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The CA bundle (PEM) the root CA publisher puts in every namespace: upstream's `--root-ca-file`,
    /// else the CA the controller-manager's kubeconfig trusts.
    pub root_ca_bundle: String,
}

impl Default for Settings {
    /// What a model or a test harness runs with.
    fn default() -> Self {
        Self { root_ca_bundle: rootcacert::PLACEHOLDER_BUNDLE.into() }
    }
}

/// One controller under its names.
pub struct Registered {
    /// Its name: upstream's name in kube-controller-manager's `--controllers`, else the component's.
    pub name: &'static str,
    /// Other names accepted for it (scenario files written before the names were unified).
    pub aliases: &'static [&'static str],
    /// Whether the controller-manager runs it (the scheduler is its own process; fixtures are for tests).
    pub in_controller_manager: bool,
    /// A fresh instance.
    pub make: fn(&Settings) -> Box<dyn AnyController>,
    /// The properties it guarantees.
    pub properties: fn() -> Vec<Property>,
}

fn boxed<C: crate::framework::Controller + 'static>(controller: C) -> Box<dyn AnyController> {
    Box::new(controller)
}

/// Every registered controller, in the controller-manager's order.
pub const ALL: &[Registered] = &[
    Registered {
        name: "deployment",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(deployment::DeploymentController),
        properties: deployment::properties,
    },
    Registered {
        name: "replicaset",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(replicaset::ReplicaSetController),
        properties: replicaset::properties,
    },
    Registered {
        name: "statefulset",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(statefulset::StatefulSetController),
        properties: statefulset::properties,
    },
    Registered {
        name: "daemonset",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(daemonset::DaemonSetController),
        properties: daemonset::properties,
    },
    Registered {
        name: "job",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(job::JobController),
        properties: job::properties,
    },
    Registered {
        name: "cronjob",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(cronjob::CronJobController),
        properties: cronjob::properties,
    },
    Registered {
        name: "ttl-after-finished",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(ttlafterfinished::TtlAfterFinishedController),
        properties: ttlafterfinished::properties,
    },
    Registered {
        name: "garbage-collector",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(garbagecollector::GarbageCollector),
        properties: garbagecollector::properties,
    },
    Registered {
        name: "namespace",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(namespace::NamespaceController),
        properties: namespace::properties,
    },
    Registered {
        name: "node-lifecycle",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(nodelifecycle::NodeLifecycleController),
        properties: nodelifecycle::properties,
    },
    Registered {
        name: "pod-garbage-collector",
        aliases: &["podgc"],
        in_controller_manager: true,
        make: |_| boxed(podgc::PodGc::default()),
        properties: podgc::properties,
    },
    Registered {
        name: "serviceaccount",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(serviceaccount::ServiceAccountController),
        properties: serviceaccount::properties,
    },
    Registered {
        name: "root-ca-cert-publisher",
        aliases: &[],
        in_controller_manager: true,
        make: |settings| boxed(rootcacert::RootCaPublisher::new(settings.root_ca_bundle.clone())),
        properties: rootcacert::properties,
    },
    Registered {
        name: "pvc-protection",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(volumeprotection::PvcProtectionController),
        properties: volumeprotection::properties,
    },
    Registered {
        name: "pv-protection",
        aliases: &[],
        in_controller_manager: true,
        make: |_| boxed(volumeprotection::PvProtectionController),
        properties: Vec::new,
    },
    Registered {
        name: "scheduler",
        aliases: &[],
        in_controller_manager: false,
        make: |_| boxed(scheduler::Scheduler::default()),
        properties: scheduler::properties,
    },
    Registered {
        name: "pod-readier",
        aliases: &[],
        in_controller_manager: false,
        make: |_| boxed(fixtures::PodReadier::default()),
        properties: Vec::new,
    },
];

/// The controller called `name` (or one of its aliases).
pub fn by_name(name: &str) -> Option<&'static Registered> {
    ALL.iter().find(|r| r.name == name || r.aliases.contains(&name))
}

/// The names the controller-manager runs, in order.
pub fn controller_manager_names() -> impl Iterator<Item = &'static str> {
    ALL.iter().filter(|r| r.in_controller_manager).map(|r| r.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_finds_its_controller_once() {
        let mut names: Vec<&str> =
            ALL.iter().flat_map(|r| std::iter::once(r.name).chain(r.aliases.iter().copied())).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name or alias is registered twice");
        for registered in ALL {
            for name in std::iter::once(registered.name).chain(registered.aliases.iter().copied()) {
                assert_eq!(by_name(name).map(|r| r.name), Some(registered.name));
            }
        }
        assert_eq!(by_name("kube-proxy").map(|r| r.name), None);
        let manager: Vec<&str> = controller_manager_names().collect();
        assert_eq!(manager.len(), 15);
        assert!(!manager.contains(&"scheduler") && !manager.contains(&"pod-readier"));
    }
}
