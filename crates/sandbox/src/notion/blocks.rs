//! Blocks and rich text as a request brings them, checked against Notion's limits with its
//! messages (`body.children[0].paragraph.rich_text[0].text.content.length should be ≤ 2000,
//! instead was 2001.`) and turned into what the workspace stores: 100 children per array, two
//! levels of nesting per request, 1,000 block elements, 100 rich-text items, 2,000 characters
//! per text run, 2,000 per URL; the block types a page is written with; tables with their rows.

use serde_json::{Map, Value, json};

/// Limits of one request (Notion's request-limits page).
pub const MAX_CHILDREN: usize = 100;
pub const MAX_RICH_TEXT: usize = 100;
pub const MAX_TEXT: usize = 2000;
pub const MAX_URL: usize = 2000;
pub const MAX_BLOCKS: usize = 1000;
pub const MAX_DEPTH: usize = 2;

/// Code block languages Notion accepts.
pub const LANGUAGES: &[&str] = &[
    "abap",
    "agda",
    "arduino",
    "assembly",
    "bash",
    "basic",
    "bnf",
    "c",
    "c#",
    "c++",
    "clojure",
    "coffeescript",
    "coq",
    "css",
    "dart",
    "dhall",
    "diff",
    "docker",
    "ebnf",
    "elixir",
    "elm",
    "erlang",
    "f#",
    "flow",
    "fortran",
    "gherkin",
    "glsl",
    "go",
    "graphql",
    "groovy",
    "haskell",
    "hcl",
    "html",
    "idris",
    "java",
    "javascript",
    "json",
    "julia",
    "kotlin",
    "latex",
    "less",
    "lisp",
    "livescript",
    "llvm ir",
    "lua",
    "makefile",
    "markdown",
    "markup",
    "matlab",
    "mathematica",
    "mermaid",
    "nix",
    "notion formula",
    "objective-c",
    "ocaml",
    "pascal",
    "perl",
    "php",
    "plain text",
    "powershell",
    "prolog",
    "protobuf",
    "purescript",
    "python",
    "r",
    "racket",
    "reason",
    "ruby",
    "rust",
    "sass",
    "scala",
    "scheme",
    "scss",
    "shell",
    "smalltalk",
    "solidity",
    "sql",
    "swift",
    "toml",
    "typescript",
    "vb.net",
    "verilog",
    "vhdl",
    "visual basic",
    "webassembly",
    "xml",
    "yaml",
    "java/c/c++/c#",
];

const COLORS: &[&str] = &[
    "default",
    "gray",
    "brown",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "red",
    "gray_background",
    "brown_background",
    "orange_background",
    "yellow_background",
    "green_background",
    "blue_background",
    "purple_background",
    "pink_background",
    "red_background",
];

/// Block types whose object carries `rich_text` and `color`, and whether they may have children.
fn text_block(kind: &str) -> Option<bool> {
    match kind {
        "paragraph" | "bulleted_list_item" | "numbered_list_item" | "to_do" | "toggle"
        | "quote" | "callout" => Some(true),
        "heading_1" | "heading_2" | "heading_3" => Some(false),
        _ => None,
    }
}

/// A checked block, ready to store: its type, its object without `children`, and its children.
#[derive(Debug, Clone)]
pub struct NewBlock {
    pub kind: String,
    pub content: Value,
    pub children: Vec<NewBlock>,
}

/// Why a request is refused: Notion's `validation_error` message.
pub type Invalid = String;

fn invalid(path: &str, what: &str) -> Invalid {
    format!("body failed validation: {path} {what}.")
}

