//! The shop's Notion: the engineers of the PagerDuty rotation (same names and emails) and the
//! integration's bot; an Engineering page holding a Runbooks database ("Worker OOM runbook" —
//! a callout, headings, numbered steps with kubectl commands, a table of limits, a toggle —
//! "Checkout 5xx runbook", and unrelated pages), an Incidents database (severity, status,
//! service, start and end, duration, links, on-call) with last month's worker OOM report, and a
//! post-mortem template.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Notion,
    blocks::{self, paragraph, text},
    model::{DataSource, Database, Page, Parent, Property, Stamp, Store, User, text_item},
    properties::row_properties,
};

const DAY: i64 = 86_400;

/// The people: (name, email), as in PagerDuty and GitHub.
pub const PEOPLE: &[(&str, &str)] = &[
    ("Maya Chen", "maya.chen@shop.example"),
    ("Jonas Weber", "jonas.weber@shop.example"),
    ("Priya Natarajan", "priya.natarajan@shop.example"),
    ("Sam Rivera", "sam.rivera@shop.example"),
    ("Lena Okafor", "lena.okafor@shop.example"),
];

fn code(language: &str, source: &str) -> Value {
    json!({ "type": "code", "code": { "language": language, "rich_text": [{ "type": "text", "text": { "content": source } }] } })
}

fn with_children(mut block: Value, children: Vec<Value>) -> Value {
    let kind = block["type"].as_str().unwrap_or_default().to_owned();
    block[kind.as_str()]["children"] = json!(children);
    block
}

fn numbered(step: &str, command: Option<(&str, &str)>) -> Value {
    let item = text("numbered_list_item", step);
    match command {
        Some((language, source)) => with_children(item, vec![code(language, source)]),
        None => item,
    }
}

fn row(cells: &[&str]) -> Value {
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| json!([{ "type": "text", "text": { "content": c } }]))
        .collect();
    json!({ "type": "table_row", "table_row": { "cells": cells } })
}

fn to_do(what: &str, done: bool) -> Value {
    json!({ "type": "to_do", "to_do": { "checked": done, "rich_text": [{ "type": "text", "text": { "content": what } }] } })
}

fn worker_oom_runbook() -> Vec<Value> {
    vec![
        json!({ "type": "callout", "callout": { "icon": { "type": "emoji", "emoji": "🚨" }, "color": "red_background",
            "rich_text": [{ "type": "text", "text": { "content": "If the worker is OOM-killed more than twice in an hour, page the platform on-call before changing anything." } }] } }),
        text("heading_2", "Symptoms"),
        text(
            "bulleted_list_item",
            "Pods of deployment worker in CrashLoopBackOff, last state OOMKilled (exit code 137)",
        ),
        text(
            "bulleted_list_item",
            "The ContainerOOMKilled alert fires in Prometheus and pages PagerDuty",
        ),
        text(
            "bulleted_list_item",
            "Memory climbs steadily after every restart until it reaches the 64Mi limit",
        ),
        text("heading_2", "Diagnose"),
        numbered(
            "Find the OOM-killed pod:",
            Some(("bash", "kubectl get pods -n shop -l app=worker")),
        ),
        numbered(
            "Read its last termination and restart count:",
            Some(("bash", "kubectl describe pod -n shop <pod>")),
        ),
        numbered(
            "Check the memory ramp before the kill:",
            Some((
                "plain text",
                "container_memory_working_set_bytes{namespace=\"shop\",container=\"worker\"}",
            )),
        ),
        numbered(
            "Read the commits deployed in the 24 hours before the first kill; look for allocations without a matching free.",
            None,
        ),
        text("heading_2", "Mitigate"),
        numbered(
            "Raise the memory limit one step (see Limits) while the fix is prepared:",
            Some((
                "bash",
                "kubectl set resources deployment/worker -n shop --limits=memory=128Mi",
            )),
        ),
        numbered(
            "Watch the rollout until the new pods are Ready:",
            Some(("bash", "kubectl rollout status deployment/worker -n shop")),
        ),
        numbered(
            "Open the fix as a pull request and mention the on-call engineer.",
            None,
        ),
        text("heading_2", "Limits"),
        json!({ "type": "table", "table": { "table_width": 3, "has_column_header": true, "has_row_header": false, "children": [
            row(&["Step", "Memory limit", "When"]),
            row(&["1", "64Mi", "normal operation"]),
            row(&["2", "128Mi", "a leak under investigation"]),
            row(&["3", "256Mi", "only with the platform on-call's approval"]),
        ] } }),
        json!({ "type": "heading_3", "heading_3": { "is_toggleable": true,
            "rich_text": [{ "type": "text", "text": { "content": "Background" } }],
            "children": [paragraph("The worker decodes order batches of 10 MB each. A batch buffer that is not freed grows the working set by 10 MB per batch, so a 64Mi container is killed after a few batches.")] } }),
        json!({ "type": "divider", "divider": {} }),
        paragraph("Last reviewed by Maya Chen after the October incident."),
    ]
}

