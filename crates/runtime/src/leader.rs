//! Leader election over a `coordination.k8s.io/v1` Lease, as upstream's: a candidate takes the Lease when
//! it is free or its holder has not renewed it for `lease_duration`, renews it every `retry_period`, and
//! gives up leadership when it cannot renew within `renew_deadline`.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, PostParams};
use std::time::Duration;

/// How to elect a leader (upstream's flags and defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name (the component's name).
    pub name: String,
    /// This candidate's identity, written as the holder.
    pub identity: String,
    /// How long a holder's claim lasts after its last renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it stops leading.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire, and the leader renews.
    pub retry_period: Duration,
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

enum Attempt {
    /// This candidate holds the Lease now.
    Held,
    /// Someone else holds it.
    Taken(String),
}

impl LeaderElection {
    /// One attempt to take or renew the Lease.
    async fn try_acquire_or_renew(&self, api: &Api<Lease>) -> Result<Attempt, kube::Error> {
        let now = now_micro();
        let seconds = i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = api.get_opt(&self.name).await? else {
            let mut lease = Lease::default();
            lease.metadata.name = Some(self.name.clone());
            lease.metadata.namespace = Some(self.namespace.clone());
            lease.spec = Some(LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..Default::default()
            });
            api.create(&PostParams::default(), &lease).await?;
            return Ok(Attempt::Held);
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != self.identity && !holder.is_empty() {
            let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(seconds).max(0) as u64);
            let renewed = spec.renew_time.as_ref().map(|t| t.0).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
            let lasts = k8s_openapi::jiff::SignedDuration::try_from(duration).unwrap_or_default();
            // A claim lasting past the end of representable time has not expired.
            let expired = renewed.checked_add(lasts).is_ok_and(|expires| expires <= now.0);
            if !expired {
                return Ok(Attempt::Taken(holder));
            }
        }
        if holder != self.identity {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(now);
        // The resourceVersion read is the precondition: two candidates cannot both take an expired Lease.
        api.replace(&self.name, &PostParams::default(), &lease).await?;
        Ok(Attempt::Held)
    }

    /// Waits until this candidate holds the Lease; `on_standby` is told who holds it meanwhile.
    pub async fn acquire(&self, client: kube::Client, mut on_standby: impl FnMut(&str)) {
        let api: Api<Lease> = Api::namespaced(client, &self.namespace);
        let mut last_holder = String::new();
        loop {
            match self.try_acquire_or_renew(&api).await {
                Ok(Attempt::Held) => return,
                Ok(Attempt::Taken(holder)) => {
                    if holder != last_holder {
                        on_standby(&holder);
                        last_holder = holder;
                    }
                }
                Err(_) => {}
            }
            tokio::time::sleep(self.retry_period).await;
        }
    }

    /// Renews the Lease every retry period; returns when a renewal has not succeeded for the renew
    /// deadline (leadership is lost: the caller must stop acting).
    pub async fn hold(&self, client: kube::Client) {
        let api: Api<Lease> = Api::namespaced(client, &self.namespace);
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.retry_period).await;
            match self.try_acquire_or_renew(&api).await {
                Ok(Attempt::Held) => last_renewed = tokio::time::Instant::now(),
                Ok(Attempt::Taken(_)) => return,
                Err(_) if last_renewed.elapsed() >= self.renew_deadline => return,
                Err(_) => {}
            }
        }
    }
}
