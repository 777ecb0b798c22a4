//! The fixture's incident history as a function of time: written once as OpenMetrics for
//! `promtool tsdb create-blocks-from openmetrics` (six hours up to a minute before the start),
//! then served to Prometheus at every scrape, so the same series go on with the same shape
//! however long Prometheus runs.
//!
//! The story: in namespace `shop`, the `worker` pod leaks memory against its 64Mi limit and is
//! OOM-killed about every 80 minutes (its restart counter climbs); the `checkout` service's 5xx
//! ratio spikes from 0.4% to a third between 60 and 40 minutes before the start (a past event,
//! which stays where it happened); checkout's memory and ten batch pods' move in slow waves
//! (the "6-hour range query over 10 series" of the benchmark).

use std::fmt::Write as _;

/// The pods and services of the history.
pub const NAMESPACE: &str = "shop";
pub const WORKER_POD: &str = "worker-7d9f8b6c4-x2x7k";
pub const CHECKOUT_POD: &str = "checkout-5c8d7f9b6-q4m2n";
pub const MEMORY_LIMIT: f64 = 64.0 * 1024.0 * 1024.0;

/// Seconds between two backfilled samples.
const STEP: i64 = 30;
const OOM_PERIOD: i64 = 80 * 60;

/// A metric family: its series (labels as written) and their values at one time.
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    series: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, counter: bool) -> Self {
        Self {
            name,
            help,
            counter,
            series: Vec::new(),
        }
    }

    fn sample_name(&self) -> String {
        if self.counter {
            format!("{}_total", self.name)
        } else {
            self.name.to_owned()
        }
    }

    fn header(&self, out: &mut String) {
        let kind = if self.counter { "counter" } else { "gauge" };
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} {kind}",
            self.name, self.help, self.name
        );
    }
}

fn pod(pod: &str, container: &str) -> String {
    format!("namespace=\"{NAMESPACE}\",pod=\"{pod}\",container=\"{container}\"")
}

/// The history, anchored where the backfill ends.
#[derive(Debug, Clone, Copy)]
pub struct History {
    start: i64,
    end: i64,
}

impl History {
    /// Six hours ending a minute before `now` (unix seconds).
    pub fn before(now: i64) -> Self {
        let end = now - 60;
        Self {
            start: end - 6 * 3600,
            end,
        }
    }

    /// Every series' value at `t` (unix seconds, at or after the start).
    fn at(&self, t: i64) -> Vec<Family> {
        let since = t - self.start;
        let mut memory = Family::new(
            "container_memory_working_set_bytes",
            "Working set of the container.",
            false,
        );
        // Grows until the kernel kills it just past the limit.
        let phase = (since % OOM_PERIOD) as f64 / OOM_PERIOD as f64;
        let worker = 18e6 + phase * (MEMORY_LIMIT - 18e6) * 1.02;
        memory
            .series
            .push((pod(WORKER_POD, "worker"), worker.round()));
        for i in 0..10 {
            let v = 200e6
                + 20e6 * f64::from(i)
                + 30e6 * (t as f64 / (1800.0 + 300.0 * f64::from(i))).sin();
            let labels = format!("namespace=\"batch\",pod=\"batch-{i}\",container=\"job\"");
            memory.series.push((labels, v.round()));
        }
        let checkout = 120e6 + 6e6 * (t as f64 / 900.0).sin();
        memory
            .series
            .push((pod(CHECKOUT_POD, "checkout"), checkout.round()));

        let mut cpu = Family::new("container_cpu_usage_seconds", "Cumulative CPU time.", true);
        for (p, container, cores) in [
            (WORKER_POD, "worker", 0.18),
            (CHECKOUT_POD, "checkout", 0.42),
        ] {
            cpu.series.push((pod(p, container), since as f64 * cores));
        }

        let mut families = vec![memory, cpu];
        for (kind, help, values) in [
            (
                "requests",
                "Requested resources.",
                [
                    ("cpu", "core", 0.1, 0.25),
                    ("memory", "byte", 32.0 * 1048576.0, 128.0 * 1048576.0),
                ],
            ),
            (
                "limits",
                "Resource limits.",
                [
                    ("cpu", "core", 0.5, 1.0),
                    ("memory", "byte", MEMORY_LIMIT, 256.0 * 1048576.0),
                ],
            ),
        ] {
            let name = if kind == "requests" {
                "kube_pod_container_resource_requests"
            } else {
                "kube_pod_container_resource_limits"
            };
            let mut family = Family::new(name, help, false);
            for (resource, unit, worker, checkout) in values {
                for (p, container, v) in [
                    (WORKER_POD, "worker", worker),
                    (CHECKOUT_POD, "checkout", checkout),
                ] {
                    family.series.push((
                        format!(
                            "{},resource=\"{resource}\",unit=\"{unit}\"",
                            pod(p, container)
                        ),
                        v,
                    ));
                }
            }
            families.push(family);
        }

        let mut restarts = Family::new(
            "kube_pod_container_status_restarts",
            "Container restarts.",
            true,
        );
        restarts
            .series
            .push((pod(WORKER_POD, "worker"), (since / OOM_PERIOD) as f64));
        restarts.series.push((pod(CHECKOUT_POD, "checkout"), 0.0));
        families.push(restarts);

        // Requests a second, summed a step at a time as the backfill samples them: the spike
        // is the steps between 60 and 40 minutes before the end.
        let steps = since.div_euclid(STEP) + 1;
        let spike_from = self.end - 3600;
        let spike_steps = if t < spike_from {
            0
        } else {
            ((t.min(self.end - 2400) - spike_from) / STEP + 1).max(0)
        };
        let mut requests = Family::new("http_requests", "Requests served.", true);
        for (code, usual, spiking) in [("200", 50.0, 34.0), ("500", 0.2, 17.0)] {
            let count =
                STEP as f64 * (usual * steps as f64 + (spiking - usual) * spike_steps as f64);
            requests.series.push((
                format!("namespace=\"{NAMESPACE}\",service=\"checkout\",code=\"{code}\""),
                count.round(),
            ));
        }
        families.push(requests);
        families
    }

