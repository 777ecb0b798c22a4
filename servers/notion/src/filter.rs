//! A filter syntax a model writes easily — `Status = Open and Severity in (SEV1, SEV2) and
//! Started > now-7d` — turned into Notion's filter JSON for a data source's schema: `and` binds
//! tighter than `or`, parentheses group, property names are matched against the schema (quote
//! one with odd characters), values are words or "quoted text", times are `now-7d`, `24h`,
//! dates or RFC 3339. An error names the property and the operators its type takes.

use serde_json::{Map, Value, json};

/// A time to the second, as Notion's dates take it (`2026-11-30T14:02:00Z`).
pub fn whole_second(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A date as Notion takes it: `2026-11-30` as it is, a time expression (`now-7d`, `24h`,
/// RFC 3339) to the second.
pub fn date_value(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 10 && text.as_bytes()[4] == b'-' {
        return Ok(text.to_owned());
    }
    opsmcp_core::output::parse_time(text, jiff::Timestamp::now())
        .map(whole_second)
        .map_err(|e| e.to_string())
}

/// The operators of each property type, as the syntax writes them.
fn operators(kind: &str) -> &'static str {
    match kind {
        "title" | "rich_text" | "url" | "email" | "phone_number" => {
            "=, !=, contains, !contains, starts with, ends with, is empty, is not empty"
        }
        "number" => "=, !=, >, <, >=, <=, is empty, is not empty",
        "select" | "status" => "=, !=, in (…), is empty, is not empty",
        "multi_select" => "contains, !contains, in (…), is empty, is not empty",
        "people" => "contains (a name, email or user id), is empty, is not empty",
        "checkbox" => "= true, = false",
        "date" | "created_time" | "last_edited_time" => {
            "=, >, <, >=, <= (now-7d, 24h, 2026-11-30, RFC 3339), is empty, is not empty"
        }
        _ => "none (this type cannot be filtered here)",
    }
}

#[derive(Debug)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Leaf(Value),
}

struct P<'a> {
    rest: &'a str,
    schema: &'a Map<String, Value>,
    people: &'a [(String, String, String)],
}

