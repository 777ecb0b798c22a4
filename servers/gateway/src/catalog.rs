//! One catalog of the upstreams' tools and resources: each tool under its upstream's prefix
//! (none for opsmcp's six, whose names are unique; a foreign server's name by default). The
//! gateway's and opsmcp's tools win every name wherever their upstreams stand in the file (a
//! foreign `kubectl` never shadows the guarded one); between the others the first in the file
//! wins. Every collision is reported, never resolved silently, and a foreign tool named like
//! an opsmcp one stops the gateway at start unless its upstream allows it. A name an opsmcp
//! upstream lists stays its own even when the file filters it out, and foreign tools wait
//! until every opsmcp upstream has listed (a name it has not told yet cannot be checked);
//! foreign upstreams may not serve `opsmcp:` URIs or `?upstream=` ones. A resource URI
//! several upstreams serve (every opsmcp server has `opsmcp://metrics` and
//! `opsmcp://audit/recent`) is listed once per upstream, qualified with `?upstream=NAME`.

use std::collections::{BTreeMap, HashMap};

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

/// Where a listed tool or resource goes: its upstream (by position) and its name there.
#[derive(Debug, Clone)]
pub struct Route {
    pub upstream: usize,
    pub name: String,
    /// The tool is annotated read-only (its answers may be cached and its calls retried).
    pub read_only: bool,
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub tools: Vec<Tool>,
    pub routes: BTreeMap<String, Route>,
    /// `name: offered by a and b (a's is listed)`.
    pub collisions: Vec<String>,
    /// The collisions of a foreign tool with an opsmcp or gateway tool its upstream does not
    /// allow (`allow_collisions`): the gateway does not start with one.
    pub conflicts: Vec<String>,
    pub resources: Vec<Resource>,
    /// Each listed URI's upstream and its URI there.
    pub resource_routes: HashMap<String, Route>,
    /// Resource templates as their upstreams list them, the upstream's position beside each
    /// (the first whose template matches a URI reads it).
    pub templates: Vec<(usize, ResourceTemplate)>,
    pub prompts: Vec<Prompt>,
    pub prompt_routes: BTreeMap<String, Route>,
    /// The workflows that passed their check against these tools.
    pub workflows: Vec<CheckedWorkflow>,
    /// Why the others did not.
    pub workflow_problems: Vec<String>,
}

/// A workflow ready to run: its position in the configuration, the tool hosts call, and the
/// catalog name of each step's tool.
#[derive(Debug, Clone)]
pub struct CheckedWorkflow {
    pub index: usize,
    pub tool: Tool,
    pub steps: Vec<StepTools>,
}

/// The catalog names of a workflow step's tool and of its fallback.
#[derive(Debug, Clone)]
pub struct StepTools {
    pub tool: String,
    pub fallback: Option<String>,
}

/// What one upstream lists.
#[derive(Debug)]
pub struct Listing<'a> {
    pub upstream: &'a str,
    pub prefix: String,
    /// One of opsmcp's servers: its tools win a name over foreign ones.
    pub opsmcp: bool,
    /// A foreign tool named like an opsmcp one is left out quietly rather than a conflict.
    pub allow_collisions: bool,
    /// For an opsmcp upstream: every tool name it lists, before the file's filters (with its
    /// prefix). Empty until it has listed: foreign tools wait until each opsmcp upstream has.
    pub reserved: Vec<String>,
    pub tools: Vec<Tool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

impl Listing<'_> {
    /// Whether this upstream may serve `uri`: opsmcp's `opsmcp://` resources, and the gateway's
    /// `?upstream=` qualification, belong to opsmcp's servers.
    fn serves(&self, uri: &str) -> bool {
        self.opsmcp || !(uri.starts_with("opsmcp:") || uri.contains("upstream="))
    }
}

