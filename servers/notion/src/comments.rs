//! Comments on a page: the list (oldest first) and a new one (medium risk, through the safety
//! engine).

use jiff::Timestamp;
use opsmcp_core::{
    approval::Exchange,
    output::{ago, untrusted},
    risk::RiskLevel,
};
use reqwest::Method;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::{CallToolResponse, CallToolResult},
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    NotionServer,
    markdown::inline,
    pages::{failure, or_fail, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Page id, URL or title
    pub page: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct AddArgs {
    /// Page id, URL or title
    pub page: String,
    pub text: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[tool_router(router = comments_router, vis = "pub(crate)")]
impl NotionServer {
    /// Comments on a page, oldest first.
    #[tool]
    pub async fn comments_list(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let page = or_fail!(self.resolve_page(&args.page).await);
        let (comments, _) = or_fail!(
            self.nt()
                .all(
                    &format!("v1/comments?block_id={page}"),
                    None,
                    200,
                    &format!("page {page}")
                )
                .await
        );
        if comments.is_empty() {
            return Ok(text("no comments"));
        }
        let now = Timestamp::now();
        let people = self.people().await.unwrap_or_default();
        let out: Vec<String> = comments
            .iter()
            .map(|c| {
                let who = c["created_by"]["id"]
                    .as_str()
                    .and_then(|id| people.iter().find(|p| p.0 == id))
                    .map_or_else(
                        || {
                            untrusted(
                                c["display_name"]["resolved_name"]
                                    .as_str()
                                    .unwrap_or("integration"),
                            )
                        },
                        |p| p.1.clone(),
                    );
                let when = c["created_time"]
                    .as_str()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                    .map(|t| format!("{} ago", ago(t, now)))
                    .unwrap_or_default();
                format!("{who}, {when}: {}", inline(&c["rich_text"]))
            })
            .collect();
        Ok(text(out.join("\n")))
    }
}

#[tool_router(router = comment_changes_router, vis = "pub(crate)")]
impl NotionServer {
    /// Add a comment to a page.
    #[tool]
    pub async fn comment_add(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<AddArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let body_text = args.text.trim();
        if body_text.is_empty() {
            return Ok(failure("the comment is empty").into());
        }
        if body_text.encode_utf16().count() > 2000 {
            return Ok(failure("Notion keeps comments of at most 2,000 characters").into());
        }
        let page = or_fail!(self.resolve_page(&args.page).await);
        or_fail!(
            self.writable(
                crate::scope::Node::Page(page.to_lowercase()),
                &format!("page {page}")
            )
            .await
        );
        let body = json!({ "parent": { "page_id": page }, "rich_text": [{ "type": "text", "text": { "content": body_text } }] });
        let command = format!(
            "{} {body}",
            self.nt().describe(&Method::POST, "v1/comments")
        );
        self.change(
            exchange,
            &args,
            (
                "comment_add",
                "comment",
                page.clone(),
                RiskLevel::Medium,
                "adds a comment; the page's followers are notified".into(),
            ),
            command,
            body_text.to_owned(),
            || async {
                let made = self
                    .nt()
                    .write(Method::POST, "v1/comments", &body, &format!("page {page}"))
                    .await
                    .map_err(|e| e.to_string())?;
                match made["id"].as_str() {
                    Some(id) => Ok(format!("commented on {page} ({id})")),
                    None => Err("Notion's answer carries no comment".into()),
                }
            },
        )
        .await
    }
}
