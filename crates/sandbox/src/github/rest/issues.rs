//! Issues: list (state, labels, assignee, creator, since; pull requests included, as GitHub
//! does), get, create, update (close with a reason, reopen, labels, assignees), comments and
//! labels. Issues and pull requests share one numbering.

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::common::{
    Answer, Asker, Base, InRepo, Params, Refusal, Shared, body, error, invalid, iso, login_user,
    node_id, page_of, repo, repo_api, repo_mut, repo_web, time_param,
};
use crate::github::{Comment, GitHub, Issue, Label, RepoState};

pub(super) fn label_json(b: &Base, r: &RepoState, l: &Label) -> Value {
    json!({
        "id": l.id, "node_id": node_id("Label", &l.id.to_string()),
        "url": format!("{}/labels/{}", repo_api(b, r), l.name),
        "name": l.name, "color": l.color, "description": l.description, "default": false,
        "archived_at": null, "archived_by": null,
    })
}

fn labels_of(b: &Base, r: &RepoState, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| r.labels.iter().find(|l| &l.name == n))
        .map(|l| label_json(b, r, l))
        .collect()
}

/// The labels of an issue or pull request (`label` objects).
pub(super) fn issue_labels(b: &Base, r: &RepoState, i: &Issue) -> Vec<Value> {
    labels_of(b, r, &i.labels)
}

/// An issue (or a pull request's issue side) as `issue`.
pub(super) fn issue_json(gh: &GitHub, b: &Base, r: &RepoState, i: &Issue) -> Value {
    let api = format!("{}/issues/{}", repo_api(b, r), i.number);
    let web_kind = if i.pull.is_some() { "pull" } else { "issues" };
    let html = format!("{}/{web_kind}/{}", repo_web(b, r), i.number);
    let assignees: Vec<Value> = i.assignees.iter().map(|a| login_user(gh, b, a)).collect();
    let mut v = json!({
        "id": i.id, "node_id": node_id("Issue", &i.id.to_string()), "url": api,
        "repository_url": repo_api(b, r),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": html, "number": i.number,
        "state": if i.open { "open" } else { "closed" }, "state_reason": i.state_reason,
        "title": i.title, "body": i.body, "user": login_user(gh, b, &i.user),
        "labels": issue_labels(b, r, i),
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees, "milestone": null, "locked": false, "active_lock_reason": null,
        "comments": i.comments.len(),
        "closed_at": i.closed.map(iso), "created_at": iso(i.created), "updated_at": iso(i.updated),
        "closed_by": null, "author_association": "MEMBER",
        "reactions": {
            "url": format!("{api}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
            "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
        },
    });
    if let Some(p) = &i.pull {
        let pr = format!("{}/pulls/{}", repo_api(b, r), i.number);
        v["pull_request"] = json!({
            "url": pr, "html_url": html, "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": p.merged.as_ref().map(|m| iso(m.at)),
        });
        v["draft"] = json!(p.draft);
    }
    v
}

pub(super) fn comment_json(gh: &GitHub, b: &Base, r: &RepoState, n: u64, c: &Comment) -> Value {
    let api = format!("{}/issues/comments/{}", repo_api(b, r), c.id);
    json!({
        "id": c.id, "node_id": node_id("IssueComment", &c.id.to_string()), "url": api,
        "html_url": format!("{}/issues/{n}#issuecomment-{}", repo_web(b, r), c.id),
        "issue_url": format!("{}/issues/{n}", repo_api(b, r)),
        "body": c.body, "user": login_user(gh, b, &c.user),
        "created_at": iso(c.created), "updated_at": iso(c.created),
        "author_association": "MEMBER",
    })
}

fn issue_ref(r: &RepoState, number: u64) -> Result<&Issue, Refusal> {
    r.issues
        .get(&number)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

pub(super) async fn issues_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let state = p.get("state").map_or("open", String::as_str);
    let labels: Vec<&str> = p
        .get("labels")
        .map(|l| l.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let since = time_param(&p, "since")?;
    let mut issues: Vec<&Issue> = r
        .issues
        .values()
        .filter(|i| match state {
            "all" => true,
            "closed" => !i.open,
            _ => i.open,
        })
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x == l)))
        .filter(|i| {
            p.get("assignee").is_none_or(|a| match a.as_str() {
                "*" => !i.assignees.is_empty(),
                "none" => i.assignees.is_empty(),
                a => i.assignees.iter().any(|x| x.eq_ignore_ascii_case(a)),
            })
        })
        .filter(|i| {
            p.get("creator")
                .is_none_or(|c| i.user.eq_ignore_ascii_case(c))
        })
        .filter(|i| since.is_none_or(|s| i.updated >= s))
        .collect();
    let key = |i: &Issue| match p.get("sort").map(String::as_str) {
        Some("updated") => i.updated,
        Some("comments") => i.comments.len() as i64,
        _ => i.created,
    };
    issues.sort_by_key(|i| std::cmp::Reverse((key(i), i.number)));
    if p.get("direction").is_some_and(|d| d == "asc") {
        issues.reverse();
    }
    let items = issues
        .into_iter()
        .map(|i| issue_json(&gh, &b, r, i))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/issues"),
        &p,
        items,
    ))
}

