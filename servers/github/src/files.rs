//! Files as a responder reads them: one file with line numbers and a line range (a directory as
//! a listing) at any ref, and code search over the default branch.

use base64::Engine;
use octocrab::models::repos::Content;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    GitHubServer,
    client::GhError,
    render::{RepoArgs, Table, failure, fenced, limit, line, or_fail, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileGetArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// File or directory ("" for the root)
    pub path: String,
    /// Branch, tag or sha (default: the default branch)
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// First line (default 1)
    pub start_line: Option<usize>,
    /// Last line (default start + 199)
    pub end_line: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CodeSearchArgs {
    /// GitHub code search, e.g. "malloc language:c" (repo: added from the defaults)
    pub query: String,
    /// Search this owner's repositories (default: the default repository)
    pub owner: Option<String>,
    /// Name or owner/name
    pub repo: Option<String>,
    /// Max 100 (default 20)
    pub limit: Option<usize>,
}

/// `lines` numbered from `start` (1-based), within `start..=end`.
fn numbered(text: &str, start: usize, end: usize) -> String {
    let width = end.to_string().len();
    text.lines()
        .enumerate()
        .skip(start - 1)
        .take(end + 1 - start)
        .map(|(i, l)| format!("{:>width$}  {l}\n", i + 1))
        .collect()
}

fn decode(item: &Content) -> Result<String, GhError> {
    let raw = item
        .content
        .as_deref()
        .unwrap_or_default()
        .replace('\n', "");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|e| GhError::Other(format!("GitHub sent content that is not base64: {e}")))?;
    if bytes.contains(&0) {
        return Err(GhError::Other(format!(
            "{} is a binary file ({} bytes); it is not shown",
            item.path, item.size
        )));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[tool_router(router = files_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Read a file with line numbers (a line range for long files), or list a directory.
    #[tool]
    pub async fn file_get(
        &self,
        Parameters(args): Parameters<FileGetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let path = args.path.trim_matches('/').to_owned();
        let at = args.reference.as_deref().unwrap_or("the default branch");
        let what = format!("{path} at {at} in {owner}/{repo}");
        let mut items = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo, path, reference) = (&owner, &repo, &path, &args.reference);
                    async move {
                        let handler = c.repos(owner, repo);
                        let mut get = handler.get_content().path(path.clone());
                        if let Some(r) = reference {
                            get = get.r#ref(r.clone());
                        }
                        get.send().await
                    }
                })
                .await
        );
        let items = items.take_items();
        // A directory comes back as several items (or none); a file as one with content.
        let is_file = items.len() == 1 && items[0].r#type == "file" && items[0].path == path;
        if !is_file {
            let mut table = Table::new(["TYPE", "SIZE", "NAME"]);
            for i in &items {
                let size = if i.r#type == "dir" {
                    "-".into()
                } else {
                    i.size.to_string()
                };
                table.row([i.r#type.clone(), size, line(&i.name, 120)]);
            }
            let shown = if path.is_empty() { "/" } else { &path };
            return Ok(text(format!(
                "{owner}/{repo} {shown} at {at}: {} entries\n{}",
                items.len(),
                table.render()
            )));
        }
        let item = &items[0];
        let content = or_fail!(decode(item));
        let total = content.lines().count();
        let start = args.start_line.unwrap_or(1).max(1);
        if start > total.max(1) {
            return Ok(failure(format!(
                "{path} has {total} lines; start_line {start} is past its end"
            )));
        }
        let end = args
            .end_line
            .unwrap_or(start + 199)
            .clamp(start, total.max(start));
        let mut out = format!(
            "{owner}/{repo} {path} at {at} (blob {}): lines {start}-{end} of {total}\n",
            &item.sha[..item.sha.len().min(7)]
        );
        out.push_str(&fenced("file", &numbered(&content, start, end)));
        if end < total {
            out.push_str(&format!(
                "\n{} more lines: start_line={} to read on.",
                total - end,
                end + 1
            ));
        }
        Ok(text(out))
    }

    /// Search code on default branches (GitHub code search syntax).
    #[tool]
    pub async fn code_search(
        &self,
        Parameters(args): Parameters<CodeSearchArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.query.trim().is_empty() {
            return Ok(failure("the query is empty: give words to search for"));
        }
        let mut query = args.query.clone();
        if !query.contains("repo:") && !query.contains("org:") && !query.contains("user:") {
            match (args.owner.as_deref(), args.repo.as_deref()) {
                (Some(owner), None) => query.push_str(&format!(" user:{owner}")),
                (owner, repo) => {
                    let (o, r) = or_fail!(self.gh().repo(owner, repo));
                    query.push_str(&format!(" repo:{o}/{r}"));
                }
            }
        }
        let max = limit(args.limit, 20, 100);
        let found = or_fail!(
            self.gh()
                .read("code search", |c| {
                    let query = &query;
                    async move { c.search().code(query).per_page(max as u8).send().await }
                })
                .await
        );
        if found.items.is_empty() {
            return Ok(text(format!("no code matches `{query}`")));
        }
        let mut table = Table::new(["REPOSITORY", "PATH"]);
        for item in &found.items {
            let repo = item
                .repository
                .full_name
                .clone()
                .unwrap_or_else(|| item.repository.name.clone());
            table.row([repo, line(&item.path, 200)]);
        }
        let total = found.total_count.unwrap_or(found.items.len() as u64);
        Ok(text(format!(
            "{total} file{} match `{query}`{}\n{}file_get reads one.",
            if total == 1 { "" } else { "s" },
            if total as usize > found.items.len() {
                format!(" ({} shown)", found.items.len())
            } else {
                String::new()
            },
            table.render()
        )))
    }
}