impl Catalog {
    /// Merge the upstreams' listings, given in file order, around the gateway's own tools and
    /// resources (an upstream's tool of a built-in name is a collision; an upstream's resource
    /// at a built-in URI is qualified). opsmcp's upstreams name their tools first.
    pub fn merge<'a>(
        builtin_tools: &[&'a str],
        builtin_resources: &[&str],
        upstreams: impl IntoIterator<Item = Listing<'a>>,
    ) -> Self {
        let upstreams: Vec<Listing<'a>> = upstreams.into_iter().collect();
        let mut catalog = Catalog::default();
        catalog.merge_resources(builtin_resources, &upstreams);
        // Who listed each name, and whether that one is guarded (the gateway's or opsmcp's).
        let mut owners: BTreeMap<String, (&str, bool)> = builtin_tools
            .iter()
            .map(|name| ((*name).to_owned(), ("the gateway", true)))
            .collect();
        // Names opsmcp upstreams list (filtered out or not), and those that have not listed yet.
        let mut reserved: BTreeMap<String, &str> = BTreeMap::new();
        let mut pending = Vec::new();
        for listing in upstreams.iter().filter(|l| l.opsmcp) {
            if listing.reserved.is_empty() {
                pending.push(listing.upstream);
            }
            for name in &listing.reserved {
                reserved.entry(name.clone()).or_insert(listing.upstream);
            }
        }
        let mut order: Vec<(usize, Listing<'a>)> = upstreams.into_iter().enumerate().collect();
        order.sort_by_key(|(_, listing)| !listing.opsmcp);
        for (index, listing) in order {
            let Listing {
                upstream,
                prefix,
                opsmcp,
                allow_collisions,
                tools,
                templates,
                prompts,
                ..
            } = listing;
            catalog.templates.extend(
                templates
                    .into_iter()
                    .filter(|t| opsmcp || !t.uri_template.starts_with("opsmcp:"))
                    .map(|t| (index, t)),
            );
            for mut prompt in prompts {
                let listed = format!("{prefix}{}", prompt.name);
                if catalog.prompt_routes.contains_key(&listed) {
                    catalog.collisions.push(format!(
                        "prompt {listed}: offered twice ({upstream}'s left out)"
                    ));
                    continue;
                }
                let original = std::mem::replace(&mut prompt.name, listed.clone());
                catalog.prompt_routes.insert(
                    listed,
                    Route {
                        upstream: index,
                        name: original,
                        read_only: true,
                    },
                );
                catalog.prompts.push(prompt);
            }
            if !opsmcp && !pending.is_empty() && !tools.is_empty() {
                catalog.collisions.push(format!(
                    "{upstream}'s tools wait until {} has listed its own (a foreign tool may not \
                     take an opsmcp tool's name)",
                    pending.join(", ")
                ));
                continue;
            }
            for mut tool in tools {
                let original = tool.name.to_string();
                let listed = format!("{prefix}{original}");
                let owner = owners.get(&listed).copied().or_else(|| {
                    (!opsmcp)
                        .then(|| reserved.get(&listed).map(|o| (*o, true)))
                        .flatten()
                });
                if let Some((owner, guarded)) = owner {
                    let collision = format!(
                        "{listed}: offered by {owner} and {upstream} ({owner}'s is listed)"
                    );
                    if guarded && !opsmcp && !allow_collisions {
                        catalog.conflicts.push(format!(
                            "{collision}; give {upstream} another `prefix`, or \
                             `allow_collisions = true` to leave its tool out"
                        ));
                    }
                    catalog.collisions.push(collision);
                    continue;
                }
                owners.insert(listed.clone(), (upstream, opsmcp));
                tool.name = listed.clone().into();
                let read_only = tool
                    .annotations
                    .as_ref()
                    .and_then(|a| a.read_only_hint)
                    .unwrap_or(false);
                catalog.routes.insert(
                    listed,
                    Route {
                        upstream: index,
                        name: original,
                        read_only,
                    },
                );
                catalog.tools.push(tool);
            }
        }
        catalog
    }

    fn merge_resources(&mut self, builtin: &[&str], upstreams: &[Listing<'_>]) {
        let mut servers: HashMap<&str, usize> = builtin.iter().map(|uri| (*uri, 1)).collect();
        for listing in upstreams {
            for resource in listing.resources.iter().filter(|r| listing.serves(&r.uri)) {
                *servers.entry(resource.uri.as_str()).or_default() += 1;
            }
        }
        for (index, listing) in upstreams.iter().enumerate() {
            for resource in &listing.resources {
                if !listing.serves(&resource.uri) {
                    self.collisions.push(format!(
                        "resource {}: a foreign upstream ({}) may not serve opsmcp's URIs",
                        resource.uri, listing.upstream
                    ));
                    continue;
                }
                let mut listed = resource.clone();
                if servers[resource.uri.as_str()] > 1 {
                    let separator = if resource.uri.contains('?') { '&' } else { '?' };
                    listed.uri =
                        format!("{}{separator}upstream={}", resource.uri, listing.upstream);
                    listed.name = format!("{} ({})", resource.name, listing.upstream);
                }
                self.resource_routes.insert(
                    listed.uri.clone(),
                    Route {
                        upstream: index,
                        name: resource.uri.clone(),
                        read_only: true,
                    },
                );
                self.resources.push(listed);
            }
        }
    }

    /// The upstream whose resource template matches `uri` (a URI no resource list names).
    pub fn template_route(&self, uri: &str) -> Option<Route> {
        self.templates
            .iter()
            .find(|(_, t)| matches_template(&t.uri_template, uri))
            .map(|(index, _)| Route {
                upstream: *index,
                name: uri.to_owned(),
                read_only: true,
            })
    }

    /// The listed URI of `uri` as upstream `index` names it.
    pub fn exposed_uri(&self, index: usize, uri: &str) -> Option<&str> {
        self.resource_routes
            .iter()
            .find(|(_, r)| r.upstream == index && r.name == uri)
            .map(|(listed, _)| listed.as_str())
    }
}

/// Whether `uri` is an expansion of `template` (RFC 6570 simple expressions: each `{…}` stands
/// for a non-empty run of characters up to the next literal part).
fn matches_template(template: &str, uri: &str) -> bool {
    let mut rest = uri;
    let mut parts = template.split('{');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(after) = rest.strip_prefix(first) else {
        return false;
    };
    rest = after;
    for part in parts {
        let Some((_, literal)) = part.split_once('}') else {
            return false;
        };
        if literal.is_empty() {
            // The variable runs to the end (or the next expression).
            if rest.is_empty() {
                return false;
            }
            rest = "";
            continue;
        }
        match rest.find(literal) {
            Some(at) if at > 0 => rest = &rest[at + literal.len()..],
            _ => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_owned(), "t", Arc::new(serde_json::Map::new()))
    }

    #[test]
    fn uris_match_simple_templates() {
        assert!(matches_template(
            "test://template/{id}/data",
            "test://template/123/data"
        ));
        assert!(matches_template("file:///{path}", "file:///a/b"));
        assert!(!matches_template(
            "test://template/{id}/data",
            "test://template//data"
        ));
        assert!(!matches_template(
            "test://template/{id}/data",
            "test://other/1/data"
        ));
        assert!(!matches_template("test://{a}/x", "test://1/y"));
    }

    fn listing<'a>(
        upstream: &'a str,
        prefix: &'a str,
        tools: &[&str],
        uris: &[&str],
    ) -> Listing<'a> {
        Listing {
            upstream,
            prefix: prefix.to_owned(),
            opsmcp: true,
            allow_collisions: false,
            reserved: tools.iter().map(|t| format!("{prefix}{t}")).collect(),
            tools: tools.iter().map(|t| tool(t)).collect(),
            resources: uris.iter().map(|u| Resource::new(*u, "r")).collect(),
            templates: Vec::new(),
            prompts: Vec::new(),
        }
    }

