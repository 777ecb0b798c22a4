//! Actions and checks: workflows, runs (filters by branch, event, status or conclusion, head
//! sha; per workflow too), a run and its jobs with steps, a job's log through GitHub's `302`
//! to a short-lived plain-text download (served without the API token, as GitHub's blob
//! storage is), and the check runs of a ref (one per job of the runs on its commit).

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    common::{
        Answer, Base, InRepo, Params, Refusal, Shared, base, error, iso, link, login_user, node_id,
        paging, repo, repo_api, repo_web, with_link,
    },
    repos::repository,
};
use crate::github::{GitHub, Job, RepoState, Run, Workflow};

fn workflow_json(b: &Base, r: &RepoState, w: &Workflow) -> Value {
    let api = repo_api(b, r);
    json!({
        "id": w.id, "node_id": node_id("Workflow", &w.id.to_string()), "name": w.name,
        "path": w.path, "state": "active", "created_at": iso(w.created), "updated_at": iso(w.created),
        "url": format!("{api}/actions/workflows/{}", w.id),
        "html_url": format!("{}/blob/{}/{}", repo_web(b, r), r.default_branch, w.path),
        "badge_url": format!("{}/workflows/{}/badge.svg", repo_web(b, r), w.name),
    })
}

fn run_json(gh: &GitHub, b: &Base, r: &RepoState, run: &Run) -> Value {
    let api = format!("{}/actions/runs/{}", repo_api(b, r), run.id);
    let path = r
        .workflows
        .iter()
        .find(|w| w.id == run.workflow)
        .map_or("", |w| w.path.as_str());
    let head = r.git.resolve(&run.sha).and_then(|oid| r.git.info(oid).ok());
    let head_commit = head.map_or(Value::Null, |c| {
        json!({
            "id": c.sha, "tree_id": c.tree, "message": c.message.trim_end(),
            "timestamp": iso(c.committer.time),
            "author": { "name": c.author.name, "email": c.author.email },
            "committer": { "name": c.committer.name, "email": c.committer.email },
        })
    });
    let minimal = repository(gh, b, r, false);
    let name = r
        .workflows
        .iter()
        .find(|w| w.id == run.workflow)
        .map_or("", |w| w.name.as_str());
    json!({
        "id": run.id, "node_id": node_id("WorkflowRun", &run.id.to_string()), "name": name,
        "head_branch": run.branch, "head_sha": run.sha, "path": path,
        "display_title": run.title, "run_number": run.number, "run_attempt": 1,
        "event": run.event,
        "status": if run.conclusion.is_some() { "completed" } else { "in_progress" },
        "conclusion": run.conclusion, "workflow_id": run.workflow,
        "url": api, "html_url": format!("{}/actions/runs/{}", repo_web(b, r), run.id),
        "created_at": iso(run.created), "updated_at": iso(run.updated),
        "run_started_at": iso(run.created),
        "actor": login_user(gh, b, &run.actor), "triggering_actor": login_user(gh, b, &run.actor),
        "jobs_url": format!("{api}/jobs"), "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/check-suites/{}", repo_api(b, r), run.id + 1),
        "artifacts_url": format!("{api}/artifacts"), "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "workflow_url": format!("{}/actions/workflows/{}", repo_api(b, r), run.workflow),
        "head_commit": head_commit, "repository": minimal, "head_repository": minimal,
        "pull_requests": [],
    })
}

