//! Reading: search pages and databases by title (or only the runbooks), and a page — or any
//! block — as Markdown with its properties, nested children fetched as deep as they go, a long
//! page cut at a block boundary with a cursor for the rest.

use futures::{StreamExt, TryStreamExt, future::BoxFuture};
use jiff::Timestamp;
use opsmcp_core::{
    output::{Cursor, ago, estimate_tokens, fenced, untrusted},
    structured::with_structured,
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    NotionServer,
    client::{NtError, normalize_id},
    markdown::{Node, inline, render},
};
pub use opsmcp_core::{
    or_fail,
    tools::{failure, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Words of the title
    pub query: String,
    /// Only the runbooks database (NOTION_RUNBOOKS_ID)
    #[serde(default)]
    pub runbooks: bool,
    /// Max 50 (default 10)
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReadArgs {
    /// Page or block id, Notion URL, or an exact title
    pub page: String,
    /// From the previous part's answer
    pub cursor: Option<String>,
    /// Token budget of this part (default 4000)
    pub max_tokens: Option<usize>,
}

/// The plain title of a page, database or data source.
pub fn title_of(object: &Value) -> String {
    let rich = match object["object"].as_str() {
        Some("page") => object["properties"]
            .as_object()
            .and_then(|props| props.values().find(|p| p["type"] == "title"))
            .map(|p| p["title"].clone())
            .unwrap_or(Value::Null),
        _ => object["title"].clone(),
    };
    untrusted(
        &rich
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["plain_text"].as_str())
            .collect::<String>(),
    )
}

/// A property value in a few words.
pub fn value_text(p: &Value) -> String {
    let kind = p["type"].as_str().unwrap_or_default();
    let v = &p[kind];
    let s = match kind {
        "title" | "rich_text" => inline(v),
        "select" | "status" => v["name"].as_str().unwrap_or_default().to_owned(),
        "multi_select" => v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str())
            .collect::<Vec<_>>()
            .join(", "),
        "people" => v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["name"].as_str())
            .collect::<Vec<_>>()
            .join(", "),
        "date" => match (v["start"].as_str(), v["end"].as_str()) {
            (Some(s), Some(e)) => format!("{s} → {e}"),
            (Some(s), None) => s.to_owned(),
            _ => String::new(),
        },
        "number" => v
            .as_f64()
            .map(|n| {
                if n.fract() == 0.0 {
                    format!("{}", n as i64)
                } else {
                    n.to_string()
                }
            })
            .unwrap_or_default(),
        "checkbox" => {
            if v == true {
                "yes".into()
            } else {
                "no".into()
            }
        }
        "url" | "email" | "phone_number" => v.as_str().unwrap_or_default().to_owned(),
        "created_time" | "last_edited_time" => v.as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    untrusted(&s)
}

/// `pages_search` as data (for callers that ask, see `opsmcp_core::structured`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PageList {
    /// Most recently edited first
    pub pages: Vec<PageItem>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PageItem {
    pub id: String,
    pub title: String,
    /// page or database
    pub kind: String,
    /// RFC 3339
    pub last_edited: Option<String>,
    pub url: Option<String>,
}