    /// Every sample from the start to the end, one every 30 s, in OpenMetrics text.
    pub fn backfill(&self) -> String {
        let frames: Vec<(i64, Vec<Family>)> = (self.start..=self.end)
            .step_by(STEP as usize)
            .map(|t| (t, self.at(t)))
            .collect();
        let mut out = String::with_capacity(4 << 20);
        for (i, family) in frames[0].1.iter().enumerate() {
            family.header(&mut out);
            let name = family.sample_name();
            for (j, (labels, _)) in family.series.iter().enumerate() {
                for (t, families) in &frames {
                    let v = families[i].series[j].1;
                    let _ = writeln!(out, "{name}{{{labels}}} {v} {t}");
                }
            }
        }
        out.push_str("# EOF\n");
        out
    }

    /// The series at `now` as a scrape target serves them (OpenMetrics, no timestamps).
    pub fn exposition(&self, now: i64) -> String {
        let mut out = String::new();
        for family in self.at(now) {
            family.header(&mut out);
            let name = family.sample_name();
            for (labels, v) in &family.series {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_series_go_on_from_the_backfill() {
        let history = History::before(1_800_000_000);
        let backfill = history.backfill();
        let last = |name: &str| {
            backfill
                .lines()
                .rfind(|l| l.starts_with(name))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap()
        };
        let served = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap()
        };
        let now = history.exposition(history.end);
        let later = history.exposition(history.end + 5 * 3600);
        let errors = "http_requests_total{namespace=\"shop\",service=\"checkout\",code=\"500\"}";
        let restarts = format!(
            "kube_pod_container_status_restarts_total{{{}}}",
            pod(WORKER_POD, "worker")
        );
        // The backfill's last values are the served ones at its end; counters only grow.
        assert_eq!(served(&now, errors), last(errors));
        assert_eq!(served(&now, &restarts), last(&restarts));
        assert_eq!(last(&restarts), 4.0, "six hours of 80-minute runs");
        assert_eq!(served(&later, &restarts), 8.0, "and on they go");
        // After the spike, errors grow at the usual 0.2 a second.
        assert_eq!(
            served(&later, errors) - served(&now, errors),
            0.2 * 5.0 * 3600.0
        );
        assert!(now.ends_with("# EOF\n") && backfill.ends_with("# EOF\n"));
        assert_eq!(
            backfill.matches("# TYPE").count(),
            now.matches("# TYPE").count()
        );
    }
}
