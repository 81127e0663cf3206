//! An object's *shape*: its serialised form with everything a model checker may rename cut out — the
//! revision tokens of [`crate::identity`] and the times it carries — and the longest duration it names.
//!
//! Two objects with equal shapes are equal up to the revisions their tokens name, the times they carry and
//! how far apart their generation numbers are (below), so a checker can hash what was cut out
//! canonically: revisions by rank, times relative to the current time. The longest duration bounds how far
//! back a controller may compare a time against: see `themelios_controllers::framework::TimeUse`.
//!
//! An object's generation numbers — `metadata.generation` and the `observedGeneration`s that copy it — are
//! hashed in the shape itself, each by its rank among them: two versions whose generation is one ahead of
//! what their status observed, or twenty ahead, have one shape. That is all behaviour can tell: controllers
//! compare a generation only with the same version's `observedGeneration`, by order; the API server sets 1
//! on create and otherwise moves the generation only to one above the current one; and a status write
//! carries the resourceVersion it read, so what it observes is the generation of the version it replaces,
//! never above it. (Upstream's DaemonSet copies its generation into a pod label and compares across the
//! two; ours tells templates apart by hash.) A version whose status observes more than its generation
//! keeps its numbers in the hash.
//!
//! ```
//! use themelios_api::{shape::Shape, Kind, Object};
//! let pod = |created: &str| {
//!     let json = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
//!         "name": "web-0", "namespace": "default", "creationTimestamp": created},
//!         "spec": {"terminationGracePeriodSeconds": 30, "containers": []}});
//!     let object = Object::from_json(Kind::Pod, json).expect("a pod");
//!     Shape::of(&object, &serde_json::to_vec(&object).expect("serialisable"))
//! };
//! let (early, late) = (pod("2025-01-01T00:00:00Z"), pod("2025-01-01T00:05:00Z"));
//! assert_eq!(early.hash, late.hash);
//! assert_eq!(late.times[0].seconds_since(early.times[0]), 300);
//! assert_eq!(early.longest_duration, 30);
//! ```

use crate::identity::{
    generated_name_revision, generated_suffix, object_bucket, revision_of_uid, revision_of_uid_bytes,
};
use crate::identity::{Bucket, UID_BUCKET};
use crate::identity::{UID_HEX_LEN, UID_PREFIX};
use crate::kind::Object;
use crate::time::Time;
use std::hash::Hasher;

/// An object with its revision tokens and times cut out: two objects with equal shapes are equal up to
/// the revisions their tokens name and the times they carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// A hash of the serialised object with every token and time removed (and a mark where each was).
    pub hash: u64,
    /// The revisions named by the tokens, with their buckets, in the order they occur.
    pub tokens: Box<[(Bucket, u64)]>,
    /// The times it carries (every string that is a whole-second RFC 3339 timestamp), in order.
    pub times: Box<[Time]>,
    /// The longest duration it names, in seconds: the largest integer under a key that mentions seconds
    /// (`minReadySeconds`, `ttlSecondsAfterFinished`, an annotation `…/run-seconds`), 0 if none.
    pub longest_duration: i64,
    /// The revision of the object's generated name, if its name was generated.
    pub generated: Option<u64>,
    /// `namespace/name`, kept for objects with a generated name (controllers key their memory by it).
    pub qualified_name: Option<Box<str>>,
}

/// What is cut out of the serialised object at one place.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cut {
    Token(Bucket, u64),
    Time(Time),
    /// A generation, by its rank among the object's generation numbers.
    Generation(u32),
}

/// Marks in the hash where a token or a time was cut out.
const TOKEN_CUT: u8 = 0xfe;
const TIME_CUT: u8 = 0xfd;
const GENERATION_CUT: u8 = 0xfc;

