//! One catalog of the upstreams' tools: each tool under its upstream's prefix (none for opsmcp's
//! six, whose names are unique), the first upstream in the file winning a name two of them
//! offer — a collision is reported, never resolved silently.

use std::collections::BTreeMap;

use rmcp::model::Tool;

/// Where a listed tool goes: its upstream (by position) and its name there.
#[derive(Debug, Clone)]
pub struct Route {
    pub upstream: usize,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub tools: Vec<Tool>,
    pub routes: BTreeMap<String, Route>,
    /// `name: offered by a and b (a's is listed)`.
    pub collisions: Vec<String>,
}

impl Catalog {
    /// Merge the upstreams' tools, given as (upstream name, prefix, tools) in file order.
    pub fn merge<'a>(upstreams: impl IntoIterator<Item = (&'a str, &'a str, Vec<Tool>)>) -> Self {
        let mut catalog = Catalog::default();
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        for (index, (upstream, prefix, tools)) in upstreams.into_iter().enumerate() {
            for mut tool in tools {
                let original = tool.name.to_string();
                let listed = format!("{prefix}{original}");
                if let Some(owner) = owners.get(&listed) {
                    catalog.collisions.push(format!(
                        "{listed}: offered by {owner} and {upstream} ({owner}'s is listed)"
                    ));
                    continue;
                }
                owners.insert(listed.clone(), upstream);
                tool.name = listed.clone().into();
                catalog.routes.insert(
                    listed,
                    Route {
                        upstream: index,
                        name: original,
                    },
                );
                catalog.tools.push(tool);
            }
        }
        catalog
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_owned(), "t", Arc::new(serde_json::Map::new()))
    }

    #[test]
    fn prefixes_apply_and_the_first_upstream_wins_a_collision() {
        let c = Catalog::merge([
            ("a", "", vec![tool("search"), tool("get")]),
            ("b", "", vec![tool("search")]),
            ("c", "c_", vec![tool("search")]),
        ]);
        let names: Vec<&str> = c.tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["search", "get", "c_search"]);
        assert_eq!(c.routes["c_search"].name, "search");
        assert_eq!(c.routes["c_search"].upstream, 2);
        assert_eq!(c.collisions, ["search: offered by a and b (a's is listed)"]);
    }
}
