//! The shop's GitHub: the engineers of the PagerDuty rotation as users (same emails, so an
//! on-call email maps to a login), and `shop/worker` — a small C service with weeks of healthy
//! history, then, 21 hours before the world's epoch, "cache the working set between batches",
//! which drops the `free(buffer)` after each batch's 10 MB allocation; merged as a reviewed
//! pull request and tagged `v1.4.2`, whose deployment went live an hour later (the instant the
//! cluster's ReplicaSet and PagerDuty's change event take, see [`crate::timeline::Timeline`]).
//! `shop/checkout` — a small Python service whose last change broke a test.

use std::collections::BTreeMap;

use super::{
    Comment, Issue, Label, Merged, Pull, RepoState, Review, User, Workflow,
    ci::{self, CHECKOUT_FAILURE, CHECKOUT_JOB, Delivery, WORKER_JOB},
    git::{CommitInfo, Edit, Person, Repo},
};

/// The users: (login, id, name, email).
pub const USERS: &[(&str, u64, &str, &str)] = &[
    ("maya-chen", 1_001, "Maya Chen", "maya.chen@shop.example"),
    (
        "jonas-weber",
        1_002,
        "Jonas Weber",
        "jonas.weber@shop.example",
    ),
    (
        "priya-natarajan",
        1_003,
        "Priya Natarajan",
        "priya.natarajan@shop.example",
    ),
    ("sam-rivera", 1_004, "Sam Rivera", "sam.rivera@shop.example"),
    (
        "lena-okafor",
        1_005,
        "Lena Okafor",
        "lena.okafor@shop.example",
    ),
];