pub(super) async fn issue_get(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    Ok(Json(issue_json(&gh, &b, r, issue_ref(r, number)?)).into_response())
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().or_else(|| x["name"].as_str()))
            .map(str::to_owned)
            .collect()
    })
}

/// Labels the repository does not have yet are created (as GitHub does for a writer).
fn ensure_labels(gh: &GitHub, r: &mut RepoState, names: &[String]) {
    for name in names {
        if !r.labels.iter().any(|l| &l.name == name) {
            r.labels.push(Label {
                id: gh.next_id(),
                name: name.clone(),
                color: "ededed".into(),
                description: String::new(),
            });
        }
    }
}

/// Assignees must be users the repository knows.
fn check_assignees(gh: &GitHub, names: &[String]) -> Result<(), Refusal> {
    match names.iter().find(|a| gh.user(a).is_none()) {
        Some(_) => Err(invalid("Issue", "assignees", "invalid", None)),
        None => Ok(()),
    }
}

pub(super) async fn issue_create(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    InRepo(b, owner, name, ()): InRepo,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let Some(title) = v["title"].as_str().filter(|t| !t.trim().is_empty()) else {
        return Err(invalid("Issue", "title", "missing_field", None));
    };
    let labels = strings(&v["labels"]).unwrap_or_default();
    let mut assignees = strings(&v["assignees"]).unwrap_or_default();
    if let Some(a) = v["assignee"].as_str() {
        assignees.push(a.to_owned());
    }
    check_assignees(&gh, &assignees)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    ensure_labels(&gh, r, &labels);
    let now = jiff::Timestamp::now().as_second();
    let issue = Issue {
        number: r.next_number(),
        id: gh.next_id(),
        title: title.to_owned(),
        body: v["body"].as_str().map(str::to_owned),
        user: caller.login.clone(),
        open: true,
        state_reason: None,
        labels,
        assignees,
        comments: Vec::new(),
        created: now,
        updated: now,
        closed: None,
        pull: None,
    };
    let json = issue_json(&gh, &b, r, &issue);
    r.issues.insert(issue.number, issue);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub(super) async fn issue_update(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    issue_ref(r, number)?;
    if let Some(labels) = strings(&v["labels"]) {
        ensure_labels(&gh, r, &labels);
    }
    if let Some(assignees) = strings(&v["assignees"]) {
        check_assignees(&gh, &assignees)?;
    }
    let reason = v["state_reason"].as_str();
    if reason.is_some_and(|r| !matches!(r, "completed" | "not_planned" | "reopened")) {
        return Err(invalid("Issue", "state_reason", "invalid", None));
    }
    let now = jiff::Timestamp::now().as_second();
    let i = r.issues.get_mut(&number).expect("checked above");
    if let Some(t) = v["title"].as_str() {
        i.title = t.to_owned();
    }
    if !v["body"].is_null() {
        i.body = v["body"].as_str().map(str::to_owned);
    }
    if let Some(labels) = strings(&v["labels"]) {
        i.labels = labels;
    }
    if let Some(assignees) = strings(&v["assignees"]) {
        i.assignees = assignees;
    }
    match v["state"].as_str() {
        Some("closed") if i.open && i.pull.as_ref().is_none_or(|p| p.merged.is_none()) => {
            i.open = false;
            i.closed = Some(now);
            i.state_reason = Some(reason.unwrap_or("completed").to_owned());
        }
        Some("open") if !i.open && i.pull.as_ref().is_none_or(|p| p.merged.is_none()) => {
            i.open = true;
            i.closed = None;
            i.state_reason = Some("reopened".into());
        }
        Some("open" | "closed") | None => {}
        Some(_) => return Err(invalid("Issue", "state", "invalid", None)),
    }
    i.updated = now;
    let i = r.issues.get(&number).expect("checked above");
    Ok(Json(issue_json(&gh, &b, r, i)).into_response())
}

pub(super) async fn comments_list(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let items = issue_ref(r, number)?
        .comments
        .iter()
        .map(|c| comment_json(&gh, &b, r, number, c))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/issues/{number}/comments"),
        &p,
        items,
    ))
}

pub(super) async fn comment_create(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    InRepo(b, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let Some(text) = v["body"].as_str().filter(|t| !t.trim().is_empty()) else {
        return Err(invalid("IssueComment", "body", "missing_field", None));
    };
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    issue_ref(r, number)?;
    let now = jiff::Timestamp::now().as_second();
    let comment = Comment {
        id: gh.next_id(),
        user: caller.login.clone(),
        body: text.to_owned(),
        created: now,
    };
    let json = comment_json(&gh, &b, r, number, &comment);
    let i = r.issues.get_mut(&number).expect("checked above");
    i.comments.push(comment);
    i.updated = now;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub(super) async fn labels_add(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let Some(names) = strings(&v["labels"]) else {
        return Err(invalid("Label", "labels", "missing_field", None));
    };
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    issue_ref(r, number)?;
    ensure_labels(&gh, r, &names);
    let i = r.issues.get_mut(&number).expect("checked above");
    for n in names {
        if !i.labels.contains(&n) {
            i.labels.push(n);
        }
    }
    let i = r.issues.get(&number).expect("checked above");
    Ok(Json(issue_labels(&b, r, i)).into_response())
}

pub(super) async fn labels_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let items = r.labels.iter().map(|l| label_json(&b, r, l)).collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/labels"),
        &p,
        items,
    ))
}
