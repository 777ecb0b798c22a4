//! What a Notion workspace holds — pages with properties, blocks as a tree, databases that hold
//! data sources with property schemas, comments, users — and its JSON as the API version the
//! request named renders it (`2025-09-03` has both `archived` and `in_trash`; `2026-03-11` and
//! later only `in_trash`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The API versions the stand-in speaks (2025-09-03, when databases began to hold data
/// sources, and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 2025-09-03 up to 2026-03-10: `archived` beside `in_trash`, `after` on append.
    V2025,
    /// 2026-03-11 and later: `in_trash` only, `position` on append.
    V2026,
}

impl Version {
    /// The version a `Notion-Version` header names, or why it is refused.
    pub fn parse(header: &str) -> Result<Self, String> {
        let date = header.trim();
        let valid = date.len() == 10
            && date.as_bytes()[4] == b'-'
            && date.as_bytes()[7] == b'-'
            && date.chars().filter(char::is_ascii_digit).count() == 8;
        if !valid {
            return Err(format!(
                "Notion-Version header failed validation: {date:?} is not a version (YYYY-MM-DD)."
            ));
        }
        if date < "2025-09-03" {
            return Err(format!(
                "Notion-Version {date} is not served here: this workspace speaks 2025-09-03 and later (databases hold data sources)."
            ));
        }
        Ok(if date >= "2026-03-11" {
            Self::V2026
        } else {
            Self::V2025
        })
    }
}

/// Where an object lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Parent {
    Workspace,
    Page(Uuid),
    Block(Uuid),
    /// A row of a data source (of a database).
    DataSource {
        data_source: Uuid,
        database: Uuid,
    },
    Database(Uuid),
}

impl Parent {
    pub fn json(&self) -> Value {
        match self {
            Self::Workspace => json!({ "type": "workspace", "workspace": true }),
            Self::Page(id) => json!({ "type": "page_id", "page_id": id }),
            Self::Block(id) => json!({ "type": "block_id", "block_id": id }),
            Self::DataSource {
                data_source,
                database,
            } => {
                json!({ "type": "data_source_id", "data_source_id": data_source, "database_id": database })
            }
            Self::Database(id) => json!({ "type": "database_id", "database_id": id }),
        }
    }

    /// The page or block whose children list holds this object.
    pub fn container(&self) -> Option<Uuid> {
        match self {
            Self::Page(id) | Self::Block(id) => Some(*id),
            _ => None,
        }
    }
}

/// Who made or last changed something.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub created: i64,
    pub created_by: Uuid,
    pub edited: i64,
    pub edited_by: Uuid,
}

impl Stamp {
    pub fn new(at: i64, by: Uuid) -> Self {
        Self {
            created: at,
            created_by: by,
            edited: at,
            edited_by: by,
        }
    }

    fn fields(&self, map: &mut Map<String, Value>) {
        map.insert("created_time".into(), json!(iso(self.created)));
        map.insert("last_edited_time".into(), json!(iso(self.edited)));
        map.insert(
            "created_by".into(),
            json!({ "object": "user", "id": self.created_by }),
        );
        map.insert(
            "last_edited_by".into(),
            json!({ "object": "user", "id": self.edited_by }),
        );
    }
}

/// Notion's times: whole minutes for objects, `…:00.000Z`.
pub fn iso(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds - seconds.rem_euclid(60))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn trash_fields(map: &mut Map<String, Value>, in_trash: bool, v: Version) {
    map.insert("in_trash".into(), json!(in_trash));
    if v == Version::V2025 {
        map.insert("archived".into(), json!(in_trash));
    }
}

/// A page: its properties (values as Notion returns them, keyed by name) and its blocks.
#[derive(Debug, Clone)]
pub struct Page {
    pub id: Uuid,
    pub parent: Parent,
    pub properties: BTreeMap<String, Value>,
    pub children: Vec<Uuid>,
    pub icon: Option<Value>,
    pub in_trash: bool,
    pub stamp: Stamp,
}

impl Page {
    pub fn url(&self) -> String {
        format!("https://www.notion.so/{}", self.id.simple())
    }

    /// The plain text of its title property.
    pub fn title(&self) -> String {
        self.properties
            .values()
            .find(|p| p["type"] == "title")
            .map(|p| plain(&p["title"]))
            .unwrap_or_default()
    }

    pub fn json(&self, v: Version) -> Value {
        let mut map = Map::new();
        map.insert("object".into(), json!("page"));
        map.insert("id".into(), json!(self.id));
        self.stamp.fields(&mut map);
        map.insert("cover".into(), Value::Null);
        map.insert("icon".into(), self.icon.clone().unwrap_or(Value::Null));
        map.insert("parent".into(), self.parent.json());
        trash_fields(&mut map, self.in_trash, v);
        map.insert("is_locked".into(), json!(false));
        map.insert("properties".into(), json!(self.properties));
        map.insert("url".into(), json!(self.url()));
        map.insert("public_url".into(), Value::Null);
        Value::Object(map)
    }
}

/// A block: its type and that type's object, and its children.
#[derive(Debug, Clone)]
pub struct Block {
    pub id: Uuid,
    pub parent: Parent,
    pub kind: String,
    pub content: Value,
    pub children: Vec<Uuid>,
    pub in_trash: bool,
    pub stamp: Stamp,
}

impl Block {
    pub fn json(&self, v: Version) -> Value {
        let mut map = Map::new();
        map.insert("object".into(), json!("block"));
        map.insert("id".into(), json!(self.id));
        map.insert("parent".into(), self.parent.json());
        self.stamp.fields(&mut map);
        map.insert("has_children".into(), json!(!self.children.is_empty()));
        trash_fields(&mut map, self.in_trash, v);
        map.insert("type".into(), json!(self.kind));
        map.insert(self.kind.clone(), self.content.clone());
        Value::Object(map)
    }
}

