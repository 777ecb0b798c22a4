//! Where opsmcp-notion may write: at or under the pages and databases of `NOTION_WRITE_PARENTS`,
//! by default the configured databases (incidents, runbooks) and the page the post-mortem
//! template sits in when `NOTION_POSTMORTEM_TEMPLATE_ID` names it (where post-mortems go). A
//! page is in scope when it, or one of its ancestors (page, block, data source, database —
//! followed up to [`MAX_DEPTH`] levels), is one of them; anything else is refused before a plan
//! or a question, whatever the mode.

use serde_json::Value;

use crate::{NotionServer, client::NtError, client::normalize_id};

/// How many levels of parents are followed before a page counts as out of scope.
pub const MAX_DEPTH: usize = 16;

/// A place in Notion's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Page(String),
    Block(String),
    DataSource(String),
    Database(String),
}

impl Node {
    /// The node a `parent` object (`{"type": "page_id", "page_id": …}` or the bare form
    /// `{"page_id": …}` a create request sends) points to; `None` for the workspace.
    pub fn parent(parent: &Value) -> Option<Self> {
        let id = |key: &str| parent[key].as_str().map(|s| s.to_lowercase());
        if let Some(id) = id("page_id") {
            Some(Self::Page(id))
        } else if let Some(id) = id("block_id") {
            Some(Self::Block(id))
        } else if let Some(id) = id("database_id") {
            // A data source's pages name their database too: the database is the scope unit.
            Some(Self::Database(id))
        } else {
            id("data_source_id").map(Self::DataSource)
        }
    }

    fn id(&self) -> &str {
        match self {
            Self::Page(id) | Self::Block(id) | Self::DataSource(id) | Self::Database(id) => id,
        }
    }
}

impl NotionServer {
    /// The ids writes are allowed under (lower-case, hyphenated).
    async fn write_parents(&self) -> Result<Vec<String>, NtError> {
        let configured = self.write_parents_configured();
        if !configured.is_empty() {
            return Ok(configured.to_vec());
        }
        let mut parents: Vec<String> = [self.incidents(), self.runbooks()]
            .into_iter()
            .flatten()
            .map(str::to_lowercase)
            .collect();
        // The template's page only when configured by id: a title search would let whoever can
        // name a page "Post-mortem template" choose where opsmcp writes.
        if let Some(id) = self.template() {
            let parent = self
                .template_parent_cell()
                .get_or_try_init(|| async {
                    let page = self
                        .nt()
                        .get(&format!("v1/pages/{id}"), &format!("page {id}"))
                        .await?;
                    Ok::<_, NtError>(match Node::parent(&page["parent"]) {
                        Some(Node::Page(parent)) => Some(parent),
                        _ => None,
                    })
                })
                .await?;
            parents.extend(parent.clone());
        }
        Ok(parents)
    }

    /// `Ok` when `node` is at or under a page or database writes are allowed in.
    pub(crate) async fn writable(&self, node: Node, what: &str) -> Result<(), NtError> {
        let parents = self.write_parents().await?;
        let mut at = Some(node);
        for _ in 0..MAX_DEPTH {
            let Some(node) = at else { break };
            if parents.iter().any(|p| p == node.id()) {
                return Ok(());
            }
            at = match &node {
                Node::Page(id) => self.parent_of(&format!("v1/pages/{id}"), id).await?,
                Node::Block(id) => self.parent_of(&format!("v1/blocks/{id}"), id).await?,
                Node::Database(id) => self.parent_of(&format!("v1/databases/{id}"), id).await?,
                Node::DataSource(id) => {
                    let source = self.nt().data_source(id).await?;
                    Node::parent(&source["parent"])
                }
            };
        }
        Err(NtError::Other(format!(
            "{what} is not in a page or database opsmcp may write to ({}): set \
             NOTION_WRITE_PARENTS to the pages and databases it may write under",
            if parents.is_empty() {
                "none is configured".to_owned()
            } else {
                parents.join(", ")
            }
        )))
    }

    async fn parent_of(&self, path: &str, id: &str) -> Result<Option<Node>, NtError> {
        let object = self.nt().get(path, id).await?;
        Ok(Node::parent(&object["parent"]))
    }
}

/// `NOTION_WRITE_PARENTS` as ids (URLs and ids with or without hyphens accepted).
pub fn parse_parents(given: &[String]) -> Vec<String> {
    given
        .iter()
        .map(|p| normalize_id(p).unwrap_or_else(|| p.trim().to_owned()))
        .map(|p| p.to_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parents_of_every_kind_are_read() {
        let page = json!({ "type": "page_id", "page_id": "A" });
        assert_eq!(Node::parent(&page), Some(Node::Page("a".into())));
        let source = json!({ "type": "data_source_id", "data_source_id": "s", "database_id": "d" });
        assert_eq!(Node::parent(&source), Some(Node::Database("d".into())));
        let bare = json!({ "data_source_id": "s" });
        assert_eq!(Node::parent(&bare), Some(Node::DataSource("s".into())));
        let workspace = json!({ "type": "workspace", "workspace": true });
        assert_eq!(Node::parent(&workspace), None);
        assert_eq!(
            parse_parents(&["https://www.notion.so/Team-0123456789abcdef0123456789ABCDEF".into()]),
            ["01234567-89ab-cdef-0123-456789abcdef"]
        );
    }
}
