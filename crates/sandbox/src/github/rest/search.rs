//! Search: code over default branches, issues and pull requests, and users (by login, name or
//! email with `in:email`), with GitHub's qualifiers (`repo:`, `org:`, `user:`, `is:`, `state:`,
//! `label:`, `author:`, `in:`, `path:`, `filename:`, `language:`, `type:`) and its
//! `{total_count, incomplete_results, items}` answers. A query without text is a 422.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::{
    common::{
        Answer, Asker, Params, Refusal, Shared, base, error, internal, paging, repo_api, repo_web,
        simple_user,
    },
    issues::issue_json,
    repos::repository,
};
use crate::github::RepoState;

/// A query: its free words and its `key:value` qualifiers.
struct Q {
    words: Vec<String>,
    qualifiers: Vec<(String, String)>,
}

impl Q {
    fn parse(p: &std::collections::HashMap<String, String>) -> Result<Self, Refusal> {
        let text = p.get("q").map(String::as_str).unwrap_or_default();
        let mut q = Q {
            words: Vec::new(),
            qualifiers: Vec::new(),
        };
        let mut rest = text.trim();
        while !rest.is_empty() {
            // A quoted phrase is one word.
            let (token, tail) = if let Some(quoted) = rest.strip_prefix('"') {
                quoted.split_once('"').unwrap_or((quoted, ""))
            } else {
                rest.split_once(char::is_whitespace).unwrap_or((rest, ""))
            };
            match token.split_once(':') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() => q
                    .qualifiers
                    .push((k.to_ascii_lowercase(), v.trim_matches('"').to_owned())),
                _ if !token.is_empty() => q.words.push(token.to_owned()),
                _ => {}
            }
            rest = tail.trim_start();
        }
        if q.words.is_empty() && q.qualifiers.is_empty() {
            return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed"));
        }
        Ok(q)
    }

    fn get(&self, key: &str) -> impl Iterator<Item = &str> {
        self.qualifiers
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the repository is in scope (`repo:`, `org:`, `user:`; all when none is given).
    fn scope(&self, r: &RepoState) -> bool {
        let repos: Vec<&str> = self.get("repo").collect();
        let owners: Vec<&str> = self.get("org").chain(self.get("user")).collect();
        (repos.is_empty() && owners.is_empty())
            || repos.iter().any(|x| x.eq_ignore_ascii_case(&r.full_name()))
            || owners.iter().any(|o| o.eq_ignore_ascii_case(&r.owner))
    }

    fn text_matches(&self, haystack: &str) -> bool {
        let h = haystack.to_lowercase();
        self.words.iter().all(|w| h.contains(&w.to_lowercase()))
    }
}

/// A search's answer; issue search also says how it searched (this stand-in matches words:
/// `lexical`).
fn answer(total: usize, items: Vec<Value>, issues: bool) -> Answer {
    let mut body = json!({ "total_count": total, "incomplete_results": false, "items": items });
    if issues {
        body["search_type"] = json!("lexical");
    }
    Ok(Json(body).into_response())
}

fn window(p: &std::collections::HashMap<String, String>, items: Vec<Value>) -> (usize, Vec<Value>) {
    let (per_page, page) = paging(p);
    let total = items.len();
    (
        total,
        items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect(),
    )
}

/// `/search/code`: files on default branches whose path or text holds every word.
pub(super) async fn search_code(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    headers: HeaderMap,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let q = Q::parse(&p)?;
    if q.words.is_empty() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed: code search needs a search term",
        ));
    }
    let repos = gh.repos();
    let mut items = Vec::new();
    for r in repos
        .values()
        .filter(|r| q.scope(r) && caller.sees(&r.full_name()))
    {
        let Some(head) = r.git.resolve(&r.default_branch) else {
            continue;
        };
        let tree = r.git.tree_of(head).map_err(internal)?;
        let first = q.words[0].as_str();
        for (path, blob) in r.git.grep(tree, first).map_err(internal)? {
            let text = String::from_utf8_lossy(&r.git.blob(blob).map_err(internal)?).into_owned();
            let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
            let ok = q.text_matches(&format!("{path}\n{text}"))
                && q.get("path").all(|x| path.starts_with(x.trim_matches('/')))
                && q.get("filename").all(|x| name == x)
                && q.get("extension").all(|x| name.ends_with(&format!(".{x}")))
                && q.get("language")
                    .all(|l| l.eq_ignore_ascii_case(&r.language));
            if !ok {
                continue;
            }
            let api = repo_api(&b, r);
            items.push(json!({
                "name": name, "path": path, "sha": blob.to_string(),
                "url": format!("{api}/contents/{path}?ref={head}"),
                "git_url": format!("{api}/git/blobs/{blob}"),
                "html_url": format!("{}/blob/{head}/{path}", repo_web(&b, r)),
                "repository": repository(&gh, &b, r, false), "score": 1.0,
            }));
        }
    }
    let (total, items) = window(&p, items);
    answer(total, items, false)
}

/// `/search/issues`: issues and pull requests.
pub(super) async fn search_issues(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    headers: HeaderMap,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let q = Q::parse(&p)?;
    let repos = gh.repos();
    let mut found = Vec::new();
    for r in repos
        .values()
        .filter(|r| q.scope(r) && caller.sees(&r.full_name()))
    {
        for i in r.issues.values() {
            let kinds_ok = q.get("is").chain(q.get("type")).all(|k| match k {
                "issue" => i.pull.is_none(),
                "pr" | "pull-request" => i.pull.is_some(),
                "open" => i.open,
                "closed" => !i.open,
                "merged" => i.pull.as_ref().is_some_and(|p| p.merged.is_some()),
                "unmerged" => i.pull.as_ref().is_some_and(|p| p.merged.is_none()),
                _ => true,
            });
            let only_title = q.get("in").any(|x| x == "title");
            let text = if only_title {
                i.title.clone()
            } else {
                format!(
                    "{}\n{}\n{}",
                    i.title,
                    i.body.as_deref().unwrap_or_default(),
                    i.comments
                        .iter()
                        .map(|c| c.body.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            };
            let ok = kinds_ok
                && q.get("state").all(|s| (s == "open") == i.open)
                && q.get("label").all(|l| i.labels.iter().any(|x| x == l))
                && q.get("author").all(|a| i.user.eq_ignore_ascii_case(a))
                && q.get("assignee")
                    .all(|a| i.assignees.iter().any(|x| x.eq_ignore_ascii_case(a)))
                && q.get("mentions").all(|m| text.contains(&format!("@{m}")))
                && q.text_matches(&text);
            if ok {
                found.push((i.updated, issue_json(&gh, &b, r, i)));
            }
        }
    }
    found.sort_by_key(|(updated, _)| std::cmp::Reverse(*updated));
    let items = found
        .into_iter()
        .map(|(_, mut v)| {
            v["score"] = json!(1.0);
            v
        })
        .collect();
    let (total, items) = window(&p, items);
    answer(total, items, true)
}

/// `/search/users`: by login or name, or by email with `in:email`.
pub(super) async fn search_users(
    State(gh): Shared,
    headers: HeaderMap,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let q = Q::parse(&p)?;
    let by_email = q.get("in").any(|x| x == "email");
    let items = gh
        .users
        .iter()
        .filter(|u| {
            let text = if by_email {
                u.email.clone()
            } else {
                format!("{} {}", u.login, u.name)
            };
            q.text_matches(&text)
        })
        .map(|u| {
            let mut v = simple_user(&b, u);
            v["score"] = json!(1.0);
            v
        })
        .collect();
    let (total, items) = window(&p, items);
    answer(total, items, false)
}