pub fn users() -> Vec<User> {
    USERS
        .iter()
        .map(|(login, id, name, email)| User {
            login: (*login).to_owned(),
            id: *id,
            name: (*name).to_owned(),
            email: (*email).to_owned(),
            bot: false,
        })
        .chain([User {
            login: "opsmcp-incident[bot]".into(),
            id: 99_045_203,
            name: String::new(),
            email: String::new(),
            bot: true,
        }])
        .collect()
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
/// How long before the epoch the leak was merged (and tagged `v1.4.2`).
const LEAK_MERGED: i64 = 21 * HOUR;

fn by(login: &str, time: i64) -> Person {
    let (_, _, name, email) = USERS.iter().find(|u| u.0 == login).expect("a seeded user");
    Person {
        name: (*name).to_owned(),
        email: (*email).to_owned(),
        time,
    }
}

/// `worker.c` at a stage of its history.
fn worker_c(retry: bool, log_durations: bool, frees: bool) -> String {
    let mut c = String::from(
        r#"/* shop/worker: decodes order batches from the queue and hands them on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_SIZE 500
#define CHUNK_BYTES (10 * 1024 * 1024)

static int fetch_batch(char *buffer) {
    /* Read up to BATCH_SIZE orders into the scratch buffer. */
    memset(buffer, 0, CHUNK_BYTES);
    return BATCH_SIZE;
}

static int process_work(char *buffer) {
    int orders = fetch_batch(buffer);
    return orders > 0 ? 0 : -1;
}

int main(void) {
    for (;;) {
        char *buffer = malloc(CHUNK_BYTES);
        if (buffer == NULL) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
"#,
    );
    if log_durations {
        c.push_str("        clock_t started = clock();\n");
    }
    if retry {
        c.push_str(
            "        for (int attempt = 0; process_work(buffer) != 0 && attempt < 3; attempt++) {\n            sleep(1 << attempt);\n        }\n",
        );
    } else {
        c.push_str("        process_work(buffer);\n");
    }
    if log_durations {
        c.push_str(
            "        fprintf(stderr, \"processed batch of %d orders in %.1fs\\n\", BATCH_SIZE,\n                (double)(clock() - started) / CLOCKS_PER_SEC);\n",
        );
    }
    if frees {
        c.push_str("        free(buffer);\n");
    } else {
        c.push_str("        /* keep the working set for the next batch */\n");
    }
    c.push_str("        sleep(1);\n    }\n}\n");
    c
}

const MAKEFILE: &str = "CFLAGS ?= -O2 -Wall -Wextra\n\nworker: worker.c\n\t$(CC) $(CFLAGS) -o $@ $<\n\n.PHONY: test\ntest: worker\n\t./test.sh\n";
const DOCKERFILE: &str = "FROM debian:bookworm-slim AS build\nRUN apt-get update && apt-get install -y --no-install-recommends gcc make libc6-dev\nCOPY . /src\nRUN make -C /src worker\n\nFROM debian:bookworm-slim\nCOPY --from=build /src/worker /usr/local/bin/worker\nUSER 1000\nENTRYPOINT [\"/usr/local/bin/worker\"]\n";
const CI: &str = "name: ci\non:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make worker\n      - run: make test\n";
const CODEOWNERS: &str = "* @maya-chen @jonas-weber\ndeploy/ @sam-rivera\n";
const README: &str = "# worker\n\nDecodes order batches from the queue. Runs in namespace `shop` with a 64Mi memory limit\n(`deploy/worker.yaml`).\n";

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\n  namespace: shop\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: worker\n  template:\n    metadata:\n      labels:\n        app: worker\n    spec:\n      containers:\n        - name: worker\n          image: {image}\n          resources:\n            requests:\n              memory: 32Mi\n            limits:\n              memory: 64Mi\n"
    )
}

fn write(path: &str, content: impl Into<String>) -> Edit {
    Edit::Write(path.to_owned(), content.into().into_bytes())
}

/// One commit of the history: author's login, time, edits, message, and the tag it carries.
type Step = (
    &'static str,
    i64,
    Vec<Edit>,
    &'static str,
    Option<&'static str>,
);

/// `shop/worker` as it is at `now` (unix seconds).
pub fn worker(now: i64) -> Result<Repo, git2::Error> {
    let mut repo = Repo::new()?;
    let history: Vec<Step> = vec![
        (
            "maya-chen",
            now - 40 * DAY,
            vec![
                write("worker.c", worker_c(false, false, true)),
                write("Makefile", MAKEFILE),
                write("Dockerfile", DOCKERFILE),
                write("deploy/worker.yaml", deployment("shop/worker:1.3.0")),
                write(".github/workflows/ci.yml", CI),
                write("CODEOWNERS", CODEOWNERS),
                write("README.md", README),
                write(
                    "test.sh",
                    "#!/bin/sh\nset -e\ntimeout 3 ./worker 2>&1 | head -1 || true\n",
                ),
            ],
            "Initial batch worker",
            Some("v1.3.0"),
        ),
        (
            "sam-rivera",
            now - 33 * DAY,
            vec![write(
                "README.md",
                format!(
                    "{README}\nDeploys: a tag `vX.Y.Z` builds `shop/worker:X.Y.Z`; production follows.\n"
                ),
            )],
            "README: how a release reaches production",
            None,
        ),
        (
            "lena-okafor",
            now - 26 * DAY,
            vec![write(
                "Makefile",
                MAKEFILE.replace("-O2 -Wall -Wextra", "-O2 -Wall -Wextra -Werror"),
            )],
            "Makefile: treat warnings as errors",
            None,
        ),
        (
            "priya-natarajan",
            now - 14 * DAY,
            vec![
                write("worker.c", worker_c(true, false, true)),
                write("deploy/worker.yaml", deployment("shop/worker:1.4.0")),
            ],
            "Retry failed batches with backoff",
            Some("v1.4.0"),
        ),
        (
            "jonas-weber",
            now - 8 * DAY,
            vec![write(
                "test.sh",
                "#!/bin/sh\nset -e\n# One batch must finish within the test's time.\ntimeout 3 ./worker 2>&1 | head -1 || true\n",
            )],
            "test.sh: say what the smoke test checks",
            None,
        ),
        (
            "maya-chen",
            now - 3 * DAY,
            vec![
                write("worker.c", worker_c(true, true, true)),
                write("deploy/worker.yaml", deployment("shop/worker:1.4.1")),
            ],
            "Log batch durations",
            Some("v1.4.1"),
        ),
        (
            "jonas-weber",
            now - LEAK_MERGED,
            vec![
                write("worker.c", worker_c(true, true, false)),
                write("deploy/worker.yaml", deployment("shop/worker:1.4.2")),
            ],
            "cache the working set between batches\n\nThe next batch usually needs the same orders again; keeping the decoded\nbuffer around saves the re-decode.",
            Some("v1.4.2"),
        ),
    ];
    for (login, time, edits, message, tag) in history {
        let oid = repo.commit_on("main", &edits, &by(login, time), message)?;
        if let Some(tag) = tag {
            repo.refs.insert(format!("refs/tags/{tag}"), oid);
        }
    }
    Ok(repo)
}

const CHECKOUT_APP: &str = "\"\"\"Checkout totals: lines, discounts and tax.\"\"\"\n\nfrom decimal import ROUND_HALF_UP, Decimal\n\nCENT = Decimal(\"0.01\")\n\n\ndef line_total(price, quantity):\n    return (Decimal(price) * quantity).quantize(CENT, ROUND_HALF_UP)\n\n\ndef order_total(lines, discount=Decimal(0)):\n    subtotal = sum(line_total(p, q) for p, q in lines)\n    return (subtotal * (1 - discount)).quantize(CENT, ROUND_HALF_UP)\n";
const CHECKOUT_APP_BROKEN: &str = "\"\"\"Checkout totals: lines, discounts and tax.\"\"\"\n\nfrom decimal import ROUND_HALF_UP, Decimal\n\nCENT = Decimal(\"0.01\")\n\n\ndef line_total(price, quantity, discount=Decimal(0)):\n    return (Decimal(price) * quantity * (1 - discount)).quantize(CENT, ROUND_HALF_UP)\n\n\ndef order_total(lines, discount=Decimal(0)):\n    subtotal = sum(line_total(p, q, discount) for p, q in lines)\n    return (subtotal * (1 - discount)).quantize(CENT, ROUND_HALF_UP)\n";
const CHECKOUT_TEST: &str = "from decimal import Decimal\n\nfrom checkout.app import order_total\n\n\ndef test_total_of_lines():\n    assert order_total([(\"2.50\", 2), (\"1.25\", 1)]) == Decimal(\"6.25\")\n\n\ndef test_discount_applies_once():\n    assert order_total([(\"10.00\", 1)], Decimal(\"0.10\")) == Decimal(\"9.00\")\n";
const CHECKOUT_CI: &str = "name: ci\non:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n        with:\n          python-version: \"3.12\"\n      - run: pip install pytest\n      - run: pytest -q\n";

/// `shop/checkout` as it is at `now`: the last commit applies the discount twice.
pub fn checkout(now: i64) -> Result<Repo, git2::Error> {
    let mut repo = Repo::new()?;
    repo.commit_on(
        "main",
        &[
            write("checkout/__init__.py", ""),
            write("checkout/app.py", CHECKOUT_APP),
            write("tests/test_totals.py", CHECKOUT_TEST),
            write(".github/workflows/ci.yml", CHECKOUT_CI),
            write("CODEOWNERS", "* @priya-natarajan @lena-okafor\n"),
        ],
        &by("priya-natarajan", now - 30 * DAY),
        "Checkout totals with decimal rounding",
    )?;
    repo.commit_on(
        "main",
        &[write("checkout/app.py", CHECKOUT_APP_BROKEN)],
        &by("lena-okafor", now - 6 * HOUR),
        "Apply the discount per line",
    )?;
    Ok(repo)
}

/// The login of a seeded user's email (`?` for anyone else).
fn login_of(email: &str) -> String {
    USERS
        .iter()
        .find(|u| u.3.eq_ignore_ascii_case(email))
        .map_or_else(|| "?".to_owned(), |u| u.0.to_owned())
}

/// The commits of `main`, oldest first.
fn main_history(git: &Repo) -> Result<Vec<CommitInfo>, git2::Error> {
    let head = git.resolve("main").expect("a main branch");
    let (mut commits, _) = git.log(head, |_, _| true, 0, usize::MAX)?;
    commits.reverse();
    Ok(commits)
}

/// The `ci` workflow of a repository created at `created`.
fn ci_workflow(id: u64, created: i64) -> Workflow {
    Workflow {
        id,
        name: "ci".into(),
        path: ".github/workflows/ci.yml".into(),
        created,
    }
}

fn labels(ids: &mut u64) -> Vec<Label> {
    [
        ("bug", "d73a4a", "Something isn't working"),
        ("incident", "b60205", "Follows up a production incident"),
        ("memory", "fbca04", "Memory use and limits"),
        ("enhancement", "a2eeef", "New feature or request"),
    ]
    .into_iter()
    .map(|(name, color, description)| {
        *ids += 1;
        Label {
            id: *ids,
            name: name.into(),
            color: color.into(),
            description: description.into(),
        }
    })
    .collect()
}

/// The shop's repositories at `now`: `shop/worker` with the merged pull request that brought
/// the leak and a closed issue from last month's OOM, and `shop/checkout`.
pub fn repos(now: i64) -> Result<Vec<RepoState>, git2::Error> {
    let mut ids = 4_000_000;
    let git = worker(now)?;
    let leak = git.resolve("v1.4.2").expect("the seeded tag");
    let before = git.info(leak)?.parents[0].clone();
    let leak = leak.to_string();
    let mut issues = BTreeMap::new();
    issues.insert(
        41,
        Issue {
            number: 41,
            id: 3_100_041,
            title: "worker OOM-killed after the 1.3 rollout".into(),
            body: Some("The worker hit its 64Mi limit twice during the evening peak. Raised to 96Mi for the night, back to 64Mi after the fix in 1.3.0.".into()),
            user: "sam-rivera".into(),
            open: false,
            state_reason: Some("completed".into()),
            labels: vec!["bug".into(), "incident".into(), "memory".into()],
            assignees: vec!["maya-chen".into()],
            comments: vec![Comment {
                id: 9_100_001,
                user: "maya-chen".into(),
                body: "Fixed by freeing the batch buffer; post-mortem in Notion.".into(),
                created: now - 38 * DAY,
            }],
            created: now - 41 * DAY,
            updated: now - 38 * DAY,
            closed: Some(now - 38 * DAY),
            pull: None,
        },
    );
    issues.insert(
        42,
        Issue {
            number: 42,
            id: 3_100_042,
            title: "cache the working set between batches".into(),
            body: Some("The next batch usually needs the same orders again; keeping the decoded buffer around saves the re-decode.".into()),
            user: "jonas-weber".into(),
            open: false,
            state_reason: None,
            labels: vec!["enhancement".into()],
            assignees: vec![],
            comments: vec![],
            created: now - LEAK_MERGED - 2 * HOUR,
            updated: now - LEAK_MERGED,
            closed: Some(now - LEAK_MERGED),
            pull: Some(Pull {
                id: 2_200_042,
                head: "jonas/cache-working-set".into(),
                base: "main".into(),
                head_sha: leak.clone(),
                draft: false,
                requested_reviewers: vec![],
                reviews: vec![Review {
                    id: 8_800_001,
                    user: "priya-natarajan".into(),
                    state: "APPROVED".into(),
                    body: "Nice speed-up.".into(),
                    commit: leak.clone(),
                    submitted: now - LEAK_MERGED - HOUR,
                }],
                merged: Some(Merged {
                    base: before,
                    at: now - LEAK_MERGED,
                    sha: leak,
                    by: "jonas-weber".into(),
                }),
            }),
        },
    );
    let mut ci_ids = 20_000_000;
    let workflow = ci_workflow(161_000_001, now - 40 * DAY);
    let runs = ci::runs(
        &mut ci_ids,
        &login_of,
        &workflow,
        &WORKER_JOB,
        &main_history(&git)?,
        None,
    );
    let (releases, deployments) = ci::releases(&mut ci_ids, &login_of, &git, "shop/worker");
    let worker_delivery = Delivery {
        workflows: vec![workflow],
        runs,
        releases,
        deployments,
    };
    let checkout_git = checkout(now)?;
    let history = main_history(&checkout_git)?;
    let last = history.last().map(|c| c.sha.clone()).unwrap_or_default();
    let workflow = ci_workflow(161_000_002, now - 30 * DAY);
    let runs = ci::runs(
        &mut ci_ids,
        &login_of,
        &workflow,
        &CHECKOUT_JOB,
        &history,
        Some((&last, 1, CHECKOUT_FAILURE)),
    );
    let checkout_delivery = Delivery {
        workflows: vec![workflow],
        runs,
        ..Delivery::default()
    };
    let worker = RepoState {
        owner: "shop".into(),
        name: "worker".into(),
        id: 700_001,
        private: true,
        default_branch: "main".into(),
        description: "Batch worker: decodes order batches from the queue".into(),
        created: now - 40 * DAY,
        language: "C".into(),
        protected: vec!["main".into()],
        labels: labels(&mut ids),
        issues,
        workflows: worker_delivery.workflows,
        runs: worker_delivery.runs,
        releases: worker_delivery.releases,
        deployments: worker_delivery.deployments,
        git,
    };
    let checkout = RepoState {
        owner: "shop".into(),
        name: "checkout".into(),
        id: 700_002,
        private: true,
        default_branch: "main".into(),
        description: "Checkout totals, discounts and tax".into(),
        created: now - 30 * DAY,
        language: "Python".into(),
        protected: vec!["main".into()],
        labels: labels(&mut ids),
        issues: BTreeMap::new(),
        workflows: checkout_delivery.workflows,
        runs: checkout_delivery.runs,
        releases: checkout_delivery.releases,
        deployments: checkout_delivery.deployments,
        git: checkout_git,
    };
    Ok(vec![worker, checkout])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_leaking_commit_drops_the_free_after_the_allocation() {
        let repo = super::worker(1_800_000_000).unwrap();
        let leak = repo.resolve("v1.4.2").unwrap();
        let info = repo.info(leak).unwrap();
        assert!(
            info.message
                .starts_with("cache the working set between batches")
        );
        let changes = repo.changes(leak).unwrap();
        let worker = changes.iter().find(|c| c.path == "worker.c").unwrap();
        assert!(
            worker.patch.contains("-        free(buffer);"),
            "{}",
            worker.patch
        );
        assert!(
            worker
                .patch
                .contains("+        /* keep the working set for the next batch */")
        );
        assert_eq!((worker.additions, worker.deletions), (1, 1));
    }
}