fn job_json(b: &Base, r: &RepoState, run: &Run, job: &Job) -> Value {
    let api = repo_api(b, r);
    let name = r
        .workflows
        .iter()
        .find(|w| w.id == run.workflow)
        .map(|w| w.name.clone());
    let steps: Vec<Value> = job
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "name": s.name, "status": "completed", "conclusion": s.conclusion,
                "number": i + 1, "started_at": iso(s.started), "completed_at": s.completed.map(iso),
            })
        })
        .collect();
    json!({
        "id": job.id, "node_id": node_id("CheckRun", &job.id.to_string()), "run_id": run.id,
        "run_url": format!("{api}/actions/runs/{}", run.id), "run_attempt": 1,
        "head_sha": run.sha, "head_branch": run.branch, "workflow_name": name,
        "name": job.name, "url": format!("{api}/actions/jobs/{}", job.id),
        "html_url": format!("{}/actions/runs/{}/job/{}", repo_web(b, r), run.id, job.id),
        "status": if job.conclusion.is_some() { "completed" } else { "in_progress" },
        "conclusion": job.conclusion, "created_at": iso(job.started),
        "started_at": iso(job.started), "completed_at": job.completed.map(iso),
        "check_run_url": format!("{api}/check-runs/{}", job.id), "steps": steps,
        "labels": ["ubuntu-latest"], "runner_id": 7, "runner_name": "GitHub Actions 7",
        "runner_group_id": 1, "runner_group_name": "GitHub Actions",
    })
}

pub(super) async fn workflows_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let items: Vec<Value> = r
        .workflows
        .iter()
        .map(|w| workflow_json(&b, r, w))
        .collect();
    Ok(Json(json!({ "total_count": items.len(), "workflows": items })).into_response())
}

/// Runs matching the query, newest first, as `{total_count, workflow_runs}` with `Link`.
fn runs_page(
    gh: &GitHub,
    b: &Base,
    r: &RepoState,
    path: &str,
    p: &std::collections::HashMap<String, String>,
    workflow: Option<u64>,
) -> Response {
    let status = p.get("status").map(String::as_str);
    let mut runs: Vec<&Run> = r
        .runs
        .iter()
        .filter(|run| workflow.is_none_or(|w| run.workflow == w))
        .filter(|run| p.get("branch").is_none_or(|x| &run.branch == x))
        .filter(|run| p.get("event").is_none_or(|x| &run.event == x))
        .filter(|run| p.get("head_sha").is_none_or(|x| &run.sha == x))
        .filter(|run| {
            p.get("actor")
                .is_none_or(|x| run.actor.eq_ignore_ascii_case(x))
        })
        .filter(|run| match status {
            None => true,
            Some("completed") => run.conclusion.is_some(),
            Some("in_progress") => run.conclusion.is_none(),
            Some(s) => run.conclusion.as_deref() == Some(s),
        })
        .collect();
    runs.sort_by_key(|run| std::cmp::Reverse((run.created, run.id)));
    let (per_page, page) = paging(p);
    let more = runs.len() > page * per_page;
    let window: Vec<Value> = runs
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|run| run_json(gh, b, r, run))
        .collect();
    let body = Json(json!({ "total_count": runs.len(), "workflow_runs": window }));
    with_link(body.into_response(), &link(b, path, p, page, more))
}

pub(super) async fn runs_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let path = format!("/repos/{owner}/{name}/actions/runs");
    Ok(runs_page(&gh, &b, r, &path, &p, None))
}

