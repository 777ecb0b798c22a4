//! The shop's CI and delivery, derived from each repository's git history: a push run of the
//! `ci` workflow per commit on `main` (jobs, steps and the plain-text logs GitHub serves), a
//! release per tag and a production deployment of each release. The worker's runs are all green
//! (the tests do not catch the leak); checkout's last run fails in `pytest`.

use super::{
    Deployment, DeploymentStatus, Job, Release, Run, Step, Workflow,
    git::{CommitInfo, Repo},
};

/// What a repository's CI and delivery hold.
#[derive(Debug, Default)]
pub struct Delivery {
    pub workflows: Vec<Workflow>,
    pub runs: Vec<Run>,
    pub releases: Vec<Release>,
    pub deployments: Vec<Deployment>,
}

/// A job's definition: its name and the commands of its steps.
pub struct JobSpec {
    pub name: &'static str,
    pub steps: &'static [(&'static str, &'static str)],
}

pub const WORKER_JOB: JobSpec = JobSpec {
    name: "build",
    steps: &[
        ("make worker", "cc -O2 -Wall -Wextra -o worker worker.c"),
        (
            "make test",
            "./test.sh\nprocessed batch of 500 orders in 0.0s",
        ),
    ],
};

pub const CHECKOUT_JOB: JobSpec = JobSpec {
    name: "test",
    steps: &[
        (
            "pip install pytest",
            "Collecting pytest\nSuccessfully installed iniconfig-2.0.0 packaging-24.2 pluggy-1.5.0 pytest-8.3.4",
        ),
        (
            "pytest -q",
            "..                                                                       [100%]\n2 passed in 0.03s",
        ),
    ],
};

/// The output of checkout's failing `pytest -q`.
pub const CHECKOUT_FAILURE: &str = r#".F                                                                       [100%]
=================================== FAILURES ===================================
__________________________ test_discount_applies_once __________________________

    def test_discount_applies_once():
>       assert order_total([("10.00", 1)], Decimal("0.10")) == Decimal("9.00")
E       AssertionError: assert Decimal('8.10') == Decimal('9.00')
E        +  where Decimal('8.10') = order_total([('10.00', 1)], Decimal('0.10'))

tests/test_totals.py:11: AssertionError
=========================== short test summary info ============================
FAILED tests/test_totals.py::test_discount_applies_once - AssertionError: assert Decimal('8.10') == Decimal('9.00')
1 failed, 1 passed in 0.04s"#;

fn stamp(t: i64, offset_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(t * 1000 + offset_ms)
        .map(|t| format!("{}", t.strftime("%Y-%m-%dT%H:%M:%S%.3f0000Z")))
        .unwrap_or_default()
}

/// A job's log as GitHub writes it: timestamped lines, a group per step, `##[error]` on failure.
fn log(spec: &JobSpec, start: i64, failing: Option<(usize, &str)>) -> String {
    let mut lines = vec![
        (0, "Current runner version: '2.321.0'".to_owned()),
        (1, "##[group]Operating System".to_owned()),
        (1, "Ubuntu 24.04.1 LTS".to_owned()),
        (1, "##[endgroup]".to_owned()),
        (2, "##[group]Run actions/checkout@v4".to_owned()),
        (3, "Syncing repository".to_owned()),
        (3, "##[endgroup]".to_owned()),
    ];
    for (i, (command, output)) in spec.steps.iter().enumerate() {
        let second = 10 + 10 * i as i64;
        lines.push((second, format!("##[group]Run {command}")));
        lines.push((second, (*command).to_owned()));
        lines.push((second, "shell: /usr/bin/bash -e {0}".to_owned()));
        lines.push((second, "##[endgroup]".to_owned()));
        match failing {
            Some((step, out)) if step == i => {
                lines.extend(out.lines().map(|l| (second + 2, l.to_owned())));
                lines.push((
                    second + 2,
                    "##[error]Process completed with exit code 1.".into(),
                ));
                break;
            }
            _ => lines.extend(output.lines().map(|l| (second + 1, l.to_owned()))),
        }
    }
    lines.push((60, "Cleaning up orphan processes".into()));
    lines
        .into_iter()
        .enumerate()
        .map(|(n, (s, text))| format!("{} {text}\n", stamp(start + s, n as i64 * 7)))
        .collect()
}