impl Shape {
    /// Finds the tokens and times in `json`, the object's serialisation.
    pub fn of(object: &Object, json: &[u8]) -> Self {
        let mut cuts: Vec<(usize, usize, Cut)> = Vec::new();
        let meta = object.meta();
        // A generated name names a revision itself: bucket such objects by their prefix, so that equal
        // states up to renaming put them in equal buckets.
        let scheduled = scheduled_job_names(object);
        let name = match generated_name_revision(object) {
            Some(_) => format!("{}*", meta.generate_name.as_deref().unwrap_or("")),
            // A CronJob's Job: bucketed by its CronJob, as its scheduled minute is a time.
            None => match scheduled.iter().find(|(job, _, _)| Some(job.as_str()) == meta.name.as_deref()) {
                Some((job, digits_at, _)) => format!("{}#", &job[..*digits_at]),
                None => meta.name.clone().unwrap_or_default(),
            },
        };
        let bucket = object_bucket(object.kind().name(), meta.namespace.as_deref().unwrap_or(""), &name);
        if let Some(rv) = meta.resource_version.as_deref() {
            let key = br#""resourceVersion":""#;
            if let (Ok(revision), Some(at)) = (rv.parse::<u64>(), find(json, key, 0)) {
                cuts.push((at + key.len(), rv.len(), Cut::Token(bucket, revision)));
            }
        }
        if let Some(generation) = meta.generation {
            cuts.extend(
                generations_in(json, generation).into_iter().map(|(at, len, rank)| (at, len, Cut::Generation(rank))),
            );
        }
        let mut from = 0;
        while let Some(at) = find(json, UID_PREFIX.as_bytes(), from) {
            let end = at + UID_PREFIX.len() + UID_HEX_LEN;
            if let Some(revision) = json.get(at..end).and_then(revision_of_uid_bytes) {
                cuts.push((at, UID_PREFIX.len() + UID_HEX_LEN, Cut::Token(UID_BUCKET, revision)));
            }
            from = at + 1;
        }
        let generated = generated_name_revision(object);
        if let (Some(revision), Some(name)) = (generated, object.meta().name.as_deref()) {
            let quoted = format!("\"{name}\"");
            let mut from = 0;
            while let Some(at) = find(json, quoted.as_bytes(), from) {
                cuts.push((at + 1, name.len(), Cut::Token(UID_BUCKET, revision)));
                from = at + quoted.len();
            }
        }
        // Admission names a pod's token volume after the revision that created the pod, its uid's.
        if let (Object::Pod(_), Some(revision)) = (object, meta.uid.as_deref().and_then(revision_of_uid)) {
            let volume = format!("\"{}{}\"", crate::admission::TOKEN_VOLUME_PREFIX, generated_suffix(revision));
            let mut from = 0;
            while let Some(at) = find(json, volume.as_bytes(), from) {
                cuts.push((at + 1, volume.len() - 2, Cut::Token(UID_BUCKET, revision)));
                from = at + volume.len();
            }
        }
        cuts.extend(times_in(json).map(|(at, len, time)| (at, len, Cut::Time(time))));
        for (job, digits_at, scheduled) in scheduled {
            for quoted in [format!("\"{job}\""), format!("\"{job}-\"")] {
                let mut from = 0;
                while let Some(at) = find(json, quoted.as_bytes(), from) {
                    cuts.push((at + 1 + digits_at, job.len() - digits_at, Cut::Time(scheduled)));
                    from = at + quoted.len();
                }
            }
        }
        cuts.sort_unstable();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut at = 0;
        for (start, len, cut) in &cuts {
            hasher.write(&json[at..*start]);
            match cut {
                Cut::Token(..) => hasher.write_u8(TOKEN_CUT),
                // The length tells `…:00Z` from `…:00.000000Z` (a MicroTime).
                Cut::Time(_) => hasher.write(&[TIME_CUT, *len as u8]),
                Cut::Generation(rank) => {
                    hasher.write_u8(GENERATION_CUT);
                    hasher.write_u32(*rank);
                }
            }
            at = start + len;
        }
        hasher.write(&json[at..]);
        let tokens = cuts.iter().filter_map(|c| if let Cut::Token(b, r) = c.2 { Some((b, r)) } else { None });
        let times = cuts.iter().filter_map(|c| if let Cut::Time(t) = c.2 { Some(t) } else { None });
        Self {
            hash: hasher.finish(),
            tokens: tokens.collect(),
            times: times.collect(),
            longest_duration: longest_duration(json),
            generated,
            qualified_name: generated.map(|_| {
                format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or("")).into()
            }),
        }
    }
}

