//! The harness log: every step, who acted, what it read, what it asked and what came of it.

use std::fmt;
use themelios_api::{Op, Time};

/// What came of a request, in a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepResult {
    /// The request succeeded.
    Ok {
        /// `Kind/name` of the object returned.
        object: String,
        /// The store's revision after the request (unchanged if the write was a no-op).
        revision: u64,
    },
    /// The request failed.
    Err {
        /// The Status reason, e.g. `Conflict`.
        reason: String,
        /// The Status message.
        message: String,
    },
}

/// One step of a run.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The step number, from 1.
    pub step: usize,
    /// The logical time.
    pub time: Time,
    /// Who acted (`user` for the test itself).
    pub actor: String,
    /// The revision the actor read.
    pub read_revision: u64,
    /// The request.
    pub request: String,
    /// Its outcome.
    pub outcome: StepResult,
}

impl Entry {
    pub(crate) fn new(step: usize, time: Time, actor: &str, read_revision: u64, op: &Op, outcome: StepResult) -> Self {
        Self { step, time, actor: actor.to_string(), read_revision, request: op.to_string(), outcome }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.time.seconds_since(Time::EPOCH);
        write!(f, "{:>5}  t={seconds:>5}s  {:<28} @{:<5} {}", self.step, self.actor, self.read_revision, self.request)?;
        match &self.outcome {
            StepResult::Ok { object, revision } => write!(f, "  -> ok {object} rv={revision}"),
            StepResult::Err { reason, message } => write!(f, "  -> {reason}: {message}"),
        }
    }
}