    #[test]
    fn prefixes_apply_and_the_first_upstream_wins_a_collision() {
        let c = Catalog::merge(
            &["health"],
            &[],
            [
                listing("a", "", &["search", "get"], &[]),
                listing("b", "", &["search", "health"], &[]),
                listing("c", "c_", &["search"], &[]),
            ],
        );
        let names: Vec<&str> = c.tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["search", "get", "c_search"]);
        assert_eq!(c.routes["c_search"].name, "search");
        assert_eq!(c.routes["c_search"].upstream, 2);
        assert_eq!(
            c.collisions,
            [
                "search: offered by a and b (a's is listed)",
                "health: offered by the gateway and b (the gateway's is listed)"
            ]
        );
    }

    #[test]
    fn a_foreign_upstream_listed_first_never_shadows_an_opsmcp_tool() {
        let foreign = |name, allow_collisions| Listing {
            opsmcp: false,
            allow_collisions,
            ..listing(name, "", &["kubectl", "search"], &[])
        };
        let c = Catalog::merge(
            &[],
            &[],
            [
                foreign("vendor", false),
                listing("kubernetes", "", &["kubectl"], &[]),
                foreign("other", true),
            ],
        );
        assert_eq!(c.routes["kubectl"].upstream, 1);
        assert_eq!(c.routes["search"].upstream, 0);
        assert_eq!(
            c.conflicts,
            [
                "kubectl: offered by kubernetes and vendor (kubernetes's is listed); give vendor \
              another `prefix`, or `allow_collisions = true` to leave its tool out"
            ]
        );
        assert_eq!(c.collisions.len(), 3, "{:?}", c.collisions);

        // A name the file's filters leave out of an opsmcp upstream stays its own; an opsmcp
        // upstream that has not listed yet holds every foreign tool back; opsmcp's URIs are
        // opsmcp's.
        let kubernetes = |reserved: &[&str]| Listing {
            reserved: reserved.iter().map(|r| r.to_string()).collect(),
            ..listing("kubernetes", "", &["kubectl"], &["opsmcp://audit/recent"])
        };
        let vendor = || Listing {
            resources: vec![Resource::new(
                "opsmcp://audit/recent?upstream=kubernetes",
                "r",
            )],
            ..foreign("vendor", true)
        };
        let filtered = Catalog::merge(&[], &[], [vendor(), kubernetes(&["kubectl", "search"])]);
        assert_eq!(filtered.routes.len(), 1, "{:?}", filtered.routes);
        assert_eq!(
            filtered.resource_routes["opsmcp://audit/recent"].upstream,
            1
        );
        let waiting = Catalog::merge(&[], &[], [vendor(), kubernetes(&[])]);
        assert!(waiting.routes.contains_key("kubectl") && !waiting.routes.contains_key("search"));
        assert!(
            waiting
                .collisions
                .iter()
                .any(|c| c.contains("wait until kubernetes has listed")),
            "{:?}",
            waiting.collisions
        );
    }

    #[test]
    fn a_uri_two_upstreams_serve_is_listed_for_each() {
        let c = Catalog::merge(
            &[],
            &["opsmcp://history"],
            [
                listing("a", "", &[], &["opsmcp://metrics", "a://events"]),
                listing("b", "", &[], &["opsmcp://metrics?x=1", "opsmcp://history"]),
                listing("c", "", &[], &["opsmcp://metrics"]),
            ],
        );
        let uris: Vec<&str> = c.resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "opsmcp://metrics?upstream=a",
                "a://events",
                "opsmcp://metrics?x=1",
                "opsmcp://history?upstream=b",
                "opsmcp://metrics?upstream=c"
            ]
        );
        assert_eq!(c.resource_routes["opsmcp://metrics?upstream=c"].upstream, 2);
        assert_eq!(
            c.resource_routes["opsmcp://metrics?upstream=c"].name,
            "opsmcp://metrics"
        );
        assert_eq!(c.exposed_uri(0, "a://events"), Some("a://events"));
        assert_eq!(
            c.exposed_uri(0, "opsmcp://metrics"),
            Some("opsmcp://metrics?upstream=a")
        );
    }
}
