//! Markdown in and out of Notion blocks. In: pulldown-cmark (CommonMark with GFM tables, task
//! lists, strikethrough and alerts) turned into block requests — headings, paragraphs, lists
//! (nested), to-dos, quotes, alerts as callouts, code with its language, dividers, tables,
//! images, a lone link as a bookmark, `<details><summary>` as a toggle — with inline bold,
//! italic, code, strikethrough and links as rich text, runs split at Notion's 2,000 characters.
//! Out: the same elements rendered back, so Markdown → blocks → Markdown is stable.

use pulldown_cmark::{
    BlockQuoteKind, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd,
};
use serde_json::{Value, json};

/// Notion's limit on one text run (UTF-16 units, as its API counts).
const MAX_RUN: usize = 2000;
const MAX_RUNS: usize = 100;

/// Alerts and the callout icons they become.
const ALERTS: &[(BlockQuoteKind, &str, &str)] = &[
    (BlockQuoteKind::Note, "NOTE", "📝"),
    (BlockQuoteKind::Tip, "TIP", "💡"),
    (BlockQuoteKind::Important, "IMPORTANT", "❗"),
    (BlockQuoteKind::Warning, "WARNING", "⚠️"),
    (BlockQuoteKind::Caution, "CAUTION", "🚨"),
];

/// Fence languages and Notion's names for them.
const LANGUAGES: &[(&str, &str)] = &[
    ("sh", "shell"),
    ("console", "shell"),
    ("zsh", "shell"),
    ("yml", "yaml"),
    ("js", "javascript"),
    ("ts", "typescript"),
    ("py", "python"),
    ("rs", "rust"),
    ("dockerfile", "docker"),
    ("md", "markdown"),
    ("promql", "plain text"),
    ("logql", "plain text"),
    ("text", "plain text"),
    ("txt", "plain text"),
    ("cpp", "c++"),
    ("csharp", "c#"),
    ("golang", "go"),
    ("tf", "hcl"),
];

const NOTION_LANGUAGES: &[&str] = &[
    "bash",
    "c",
    "c#",
    "c++",
    "css",
    "diff",
    "docker",
    "go",
    "graphql",
    "hcl",
    "html",
    "java",
    "javascript",
    "json",
    "kotlin",
    "lua",
    "makefile",
    "markdown",
    "mermaid",
    "nix",
    "perl",
    "php",
    "plain text",
    "powershell",
    "protobuf",
    "python",
    "r",
    "ruby",
    "rust",
    "scala",
    "shell",
    "sql",
    "swift",
    "toml",
    "typescript",
    "xml",
    "yaml",
];

fn notion_language(fence: &str) -> &'static str {
    let fence = fence.trim().to_lowercase();
    if let Some((_, n)) = LANGUAGES.iter().find(|(f, _)| *f == fence) {
        return n;
    }
    NOTION_LANGUAGES
        .iter()
        .find(|n| **n == fence)
        .copied()
        .unwrap_or("plain text")
}

fn fence_language(notion: &str) -> &str {
    match notion {
        "plain text" => "",
        other => other,
    }
}

// --- Markdown → blocks ------------------------------------------------------------------

#[derive(Default, Clone, PartialEq)]
struct Style {
    bold: bool,
    italic: bool,
    code: bool,
    strike: bool,
    link: Option<String>,
}

fn run(text: &str, s: &Style) -> Value {
    json!({
        "type": "text",
        "text": { "content": text, "link": s.link.as_ref().map(|u| json!({ "url": u })) },
        "annotations": { "bold": s.bold, "italic": s.italic, "strikethrough": s.strike, "underline": false, "code": s.code, "color": "default" },
    })
}

/// Runs of at most 2,000 UTF-16 units.
fn push_text(runs: &mut Vec<(String, Style)>, text: &str, style: &Style) {
    if let Some((last, s)) = runs.last_mut()
        && s == style
    {
        last.push_str(text);
        return;
    }
    runs.push((text.to_owned(), style.clone()));
}

