//! What the simulation keeps beside the API objects: how images behave, each container's
//! runtime state (logs, memory, back-off) and the scheduler's retries.

use std::collections::HashMap;

use serde::Deserialize;

use super::{dice::Dice, leak::Leak};

/// How a container image behaves once started.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "behavior", rename_all = "snake_case")]
pub enum Behavior {
    /// Starts, serves, logs now and then — with `access_log`, a JSON line per request (the
    /// checkout service's format).
    Healthy {
        memory_mib: u64,
        cpu_millis: u64,
        #[serde(default)]
        access_log: bool,
    },
    /// Leaks into its memory limit ([`Leak`]).
    Leak(Leak),
    /// The image does not exist in the registry.
    ImagePullFails,
    /// Runs, but its readiness probe keeps failing (503).
    NeverReady { memory_mib: u64, cpu_millis: u64 },
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior::Healthy {
            memory_mib: 24,
            cpu_millis: 5,
            access_log: false,
        }
    }
}

/// Image → behavior; images not listed are healthy.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Behaviors(pub HashMap<String, Behavior>);

/// What the simulation knows about one container beyond its API status.
#[derive(Debug, Clone, Default)]
pub struct ContainerSim {
    /// (unix seconds, line) of the current run.
    pub logs: Vec<(i64, String)>,
    /// The run before the last restart (`--previous`).
    pub previous: Option<Vec<(i64, String)>>,
    /// Working-set memory in bytes and CPU in millicores, now.
    pub memory: u64,
    pub cpu_millis: u64,
    /// The current run's container ID.
    pub container_id: String,
    /// When the current run started (unix seconds); `None` before a (re)start.
    pub started_at: Option<i64>,
    /// When the behavior last stepped (allocation, log line).
    pub last_step: i64,
    /// In CrashLoopBackOff until then, and for how long (seconds) that back-off is.
    pub backoff_until: Option<i64>,
    pub backoff_secs: i64,
    /// When it last crashed (unix seconds): the back-off starts over after ten quiet minutes.
    pub last_crash: Option<i64>,
    pub backoff_noted: bool,
    pub pull_attempts: u64,
    /// Lines written since the log agent last shipped them (ns, line), and kernel lines about
    /// this container (the OOM killer's).
    pub unshipped: Vec<(i64, String)>,
    pub kernel: Vec<(i64, String)>,
    /// Draws for generated lines.
    pub dice: Dice,
}

impl ContainerSim {
    /// The kubelet's restart back-off: 10 s doubling to 5 minutes, starting over once a
    /// container has gone twice that long without crashing.
    const BACKOFF_START: i64 = 10;
    const BACKOFF_MAX: i64 = 300;

    /// Note a crash at `at` (unix seconds) and return the back-off before the restart.
    pub fn crashed(&mut self, at: i64) -> i64 {
        let quiet = self
            .last_crash
            .is_none_or(|last| at - last > 2 * Self::BACKOFF_MAX);
        self.backoff_secs = if quiet || self.backoff_secs == 0 {
            Self::BACKOFF_START
        } else {
            (self.backoff_secs * 2).min(Self::BACKOFF_MAX)
        };
        self.last_crash = Some(at);
        self.backoff_until = Some(at + self.backoff_secs);
        self.backoff_secs
    }
}

/// (namespace, pod, container)
pub type ContainerKey = (String, String, String);

/// A pod the scheduler could not place: when it tries again. Like kube-scheduler, it backs off
/// (1 s doubling to 10 s), then waits in the unschedulable queue until the cluster changes in a
/// way that could make room (here: the nodes' free memory) or five minutes pass.
#[derive(Debug, Clone, Default)]
pub struct Unschedulable {
    pub attempts: u32,
    /// Unix seconds of the last attempt.
    pub last: i64,
    /// The nodes' free memory when it last failed.
    pub free: Vec<u64>,
}

impl Unschedulable {
    /// The longest back-off, and how long a pod waits without a cluster change.
    const MAX_BACKOFF: i64 = 10;
    const FLUSH: i64 = 300;

    /// Whether to try again at `now` with the nodes' free memory `free`.
    pub fn due(&self, now: i64, free: &[u64]) -> bool {
        let backoff = (1i64 << self.attempts.saturating_sub(1).min(4)).min(Self::MAX_BACKOFF);
        let waited = now - self.last;
        if waited < backoff {
            return false;
        }
        // Backed off as far as it goes: in the unschedulable queue until something changes.
        backoff < Self::MAX_BACKOFF || free != self.free.as_slice() || waited >= Self::FLUSH
    }
}

#[cfg(test)]
mod tests {
    use super::{ContainerSim, Unschedulable};

    #[test]
    fn restarts_back_off_as_the_kubelet_does() {
        let mut sim = ContainerSim::default();
        let mut at = 1000;
        let mut backoffs = Vec::new();
        for _ in 0..7 {
            backoffs.push(sim.crashed(at));
            at += 15 + backoffs.last().unwrap();
        }
        assert_eq!(backoffs, [10, 20, 40, 80, 160, 300, 300]);
        // A container that ran more than ten minutes starts over.
        assert_eq!(sim.crashed(at + 601), 10);
        assert_eq!(sim.backoff_until, Some(at + 611));
    }

    #[test]
    fn an_unschedulable_pod_backs_off_then_waits_for_a_change() {
        let free = [100u64];
        let after = |attempts: u32| Unschedulable {
            attempts,
            last: 1000,
            free: free.to_vec(),
        };
        // 1, 2, 4, 8 s after the first four failures.
        for (attempts, backoff) in [(1, 1), (2, 2), (3, 4), (4, 8)] {
            assert!(!after(attempts).due(1000 + backoff - 1, &free));
            assert!(after(attempts).due(1000 + backoff, &free));
        }
        // Then only when the nodes' free memory changes, or after five minutes.
        assert!(!after(5).due(1010, &free));
        assert!(!after(9).due(1299, &free));
        assert!(after(9).due(1300, &free));
        assert!(after(5).due(1010, &[200]));
        assert!(!after(5).due(1009, &[200]), "the back-off holds even then");
    }
}