/// The names of CronJob Jobs an object carries — `<cron job>-<scheduled minute since the Unix epoch>`, as
/// the CronJob controller names them — with where the minute starts in each and the scheduled time: a
/// Job so named, a pod such a Job controls, a CronJob's active Jobs. The minute is a time like
/// any other (cut out and hashed as one), so that states that differ by a shift of every time match
/// whole, Job names included; renaming a Job everywhere in a state keeps what controllers do, as they
/// compare names only for equality and order.
fn scheduled_job_names(object: &Object) -> Vec<(String, usize, Time)> {
    let minute_of = |job: &str, cron_job: Option<&str>| {
        let (prefix, scheduled) = crate::schedule::scheduled_job_name(job)?;
        cron_job.is_none_or(|c| c == prefix).then(|| (job.to_string(), prefix.len() + 1, scheduled))
    };
    let meta = object.meta();
    let controller =
        meta.owner_references.iter().flatten().find(|r| r.controller == Some(true) && r.api_version == "batch/v1");
    match object {
        // Any Job so named, not only a CronJob's: its pods name it as well, and every place a name is
        // must be cut alike, or two states could match with a pod pointing at different Jobs.
        Object::Job(_) => meta.name.as_deref().and_then(|name| minute_of(name, None)).into_iter().collect(),
        Object::Pod(_) => {
            controller.filter(|r| r.kind == "Job").and_then(|r| minute_of(&r.name, None)).into_iter().collect()
        }
        Object::CronJob(cj) => {
            let active = cj.status.as_ref().and_then(|s| s.active.as_ref()).into_iter().flatten();
            active.filter_map(|r| minute_of(r.name.as_deref()?, meta.name.as_deref())).collect()
        }
        _ => Vec::new(),
    }
}

/// Every JSON string in `json` that is an RFC 3339 timestamp of a whole second (`2025-01-01T00:00:00Z`,
/// or with a zero fraction as a MicroTime has): where its text starts, its length, and the time. A
/// timestamp with a nonzero fraction is left in place: cutting it out would lose the fraction.
fn times_in(json: &[u8]) -> impl Iterator<Item = (usize, usize, Time)> + '_ {
    // `dddd-dd-ddTdd:dd:dd`: digits everywhere but these places.
    const SEPARATORS: [(usize, u8); 5] = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    const STEM: usize = 19;
    let looks_like_time = |text: &[u8]| {
        text.len() > STEM
            && text[..STEM]
                .iter()
                .enumerate()
                .all(|(i, b)| SEPARATORS.iter().find(|(at, _)| *at == i).map_or(b.is_ascii_digit(), |(_, s)| b == s))
    };
    json.iter().enumerate().filter(|(_, b)| **b == b'"').filter_map(move |(quote, _)| {
        let start = quote + 1;
        let text = json.get(start..)?;
        if !looks_like_time(text) {
            return None;
        }
        let len = text.iter().position(|b| *b == b'"')?;
        let text = std::str::from_utf8(&text[..len]).ok()?;
        let timestamp: k8s_openapi::jiff::Timestamp = text.parse().ok()?;
        (timestamp.subsec_nanosecond() == 0 && text.ends_with('Z')).then(|| (start, len, Time(timestamp.as_second())))
    })
}