fn finish_runs(runs: Vec<(String, Style)>) -> Value {
    let mut out = Vec::new();
    for (text, style) in runs {
        let mut chunk = String::new();
        let mut units = 0;
        for c in text.chars() {
            if units + c.len_utf16() > MAX_RUN {
                out.push(run(&chunk, &style));
                chunk.clear();
                units = 0;
            }
            chunk.push(c);
            units += c.len_utf16();
        }
        if !chunk.is_empty() {
            out.push(run(&chunk, &style));
        }
    }
    if out.len() > MAX_RUNS {
        // More runs than a block takes: keep the styles of the first, the rest as plain text.
        let tail: String = out[MAX_RUNS - 1..]
            .iter()
            .map(|r| r["text"]["content"].as_str().unwrap_or_default())
            .collect();
        out.truncate(MAX_RUNS - 1);
        out.push(run(&tail, &Style::default()));
    }
    Value::Array(out)
}

fn block(kind: &str, rich_text: Value, children: Vec<Value>) -> Value {
    let mut body = json!({ "rich_text": rich_text });
    if !children.is_empty() {
        body["children"] = json!(children);
    }
    json!({ "type": kind, kind: body })
}

/// Apply one inline event (text, code, a break, a style or a link starting or ending) to the
/// runs; whether it was one.
fn inline_event(event: &Event<'_>, runs: &mut Vec<(String, Style)>, style: &mut Style) -> bool {
    match event {
        Event::Text(t) => push_text(runs, t, style),
        Event::Code(t) => {
            let mut s = style.clone();
            s.code = true;
            push_text(runs, t, &s);
        }
        Event::SoftBreak | Event::HardBreak => push_text(runs, "\n", style),
        Event::Start(Tag::Strong) => style.bold = true,
        Event::End(TagEnd::Strong) => style.bold = false,
        Event::Start(Tag::Emphasis) => style.italic = true,
        Event::End(TagEnd::Emphasis) => style.italic = false,
        Event::Start(Tag::Strikethrough) => style.strike = true,
        Event::End(TagEnd::Strikethrough) => style.strike = false,
        Event::Start(Tag::Link { dest_url, .. }) => style.link = Some(dest_url.to_string()),
        Event::End(TagEnd::Link) => style.link = None,
        _ => return false,
    }
    true
}

struct Reader<'a> {
    events: std::iter::Peekable<Parser<'a>>,
}