fn checkout_runbook() -> Vec<Value> {
    vec![
        text("heading_2", "Symptoms"),
        text(
            "bulleted_list_item",
            "HighErrorRate fires for checkout; 5xx above 5% for 5 minutes",
        ),
        text("heading_2", "Diagnose"),
        numbered(
            "Look at the error patterns in Loki:",
            Some((
                "plain text",
                "{namespace=\"shop\", app=\"checkout\"} |= \"error\"",
            )),
        ),
        numbered(
            "Check the last deploy and its CI run; a failed test run that was merged anyway is the usual cause.",
            None,
        ),
        text("heading_2", "Mitigate"),
        numbered(
            "Roll back to the previous revision:",
            Some(("bash", "kubectl rollout undo deployment/checkout -n shop")),
        ),
    ]
}

fn incident_report() -> Vec<Value> {
    vec![
        text("heading_2", "Summary"),
        paragraph(
            "The worker was OOM-killed repeatedly during the evening peak after the 1.3 rollout; order batches queued for 2 hours.",
        ),
        text("heading_2", "Timeline"),
        text(
            "bulleted_list_item",
            "18:02 ContainerOOMKilled fired; PagerDuty paged Maya Chen",
        ),
        text(
            "bulleted_list_item",
            "18:20 memory limit raised from 64Mi to 96Mi",
        ),
        text(
            "bulleted_list_item",
            "20:02 fix deployed (free the batch buffer); limit back to 64Mi",
        ),
        text("heading_2", "Root cause"),
        paragraph("Each batch allocated a 10 MB buffer that was never freed."),
        text("heading_2", "Resolution"),
        paragraph("Freed the buffer after each batch (1.3.0)."),
        text("heading_2", "Action items"),
        to_do("Add a memory test to CI", false),
        to_do("Alert on memory growth before the kill", true),
    ]
}

fn postmortem_template() -> Vec<Value> {
    vec![
        json!({ "type": "callout", "callout": { "icon": { "type": "emoji", "emoji": "📝" }, "rich_text": [{ "type": "text", "text": { "content": "Blameless: describe systems and decisions, not people." } }] } }),
        text("heading_2", "Summary"),
        paragraph("What happened, in two sentences."),
        text("heading_2", "Impact"),
        paragraph("Who was affected, how, and for how long."),
        text("heading_2", "Timeline"),
        text("bulleted_list_item", "HH:MM what happened"),
        text("heading_2", "Root cause"),
        paragraph("Why it happened."),
        text("heading_2", "Resolution"),
        paragraph("What fixed it."),
        text("heading_2", "Action items"),
        to_do("What keeps it from happening again", false),
        text("heading_2", "Links"),
        paragraph("Incident, pull requests, dashboards."),
    ]
}

fn property(id: &str, kind: &str, config: Value) -> Property {
    Property {
        id: id.into(),
        kind: kind.into(),
        config,
    }
}

fn options(names: &[(&str, &str)]) -> Value {
    let list: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, (name, color))| json!({ "id": format!("o{i}"), "name": name, "color": color, "description": null }))
        .collect();
    json!({ "options": list })
}

fn title(text: &str) -> Value {
    json!([text_item(text, None, Default::default())])
}

/// A page in the store with `content` (checked like a request's children).
fn page(
    store: &mut Store,
    parent: Parent,
    properties: BTreeMap<String, Value>,
    content: Vec<Value>,
    stamp: &Stamp,
) -> Uuid {
    let id = Uuid::new_v4();
    store.pages.insert(
        id,
        Page {
            id,
            parent,
            properties,
            children: Vec::new(),
            icon: None,
            in_trash: false,
            stamp: stamp.clone(),
        },
    );
    // The seed is written in requests of Notion's size, as a client would.
    for chunk in content.chunks(blocks::MAX_CHILDREN) {
        let mut count = 0;
        let new = blocks::blocks(&json!(chunk), "seed", 1, &mut count).expect("a valid seed");
        store.insert_blocks(id, new, None, stamp);
    }
    id
}