impl P<'_> {
    fn skip(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, word: &str) -> bool {
        self.skip();
        let ok = self.rest.len() >= word.len()
            && self.rest[..word.len()].eq_ignore_ascii_case(word)
            && self.rest[word.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric() || !word.chars().all(char::is_alphabetic));
        if ok {
            self.rest = &self.rest[word.len()..];
        }
        ok
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.eat("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.atom()?];
        while self.eat("and") {
            items.push(self.atom()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn atom(&mut self) -> Result<Expr, String> {
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(format!("a `(` is not closed before {:?}", self.rest));
            }
            return Ok(inner);
        }
        self.condition()
    }

    /// A quoted string or a bare word.
    fn value(&mut self) -> Result<String, String> {
        self.skip();
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or("a quoted value is not closed")?;
            let v = quoted[..end].to_owned();
            self.rest = &quoted[end + 1..];
            return Ok(v);
        }
        let end = self
            .rest
            .find(|c: char| c.is_whitespace() || c == ')' || c == ',' || c == '(')
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(format!("a value is missing before {:?}", self.rest));
        }
        let v = self.rest[..end].to_owned();
        self.rest = &self.rest[end..];
        Ok(v)
    }

    fn property(&mut self) -> Result<(String, String), String> {
        self.skip();
        if self.rest.starts_with('"') {
            let name = self.value()?;
            return self.known(&name);
        }
        // The longest property name the text starts with.
        let mut names: Vec<&String> = self.schema.keys().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for name in names {
            if self.rest.len() >= name.len()
                && self.rest[..name.len()].eq_ignore_ascii_case(name)
                && self.rest[name.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
            {
                self.rest = &self.rest[name.len()..];
                return self.known(name);
            }
        }
        let word = self.value()?;
        self.known(&word)
    }

    fn known(&self, name: &str) -> Result<(String, String), String> {
        let found = self
            .schema
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        match found {
            Some((k, v)) => Ok((k.clone(), v["type"].as_str().unwrap_or_default().to_owned())),
            None => Err(format!(
                "{name:?} is not a property of this database; its properties: {}",
                self.schema
                    .iter()
                    .map(|(k, v)| format!("{k} ({})", v["type"].as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        if !self.eat("(") {
            return Err("`in` takes a list: in (A, B)".into());
        }
        let mut items = Vec::new();
        loop {
            items.push(self.value()?);
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                return Ok(items);
            }
            return Err(format!(
                "expected `,` or `)` in a list before {:?}",
                self.rest
            ));
        }
    }

    fn condition(&mut self) -> Result<Expr, String> {
        let (name, kind) = self.property()?;
        let wrong = |op: &str| {
            format!(
                "{name} is a {kind} property: `{op}` does not apply; use {}",
                operators(&kind)
            )
        };
        let leaf = |condition: Value| {
            let key = match kind.as_str() {
                "created_time" | "last_edited_time" => "timestamp",
                _ => "property",
            };
            let mut f = json!({ (kind.clone()): condition });
            if key == "timestamp" {
                f["timestamp"] = json!(kind);
            } else {
                f["property"] = json!(name);
            }
            Expr::Leaf(f)
        };
        if self.eat("is not empty") {
            return Ok(leaf(json!({ "is_not_empty": true })));
        }
        if self.eat("is empty") {
            return Ok(leaf(json!({ "is_empty": true })));
        }
        let op = [
            "!=",
            ">=",
            "<=",
            "=",
            ">",
            "<",
            "!contains",
            "not contains",
            "contains",
            "starts with",
            "ends with",
            "in",
        ]
        .into_iter()
        .find(|op| self.eat(op))
        .ok_or_else(|| {
            format!(
                "expected an operator after {name}; a {kind} property takes {}",
                operators(&kind)
            )
        })?;
        let text_like = matches!(
            kind.as_str(),
            "title" | "rich_text" | "url" | "email" | "phone_number"
        );
        let date_like = matches!(kind.as_str(), "date" | "created_time" | "last_edited_time");
        if op == "in" {
            let items = self.list()?;
            let each = match kind.as_str() {
                "select" | "status" => "equals",
                "multi_select" => "contains",
                _ => return Err(wrong("in")),
            };
            return Ok(Expr::Or(
                items
                    .into_iter()
                    .map(|v| leaf(json!({ each: v })))
                    .collect(),
            ));
        }
        let raw = self.value()?;
        let condition = match kind.as_str() {
            _ if text_like => {
                let key = match op {
                    "=" => "equals",
                    "!=" => "does_not_equal",
                    "contains" => "contains",
                    "!contains" | "not contains" => "does_not_contain",
                    "starts with" => "starts_with",
                    "ends with" => "ends_with",
                    _ => return Err(wrong(op)),
                };
                json!({ key: raw })
            }
            "number" => {
                let n: f64 = raw
                    .parse()
                    .map_err(|_| format!("{name} is a number: {raw:?} is not one"))?;
                let key = match op {
                    "=" => "equals",
                    "!=" => "does_not_equal",
                    ">" => "greater_than",
                    "<" => "less_than",
                    ">=" => "greater_than_or_equal_to",
                    "<=" => "less_than_or_equal_to",
                    _ => return Err(wrong(op)),
                };
                json!({ key: n })
            }
            "select" | "status" => match op {
                "=" => json!({ "equals": raw }),
                "!=" => json!({ "does_not_equal": raw }),
                _ => return Err(wrong(op)),
            },
            "multi_select" => match op {
                "contains" | "=" => json!({ "contains": raw }),
                "!contains" | "not contains" | "!=" => json!({ "does_not_contain": raw }),
                _ => return Err(wrong(op)),
            },
            "checkbox" => match (op, raw.to_lowercase().as_str()) {
                ("=", v @ ("true" | "false")) => json!({ "equals": v == "true" }),
                ("!=", v @ ("true" | "false")) => json!({ "equals": v != "true" }),
                _ => return Err(wrong(op)),
            },
            "people" => {
                let id = self
                    .people
                    .iter()
                    .find(|(id, name, email)| id == &raw || name.eq_ignore_ascii_case(&raw) || email.eq_ignore_ascii_case(&raw))
                    .map(|(id, ..)| id.clone())
                    .ok_or_else(|| format!("{raw:?} is not a user of the workspace (give a name, an email or a user id)"))?;
                match op {
                    "contains" | "=" => json!({ "contains": id }),
                    "!contains" | "not contains" | "!=" => json!({ "does_not_contain": id }),
                    _ => return Err(wrong(op)),
                }
            }
            _ if date_like => {
                let when = date_value(&raw).map_err(|e| format!("{name}: {e}"))?;
                let key = match op {
                    "=" => "equals",
                    ">" => "after",
                    "<" => "before",
                    ">=" => "on_or_after",
                    "<=" => "on_or_before",
                    _ => return Err(wrong(op)),
                };
                json!({ key: when })
            }
            _ => return Err(wrong(op)),
        };
        Ok(leaf(condition))
    }
}

fn json_of(e: Expr, depth: usize) -> Result<Value, String> {
    let nest = |key: &str, items: Vec<Expr>| -> Result<Value, String> {
        if depth >= 2 {
            return Err(
                "the filter nests and/or more than Notion's two levels; simplify it".into(),
            );
        }
        let items = items
            .into_iter()
            .map(|i| json_of(i, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({ key: items }))
    };
    match e {
        Expr::Leaf(v) => Ok(v),
        Expr::And(items) => nest("and", items),
        Expr::Or(items) => nest("or", items),
    }
}

/// The Notion filter of `text` for a data source with `schema` (its `properties`), people as
/// (id, name, email).
pub fn parse(
    text: &str,
    schema: &Map<String, Value>,
    people: &[(String, String, String)],
) -> Result<Value, String> {
    let mut p = P {
        rest: text,
        schema,
        people,
    };
    let expr = p.or()?;
    p.skip();
    if !p.rest.is_empty() {
        return Err(format!(
            "unexpected {:?}: join conditions with and/or",
            p.rest
        ));
    }
    json_of(expr, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Map<String, Value> {
        serde_json::from_value(json!({
            "Title": { "type": "title" }, "Severity": { "type": "select" }, "Status": { "type": "status" },
            "Started": { "type": "date" }, "Duration (min)": { "type": "number" }, "On-call": { "type": "people" },
            "Tags": { "type": "multi_select" },
        }))
        .unwrap()
    }

    fn people() -> Vec<(String, String, String)> {
        vec![(
            "u1".into(),
            "Maya Chen".into(),
            "maya.chen@shop.example".into(),
        )]
    }

    #[test]
    fn the_incident_example_becomes_notions_filter() {
        let f = parse(
            "Status = Open and Severity in (SEV1, SEV2) and Started > 2026-11-01",
            &schema(),
            &people(),
        )
        .unwrap();
        assert_eq!(
            f,
            json!({ "and": [
                { "property": "Status", "status": { "equals": "Open" } },
                { "or": [
                    { "property": "Severity", "select": { "equals": "SEV1" } },
                    { "property": "Severity", "select": { "equals": "SEV2" } },
                ] },
                { "property": "Started", "date": { "after": "2026-11-01" } },
            ] })
        );
    }

    #[test]
    fn names_with_spaces_quotes_people_and_precedence() {
        let f = parse("Duration (min) >= 30 or \"On-call\" contains maya.chen@shop.example and Tags contains memory", &schema(), &people()).unwrap();
        assert_eq!(
            f["or"][0],
            json!({ "property": "Duration (min)", "number": { "greater_than_or_equal_to": 30.0 } })
        );
        assert_eq!(
            f["or"][1]["and"][0],
            json!({ "property": "On-call", "people": { "contains": "u1" } })
        );
        let relative = parse("Started >= now-7d", &schema(), &people()).unwrap();
        assert!(
            relative["date"]["on_or_after"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        let empty = parse("Title is not empty", &schema(), &people()).unwrap();
        assert_eq!(
            empty,
            json!({ "property": "Title", "title": { "is_not_empty": true } })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("Sev = SEV1", &schema(), &people()).unwrap_err();
        assert!(
            e.contains("\"Sev\" is not a property") && e.contains("Severity (select)"),
            "{e}"
        );
        let e = parse("Severity > SEV1", &schema(), &people()).unwrap_err();
        assert_eq!(
            e,
            "Severity is a select property: `>` does not apply; use =, !=, in (…), is empty, is not empty"
        );
        let e = parse("Severity = SEV1 Status = Open", &schema(), &people()).unwrap_err();
        assert!(e.contains("join conditions with and/or"), "{e}");
        let e = parse("(Status = Open", &schema(), &people()).unwrap_err();
        assert!(e.contains("not closed"), "{e}");
        let e = parse(
            "Status = Open and (Severity = SEV1 or (Tags contains a and Title contains b))",
            &schema(),
            &people(),
        )
        .unwrap_err();
        assert!(e.contains("two levels"), "{e}");
    }
}