impl Reader<'_> {
    /// Inline events up to `end`, as runs.
    fn inline(&mut self, end: TagEnd) -> Vec<(String, Style)> {
        let mut runs = Vec::new();
        let mut style = Style::default();
        for event in self.events.by_ref() {
            match event {
                Event::End(e) if e == end => break,
                Event::InlineHtml(h) | Event::Html(h) => push_text(&mut runs, &h, &style),
                other => {
                    inline_event(&other, &mut runs, &mut style);
                }
            }
        }
        runs
    }

    /// Blocks up to `end` (`None`: the end of the document; `Some(None)`: a `</details>`).
    fn blocks(&mut self, end: Option<TagEnd>, details: bool) -> Vec<Value> {
        let mut out = Vec::new();
        let mut pending: Vec<(String, Style)> = Vec::new();
        let mut task: Option<bool> = None;
        while let Some(event) = self.events.peek().cloned() {
            match event {
                Event::End(e) if Some(e) == end => {
                    self.events.next();
                    break;
                }
                Event::Html(ref h) if details && h.contains("</details>") => {
                    self.events.next();
                    break;
                }
                // Inline content straight in a block (tight list items) is a paragraph.
                Event::Text(_)
                | Event::Code(_)
                | Event::Start(
                    Tag::Strong | Tag::Emphasis | Tag::Strikethrough | Tag::Link { .. },
                )
                | Event::SoftBreak
                | Event::HardBreak => {
                    let runs = self.inline_loose();
                    pending.extend(runs);
                }
                Event::TaskListMarker(checked) => {
                    self.events.next();
                    task = Some(checked);
                }
                _ => {
                    if !pending.is_empty() {
                        out.push(block(
                            "paragraph",
                            finish_runs(std::mem::take(&mut pending)),
                            vec![],
                        ));
                    }
                    self.events.next();
                    if let Some(b) = self.one(event) {
                        out.push(b);
                    }
                }
            }
        }
        if !pending.is_empty() {
            out.push(block("paragraph", finish_runs(pending), vec![]));
        }
        if let Some(checked) = task {
            out.insert(0, json!({ "task": checked }));
        }
        out
    }

    /// Inline events until the next block-level event.
    fn inline_loose(&mut self) -> Vec<(String, Style)> {
        let mut runs = Vec::new();
        let mut style = Style::default();
        while let Some(event) = self.events.peek() {
            if !inline_event(event, &mut runs, &mut style) {
                break;
            }
            self.events.next();
        }
        runs
    }

    /// One block-level element whose start was `event`.
    fn one(&mut self, event: Event<'_>) -> Option<Value> {
        match event {
            Event::Start(Tag::Paragraph) => {
                // A lone image, or a lone link that is its own text, stands alone.
                if let Some(Event::Start(Tag::Image { dest_url, .. })) = self.events.peek().cloned()
                {
                    self.events.next();
                    let alt = self.inline(TagEnd::Image);
                    let rest = self.inline(TagEnd::Paragraph);
                    if rest.iter().all(|(t, _)| t.trim().is_empty()) {
                        let caption: String = alt.into_iter().map(|(t, _)| t).collect();
                        let caption = if caption.is_empty() {
                            json!([])
                        } else {
                            finish_runs(vec![(caption, Style::default())])
                        };
                        return Some(
                            json!({ "type": "image", "image": { "type": "external", "external": { "url": dest_url.to_string() }, "caption": caption } }),
                        );
                    }
                }
                let runs = self.inline(TagEnd::Paragraph);
                if let [
                    (
                        text,
                        Style {
                            link: Some(url),
                            bold: false,
                            italic: false,
                            code: false,
                            strike: false,
                        },
                    ),
                ] = runs.as_slice()
                    && text == url
                {
                    return Some(
                        json!({ "type": "bookmark", "bookmark": { "url": url, "caption": [] } }),
                    );
                }
                Some(block("paragraph", finish_runs(runs), vec![]))
            }
            Event::Start(Tag::Heading { level, .. }) => {
                let kind = match level {
                    HeadingLevel::H1 => "heading_1",
                    HeadingLevel::H2 => "heading_2",
                    _ => "heading_3",
                };
                let runs = self.inline(TagEnd::Heading(level));
                Some(block(kind, finish_runs(runs), vec![]))
            }
            Event::Start(Tag::BlockQuote(kind)) => {
                let mut inner = self.blocks(Some(TagEnd::BlockQuote(kind)), false);
                let first = if inner.first().is_some_and(|b| b["type"] == "paragraph") {
                    inner.remove(0)["paragraph"]["rich_text"].clone()
                } else {
                    json!([])
                };
                match kind.and_then(|k| ALERTS.iter().find(|(a, ..)| *a == k)) {
                    Some((_, _, emoji)) => {
                        let mut b = block("callout", first, inner);
                        b["callout"]["icon"] = json!({ "type": "emoji", "emoji": emoji });
                        Some(b)
                    }
                    None => Some(block("quote", first, inner)),
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let language = match kind {
                    CodeBlockKind::Fenced(f) => {
                        notion_language(f.split_whitespace().next().unwrap_or_default())
                    }
                    CodeBlockKind::Indented => "plain text",
                };
                let mut text = String::new();
                for e in self.events.by_ref() {
                    match e {
                        Event::End(TagEnd::CodeBlock) => break,
                        Event::Text(t) => text.push_str(&t),
                        _ => {}
                    }
                }
                let text = text.strip_suffix('\n').unwrap_or(&text);
                let mut b = block(
                    "code",
                    finish_runs(vec![(text.to_owned(), Style::default())]),
                    vec![],
                );
                b["code"]["language"] = json!(language);
                Some(b)
            }
            Event::Start(Tag::List(start)) => {
                let mut items = Vec::new();
                while let Some(e) = self.events.next() {
                    match e {
                        Event::End(TagEnd::List(_)) => break,
                        Event::Start(Tag::Item) => {
                            let mut inner = self.blocks(Some(TagEnd::Item), false);
                            let task = inner.first().and_then(|b| b["task"].as_bool());
                            if task.is_some() {
                                inner.remove(0);
                            }
                            let first = if inner.first().is_some_and(|b| b["type"] == "paragraph") {
                                inner.remove(0)["paragraph"]["rich_text"].clone()
                            } else {
                                json!([])
                            };
                            let kind = match (task, start) {
                                (Some(_), _) => "to_do",
                                (None, Some(_)) => "numbered_list_item",
                                (None, None) => "bulleted_list_item",
                            };
                            let mut b = block(kind, first, inner);
                            if let Some(checked) = task {
                                b["to_do"]["checked"] = json!(checked);
                            }
                            items.push(b);
                        }
                        _ => {}
                    }
                }
                Some(json!({ "list": items }))
            }
            Event::Rule => Some(json!({ "type": "divider", "divider": {} })),
            Event::Start(Tag::Table(_)) => {
                let mut rows: Vec<Vec<Value>> = Vec::new();
                let mut header = false;
                while let Some(e) = self.events.next() {
                    match e {
                        Event::End(TagEnd::Table) => break,
                        Event::Start(Tag::TableHead) => {
                            header = true;
                            rows.push(Vec::new());
                        }
                        Event::Start(Tag::TableRow) => rows.push(Vec::new()),
                        Event::Start(Tag::TableCell) => {
                            let runs = self.inline(TagEnd::TableCell);
                            if let Some(row) = rows.last_mut() {
                                row.push(finish_runs(runs));
                            }
                        }
                        _ => {}
                    }
                }
                let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
                let children: Vec<Value> = rows
                    .into_iter()
                    .map(|mut cells| {
                        cells.resize(width, json!([]));
                        json!({ "type": "table_row", "table_row": { "cells": cells } })
                    })
                    .collect();
                Some(
                    json!({ "type": "table", "table": { "table_width": width, "has_column_header": header, "has_row_header": false, "children": children } }),
                )
            }
            Event::Start(Tag::HtmlBlock) => {
                let mut html = String::new();
                for e in self.events.by_ref() {
                    match e {
                        Event::End(TagEnd::HtmlBlock) => break,
                        Event::Html(h) | Event::Text(h) => html.push_str(&h),
                        _ => {}
                    }
                }
                if html.contains("<details>") {
                    let title = html
                        .split("<summary>")
                        .nth(1)
                        .and_then(|s| s.split("</summary>").next())
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    let children = if html.contains("</details>") {
                        Vec::new()
                    } else {
                        self.details()
                    };
                    return Some(block(
                        "toggle",
                        finish_runs(vec![(title, Style::default())]),
                        children,
                    ));
                }
                if html.trim().starts_with("<!--") {
                    return None;
                }
                Some(block(
                    "paragraph",
                    finish_runs(vec![(html.trim_end().to_owned(), Style::default())]),
                    vec![],
                ))
            }
            _ => None,
        }
    }

    /// Blocks up to the HTML block that closes a `<details>`.
    fn details(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(event) = self.events.next() {
            if let Event::Start(Tag::HtmlBlock) = event
                && let Some(Event::Html(h)) = self.events.peek()
                && h.contains("</details>")
            {
                for e in self.events.by_ref() {
                    if e == Event::End(TagEnd::HtmlBlock) {
                        break;
                    }
                }
                break;
            }
            if let Some(b) = self.one(event) {
                out.push(b);
            }
        }
        flatten(out)
    }
}