fn steps(spec: &JobSpec, start: i64, failing: Option<usize>) -> Vec<Step> {
    let mut names = vec![
        "Set up job".to_owned(),
        "Run actions/checkout@v4".to_owned(),
    ];
    names.extend(spec.steps.iter().map(|(c, _)| format!("Run {c}")));
    names.push("Complete job".into());
    let failed_at = failing.map(|i| i + 2);
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let conclusion = match failed_at {
                Some(f) if i == f => "failure",
                Some(f) if i > f && i + 1 < spec.steps.len() + 3 => "skipped",
                _ => "success",
            };
            Step {
                name,
                conclusion: Some(conclusion.into()),
                started: start + 10 * i as i64,
                completed: Some(start + 10 * i as i64 + 5),
            }
        })
        .collect()
}

/// Runs of `workflow` for each commit (oldest first); `failing` fails a step of one commit.
pub fn runs(
    ids: &mut u64,
    login: &dyn Fn(&str) -> String,
    workflow: &Workflow,
    spec: &JobSpec,
    commits: &[CommitInfo],
    failing: Option<(&str, usize, &str)>,
) -> Vec<Run> {
    commits
        .iter()
        .enumerate()
        .map(|(n, c)| {
            *ids += 2;
            let created = c.committer.time + 60;
            let fail = failing.filter(|(sha, ..)| *sha == c.sha);
            let conclusion = if fail.is_some() { "failure" } else { "success" };
            Run {
                id: *ids,
                workflow: workflow.id,
                number: n as u64 + 1,
                event: "push".into(),
                branch: "main".into(),
                sha: c.sha.clone(),
                title: c.message.lines().next().unwrap_or_default().to_owned(),
                actor: login(&c.author.email),
                conclusion: Some(conclusion.into()),
                created,
                updated: created + 70,
                jobs: vec![Job {
                    id: *ids + 1,
                    name: spec.name.into(),
                    conclusion: Some(conclusion.into()),
                    started: created + 5,
                    completed: Some(created + 65),
                    steps: steps(spec, created + 5, fail.map(|f| f.1)),
                    log: log(spec, created + 5, fail.map(|f| (f.1, f.2))),
                }],
            }
        })
        .collect()
}

/// A release per tag (published half an hour after its commit) and a production deployment
/// of each, an hour after the commit, in progress for three minutes, then successful.
pub fn releases(
    ids: &mut u64,
    login: &dyn Fn(&str) -> String,
    git: &Repo,
    image: &str,
) -> (Vec<Release>, Vec<Deployment>) {
    let mut tagged: Vec<(String, CommitInfo)> = git
        .refs
        .iter()
        .filter_map(|(name, oid)| {
            let tag = name.strip_prefix("refs/tags/")?;
            Some((tag.to_owned(), git.info(*oid).ok()?))
        })
        .collect();
    tagged.sort_by_key(|(_, c)| c.committer.time);
    let mut releases = Vec::new();
    let mut deployments = Vec::new();
    for (tag, c) in tagged {
        *ids += 3;
        let title = c.message.lines().next().unwrap_or_default();
        let author = login(&c.author.email);
        releases.push(Release {
            id: *ids,
            tag: tag.clone(),
            name: tag.clone(),
            body: format!("## What's changed\n\n- {title}\n"),
            author: author.clone(),
            created: c.committer.time,
            published: c.committer.time + 1800,
        });
        let version = tag.trim_start_matches('v');
        let at = c.committer.time + 3600;
        deployments.push(Deployment {
            id: *ids + 1,
            sha: c.sha.clone(),
            reference: tag.clone(),
            environment: "production".into(),
            description: format!("Deploy {image}:{version}"),
            creator: author,
            created: at,
            payload: serde_json::json!({ "image": format!("{image}:{version}") }),
            statuses: vec![
                DeploymentStatus {
                    id: *ids * 10,
                    state: "in_progress".into(),
                    description: format!("Rolling out {image}:{version}"),
                    created: at + 5,
                },
                DeploymentStatus {
                    id: *ids * 10 + 1,
                    state: "success".into(),
                    description: format!("{image}:{version} is live"),
                    created: at + 180,
                },
            ],
        });
    }
    (releases, deployments)
}