/// A database: a container of data sources.
#[derive(Debug, Clone)]
pub struct Database {
    pub id: Uuid,
    pub parent: Parent,
    pub title: Value,
    pub description: Value,
    pub data_sources: Vec<Uuid>,
    pub icon: Option<Value>,
    pub in_trash: bool,
    pub stamp: Stamp,
}

impl Database {
    pub fn json(&self, store: &Store, v: Version) -> Value {
        let mut map = Map::new();
        map.insert("object".into(), json!("database"));
        map.insert("id".into(), json!(self.id));
        self.stamp.fields(&mut map);
        map.insert("title".into(), self.title.clone());
        map.insert("description".into(), self.description.clone());
        map.insert("icon".into(), self.icon.clone().unwrap_or(Value::Null));
        map.insert("cover".into(), Value::Null);
        map.insert("parent".into(), self.parent.json());
        map.insert("is_inline".into(), json!(false));
        trash_fields(&mut map, self.in_trash, v);
        map.insert("is_locked".into(), json!(false));
        let sources: Vec<Value> = self
            .data_sources
            .iter()
            .filter_map(|id| store.data_sources.get(id))
            .map(|d| json!({ "id": d.id, "name": d.name }))
            .collect();
        map.insert("data_sources".into(), json!(sources));
        map.insert(
            "url".into(),
            json!(format!("https://www.notion.so/{}", self.id.simple())),
        );
        map.insert("public_url".into(), Value::Null);
        Value::Object(map)
    }
}

/// A property of a data source's schema.
#[derive(Debug, Clone)]
pub struct Property {
    pub id: String,
    pub kind: String,
    /// The type's configuration (`select.options`, `number.format`, …).
    pub config: Value,
}

/// A data source: the schema rows follow.
#[derive(Debug, Clone)]
pub struct DataSource {
    pub id: Uuid,
    pub database: Uuid,
    pub name: String,
    pub properties: BTreeMap<String, Property>,
    pub stamp: Stamp,
}

impl DataSource {
    pub fn json(&self, store: &Store, v: Version) -> Value {
        let db = store.databases.get(&self.database);
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    json!({ "id": p.id, "name": name, "type": p.kind, (p.kind.clone()): p.config }),
                )
            })
            .collect();
        let mut map = Map::new();
        map.insert("object".into(), json!("data_source"));
        map.insert("id".into(), json!(self.id));
        self.stamp.fields(&mut map);
        map.insert(
            "title".into(),
            json!([text_item(&self.name, None, Annotations::default())]),
        );
        map.insert("description".into(), json!([]));
        map.insert("icon".into(), Value::Null);
        map.insert(
            "parent".into(),
            json!({ "type": "database_id", "database_id": self.database }),
        );
        map.insert(
            "database_parent".into(),
            db.map_or(Value::Null, |d| d.parent.json()),
        );
        map.insert("is_inline".into(), json!(false));
        trash_fields(&mut map, db.is_some_and(|d| d.in_trash), v);
        map.insert("properties".into(), Value::Object(properties));
        map.insert(
            "url".into(),
            json!(format!("https://www.notion.so/{}", self.database.simple())),
        );
        map.insert("public_url".into(), Value::Null);
        Value::Object(map)
    }
}

/// A comment on a page or block.
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: Uuid,
    pub parent: Parent,
    pub discussion: Uuid,
    pub rich_text: Value,
    pub stamp: Stamp,
}

impl Comment {
    pub fn json(&self) -> Value {
        let mut map = Map::new();
        map.insert("object".into(), json!("comment"));
        map.insert("id".into(), json!(self.id));
        map.insert("parent".into(), self.parent.json());
        map.insert("discussion_id".into(), json!(self.discussion));
        self.stamp.fields(&mut map);
        map.insert("rich_text".into(), self.rich_text.clone());
        map.insert(
            "display_name".into(),
            json!({ "type": "integration", "resolved_name": "opsmcp" }),
        );
        Value::Object(map)
    }
}

/// A person, or the integration's bot.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    /// A person's email; `None` for the bot.
    pub email: Option<String>,
}

impl User {
    pub fn json(&self) -> Value {
        match &self.email {
            Some(email) => json!({
                "object": "user", "id": self.id, "type": "person", "name": self.name,
                "avatar_url": null, "person": { "email": email },
            }),
            None => json!({
                "object": "user", "id": self.id, "type": "bot", "name": self.name,
                "avatar_url": null,
                "bot": { "owner": { "type": "workspace", "workspace": true }, "workspace_name": "Shop" },
            }),
        }
    }
}

/// Everything in the workspace.
#[derive(Debug, Default)]
pub struct Store {
    pub pages: BTreeMap<Uuid, Page>,
    pub blocks: BTreeMap<Uuid, Block>,
    pub databases: BTreeMap<Uuid, Database>,
    pub data_sources: BTreeMap<Uuid, DataSource>,
    pub comments: Vec<Comment>,
    pub users: Vec<User>,
}

/// Text styles of a rich-text run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Annotations {
    pub bold: bool,
    pub italic: bool,
    pub code: bool,
}

/// A text run as Notion returns it.
pub fn text_item(content: &str, link: Option<&str>, a: Annotations) -> Value {
    json!({
        "type": "text",
        "text": { "content": content, "link": link.map(|url| json!({ "url": url })) },
        "annotations": {
            "bold": a.bold, "italic": a.italic, "strikethrough": false, "underline": false,
            "code": a.code, "color": "default",
        },
        "plain_text": content,
        "href": link,
    })
}

/// The plain text of a rich-text array.
pub fn plain(rich_text: &Value) -> String {
    rich_text
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["plain_text"].as_str())
        .collect()
}