/// Lists come back as `{list: [items]}`; their items are blocks of their own.
fn flatten(blocks: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for b in blocks {
        match b.get("list") {
            Some(items) => out.extend(
                items
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(flatten_children),
            ),
            None => out.push(flatten_children(b)),
        }
    }
    out
}

fn flatten_children(mut b: Value) -> Value {
    let kind = b["type"].as_str().unwrap_or_default().to_owned();
    if let Some(children) = b[kind.as_str()].get("children").cloned() {
        b[kind.as_str()]["children"] =
            json!(flatten(children.as_array().cloned().unwrap_or_default()));
    }
    b
}

/// How deep lists, quotes and other containers may nest (Notion shows a few levels; the
/// conversion recurses once a level).
pub const MAX_DEPTH: usize = 32;

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS)
    .union(Options::ENABLE_GFM);

/// Markdown as Notion block requests (children nested; the caller splits them per request).
/// Nesting deeper than [`MAX_DEPTH`] is refused before anything is converted: the parser's
/// events are walked once, iteratively, and the walk stops at the first level too deep.
pub fn to_blocks(markdown: &str) -> Result<Vec<Value>, String> {
    let mut depth = 0usize;
    for event in Parser::new_ext(markdown, OPTIONS) {
        match event {
            Event::Start(_) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "the Markdown nests deeper than {MAX_DEPTH} levels (lists, quotes): flatten it"
                    ));
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let mut reader = Reader {
        events: Parser::new_ext(markdown, OPTIONS).peekable(),
    };
    Ok(flatten(reader.blocks(None, false)))
}

