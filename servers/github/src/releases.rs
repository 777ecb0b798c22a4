//! What went out when, to match a deploy with an incident's start: releases (newest first) and
//! deployments with their latest status.

use futures::{StreamExt, stream};
use jiff::Timestamp;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    GitHubServer,
    render::{RepoArgs, Table, at, from_chrono, limit, line, or_fail, sha7, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReleasesListArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Max 100 (default 10)
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentsListArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// e.g. production
    pub environment: Option<String>,
    /// Max 30 (default 10)
    pub limit: Option<usize>,
}

fn time(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

#[tool_router(router = releases_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Releases, newest first: tag, when, who, notes' first line.
    #[tool]
    pub async fn releases_list(
        &self,
        Parameters(args): Parameters<ReleasesListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let max = limit(args.limit, 10, 100);
        let what = format!("repository {owner}/{repo}");
        let page = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo) = (&owner, &repo);
                    async move {
                        c.repos(owner, repo)
                            .releases()
                            .list()
                            .per_page(max as u8)
                            .send()
                            .await
                    }
                })
                .await
        );
        if page.items.is_empty() {
            return Ok(text(format!("{owner}/{repo} has no releases")));
        }
        let now = Timestamp::now();
        let mut table = Table::new(["TAG", "PUBLISHED", "BY", "NOTES"]);
        for r in &page.items {
            let notes = r
                .body
                .as_deref()
                .unwrap_or_default()
                .lines()
                .map(|l| l.trim_start_matches(['#', '-', '*', ' ']))
                .find(|l| !l.is_empty() && !l.eq_ignore_ascii_case("what's changed"))
                .unwrap_or_default();
            let mut tag = line(&r.tag_name, 40);
            if r.prerelease {
                tag.push_str(" (pre)");
            }
            table.row([
                tag,
                r.published_at
                    .as_ref()
                    .map_or_else(|| "draft".into(), |t| at(from_chrono(t), now)),
                r.author.as_ref().map_or("?".into(), |a| a.login.clone()),
                line(notes, 80),
            ]);
        }
        Ok(text(format!(
            "{owner}/{repo}:\n{}\ncompare base=<older tag> head=<newer tag> shows what changed.",
            table.render()
        )))
    }

    /// GitHub deployments (what went out where), newest first, with their latest status.
    #[tool]
    pub async fn deploy_history(
        &self,
        Parameters(args): Parameters<DeploymentsListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let max = limit(args.limit, 10, 30);
        let mut query = vec![("per_page", max.to_string())];
        if let Some(e) = &args.environment {
            query.push(("environment", e.clone()));
        }
        let route = format!("/repos/{owner}/{repo}/deployments");
        let deployments: Vec<Value> = or_fail!(
            self.gh()
                .get(&format!("repository {owner}/{repo}"), &route, &query)
                .await
        );
        if deployments.is_empty() {
            return Ok(text(format!("{owner}/{repo}: no deployments match")));
        }
        // The latest status of each, four requests at a time.
        let ids: Vec<u64> = deployments
            .iter()
            .map(|d| d["id"].as_u64().unwrap_or(0))
            .collect();
        let latest: Vec<Option<Value>> = stream::iter(ids)
            .map(|id| {
                let (gh, route) = (self.clone(), format!("{route}/{id}/statuses"));
                async move {
                    gh.gh()
                        .get::<Vec<Value>>(
                            &format!("deployment {id}"),
                            &route,
                            &[("per_page", "1".into())],
                        )
                        .await
                        .ok()
                        .and_then(|s| s.into_iter().next())
                }
            })
            .buffered(4)
            .collect()
            .await;
        let now = Timestamp::now();
        let mut table = Table::new(["ID", "ENVIRONMENT", "REF", "SHA", "BY", "CREATED", "STATUS"]);
        for (d, status) in deployments.iter().zip(latest) {
            let state = status.as_ref().map_or_else(
                || "no status".into(),
                |s| {
                    format!(
                        "{} {}",
                        s["state"].as_str().unwrap_or("?"),
                        time(&s["created_at"])
                            .map(|t| at(t, now))
                            .unwrap_or_default()
                    )
                },
            );
            table.row([
                d["id"].to_string(),
                line(d["environment"].as_str().unwrap_or("?"), 30),
                line(d["ref"].as_str().unwrap_or("?"), 40),
                sha7(d["sha"].as_str().unwrap_or("?")).to_owned(),
                d["creator"]["login"].as_str().unwrap_or("?").to_owned(),
                time(&d["created_at"])
                    .map(|t| at(t, now))
                    .unwrap_or_default(),
                state,
            ]);
        }
        Ok(text(format!("{owner}/{repo}:\n{}", table.render())))
    }
}