pub(super) async fn workflow_runs(
    State(gh): Shared,
    InRepo(b, owner, name, workflow): InRepo<String>,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let id = r
        .workflows
        .iter()
        .find(|w| w.id.to_string() == workflow || w.path.ends_with(&format!("/{workflow}")))
        .map(|w| w.id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    let path = format!("/repos/{owner}/{name}/actions/workflows/{workflow}/runs");
    Ok(runs_page(&gh, &b, r, &path, &p, Some(id)))
}

fn run_of(r: &RepoState, id: u64) -> Result<&Run, Refusal> {
    r.runs
        .iter()
        .find(|run| run.id == id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

fn job_of(r: &RepoState, id: u64) -> Result<(&Run, &Job), Refusal> {
    r.runs
        .iter()
        .find_map(|run| Some((run, run.jobs.iter().find(|j| j.id == id)?)))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

pub(super) async fn run_get(State(gh): Shared, InRepo(b, owner, name, id): InRepo<u64>) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    Ok(Json(run_json(&gh, &b, r, run_of(r, id)?)).into_response())
}

pub(super) async fn run_jobs(State(gh): Shared, InRepo(b, owner, name, id): InRepo<u64>) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let run = run_of(r, id)?;
    let jobs: Vec<Value> = run.jobs.iter().map(|j| job_json(&b, r, run, j)).collect();
    Ok(Json(json!({ "total_count": jobs.len(), "jobs": jobs })).into_response())
}

pub(super) async fn job_get(State(gh): Shared, InRepo(b, owner, name, id): InRepo<u64>) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (run, job) = job_of(r, id)?;
    Ok(Json(job_json(&b, r, run, job)).into_response())
}

/// The signature of a log download: only the stand-in can make one.
fn signature(gh: &GitHub, path: &str) -> String {
    hex::encode(&Sha256::digest(format!("{}\n{path}", gh.token))[..12])
}

/// `302` to the job's log, as GitHub answers (`Location` is a signed URL on another path).
pub(super) async fn job_logs(State(gh): Shared, InRepo(b, owner, name, id): InRepo<u64>) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    job_of(r, id)?;
    let path = format!("/_logs/{owner}/{name}/jobs/{id}");
    let location = format!("{}{path}?sig={}", b.api, signature(&gh, &path));
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// The signed download of a job's log (outside the API's token check).
pub(super) async fn log_download(
    State(gh): Shared,
    InRepo(_b, owner, name, id): InRepo<u64>,
    Query(p): Params,
) -> Response {
    let path = format!("/_logs/{owner}/{name}/jobs/{id}");
    if p.get("sig") != Some(&signature(&gh, &path)) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml")],
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code></Error>",
        )
            .into_response();
    }
    let repos = gh.repos();
    let Some(job) = repos
        .get(&format!("{owner}/{name}"))
        .and_then(|r| job_of(r, id).ok().map(|(_, j)| j.log.clone()))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], job).into_response()
}

/// `commits/{ref}/check-runs`: a check run per job of the runs on the ref's commit.
pub(super) fn check_runs(
    gh: &GitHub,
    headers: &HeaderMap,
    r: &RepoState,
    reference: &str,
) -> Answer {
    let b = base(headers);
    let oid = r.git.resolve(reference).ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {reference}"),
        )
    })?;
    let sha = oid.to_string();
    let api = repo_api(&b, r);
    let app = json!({
        "id": 15368, "slug": "github-actions", "node_id": node_id("Integration", "15368"),
        "owner": login_user(gh, &b, "github"), "name": "GitHub Actions", "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions", "html_url": format!("{}/apps/github-actions", b.web),
        "created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
        "permissions": { "checks": "write", "contents": "write" }, "events": ["check_run", "push"],
    });
    let runs: Vec<Value> = r
        .runs
        .iter()
        .filter(|run| run.sha == sha)
        .flat_map(|run| run.jobs.iter().map(move |j| (run, j)))
        .map(|(run, j)| {
            let failed = j.conclusion.as_deref() == Some("failure");
            json!({
                "id": j.id, "node_id": node_id("CheckRun", &j.id.to_string()), "head_sha": sha,
                "external_id": j.id.to_string(), "name": j.name,
                "url": format!("{api}/check-runs/{}", j.id),
                "html_url": format!("{}/actions/runs/{}/job/{}", repo_web(&b, r), run.id, j.id),
                "details_url": format!("{}/actions/runs/{}/job/{}", repo_web(&b, r), run.id, j.id),
                "status": if j.conclusion.is_some() { "completed" } else { "in_progress" },
                "conclusion": j.conclusion, "started_at": iso(j.started),
                "completed_at": j.completed.map(iso),
                "output": {
                    "title": if failed { "Process completed with exit code 1." } else { "" },
                    "summary": if failed { "Process completed with exit code 1." } else { "" },
                    "text": null, "annotations_count": u8::from(failed),
                    "annotations_url": format!("{api}/check-runs/{}/annotations", j.id),
                },
                "check_suite": { "id": run.id + 1 }, "app": app, "pull_requests": [],
            })
        })
        .collect();
    Ok(Json(json!({ "total_count": runs.len(), "check_runs": runs })).into_response())
}