// --- blocks → Markdown --------------------------------------------------------------------

/// A block with its children, as read.
#[derive(Debug, Clone)]
pub struct Node {
    pub block: Value,
    pub children: Vec<Node>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '~' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rich text as inline Markdown (upstream text cleaned of invisible and bidi characters).
pub fn inline(rich_text: &Value) -> String {
    let mut out = String::new();
    for r in rich_text.as_array().into_iter().flatten() {
        let text = opsmcp_core::output::untrusted(
            r["plain_text"]
                .as_str()
                .or(r["text"]["content"].as_str())
                .unwrap_or_default(),
        );
        let a = &r["annotations"];
        let mut piece = if a["code"] == true {
            format!("`{text}`")
        } else {
            escape(&text)
        };
        if piece.trim().is_empty() {
            out.push_str(&piece);
            continue;
        }
        if a["strikethrough"] == true {
            piece = format!("~~{piece}~~");
        }
        if a["italic"] == true {
            piece = format!("*{piece}*");
        }
        if a["bold"] == true {
            piece = format!("**{piece}**");
        }
        if let Some(url) = r["href"].as_str().or(r["text"]["link"]["url"].as_str()) {
            // A link that is its own text is an autolink.
            piece = if text == url && piece == escape(&text) {
                format!("<{url}>")
            } else {
                format!("[{piece}]({url})")
            };
        }
        out.push_str(&piece);
    }
    out
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{by}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_list(kind: &str) -> bool {
    matches!(kind, "bulleted_list_item" | "numbered_list_item" | "to_do")
}

/// Items of one Markdown list: numbered with numbered, bullets with bullets and to-dos.
fn same_list(a: &str, b: &str) -> bool {
    is_list(a) && is_list(b) && ((a == "numbered_list_item") == (b == "numbered_list_item"))
}

/// Blocks as Markdown: list items tight, other blocks separated by a blank line.
pub fn render(nodes: &[Node]) -> String {
    let mut out = String::new();
    let mut number = 0;
    let mut previous: Option<String> = None;
    for node in nodes {
        let kind = node.block["type"].as_str().unwrap_or_default().to_owned();
        number = if kind == "numbered_list_item" {
            number + 1
        } else {
            0
        };
        if let Some(p) = &previous {
            let tight = same_list(p, &kind);
            out.push_str(if tight { "\n" } else { "\n\n" });
        }
        out.push_str(&render_one(node, &kind, number));
        previous = Some(kind);
    }
    out
}

fn render_one(node: &Node, kind: &str, number: usize) -> String {
    let body = &node.block[kind];
    let text = inline(&body["rich_text"]);
    let children = render(&node.children);
    let nested = |marker_width: usize| {
        // A nested list follows its item's line; other blocks after a blank line.
        let gap = match node.children.first().and_then(|c| c.block["type"].as_str()) {
            Some(k) if is_list(k) => "\n",
            _ => "\n\n",
        };
        if children.is_empty() {
            String::new()
        } else {
            format!("{gap}{}", indent(&children, &" ".repeat(marker_width)))
        }
    };
    match kind {
        "paragraph" => format!(
            "{text}{}",
            if children.is_empty() {
                String::new()
            } else {
                format!("\n\n{children}")
            }
        ),
        "heading_1" | "heading_2" | "heading_3" => {
            let level = &kind[8..];
            let hashes = "#".repeat(level.parse().unwrap_or(3));
            format!(
                "{hashes} {text}{}",
                if children.is_empty() {
                    String::new()
                } else {
                    format!("\n\n{children}")
                }
            )
        }
        "bulleted_list_item" => format!("- {text}{}", nested(2)),
        "numbered_list_item" => format!("{number}. {text}{}", nested(3)),
        "to_do" => {
            let mark = if body["checked"] == true { "x" } else { " " };
            format!("- [{mark}] {text}{}", nested(2))
        }
        "quote" | "callout" => {
            let mut inner = if kind == "callout" {
                let emoji = body["icon"]["emoji"].as_str().unwrap_or_default();
                let alert = ALERTS
                    .iter()
                    .find(|(.., e)| *e == emoji)
                    .map_or("NOTE", |(_, a, _)| a);
                format!("[!{alert}]\n{text}")
            } else {
                text
            };
            if !children.is_empty() {
                inner.push_str("\n\n");
                inner.push_str(&children);
            }
            inner
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        ">".to_owned()
                    } else {
                        format!("> {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        "code" => {
            let source: String = body["rich_text"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["plain_text"].as_str().or(r["text"]["content"].as_str()))
                .collect();
            let source = opsmcp_core::output::untrusted(&source);
            let fence = if source.contains("```") {
                "````"
            } else {
                "```"
            };
            format!(
                "{fence}{}\n{source}\n{fence}",
                fence_language(body["language"].as_str().unwrap_or_default())
            )
        }
        "divider" => "---".into(),
        "table" => {
            let rows: Vec<Vec<String>> = node
                .children
                .iter()
                .map(|r| {
                    r.block["table_row"]["cells"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| inline(c).replace('\n', " "))
                        .collect()
                })
                .collect();
            let width = body["table_width"].as_u64().unwrap_or(1) as usize;
            let line = |cells: &[String]| {
                let mut cells = cells.to_vec();
                cells.resize(width, String::new());
                format!("| {} |", cells.join(" | "))
            };
            let mut lines = Vec::new();
            let (head, rest) = rows
                .split_first()
                .map_or((Vec::new(), &[][..]), |(h, r)| (h.clone(), r));
            lines.push(line(&head));
            lines.push(format!("|{}", " --- |".repeat(width)));
            lines.extend(rest.iter().map(|r| line(r)));
            lines.join("\n")
        }
        "toggle" => format!("<details>\n<summary>{text}</summary>\n\n{children}\n\n</details>"),
        "image" => {
            let url = body["external"]["url"]
                .as_str()
                .or(body["file"]["url"].as_str())
                .unwrap_or_default();
            format!("![{}]({url})", inline(&body["caption"]))
        }
        "bookmark" | "embed" | "link_preview" => {
            format!("<{}>", body["url"].as_str().unwrap_or_default())
        }
        "child_page" | "child_database" => {
            let id = node.block["id"]
                .as_str()
                .unwrap_or_default()
                .replace('-', "");
            let icon = if kind == "child_page" {
                "📄"
            } else {
                "🗃️"
            };
            format!(
                "[{icon} {}](https://www.notion.so/{id})",
                escape(&opsmcp_core::output::untrusted(
                    body["title"].as_str().unwrap_or_default()
                ))
            )
        }
        "equation" => format!("$${}$$", body["expression"].as_str().unwrap_or_default()),
        other => format!("<!-- a {other} block -->"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Request blocks as the nodes a read gives (the children under the block).
    fn nodes(blocks: &[Value]) -> Vec<Node> {
        blocks
            .iter()
            .map(|b| {
                let kind = b["type"].as_str().unwrap().to_owned();
                let mut block = b.clone();
                let children = block[kind.as_str()]
                    .as_object_mut()
                    .and_then(|o| o.remove("children"))
                    .and_then(|c| c.as_array().cloned())
                    .unwrap_or_default();
                Node {
                    block,
                    children: nodes(&children),
                }
            })
            .collect()
    }

    const DOC: &str = "# Worker OOM runbook\n\n> [!CAUTION]\n> Page the platform on-call first.\n\n## Diagnose\n\n1. Find the pod:\n\n   ```bash\n   kubectl get pods -n shop -l app=worker\n   ```\n2. Read **its** last state and *restarts*\n3. Check `container_memory_working_set_bytes`\n\n- Symptoms\n  - OOMKilled\n  - ~~fine~~ restarts\n- [ ] Add a memory test\n- [x] Alert on growth\n\n> A quote\n\n| Step | Limit |\n| --- | --- |\n| 1 | 64Mi |\n| 2 | 128Mi |\n\n---\n\n<details>\n<summary>Background</summary>\n\nBatches are 10 MB.\n\n</details>\n\n![the ramp](https://example.com/ramp.png)\n\n<https://github.com/shop/worker/pull/43>\n\nSee [the PR](https://github.com/shop/worker/pull/43) and escape \\*stars\\*.";

    #[test]
    fn markdown_round_trips_through_blocks() {
        let blocks = to_blocks(DOC).unwrap();
        let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "heading_1",
                "callout",
                "heading_2",
                "numbered_list_item",
                "numbered_list_item",
                "numbered_list_item",
                "bulleted_list_item",
                "to_do",
                "to_do",
                "quote",
                "table",
                "divider",
                "toggle",
                "image",
                "bookmark",
                "paragraph"
            ]
        );
        assert_eq!(
            blocks[3]["numbered_list_item"]["children"][0]["code"]["language"],
            "bash"
        );
        assert_eq!(
            blocks[6]["bulleted_list_item"]["children"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(blocks[10]["table"]["table_width"], 2);
        let again = render(&nodes(&blocks));
        assert_eq!(again, DOC, "\n{again}");
        // And once more: stable.
        assert_eq!(render(&nodes(&to_blocks(&again).unwrap())), DOC);
    }

    #[test]
    fn long_text_is_split_into_notions_runs() {
        let long = "é".repeat(4500);
        let blocks = to_blocks(&long).unwrap();
        let runs = blocks[0]["paragraph"]["rich_text"].as_array().unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs.iter().all(|r| {
            r["text"]["content"]
                .as_str()
                .unwrap()
                .encode_utf16()
                .count()
                <= 2000
        }));
        assert_eq!(render(&nodes(&blocks)), long);
    }
    #[test]
    fn deep_nesting_is_refused() {
        for deep in [
            ">".repeat(50_000) + " x",
            "- ".repeat(5_000) + "x",
            "1. ".repeat(40),
        ] {
            let refused = to_blocks(&deep).unwrap_err();
            assert!(refused.contains("nests deeper than 32"), "{refused}");
        }
        assert!(to_blocks("- a\n  - b\n    - c\n").is_ok());
    }
}
