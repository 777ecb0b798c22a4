//! A leaking process's run as a function of its age: the memory it holds, what it writes, and
//! when the OOM killer ends it. The history written at start ([`super::history`]) and the live
//! kubelet ([`super::kubelet`]) both read their runs from here, so the sandbox's past and
//! present keep one pace, however long it runs.

use serde::Deserialize;

use super::dice::Dice;

const MIB: u64 = 1024 * 1024;

/// How often the worker logs a finished batch between its allocations.
const BATCH_SECS: i64 = 30;

/// An image that holds `step_mib` more every `every_secs` (a cache it never frees) from
/// `base_mib` until it holds `plateau_mib`; with a lower memory limit it is OOM-killed on the
/// way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Leak {
    pub base_mib: u64,
    pub step_mib: u64,
    pub every_secs: i64,
    pub plateau_mib: u64,
    pub cpu_millis: u64,
}

impl Leak {
    fn steps(&self, age: i64) -> u64 {
        (age.max(0) / self.every_secs.max(1)) as u64
    }

    fn top_mib(&self) -> u64 {
        self.plateau_mib.max(self.base_mib)
    }

    /// MiB held `age` seconds into a run.
    pub fn held_mib(&self, age: i64) -> u64 {
        (self.base_mib + self.step_mib * self.steps(age)).min(self.top_mib())
    }

    /// The age (seconds) at which a run is OOM-killed under a limit of `limit` bytes: the
    /// first allocation that takes it over the limit. `None` when it never gets there.
    pub fn killed_at(&self, limit: Option<u64>) -> Option<i64> {
        let limit = limit?;
        if self.top_mib() * MIB <= limit {
            return None;
        }
        // The fewest MiB over the limit, and the steps to reach them (at least one: the
        // kernel acts on an allocation).
        let over = limit / MIB + 1;
        let steps = match over.saturating_sub(self.base_mib) {
            0 => 1,
            missing => missing.div_ceil(self.step_mib.max(1)),
        };
        Some(steps as i64 * self.every_secs.max(1))
    }

    /// What the process writes at ages in `(from, to]`, oldest first, each as (age, message):
    /// an allocation line per step while it grows, a heap warning with it once it holds 90%
    /// of its limit, and a finished batch every half minute between.
    pub fn lines(
        &self,
        from: i64,
        to: i64,
        limit: Option<u64>,
        dice: &mut Dice,
    ) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        let every = self.every_secs.max(1);
        let limit_mib = limit.map(|l| l / MIB);
        for age in from + 1..=to {
            if age % every == 0 && self.held_mib(age) > self.held_mib(age - 1) {
                let held = self.held_mib(age);
                out.push((
                    age,
                    format!(
                        "INFO allocated chunk #{} ({}MB), holding {held} MiB; nothing freed",
                        self.steps(age),
                        self.step_mib
                    ),
                ));
                if let Some(limit) = limit_mib
                    && held <= limit
                    && held * 10 >= limit * 9
                {
                    out.push((
                        age,
                        format!(
                            "WARN heap pressure: holding {held} MiB of a {limit} MiB limit; the cache frees nothing"
                        ),
                    ));
                }
            } else if age % BATCH_SECS == 0 {
                out.push((
                    age,
                    format!(
                        "INFO processed batch of 500 orders in {:.1}s",
                        0.8 + dice.unit()
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKER: Leak = Leak {
        base_mib: 20,
        step_mib: 1,
        every_secs: 106,
        plateau_mib: 130,
        cpu_millis: 60,
    };

    #[test]
    fn a_run_grows_a_step_at_a_time_until_the_allocation_that_crosses_the_limit() {
        let limit = Some(64 * MIB);
        assert_eq!(WORKER.held_mib(0), 20);
        assert_eq!(WORKER.held_mib(105), 20);
        assert_eq!(WORKER.held_mib(106), 21);
        // 45 allocations take it from 20 to 65 MiB: killed at 79.5 minutes.
        assert_eq!(WORKER.killed_at(limit), Some(45 * 106));
        assert_eq!(WORKER.held_mib(45 * 106), 65);
        assert_eq!(WORKER.held_mib(1_000_000), 130, "it stops at its plateau");
        assert_eq!(
            WORKER.killed_at(Some(256 * MIB)),
            None,
            "a limit above the plateau"
        );
        assert_eq!(WORKER.killed_at(None), None);
        let big_steps = Leak {
            step_mib: 10,
            every_secs: 2,
            ..WORKER
        };
        assert_eq!(big_steps.killed_at(limit), Some(10), "30, 40, 50, 60, 70");
    }

    #[test]
    fn a_run_logs_allocations_batches_and_warnings_near_its_limit() {
        let limit = Some(64 * MIB);
        let kill = WORKER.killed_at(limit).unwrap();
        let lines = WORKER.lines(0, kill, limit, &mut Dice::new(1));
        let allocations = lines
            .iter()
            .filter(|(_, l)| l.contains("allocated"))
            .count();
        assert_eq!(allocations, 45);
        assert_eq!(
            lines.last().map(|(age, l)| (*age, l.as_str())),
            Some((
                kill,
                "INFO allocated chunk #45 (1MB), holding 65 MiB; nothing freed"
            ))
        );
        let warnings: Vec<&str> = lines
            .iter()
            .filter(|(_, l)| l.starts_with("WARN"))
            .map(|(_, l)| l.as_str())
            .collect();
        assert_eq!(warnings.len(), 7, "58 to 64 MiB: {warnings:?}");
        assert!(warnings.contains(
            &"WARN heap pressure: holding 63 MiB of a 64 MiB limit; the cache frees nothing"
        ));
        assert!(
            lines
                .iter()
                .any(|(age, l)| *age == 30 && l.contains("batch"))
        );
        // Split anywhere, the halves are the whole.
        let (a, b) = (
            WORKER.lines(0, 1000, limit, &mut Dice::new(1)),
            WORKER.lines(1000, kill, limit, &mut Dice::new(1)),
        );
        assert_eq!(a.len() + b.len(), lines.len());
        assert!(a.iter().all(|(age, _)| *age <= 1000) && b.iter().all(|(age, _)| *age > 1000));
    }
}