/// Rich text from a request, as stored (every run complete with annotations and `plain_text`).
pub fn rich_text(value: &Value, path: &str) -> Result<Value, Invalid> {
    let Some(items) = value.as_array() else {
        return Err(invalid(path, "should be an array"));
    };
    if items.len() > MAX_RICH_TEXT {
        return Err(invalid(
            &format!("{path}.length"),
            &format!(
                "should be ≤ `{MAX_RICH_TEXT}`, instead was `{}`",
                items.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let kind = item["type"]
            .as_str()
            .unwrap_or(if item.get("text").is_some() {
                "text"
            } else if item.get("equation").is_some() {
                "equation"
            } else {
                ""
            });
        let a = &item["annotations"];
        let flag = |name: &str| a[name].as_bool().unwrap_or(false);
        let color = a["color"].as_str().unwrap_or("default");
        if !COLORS.contains(&color) {
            return Err(invalid(
                &format!("{at}.annotations.color"),
                &format!("should be a color, instead was `{color:?}`"),
            ));
        }
        let annotations = json!({
            "bold": flag("bold"), "italic": flag("italic"), "strikethrough": flag("strikethrough"),
            "underline": flag("underline"), "code": flag("code"), "color": color,
        });
        match kind {
            "text" => {
                let Some(content) = item["text"]["content"].as_str() else {
                    return Err(invalid(
                        &format!("{at}.text.content"),
                        "should be defined, instead was `undefined`",
                    ));
                };
                let length = content.encode_utf16().count();
                if length > MAX_TEXT {
                    return Err(invalid(
                        &format!("{at}.text.content.length"),
                        &format!("should be ≤ `{MAX_TEXT}`, instead was `{length}`"),
                    ));
                }
                let link = item["text"]["link"]["url"].as_str();
                if let Some(url) = link
                    && url.len() > MAX_URL
                {
                    return Err(invalid(
                        &format!("{at}.text.link.url.length"),
                        &format!("should be ≤ `{MAX_URL}`, instead was `{}`", url.len()),
                    ));
                }
                out.push(json!({
                    "type": "text",
                    "text": { "content": content, "link": link.map(|url| json!({ "url": url })) },
                    "annotations": annotations, "plain_text": content, "href": link,
                }));
            }
            "equation" => {
                let Some(expression) = item["equation"]["expression"].as_str() else {
                    return Err(invalid(
                        &format!("{at}.equation.expression"),
                        "should be defined, instead was `undefined`",
                    ));
                };
                out.push(json!({
                    "type": "equation", "equation": { "expression": expression },
                    "annotations": annotations, "plain_text": expression, "href": null,
                }));
            }
            other => {
                return Err(invalid(
                    &format!("{at}.type"),
                    &format!("should be `text` or `equation`, instead was `{other:?}`"),
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

/// Count and check a children array: at most 100, nested at most `MAX_DEPTH` levels below the
/// request's own array (`depth` 1 for it).
pub fn blocks(
    value: &Value,
    path: &str,
    depth: usize,
    count: &mut usize,
) -> Result<Vec<NewBlock>, Invalid> {
    let Some(items) = value.as_array() else {
        return Err(invalid(path, "should be an array"));
    };
    if items.len() > MAX_CHILDREN {
        return Err(invalid(
            &format!("{path}.length"),
            &format!(
                "should be ≤ `{MAX_CHILDREN}`, instead was `{}`",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| block(item, &format!("{path}[{i}]"), depth, count))
        .collect()
}

fn block(item: &Value, path: &str, depth: usize, count: &mut usize) -> Result<NewBlock, Invalid> {
    *count += 1;
    if *count > MAX_BLOCKS {
        return Err(format!(
            "body failed validation: the request has more than {MAX_BLOCKS} block elements."
        ));
    }
    let kind = item["type"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            item.as_object().and_then(|m| {
                m.keys()
                    .find(|k| !matches!(k.as_str(), "object" | "type"))
                    .cloned()
            })
        })
        .ok_or_else(|| invalid(path, "should have a block type"))?;
    let body = &item[kind.as_str()];
    if !body.is_object() {
        return Err(invalid(
            &format!("{path}.{kind}"),
            "should be an object, instead was `undefined`",
        ));
    }
    let at = format!("{path}.{kind}");
    let mut content = Map::new();
    let mut may_nest = false;
    if let Some(nests) = text_block(&kind) {
        content.insert(
            "rich_text".into(),
            rich_text(&body["rich_text"], &format!("{at}.rich_text"))?,
        );
        let color = body["color"].as_str().unwrap_or("default");
        if !COLORS.contains(&color) {
            return Err(invalid(
                &format!("{at}.color"),
                &format!("should be a color, instead was `{color:?}`"),
            ));
        }
        content.insert("color".into(), json!(color));
        may_nest = nests;
        match kind.as_str() {
            "to_do" => {
                content.insert("checked".into(), json!(body["checked"] == true));
            }
            "callout" => {
                let icon = body
                    .get("icon")
                    .cloned()
                    .unwrap_or_else(|| json!({ "type": "emoji", "emoji": "💡" }));
                content.insert("icon".into(), icon);
            }
            "heading_1" | "heading_2" | "heading_3" => {
                let toggleable = body["is_toggleable"] == true;
                content.insert("is_toggleable".into(), json!(toggleable));
                may_nest = toggleable;
            }
            _ => {}
        }
    } else {
        match kind.as_str() {
            "code" => {
                content.insert(
                    "rich_text".into(),
                    rich_text(&body["rich_text"], &format!("{at}.rich_text"))?,
                );
                content.insert(
                    "caption".into(),
                    rich_text(
                        body.get("caption").unwrap_or(&json!([])),
                        &format!("{at}.caption"),
                    )?,
                );
                let language = body["language"].as_str().unwrap_or("plain text");
                if !LANGUAGES.contains(&language) {
                    return Err(invalid(
                        &format!("{at}.language"),
                        &format!("should be a language Notion knows, instead was `{language:?}`"),
                    ));
                }
                content.insert("language".into(), json!(language));
            }
            "divider" => {}
            "bookmark" | "image" | "embed" => {
                let url = match kind.as_str() {
                    "image" => body["external"]["url"].as_str(),
                    _ => body["url"].as_str(),
                };
                let Some(url) = url.filter(|u| u.len() <= MAX_URL && !u.is_empty()) else {
                    return Err(invalid(
                        &format!("{at}.url"),
                        "should be a URL of at most 2000 characters",
                    ));
                };
                let caption = rich_text(
                    body.get("caption").unwrap_or(&json!([])),
                    &format!("{at}.caption"),
                )?;
                if kind == "image" {
                    content.insert("type".into(), json!("external"));
                    content.insert("external".into(), json!({ "url": url }));
                } else {
                    content.insert("url".into(), json!(url));
                }
                content.insert("caption".into(), caption);
            }
            "table" => {
                let width = body["table_width"].as_u64().unwrap_or(0);
                if width == 0 {
                    return Err(invalid(
                        &format!("{at}.table_width"),
                        "should be defined, instead was `undefined`",
                    ));
                }
                content.insert("table_width".into(), json!(width));
                content.insert(
                    "has_column_header".into(),
                    json!(body["has_column_header"] == true),
                );
                content.insert(
                    "has_row_header".into(),
                    json!(body["has_row_header"] == true),
                );
                may_nest = true;
                if body["children"].as_array().is_none_or(Vec::is_empty) {
                    return Err(invalid(
                        &format!("{at}.children"),
                        "should be defined: a table is created with its rows",
                    ));
                }
            }
            "table_row" => {
                let Some(cells) = body["cells"].as_array() else {
                    return Err(invalid(
                        &format!("{at}.cells"),
                        "should be an array, instead was `undefined`",
                    ));
                };
                let cells = cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| rich_text(c, &format!("{at}.cells[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                content.insert("cells".into(), Value::Array(cells));
            }
            other => {
                return Err(invalid(
                    &format!("{path}.type"),
                    &format!(
                        "should be a block type this integration can create, instead was `{other:?}`"
                    ),
                ));
            }
        }
    }
    let children = match body.get("children") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => {
            if !may_nest {
                return Err(invalid(
                    &format!("{at}.children"),
                    &format!("should not be present: a {kind} block has no children"),
                ));
            }
            if depth >= MAX_DEPTH {
                return Err(invalid(
                    &format!("{at}.children"),
                    &format!(
                        "should be not present, instead was `{}` (at most {MAX_DEPTH} levels of nesting per request)",
                        list.as_array().map_or(0, Vec::len)
                    ),
                ));
            }
            blocks(list, &format!("{at}.children"), depth + 1, count)?
        }
    };
    if kind == "table" {
        let width = content["table_width"].as_u64().unwrap_or(0) as usize;
        if let Some(bad) = children.iter().position(|r| {
            r.kind != "table_row" || r.content["cells"].as_array().map(Vec::len) != Some(width)
        }) {
            return Err(invalid(
                &format!("{at}.children[{bad}]"),
                &format!("should be a table_row with {width} cells"),
            ));
        }
    }
    Ok(NewBlock {
        kind,
        content: Value::Object(content),
        children,
    })
}

/// A paragraph of plain text (seeding).
pub fn paragraph(text: &str) -> Value {
    json!({ "type": "paragraph", "paragraph": { "rich_text": [{ "type": "text", "text": { "content": text } }] } })
}

/// A block of `kind` with text (seeding).
pub fn text(kind: &str, text: &str) -> Value {
    json!({ "type": kind, kind: { "rich_text": [{ "type": "text", "text": { "content": text } }] } })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn para(text: &str) -> Value {
        paragraph(text)
    }

    #[test]
    fn limits_are_notions() {
        let mut n = 0;
        let long = json!([para(&"é".repeat(2001))]);
        assert_eq!(
            blocks(&long, "body.children", 1, &mut n).unwrap_err(),
            "body failed validation: body.children[0].paragraph.rich_text[0].text.content.length should be ≤ `2000`, instead was `2001`."
        );
        let hundred_one = json!(vec![json!({ "divider": {} }); 101]);
        assert!(
            blocks(&hundred_one, "body.children", 1, &mut 0)
                .unwrap_err()
                .contains("should be ≤ `100`")
        );
        // Two levels in one request are fine; a third is not.
        let two = json!([{ "toggle": { "rich_text": [], "children": [para("x")] } }]);
        assert_eq!(
            blocks(&two, "body.children", 1, &mut 0).unwrap()[0]
                .children
                .len(),
            1
        );
        let three = json!([{ "toggle": { "rich_text": [], "children": [{ "toggle": { "rich_text": [], "children": [para("x")] } }] } }]);
        assert!(blocks(&three, "body.children", 1, &mut 0).is_err());
        let table = json!([{ "table": { "table_width": 2, "children": [{ "table_row": { "cells": [[]] } }] } }]);
        assert!(
            blocks(&table, "body.children", 1, &mut 0)
                .unwrap_err()
                .contains("a table_row with 2 cells")
        );
        let lang = json!([{ "code": { "language": "klingon", "rich_text": [] } }]);
        assert!(
            blocks(&lang, "body.children", 1, &mut 0)
                .unwrap_err()
                .contains("language")
        );
        let many = json!(vec![
            json!({ "toggle": { "rich_text": [], "children": vec![para("x"); 100] } });
            10
        ]);
        assert!(
            blocks(&many, "body.children", 1, &mut 0)
                .unwrap_err()
                .contains("more than 1000 block elements")
        );
    }
}