fn page_title(text: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([(
        "title".to_owned(),
        json!({ "id": "title", "type": "title", "title": title(text) }),
    )])
}

/// A row of `source` with `values` (request-shaped).
fn row_of(
    store: &mut Store,
    source: Uuid,
    values: Value,
    content: Vec<Value>,
    stamp: &Stamp,
) -> Uuid {
    let mut ds = store
        .data_sources
        .remove(&source)
        .expect("a seeded data source");
    let props = row_properties(store, &mut ds, &values, None).expect("valid seed properties");
    let database = ds.database;
    store.data_sources.insert(source, ds);
    page(
        store,
        Parent::DataSource {
            data_source: source,
            database,
        },
        props,
        content,
        stamp,
    )
}

/// A database with one data source of `properties`: (database, data source).
fn database(
    store: &mut Store,
    parent: Uuid,
    name: &str,
    properties: BTreeMap<String, Property>,
    stamp: &Stamp,
) -> (Uuid, Uuid) {
    let (db, ds) = (Uuid::new_v4(), Uuid::new_v4());
    store.databases.insert(
        db,
        Database {
            id: db,
            parent: Parent::Page(parent),
            title: title(name),
            description: json!([]),
            data_sources: vec![ds],
            icon: None,
            in_trash: false,
            stamp: stamp.clone(),
        },
    );
    store.data_sources.insert(
        ds,
        DataSource {
            id: ds,
            database: db,
            name: name.into(),
            properties,
            stamp: stamp.clone(),
        },
    );
    // A database is a child block of its page, as Notion shows it.
    let block = Uuid::new_v4();
    store.blocks.insert(
        block,
        super::model::Block {
            id: block,
            parent: Parent::Page(parent),
            kind: "child_database".into(),
            content: json!({ "title": name }),
            children: Vec::new(),
            in_trash: false,
            stamp: stamp.clone(),
        },
    );
    if let Some(p) = store.pages.get_mut(&parent) {
        p.children.push(block);
    }
    (db, ds)
}

/// Ids of what tests and the servers' configuration name.
#[derive(Debug, Clone)]
pub struct Ids {
    pub engineering: Uuid,
    pub runbooks: (Uuid, Uuid),
    pub incidents: (Uuid, Uuid),
    pub worker_runbook: Uuid,
    pub template: Uuid,
    pub maya: Uuid,
}

