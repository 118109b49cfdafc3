//! Error intent to requeue policy: Stalled waits for a change, Waiting requeues after a given
//! delay, Transient backs off exponentially between `--min-retry-delay` and `--max-retry-delay`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::controller::Action;

/// What an error means for the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// A human must change something; no retry until the object changes.
    Stalled,
    /// Something else must happen first (a dependency, an artifact); retry after the delay.
    Waiting(Duration),
    /// A failure that may go away by itself; retry with exponential backoff.
    Transient,
}

/// Implemented by each controller's error type, so the policy needs nothing else.
pub trait ReconcileError: std::error::Error {
    /// The condition reason (a Flux constant from [`crate::conditions::reasons`]).
    fn reason(&self) -> &'static str;
    /// The retry class.
    fn class(&self) -> ErrorClass;
    /// A short, stable label for metrics.
    fn metric_label(&self) -> &'static str;
}

/// When to run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// Only when the object changes.
    AwaitChange,
    /// After the delay.
    After(Duration),
}

impl From<Requeue> for Action {
    fn from(requeue: Requeue) -> Self {
        match requeue {
            Requeue::AwaitChange => Action::await_change(),
            Requeue::After(delay) => Action::requeue(delay),
        }
    }
}

/// Exponential backoff bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First delay.
    pub min: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(750),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The delay after `failures` consecutive failures (1 for the first): `min * 2^(failures-1)`,
    /// capped at `max`.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        self.min.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// The requeue for an error of `class` after `failures` consecutive failures.
    pub fn requeue_for(&self, class: ErrorClass, failures: u32) -> Requeue {
        match class {
            ErrorClass::Stalled => Requeue::AwaitChange,
            ErrorClass::Waiting(delay) => Requeue::After(delay),
            ErrorClass::Transient => Requeue::After(self.backoff(failures)),
        }
    }
}

/// Consecutive failure counts per object, reset on success.
#[derive(Debug, Default)]
pub struct FailureCounter {
    counts: Mutex<HashMap<String, u32>>,
}

impl FailureCounter {
    /// Records a failure of `key` and returns the number of consecutive failures.
    pub fn failed(&self, key: &str) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(key.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &str) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_maps_to_its_requeue() {
        let policy = RetryPolicy::default();
        let wait = Duration::from_secs(30);
        let cases = [
            (ErrorClass::Stalled, 1, Requeue::AwaitChange),
            (ErrorClass::Stalled, 9, Requeue::AwaitChange),
            (ErrorClass::Waiting(wait), 1, Requeue::After(wait)),
            (ErrorClass::Waiting(wait), 9, Requeue::After(wait)),
            (
                ErrorClass::Transient,
                1,
                Requeue::After(Duration::from_millis(750)),
            ),
            (
                ErrorClass::Transient,
                2,
                Requeue::After(Duration::from_millis(1500)),
            ),
            (
                ErrorClass::Transient,
                5,
                Requeue::After(Duration::from_secs(12)),
            ),
            (
                ErrorClass::Transient,
                20,
                Requeue::After(Duration::from_secs(900)),
            ),
            (
                ErrorClass::Transient,
                u32::MAX,
                Requeue::After(Duration::from_secs(900)),
            ),
        ];
        for (class, failures, want) in cases {
            assert_eq!(
                policy.requeue_for(class, failures),
                want,
                "{class:?} x{failures}"
            );
        }
    }

    #[test]
    fn failures_count_up_and_reset_on_success() {
        let counter = FailureCounter::default();
        assert_eq!(counter.failed("ns/a"), 1);
        assert_eq!(counter.failed("ns/a"), 2);
        assert_eq!(counter.failed("ns/b"), 1);
        counter.succeeded("ns/a");
        assert_eq!(counter.failed("ns/a"), 1);
    }
}