/// The object's generation and every `observedGeneration` in `json` (the serialisation of an object whose
/// `metadata.generation` is `generation`): where each number's text starts, its length, and its rank among
/// them. Nothing when one is above the generation: ranks would not tell how far, and the next generation
/// might then land on it. (Metadata is serialised before spec and status, so the first `"generation":` key
/// is the object's own.)
fn generations_in(json: &[u8], generation: i64) -> Vec<(usize, usize, u32)> {
    let own = numbers_after(json, br#""generation":"#).next().filter(|(_, _, value)| *value as i64 == generation);
    let Some(own) = own else { return Vec::new() };
    let found: Vec<_> = std::iter::once(own).chain(numbers_after(json, br#""observedGeneration":"#)).collect();
    let mut values: Vec<u64> = found.iter().map(|(_, _, value)| *value).collect();
    values.sort_unstable();
    values.dedup();
    if values.last().is_some_and(|highest| *highest as i64 != generation) {
        return Vec::new();
    }
    found.into_iter().map(|(at, len, value)| (at, len, values.partition_point(|v| *v < value) as u32)).collect()
}

/// Every non-negative integer that is the value of `key` (a quoted key and its colon) in `json`.
fn numbers_after<'a>(json: &'a [u8], key: &'a [u8]) -> impl Iterator<Item = (usize, usize, u64)> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let at = find(json, key, from)? + key.len();
        from = at;
        let len = json[at..].iter().position(|b| !b.is_ascii_digit()).unwrap_or(json.len() - at);
        let value = std::str::from_utf8(&json[at..at + len]).ok().and_then(|digits| digits.parse().ok());
        if let Some(value) = value {
            return Some((at, len, value));
        }
    })
}

/// Keys that name a duration no controller measures time against, so it need not stretch the horizon:
/// a service-account token's lifetime (admission writes 3607 s into every pod; only a real kubelet's
/// token rotation reads it).
const DURATIONS_NO_CONTROLLER_TIMES: &[&[u8]] = &[b"expirationSeconds"];

/// The largest integer (as a number or a string) under a JSON key that mentions seconds, 0 if none.
fn longest_duration(json: &[u8]) -> i64 {
    let mut longest = 0i64;
    let mut from = 0;
    // "econds" matches `Seconds` and `seconds` alike.
    while let Some(at) = find(json, b"econds", from) {
        from = at + 1;
        let Some(key_end) = json[at..].iter().position(|b| *b == b'"').map(|p| at + p) else { break };
        if json.get(key_end + 1) != Some(&b':') {
            continue;
        }
        let key_start = json[..at].iter().rposition(|b| *b == b'"').map_or(0, |p| p + 1);
        if DURATIONS_NO_CONTROLLER_TIMES.contains(&&json[key_start..key_end]) {
            continue;
        }
        let value = &json[key_end + 2..];
        let value = value.strip_prefix(b"\"").unwrap_or(value);
        let digits = value.strip_prefix(b"-").unwrap_or(value);
        let digits = &digits[..digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len())];
        let seconds = digits.iter().fold(0i64, |n, d| n.saturating_mul(10).saturating_add(i64::from(d - b'0')));
        longest = longest.max(seconds);
    }
    longest
}