/// The shop's workspace at `now` (unix seconds), with the integration's `token`.
pub fn shop(now: i64, token: String) -> (Notion, Ids) {
    let mut store = Store::default();
    let bot = Uuid::new_v4();
    let people: Vec<User> = PEOPLE
        .iter()
        .map(|(name, email)| User {
            id: Uuid::new_v4(),
            name: (*name).into(),
            email: Some((*email).into()),
        })
        .collect();
    let maya = people[0].id;
    store.users = people;
    store.users.push(User {
        id: bot,
        name: "opsmcp".into(),
        email: None,
    });
    let by_maya = Stamp::new(now - 60 * DAY, maya);
    let engineering = page(
        &mut store,
        Parent::Workspace,
        page_title("Engineering"),
        vec![paragraph("How the shop's services are run.")],
        &by_maya,
    );
    let runbook_props = BTreeMap::from([
        ("Name".to_owned(), property("title", "title", json!({}))),
        (
            "Service".to_owned(),
            property(
                "svc",
                "select",
                options(&[
                    ("worker", "blue"),
                    ("checkout", "green"),
                    ("platform", "gray"),
                ]),
            ),
        ),
        (
            "Tags".to_owned(),
            property(
                "tags",
                "multi_select",
                options(&[
                    ("kubernetes", "blue"),
                    ("memory", "orange"),
                    ("errors", "red"),
                    ("process", "gray"),
                ]),
            ),
        ),
        ("Owner".to_owned(), property("own", "people", json!({}))),
        (
            "Last reviewed".to_owned(),
            property("rev", "date", json!({})),
        ),
    ]);
    let runbooks = database(&mut store, engineering, "Runbooks", runbook_props, &by_maya);
    let incident_props = BTreeMap::from([
        ("Title".to_owned(), property("title", "title", json!({}))),
        (
            "Severity".to_owned(),
            property(
                "sev",
                "select",
                options(&[("SEV1", "red"), ("SEV2", "orange"), ("SEV3", "yellow")]),
            ),
        ),
        (
            "Status".to_owned(),
            property(
                "st",
                "status",
                options(&[
                    ("Open", "red"),
                    ("Investigating", "yellow"),
                    ("Mitigated", "blue"),
                    ("Resolved", "green"),
                ]),
            ),
        ),
        (
            "Service".to_owned(),
            property(
                "svc",
                "select",
                options(&[("worker", "blue"), ("checkout", "green")]),
            ),
        ),
        ("Started".to_owned(), property("start", "date", json!({}))),
        ("Resolved".to_owned(), property("end", "date", json!({}))),
        (
            "Duration (min)".to_owned(),
            property("dur", "number", json!({ "format": "number" })),
        ),
        ("PagerDuty".to_owned(), property("pd", "url", json!({}))),
        ("PR".to_owned(), property("pr", "url", json!({}))),
        ("On-call".to_owned(), property("oc", "people", json!({}))),
    ]);
    let incidents = database(
        &mut store,
        engineering,
        "Incidents",
        incident_props,
        &by_maya,
    );
    let date = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let reviewed = Stamp::new(now - 30 * DAY, maya);
    let worker_runbook = row_of(
        &mut store,
        runbooks.1,
        json!({
            "Name": { "title": [{ "text": { "content": "Worker OOM runbook" } }] },
            "Service": { "select": { "name": "worker" } },
            "Tags": { "multi_select": [{ "name": "kubernetes" }, { "name": "memory" }] },
            "Owner": { "people": [{ "id": maya }] },
            "Last reviewed": { "date": { "start": date(now - 30 * DAY) } },
        }),
        worker_oom_runbook(),
        &reviewed,
    );
    row_of(
        &mut store,
        runbooks.1,
        json!({
            "Name": { "title": [{ "text": { "content": "Checkout 5xx runbook" } }] },
            "Service": { "select": { "name": "checkout" } },
            "Tags": { "multi_select": [{ "name": "kubernetes" }, { "name": "errors" }] },
        }),
        checkout_runbook(),
        &reviewed,
    );
    for (name, body) in [
        (
            "On-call handbook",
            "Hand-offs happen on Mondays at 09:00; the outgoing on-call writes a summary.",
        ),
        (
            "Deploy checklist",
            "Tag, watch CI, watch the rollout, watch the dashboards for 15 minutes.",
        ),
        (
            "Team offsite notes",
            "Venue, agenda and the list of who brings what.",
        ),
    ] {
        row_of(
            &mut store,
            runbooks.1,
            json!({ "Name": { "title": [{ "text": { "content": name } }] }, "Tags": { "multi_select": [{ "name": "process" }] } }),
            vec![paragraph(body)],
            &by_maya,
        );
    }
    let started = now - 41 * DAY;
    row_of(
        &mut store,
        incidents.1,
        json!({
            "Title": { "title": [{ "text": { "content": "Worker OOM-killed after the 1.3 rollout" } }] },
            "Severity": { "select": { "name": "SEV2" } },
            "Status": { "status": { "name": "Resolved" } },
            "Service": { "select": { "name": "worker" } },
            "Started": { "date": { "start": jiff::Timestamp::from_second(started).map(|t| t.to_string()).unwrap_or_default() } },
            "Resolved": { "date": { "start": jiff::Timestamp::from_second(started + 7200).map(|t| t.to_string()).unwrap_or_default() } },
            "Duration (min)": { "number": 120 },
            "PagerDuty": { "url": "https://shop.pagerduty.com/incidents/Q0OOM41" },
            "PR": { "url": "https://github.com/shop/worker/pull/38" },
            "On-call": { "people": [{ "id": maya }] },
        }),
        incident_report(),
        &Stamp::new(started + 8000, maya),
    );
    let template = page(
        &mut store,
        Parent::Page(engineering),
        page_title("Post-mortem template"),
        postmortem_template(),
        &by_maya,
    );
    let ids = Ids {
        engineering,
        runbooks,
        incidents,
        worker_runbook,
        template,
        maya,
    };
    (Notion::new(store, token, bot), ids)
}