fn edited(object: &Value, now: Timestamp) -> String {
    object["last_edited_time"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map(|t| format!("edited {} ago", ago(t, now)))
        .unwrap_or_default()
}

impl NotionServer {
    /// A page id from an id, a URL or an exact title (searched).
    pub(crate) async fn resolve_page(&self, page: &str) -> Result<String, NtError> {
        if let Some(id) = normalize_id(page) {
            return Ok(id);
        }
        let found = self
            .nt()
            .read("v1/search", &json!({ "query": page, "filter": { "property": "object", "value": "page" }, "page_size": 20 }), "the search")
            .await?;
        found["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| title_of(p).eq_ignore_ascii_case(page.trim()))
            .and_then(|p| p["id"].as_str().map(str::to_owned))
            .ok_or_else(|| NtError::NotShared(format!("a page titled {page:?}")))
    }

    /// The blocks under `id`, with their children as deep as they go.
    pub(crate) fn tree(&self, id: String) -> BoxFuture<'_, Result<Vec<Node>, NtError>> {
        Box::pin(async move {
            let (blocks, _) = self
                .nt()
                .all(
                    &format!("v1/blocks/{id}/children"),
                    None,
                    10_000,
                    &format!("block {id}"),
                )
                .await?;
            // Siblings' children are fetched four at a time (the limiter keeps the pace).
            futures::stream::iter(blocks)
                .map(|block| self.node(block))
                .buffered(4)
                .try_collect()
                .await
        })
    }

    async fn node(&self, block: Value) -> Result<Node, NtError> {
        let block = slim(block);
        let deeper = block["has_children"] == true
            && !matches!(
                block["type"].as_str(),
                Some("child_page" | "child_database")
            );
        let children = if deeper {
            self.tree(block["id"].as_str().unwrap_or_default().to_owned())
                .await?
        } else {
            Vec::new()
        };
        Ok(Node { block, children })
    }
}

/// A block as a tree keeps it: its id, type, whether it has children and its content, without
/// what Notion sends about every block (parent, who created and edited it and when, trash
/// flags) or rich-text annotations that are all defaults. Notion's JSON is verbose and a parsed
/// `Value` costs several times its text; a page read holds its whole tree until it is rendered,
/// so under load (64 calls at once) this is most of the server's memory.
fn slim(mut block: Value) -> Value {
    let Some(fields) = block.as_object_mut() else {
        return block;
    };
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    fields.retain(|k, _| matches!(k.as_str(), "id" | "type" | "has_children") || *k == kind);
    if let Some(runs) = fields
        .get_mut(&kind)
        .and_then(|c| c.get_mut("rich_text"))
        .and_then(Value::as_array_mut)
    {
        for run in runs.iter_mut().filter_map(Value::as_object_mut) {
            let plain = run
                .get("annotations")
                .and_then(Value::as_object)
                .is_none_or(|a| {
                    a.iter()
                        .all(|(k, v)| v == false || (k == "color" && v == "default"))
                });
            if plain {
                run.remove("annotations");
            }
        }
    }
    block
}

#[tool_router(router = pages_router, vis = "pub(crate)")]
impl NotionServer {
    /// Find pages and databases by title (runbooks=true: only the runbooks database).
    #[tool]
    pub async fn pages_search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let _turn = or_fail!(self.read_turn().await);
        let limit = args.limit.unwrap_or(10).clamp(1, 50);
        let now = Timestamp::now();
        let results: Vec<Value> = if args.runbooks {
            let Some(db) = self.runbooks() else {
                return Ok(failure("no runbooks database: set NOTION_RUNBOOKS_ID"));
            };
            let source = or_fail!(self.nt().data_source(db).await);
            let title_prop = source["properties"]
                .as_object()
                .and_then(|p| p.iter().find(|(_, v)| v["type"] == "title"))
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| "Name".into());
            let filter = if args.query.trim().is_empty() {
                Value::Null
            } else {
                json!({ "or": args.query.split_whitespace().map(|w| json!({ "property": title_prop, "title": { "contains": w } })).collect::<Vec<_>>() })
            };
            let mut body = json!({ "sorts": [{ "timestamp": "last_edited_time", "direction": "descending" }] });
            if !filter.is_null() {
                body["filter"] = filter;
            }
            let id = source["id"].as_str().unwrap_or_default();
            or_fail!(
                self.nt()
                    .all(
                        &format!("v1/data_sources/{id}/query"),
                        Some(&body),
                        limit,
                        "the runbooks"
                    )
                    .await
            )
            .0
        } else {
            let body = json!({ "query": args.query, "sort": { "timestamp": "last_edited_time", "direction": "descending" } });
            or_fail!(
                self.nt()
                    .all("v1/search", Some(&body), limit, "the search")
                    .await
            )
            .0
        };
        if results.is_empty() {
            return Ok(text(format!(
                "nothing titled like {:?} is shared with the integration",
                untrusted(&args.query)
            )));
        }
        let mut out = String::new();
        let mut data = PageList { pages: Vec::new() };
        for r in &results {
            let kind = match r["object"].as_str() {
                Some("data_source") => "database",
                _ => "page",
            };
            let item = PageItem {
                id: r["id"].as_str().unwrap_or_default().to_owned(),
                title: title_of(r),
                kind: kind.to_owned(),
                last_edited: r["last_edited_time"].as_str().map(str::to_owned),
                url: r["url"].as_str().map(str::to_owned),
            };
            out.push_str(&format!(
                "{} [{kind}] {} · {}\n",
                item.title,
                item.id,
                edited(r, now)
            ));
            data.pages.push(item);
        }
        out.push_str("page_read page=<id> reads one as Markdown.");
        Ok(with_structured(text(out), &data))
    }

    /// A page (or block) as Markdown with its properties; long pages come in parts.
    #[tool]
    pub async fn page_read(
        &self,
        Parameters(args): Parameters<ReadArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let _turn = or_fail!(self.read_turn().await);
        let id = or_fail!(self.resolve_page(&args.page).await);
        let start = match &args.cursor {
            Some(c) => or_fail!(Cursor::decode(c, &id).map_err(|e| e.to_string())).offset,
            None => 0,
        };
        let budget = args.max_tokens.unwrap_or(4000).clamp(200, 50_000);
        let now = Timestamp::now();
        // A page has properties; any other block is read from its children.
        let page = self
            .nt()
            .get(&format!("v1/pages/{id}"), &format!("page {id}"))
            .await;
        let mut out = String::new();
        if let Ok(p) = &page
            && start == 0
        {
            out.push_str(&format!("# {}\n", title_of(p)));
            let props: Vec<String> = p["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| v["type"] != "title")
                .map(|(k, v)| (k, value_text(v)))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{}: {v}", untrusted(k)))
                .collect();
            if !props.is_empty() {
                out.push_str(&props.join(" · "));
                out.push('\n');
            }
            out.push_str(&format!(
                "{} · {}\n\n",
                p["url"].as_str().unwrap_or_default(),
                edited(p, now)
            ));
        }
        let (top, _) = or_fail!(
            self.nt()
                .all(
                    &format!("v1/blocks/{id}/children"),
                    None,
                    10_000,
                    &format!("page {id}")
                )
                .await
        );
        if start > top.len() {
            return Ok(failure("the cursor points past the end of the page"));
        }
        let mut nodes = Vec::new();
        let mut used = estimate_tokens(&out);
        let mut next = top.len();
        for (i, block) in top.iter().enumerate().skip(start) {
            let node = or_fail!(self.node(block.clone()).await);
            let cost = estimate_tokens(&render(std::slice::from_ref(&node)));
            if !nodes.is_empty() && used + cost > budget {
                next = i;
                break;
            }
            used += cost;
            nodes.push(node);
        }
        // The page's content is upstream text: cleaned block by block and fenced as a whole.
        out.push_str(&fenced("page content", &render(&nodes)));
        if next < top.len() {
            out.push_str(&format!(
                "\n\n(part: blocks {}-{} of {}; page_read page={id} cursor={} for the rest)",
                start + 1,
                next,
                top.len(),
                Cursor::new(next, &id).encode()
            ));
        }
        Ok(text(out))
    }
}
