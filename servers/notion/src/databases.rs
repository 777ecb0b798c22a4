//! Databases: the schema (properties with their types and options) and queries in the short
//! filter syntax of [`crate::filter`], rows as a compact table of the chosen properties.

use opsmcp_core::output::{Table, untrusted};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    NotionServer,
    client::{NtError, normalize_id},
    filter,
    pages::{failure, or_fail, text, title_of, value_text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct SchemaArgs {
    /// Database id or URL (default: NOTION_DATABASE_ID; "runbooks": NOTION_RUNBOOKS_ID)
    pub database: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct QueryArgs {
    /// Database id or URL (default: NOTION_DATABASE_ID; "runbooks": NOTION_RUNBOOKS_ID)
    pub database: Option<String>,
    /// e.g. `Status = Open and Severity in (SEV1, SEV2) and Started > now-7d`
    pub filter: Option<String>,
    /// e.g. `Started desc`
    pub sort: Option<String>,
    /// Columns (default: the title and four more)
    #[serde(default)]
    pub columns: Vec<String>,
    /// Max 100 (default 25)
    pub limit: Option<usize>,
}

impl NotionServer {
    /// The database a tool names: an id or URL, `runbooks`, or the incidents database.
    pub(crate) fn database_id(&self, given: Option<&str>) -> Result<String, NtError> {
        match given.map(str::trim) {
            None | Some("") | Some("incidents") => {
                self.incidents().map(str::to_owned).ok_or_else(|| {
                    NtError::Other(
                        "which database? Give its id or URL, or set NOTION_DATABASE_ID".into(),
                    )
                })
            }
            Some("runbooks") => self.runbooks().map(str::to_owned).ok_or_else(|| {
                NtError::Other("no runbooks database: set NOTION_RUNBOOKS_ID".into())
            }),
            Some(other) => normalize_id(other)
                .ok_or_else(|| NtError::Other(format!("{other:?} is not a Notion id or URL"))),
        }
    }

    /// The workspace's people: (id, name, email).
    pub(crate) async fn people(&self) -> Result<Vec<(String, String, String)>, NtError> {
        let (users, _) = self.nt().all("v1/users", None, 500, "the users").await?;
        Ok(users
            .iter()
            .filter(|u| u["type"] == "person")
            .map(|u| {
                (
                    u["id"].as_str().unwrap_or_default().to_owned(),
                    u["name"].as_str().unwrap_or_default().to_owned(),
                    u["person"]["email"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }
}

fn schema_of(source: &Value) -> Map<String, Value> {
    source["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

#[tool_router(router = databases_router, vis = "pub(crate)")]
impl NotionServer {
    /// A database's properties: types and options.
    #[tool]
    pub async fn database_schema(
        &self,
        Parameters(args): Parameters<SchemaArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let id = or_fail!(self.database_id(args.database.as_deref()));
        let source = or_fail!(self.nt().data_source(&id).await);
        let mut table = Table::new(["PROPERTY", "TYPE", "OPTIONS"]);
        for (name, p) in schema_of(&source) {
            let kind = p["type"].as_str().unwrap_or_default().to_owned();
            let options: Vec<String> = p[kind.as_str()]["options"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["name"].as_str())
                .map(untrusted)
                .collect();
            table.row([untrusted(&name), kind, options.join(", ")]);
        }
        Ok(text(format!(
            "{} ({id}):\n{}",
            title_of(&source),
            table.render()
        )))
    }

    /// Rows of a database matching a filter (short syntax), as a table.
    #[tool]
    pub async fn database_query(
        &self,
        Parameters(args): Parameters<QueryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let _turn = or_fail!(self.read_turn().await);
        let id = or_fail!(self.database_id(args.database.as_deref()));
        let source = or_fail!(self.nt().data_source(&id).await);
        let schema = schema_of(&source);
        let mut body = json!({});
        if let Some(f) = args.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            let people = if f.to_lowercase().contains("contains") {
                or_fail!(self.people().await)
            } else {
                Vec::new()
            };
            body["filter"] = or_fail!(filter::parse(f, &schema, &people));
        }
        if let Some(s) = args.sort.as_deref().filter(|s| !s.trim().is_empty()) {
            let (name, dir) = match s.trim().rsplit_once(' ') {
                Some((n, d)) if matches!(d.to_lowercase().as_str(), "asc" | "desc") => {
                    (n.trim(), d.to_lowercase())
                }
                _ => (s.trim(), "asc".to_owned()),
            };
            let direction = if dir == "desc" {
                "descending"
            } else {
                "ascending"
            };
            body["sorts"] = match name {
                "created" | "created_time" => {
                    json!([{ "timestamp": "created_time", "direction": direction }])
                }
                "edited" | "last_edited_time" => {
                    json!([{ "timestamp": "last_edited_time", "direction": direction }])
                }
                _ => {
                    let Some((found, _)) =
                        schema.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))
                    else {
                        return Ok(failure(format!(
                            "cannot sort by {name:?}: not a property of this database"
                        )));
                    };
                    json!([{ "property": found, "direction": direction }])
                }
            };
        }
        let limit = args.limit.unwrap_or(25).clamp(1, 100);
        let sid = source["id"].as_str().unwrap_or_default();
        let (rows, more) = or_fail!(
            self.nt()
                .all(
                    &format!("v1/data_sources/{sid}/query"),
                    Some(&body),
                    limit,
                    &format!("database {id}")
                )
                .await
        );
        let title = schema
            .iter()
            .find(|(_, v)| v["type"] == "title")
            .map(|(k, _)| k.clone())
            .unwrap_or_default();
        let columns: Vec<String> = if args.columns.is_empty() {
            std::iter::once(title.clone())
                .chain(schema.keys().filter(|k| **k != title).take(4).cloned())
                .collect()
        } else {
            let mut chosen = Vec::new();
            for c in &args.columns {
                match schema.keys().find(|k| k.eq_ignore_ascii_case(c)) {
                    Some(k) => chosen.push(k.clone()),
                    None => {
                        return Ok(failure(format!(
                            "{c:?} is not a property; see database_schema"
                        )));
                    }
                }
            }
            chosen
        };
        if rows.is_empty() {
            return Ok(text(format!("{}: no rows match", title_of(&source))));
        }
        let mut table = Table::new(
            columns
                .iter()
                .map(|c| c.to_uppercase())
                .chain(["ID".to_owned()]),
        );
        for r in &rows {
            let mut cells: Vec<String> = columns
                .iter()
                .map(|c| value_text(&r["properties"][c]))
                .collect();
            cells.push(r["id"].as_str().unwrap_or_default().to_owned());
            table.row(cells);
        }
        Ok(text(format!(
            "{}: {} row{}{}\n{}",
            title_of(&source),
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            if more {
                " (more; raise limit up to 100 or narrow the filter)".to_owned()
            } else {
                String::new()
            },
            table.render()
        )))
    }
}
