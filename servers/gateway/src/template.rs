//! Arguments that refer to other values: `${input.incident}`, `${steps.pods.items.0.name}`.
//!
//! A string that is exactly one reference becomes the referenced value, whatever its type; a
//! reference inside a longer string is replaced by the value's text. Paths are dot-separated
//! object keys and array indexes. [`Template::references`] lists every path so a
//! configuration can be checked when it loads; [`Template::resolve`] fills them in and names a
//! path that leads nowhere.
//!
//! A reference placed in a list of strings (an argument list such as `kubectl`'s `args`) stays
//! one positional argument: a value that would make the element start with `-` is refused, so
//! an input never becomes a flag (`--raw`, `-A`, `--`).

use serde_json::Value;

/// A JSON value whose strings may hold references.
#[derive(Debug, Clone)]
pub struct Template(Value);

impl Template {
    pub fn new(value: Value) -> Self {
        Self(value)
    }

    /// Every reference, as its path segments, in order of appearance.
    pub fn references(&self) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        visit(&self.0, &mut |s| {
            for (_, path) in scan(s) {
                found.push(path.split('.').map(str::to_owned).collect());
            }
        });
        found
    }

    /// The value with every reference looked up in `context`.
    pub fn resolve(&self, context: &Value) -> Result<Value, String> {
        resolve(&self.0, context)
    }
}

fn visit(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| visit(v, f)),
        Value::Object(map) => map.values().for_each(|v| visit(v, f)),
        _ => {}
    }
}

/// The references in `s`: (byte range of `${…}`, the path inside).
fn scan(s: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = s[from..].find("${").map(|i| from + i) {
        let Some(end) = s[start..].find('}').map(|i| start + i) else {
            break;
        };
        found.push((start..end + 1, s[start + 2..end].trim()));
        from = end + 1;
    }
    found
}

fn resolve(value: &Value, context: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            let references = scan(s);
            match references.as_slice() {
                [] => value.clone(),
                [(range, path)] if range.len() == s.len() => lookup(context, path)?.clone(),
                _ => {
                    let mut out = String::with_capacity(s.len());
                    let mut last = 0;
                    for (range, path) in &references {
                        out.push_str(&s[last..range.start]);
                        match lookup(context, path)? {
                            Value::String(text) => out.push_str(text),
                            other => out.push_str(&other.to_string()),
                        }
                        last = range.end;
                    }
                    out.push_str(&s[last..]);
                    Value::String(out)
                }
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| {
                    let resolved = resolve(v, context)?;
                    match (v, &resolved) {
                        (Value::String(template), Value::String(text))
                            if text.starts_with('-') && !template.starts_with('-') =>
                        {
                            Err(format!(
                                "`{template}` would become the flag `{text}` in an argument \
                                 list; a value placed there must not start with `-`"
                            ))
                        }
                        _ => Ok(resolved),
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, context)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup<'a>(context: &'a Value, path: &str) -> Result<&'a Value, String> {
    let mut at = context;
    for segment in path.split('.') {
        let next = match at {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        at = next
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("`${{{path}}}` has no value (nothing at `{segment}`)"))?;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn whole_references_keep_their_type_and_embedded_ones_become_text() {
        let t = Template::new(json!({
            "id": "${input.incident}",
            "pods": "${steps.pods.items}",
            "first": "${ steps.pods.items.0.name }",
            "query": "{namespace=\"${input.ns}\"} |= \"${input.incident}\"",
            "fixed": 3
        }));
        let mut references = t.references();
        references.sort();
        assert_eq!(
            references,
            [
                vec!["input", "incident"],
                vec!["input", "incident"],
                vec!["input", "ns"],
                vec!["steps", "pods", "items"],
                vec!["steps", "pods", "items", "0", "name"],
            ]
        );
        let context = json!({
            "input": { "incident": 42, "ns": "shop" },
            "steps": { "pods": { "items": [{ "name": "worker-1" }] } }
        });
        assert_eq!(
            t.resolve(&context).unwrap(),
            json!({
                "id": 42,
                "pods": [{ "name": "worker-1" }],
                "first": "worker-1",
                "query": "{namespace=\"shop\"} |= \"42\"",
                "fixed": 3
            })
        );
        let args = Template::new(json!(["logs", "${input.pod}", "--tail=${input.n}"]));
        let pod = |pod: &str| json!({ "input": { "pod": pod, "n": "-1" } });
        assert_eq!(
            args.resolve(&pod("worker-1")).unwrap(),
            json!(["logs", "worker-1", "--tail=-1"])
        );
        for flag in ["--raw=/api/v1/namespaces/x", "-A", "--"] {
            assert_eq!(
                args.resolve(&pod(flag)).unwrap_err(),
                format!(
                    "`${{input.pod}}` would become the flag `{flag}` in an argument list; a \
                     value placed there must not start with `-`"
                )
            );
        }
        let missing = Template::new(json!("${input.nope}")).resolve(&context);
        assert_eq!(
            missing.unwrap_err(),
            "`${input.nope}` has no value (nothing at `nope`)"
        );
    }
}
