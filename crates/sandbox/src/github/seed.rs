//! The shop's GitHub: the engineers of the PagerDuty rotation as users (same emails, so an
//! on-call email maps to a login), and `shop/worker` — a small C service with weeks of healthy
//! history, then, about 20 hours before the drill, "cache the working set between batches",
//! which drops the `free(buffer)` after each batch's 10 MB allocation; tagged `v1.4.2`.

use super::{
    User,
    git::{Edit, Person, Repo},
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
        })
        .collect()
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

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
            now - 20 * HOUR,
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