/// Where `needle` first occurs in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    fn shape(json: serde_json::Value) -> Shape {
        let object = Object::from_json(Kind::Pod, json).expect("a pod");
        Shape::of(&object, &serde_json::to_vec(&object).expect("serialisable"))
    }

    fn pod(annotations: serde_json::Value, status: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "annotations": annotations},
            "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": status})
    }

    #[test]
    fn every_whole_second_timestamp_is_cut_out_in_order() {
        let status = serde_json::json!({"startTime": "2025-01-01T00:00:10Z", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:20Z"}]});
        let s = shape(pod(serde_json::json!({}), status));
        assert_eq!(s.times.iter().map(|t| t.seconds_since(Time::EPOCH)).collect::<Vec<_>>(), [20, 10]);
    }

    #[test]
    fn a_timestamp_with_a_fraction_or_inside_other_text_stays_in_the_hash() {
        let with = |value: &str| shape(pod(serde_json::json!({"note": value}), serde_json::json!({})));
        for (a, b) in [
            ("2025-01-01T00:00:00.5Z", "2025-01-01T00:00:01.5Z"),
            ("at 2025-01-01T00:00:00Z", "at 2025-01-01T00:00:01Z"),
        ] {
            let (a, b) = (with(a), with(b));
            assert!(a.times.is_empty() && b.times.is_empty());
            assert_ne!(a.hash, b.hash);
        }
        let (whole, micro) = (with("2025-01-01T00:00:00Z"), with("2025-01-01T00:00:00.000000Z"));
        assert_eq!(whole.times, micro.times);
        assert_ne!(whole.hash, micro.hash, "the two spellings are different objects");
    }

    fn replica_set_json(generation: i64, observed: i64, note: &str) -> serde_json::Value {
        serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default", "generation": generation,
                "annotations": {"generation": note}},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"generation": 7}}},
            "status": {"replicas": 0, "observedGeneration": observed}})
    }

    fn replica_set_shape(json: serde_json::Value) -> Shape {
        let object = Object::from_json(Kind::ReplicaSet, json).expect("a ReplicaSet");
        Shape::of(&object, &serde_json::to_vec(&object).expect("serialisable"))
    }

    fn replica_set(generation: i64, observed: i64, note: &str) -> Shape {
        replica_set_shape(replica_set_json(generation, observed, note))
    }

    fn replica_set_with_template(generation: i64) -> Shape {
        let mut json = replica_set_json(5, 3, "x");
        json["spec"]["template"]["metadata"]["generation"] = generation.into();
        replica_set_shape(json)
    }

    #[test]
    fn generation_numbers_count_only_by_their_order_within_the_version() {
        assert_eq!(replica_set(5, 3, "x").hash, replica_set(12, 2, "x").hash, "behind by two or by ten");
        assert_eq!(replica_set(5, 5, "x").hash, replica_set(12, 12, "x").hash, "observed");
        assert_ne!(replica_set(5, 3, "x").hash, replica_set(5, 5, "x").hash);
        assert_ne!(replica_set(5, 3, "x").hash, replica_set(5, 3, "y").hash, "other text stays in the hash");
        assert!(replica_set(5, 3, "x").tokens.is_empty(), "no revisions to rank elsewhere");
        // Observing more than the generation cannot come from the API: the numbers stay.
        assert_ne!(replica_set(5, 7, "x").hash, replica_set(5, 6, "x").hash);
        // A template's metadata may name a generation too; it is not the object's, and stays.
        assert_ne!(replica_set_with_template(7).hash, replica_set_with_template(8).hash);
    }

    #[test]
    fn the_longest_duration_is_read_from_any_key_that_mentions_seconds() {
        let annotated = |run: &str| {
            let object = pod(serde_json::json!({"themelios.dev/run-seconds": run}), serde_json::json!({}));
            let mut object = object;
            object["spec"]["activeDeadlineSeconds"] = serde_json::json!(45);
            shape(object).longest_duration
        };
        assert_eq!(annotated("90"), 90);
        assert_eq!(annotated("7"), 45);
        assert_eq!(annotated("not a number"), 45);
        assert_eq!(
            shape(pod(serde_json::json!({"note": "wait 500 seconds"}), serde_json::json!({}))).longest_duration,
            0
        );
    }

    #[test]
    fn a_token_lifetime_does_not_stretch_the_horizon() {
        let mut object = pod(serde_json::json!({}), serde_json::json!({}));
        object["spec"]["activeDeadlineSeconds"] = serde_json::json!(45);
        object["spec"]["volumes"] = serde_json::json!([{"name": "token", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]);
        assert_eq!(shape(object).longest_duration, 45);
    }
}
