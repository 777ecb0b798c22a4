//! Writing Markdown: a page created under a page or in a database (properties from plain
//! values, converted by the schema's types), Markdown appended at the end or after a block, a
//! page moved to the trash (high risk). What is sent is split to fit Notion's limits — 100
//! children and two levels of nesting per request, 2,000 characters per run — and kept in
//! order: deeper levels are appended to the blocks just created. Every change goes through the
//! safety engine; a plan shows the Markdown and the properties.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use opsmcp_core::{
    approval::{Exchange, Proposal},
    risk::{Action, RiskLevel},
};
use reqwest::Method;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    NotionServer,
    client::{NtError, normalize_id},
    filter::date_value,
    markdown::to_blocks,
    pages::{failure, or_fail, title_of},
    scope::Node,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CreateArgs {
    pub title: String,
    /// The body, in Markdown
    #[serde(default)]
    pub markdown: String,
    /// A page (id, URL or title), a database id, "incidents" or "runbooks"
    pub parent: String,
    /// Database properties as plain values, e.g. [{"name": "Severity", "value": "SEV2"},
    /// {"name": "Started", "value": "now-2h"}]
    #[serde(default, deserialize_with = "properties")]
    #[schemars(with = "Vec<Property>")]
    pub properties: BTreeMap<String, String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

/// One database property of a new page.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Property {
    pub name: String,
    pub value: String,
}

/// Properties as a list of name/value pairs (what a strict-schema host can send), or as the map
/// `{"Severity": "SEV2"}` earlier clients send.
fn properties<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Pairs(Vec<Property>),
        Map(BTreeMap<String, String>),
    }
    Ok(match Given::deserialize(deserializer)? {
        Given::Pairs(pairs) => pairs.into_iter().map(|p| (p.name, p.value)).collect(),
        Given::Map(map) => map,
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct AppendArgs {
    /// Page id, URL or title
    pub page: String,
    pub markdown: String,
    /// A block id, or a heading's text: the end of that section (default: the page's end)
    pub after: Option<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ArchiveArgs {
    /// Page id, URL or title
    pub page: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

/// Notion's limit of children per request.
const MAX_CHILDREN: usize = 100;

fn kind_of(block: &Value) -> String {
    block["type"].as_str().unwrap_or_default().to_owned()
}

/// `block` without its children, and its children.
fn split(mut block: Value) -> (Value, Vec<Value>) {
    let kind = kind_of(&block);
    let children = block[kind.as_str()]
        .as_object_mut()
        .and_then(|o| o.remove("children"))
        .and_then(|c| c.as_array().cloned())
        .unwrap_or_default();
    (block, children)
}

/// A table is created with its rows; they travel with it.
fn keeps_children(block: &Value) -> bool {
    block["type"] == "table"
}

/// A plain value as a property of `kind`.
pub(crate) fn property_value(
    name: &str,
    kind: &str,
    value: &str,
    people: &[(String, String, String)],
) -> Result<Value, String> {
    let runs = |t: &str| json!([{ "type": "text", "text": { "content": t } }]);
    let v = value.trim();
    Ok(match kind {
        "title" | "rich_text" => json!({ kind: runs(v) }),
        "select" | "status" => json!({ kind: { "name": v } }),
        "multi_select" => {
            json!({ kind: v.split(',').map(|s| json!({ "name": s.trim() })).filter(|o| o["name"] != "").collect::<Vec<_>>() })
        }
        "number" => {
            json!({ kind: v.parse::<f64>().map_err(|_| format!("{name} is a number: {v:?} is not one"))? })
        }
        "checkbox" => json!({ kind: matches!(v.to_lowercase().as_str(), "true" | "yes" | "1") }),
        "url" | "email" | "phone_number" => json!({ kind: v }),
        "date" => {
            let one = |t: &str| date_value(t).map_err(|e| format!("{name}: {e}"));
            match v.split_once('→').or_else(|| v.split_once("..")) {
                Some((a, b)) => json!({ kind: { "start": one(a)?, "end": one(b)? } }),
                None => json!({ kind: { "start": one(v)? } }),
            }
        }
        "people" => {
            let ids = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|who| {
                    people
                        .iter()
                        .find(|(id, n, e)| {
                            id == who || n.eq_ignore_ascii_case(who) || e.eq_ignore_ascii_case(who)
                        })
                        .map(|(id, ..)| json!({ "id": id }))
                        .ok_or_else(|| format!("{name}: {who:?} is not a user of the workspace"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            json!({ kind: ids })
        }
        other => {
            return Err(format!(
                "{name} is a {other} property, which is not written here"
            ));
        }
    })
}

impl NotionServer {
    /// Append `blocks` under `parent` (after `after`, or at the end) in requests Notion takes;
    /// deeper levels go to the blocks just created. Returns the requests sent.
    pub(crate) fn append_tree(
        &self,
        parent: String,
        blocks: Vec<Value>,
        mut after: Option<String>,
    ) -> BoxFuture<'_, Result<usize, NtError>> {
        Box::pin(async move {
            let mut requests = 0;
            for chunk in blocks.chunks(MAX_CHILDREN) {
                // Send two levels: each block with up to 100 children, those without theirs;
                // keep the rest (the children's children, children past 100) for after.
                let mut sent = Vec::with_capacity(chunk.len());
                let mut deferred: Vec<(Vec<Vec<Value>>, Vec<Value>)> =
                    Vec::with_capacity(chunk.len());
                for b in chunk {
                    if keeps_children(b) {
                        sent.push(b.clone());
                        deferred.push((Vec::new(), Vec::new()));
                        continue;
                    }
                    let (mut top, children) = split(b.clone());
                    let kind = kind_of(&top);
                    let (now, later) = children.split_at(children.len().min(MAX_CHILDREN));
                    let mut second = Vec::with_capacity(now.len());
                    let mut grand = Vec::with_capacity(now.len());
                    for c in now {
                        if keeps_children(c) {
                            second.push(c.clone());
                            grand.push(Vec::new());
                        } else {
                            let (c, cc) = split(c.clone());
                            second.push(c);
                            grand.push(cc);
                        }
                    }
                    if !second.is_empty() {
                        top[kind.as_str()]["children"] = json!(second);
                    }
                    sent.push(top);
                    deferred.push((grand, later.to_vec()));
                }
                let mut body = json!({ "children": sent });
                if let Some(a) = &after {
                    self.nt().place_after(&mut body, a);
                }
                let created = self
                    .nt()
                    .write(
                        Method::PATCH,
                        &format!("v1/blocks/{parent}/children"),
                        &body,
                        &format!("page {parent}"),
                    )
                    .await?;
                requests += 1;
                let ids: Vec<String> = created["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["id"].as_str().map(str::to_owned))
                    .collect();
                for (id, (grand, later)) in ids.iter().zip(deferred) {
                    if grand.iter().any(|g| !g.is_empty()) {
                        let (second, _) = self
                            .nt()
                            .all(
                                &format!("v1/blocks/{id}/children"),
                                None,
                                10_000,
                                &format!("block {id}"),
                            )
                            .await?;
                        requests += 1;
                        for (child, children) in second.iter().zip(grand) {
                            if !children.is_empty() {
                                let cid = child["id"].as_str().unwrap_or_default().to_owned();
                                requests += self.append_tree(cid, children, None).await?;
                            }
                        }
                    }
                    if !later.is_empty() {
                        requests += self.append_tree(id.clone(), later, None).await?;
                    }
                }
                after = ids.last().cloned().or(after);
            }
            Ok(requests)
        })
    }

    /// Gate a change described by `verb` on `target` with `command` and `preview`, then run it.
    pub(crate) async fn change<Fut>(
        &self,
        exchange: Exchange,
        arguments: &impl Serialize,
        (tool, verb, target, risk, detail): (&str, &str, String, RiskLevel, String),
        command: String,
        preview: String,
        run: impl FnOnce() -> Fut,
    ) -> Result<CallToolResponse, ErrorData>
    where
        Fut: Future<Output = Result<String, String>>,
    {
        let action = Action {
            tool: tool.into(),
            verb: verb.into(),
            resource: Some("page".into()),
            name: Some(target),
            base: Some(risk),
            detail: Some(detail),
            ..Action::default()
        };
        let proposal = Proposal::new(action, arguments, command);
        self.safety()
            .apply(&exchange, proposal, async { Some(preview) }, run)
            .await
    }

    /// Where a new page goes: `{parent}` JSON, the data source's schema (for a database), and
    /// a name for it.
    pub(crate) async fn new_parent(
        &self,
        parent: &str,
    ) -> Result<(Value, Option<Map<String, Value>>, String), NtError> {
        let named = matches!(parent.trim(), "incidents" | "runbooks");
        let id = if named {
            Some(self.database_id(Some(parent))?)
        } else {
            normalize_id(parent)
        };
        if let Some(id) = &id {
            match self.nt().data_source(id).await {
                Ok(source) => {
                    let sid = source["id"].as_str().unwrap_or_default();
                    let schema = source["properties"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    let where_ = format!("database {}", title_of(&source));
                    self.writable(Node::DataSource(sid.to_lowercase()), &where_)
                        .await?;
                    return Ok((json!({ "data_source_id": sid }), Some(schema), where_));
                }
                Err(NtError::NotShared(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let page = self.resolve_page(parent).await?;
        let where_ = format!("page {page}");
        self.writable(Node::Page(page.to_lowercase()), &where_)
            .await?;
        Ok((json!({ "page_id": page }), None, where_))
    }

    /// Properties of a new page: the title, and plain values converted by the schema.
    pub(crate) async fn new_properties(
        &self,
        title: &str,
        values: &BTreeMap<String, String>,
        schema: Option<&Map<String, Value>>,
    ) -> Result<Value, String> {
        let Some(schema) = schema else {
            if let Some(k) = values.keys().next() {
                return Err(format!("{k}: a page under a page has only a title"));
            }
            return Ok(
                json!({ "title": { "title": [{ "type": "text", "text": { "content": title } }] } }),
            );
        };
        let people = if schema.values().any(|p| p["type"] == "people") && !values.is_empty() {
            self.people().await.map_err(|e| e.to_string())?
        } else {
            Vec::new()
        };
        let mut out = Map::new();
        let title_name = schema
            .iter()
            .find(|(_, p)| p["type"] == "title")
            .map(|(k, _)| k.clone())
            .ok_or("the database has no title property")?;
        out.insert(
            title_name.clone(),
            property_value(&title_name, "title", title, &[])?,
        );
        for (name, value) in values {
            let Some((found, p)) = schema.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) else {
                return Err(format!(
                    "{name:?} is not a property of this database; its properties: {}",
                    schema.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            };
            out.insert(
                found.clone(),
                property_value(
                    found,
                    p["type"].as_str().unwrap_or_default(),
                    value,
                    &people,
                )?,
            );
        }
        Ok(Value::Object(out))
    }

    /// The block to append after: an id, or the last block of the section a heading opens (or
    /// the block whose text it is).
    async fn place(&self, page: &str, after: &str) -> Result<String, String> {
        if let Some(id) = normalize_id(after) {
            return Ok(id);
        }
        let (top, _) = self
            .nt()
            .all(
                &format!("v1/blocks/{page}/children"),
                None,
                10_000,
                &format!("page {page}"),
            )
            .await
            .map_err(|e| e.to_string())?;
        let wanted = after.trim().trim_start_matches('#').trim().to_lowercase();
        let text = |b: &Value| {
            let kind = b["type"].as_str().unwrap_or_default();
            crate::markdown::inline(&b[kind]["rich_text"]).to_lowercase()
        };
        let level = |b: &Value| {
            b["type"]
                .as_str()
                .and_then(|k| k.strip_prefix("heading_"))
                .and_then(|n| n.parse::<u8>().ok())
        };
        let Some(i) = top.iter().position(|b| text(b) == wanted) else {
            let headings: Vec<String> = top
                .iter()
                .filter(|b| level(b).is_some())
                .map(text)
                .collect();
            return Err(format!(
                "no block reads {after:?}; the page's headings: {}",
                headings.join(", ")
            ));
        };
        let end = match level(&top[i]) {
            Some(n) => top[i + 1..]
                .iter()
                .position(|b| level(b).is_some_and(|m| m <= n))
                .map_or(top.len() - 1, |j| i + j),
            None => i,
        };
        Ok(top[end]["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Create a page and write its Markdown; the page's URL and how many requests it took.
    pub(crate) async fn create_page(
        &self,
        parent: Value,
        properties: Value,
        blocks: Vec<Value>,
    ) -> Result<(String, String, usize), NtError> {
        let page = self
            .nt()
            .write(
                Method::POST,
                "v1/pages",
                &json!({ "parent": parent, "properties": properties }),
                "the parent",
            )
            .await?;
        let id = page["id"].as_str().unwrap_or_default().to_owned();
        let requests = 1 + self.append_tree(id.clone(), blocks, None).await?;
        Ok((
            id,
            page["url"].as_str().unwrap_or_default().to_owned(),
            requests,
        ))
    }
}

#[tool_router(router = writes_router, vis = "pub(crate)")]
impl NotionServer {
    /// Create a page from Markdown, under a page or in a database (with properties).
    #[tool]
    pub async fn page_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let title = args.title.trim();
        if title.is_empty() {
            return Ok(failure("the title is empty").into());
        }
        let (parent, schema, where_) = or_fail!(self.new_parent(&args.parent).await);
        let properties = or_fail!(
            self.new_properties(title, &args.properties, schema.as_ref())
                .await
        );
        let blocks = or_fail!(to_blocks(&args.markdown));
        let command = format!(
            "{} {} then {} block(s) appended",
            self.nt().describe(&Method::POST, "v1/pages"),
            json!({ "parent": parent, "properties": properties }),
            blocks.len()
        );
        let preview = format!(
            "new page {title:?} in {where_}\n{}\n\n{}",
            args.properties
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            args.markdown
        );
        let count = blocks.len();
        self.change(exchange, &args, ("page_create", "create", where_.clone(), RiskLevel::Medium, "a new page; nothing existing changes".into()), command, preview, || async {
            let (id, url, requests) = self.create_page(parent, properties, blocks).await.map_err(|e| e.to_string())?;
            Ok(format!("created {title:?} ({id}) with {count} top-level block(s) in {requests} request(s): {url}"))
        })
        .await
    }

    /// Append Markdown to a page, at the end or after a block.
    #[tool]
    pub async fn page_append(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<AppendArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let blocks = or_fail!(to_blocks(&args.markdown));
        if blocks.is_empty() {
            return Ok(failure("the Markdown is empty").into());
        }
        let page = or_fail!(self.resolve_page(&args.page).await);
        or_fail!(
            self.writable(Node::Page(page.to_lowercase()), &format!("page {page}"))
                .await
        );
        let after = match &args.after {
            Some(a) => Some(or_fail!(self.place(&page, a).await)),
            None => None,
        };
        let command = format!(
            "{} ({} top-level block(s){})",
            self.nt()
                .describe(&Method::PATCH, &format!("v1/blocks/{page}/children")),
            blocks.len(),
            after
                .as_ref()
                .map(|a| format!(", after {a}"))
                .unwrap_or_default()
        );
        let count = blocks.len();
        self.change(
            exchange,
            &args,
            (
                "page_append",
                "append",
                page.clone(),
                RiskLevel::Medium,
                "adds blocks; nothing existing changes".into(),
            ),
            command,
            args.markdown.clone(),
            || async {
                let requests = self
                    .append_tree(page.clone(), blocks, after)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!(
                    "appended {count} top-level block(s) to {page} in {requests} request(s)"
                ))
            },
        )
        .await
    }

    /// Move a page to the trash (high risk; it can be restored from Notion's trash).
    #[tool]
    pub async fn page_archive(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ArchiveArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let page = or_fail!(self.resolve_page(&args.page).await);
        or_fail!(
            self.writable(Node::Page(page.to_lowercase()), &format!("page {page}"))
                .await
        );
        let current = or_fail!(
            self.nt()
                .get(&format!("v1/pages/{page}"), &format!("page {page}"))
                .await
        );
        if current["in_trash"] == true {
            return Ok(crate::pages::text(format!(
                "{} is already in the trash; nothing to do",
                title_of(&current)
            ))
            .into());
        }
        let title = title_of(&current);
        let path = format!("v1/pages/{page}");
        let body = json!({ "in_trash": true });
        let command = format!("{} {body}", self.nt().describe(&Method::PATCH, &path));
        self.change(
            exchange,
            &args,
            (
                "page_archive",
                "archive",
                format!("{title} ({page})"),
                RiskLevel::High,
                "moves the page and everything under it to the trash".into(),
            ),
            command,
            format!("page {title:?}"),
            || async {
                let done = self
                    .nt()
                    .write(Method::PATCH, &path, &body, &format!("page {page}"))
                    .await
                    .map_err(|e| e.to_string())?;
                if done["in_trash"] == true {
                    Ok(format!("moved {title:?} to the trash"))
                } else {
                    Err("Notion accepted the request but the page is not in the trash".into())
                }
            },
        )
        .await
    }
}
