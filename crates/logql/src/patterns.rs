//! Log lines grouped into templates, the way Loki's pattern ingester (Drain) groups them:
//! tokens that vary — numbers, IDs, durations, IPs — become `<_>`, and templates of the same
//! shape that differ in few tokens merge. Used by the Loki stand-in's `patterns` endpoint and
//! by opsmcp-loki when a Loki has no pattern ingester.

use std::collections::HashMap;

/// One template with how often and when it was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub template: String,
    pub count: u64,
    /// Nanosecond timestamps of the first and last line.
    pub first_ns: i64,
    pub last_ns: i64,
    /// A line it came from, unmasked.
    pub example: String,
}

/// The placeholder for a varying token, as Loki writes it.
pub const WILDCARD: &str = "<_>";

/// Templates of the same shape merge when at least this share of their tokens agree.
const SIMILARITY: f64 = 0.6;

/// Groups lines into [`Pattern`]s; feed it with [`Miner::add`].
#[derive(Debug, Default)]
pub struct Miner {
    clusters: Vec<Cluster>,
    /// (token count, first token) → clusters with that shape.
    index: HashMap<(usize, String), Vec<usize>>,
}

#[derive(Debug)]
struct Cluster {
    tokens: Vec<String>,
    pattern: Pattern,
}

impl Miner {
    pub fn add(&mut self, ts_ns: i64, line: &str) {
        let tokens = tokenize(line);
        let key = (tokens.len(), tokens.first().cloned().unwrap_or_default());
        let candidates = self.index.entry(key).or_default();
        let best = candidates
            .iter()
            .map(|&i| (i, similarity(&self.clusters[i].tokens, &tokens)))
            .filter(|(_, s)| *s >= SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, _)) => {
                let c = &mut self.clusters[i];
                for (have, new) in c.tokens.iter_mut().zip(&tokens) {
                    if have != new {
                        *have = generalise(have, new);
                    }
                }
                c.pattern.count += 1;
                c.pattern.first_ns = c.pattern.first_ns.min(ts_ns);
                c.pattern.last_ns = c.pattern.last_ns.max(ts_ns);
            }
            None => {
                candidates.push(self.clusters.len());
                self.clusters.push(Cluster {
                    tokens,
                    pattern: Pattern {
                        template: String::new(),
                        count: 1,
                        first_ns: ts_ns,
                        last_ns: ts_ns,
                        example: line.to_owned(),
                    },
                });
            }
        }
    }

    /// The patterns, most frequent first.
    pub fn patterns(self) -> Vec<Pattern> {
        let mut out: Vec<Pattern> = self
            .clusters
            .into_iter()
            .map(|c| Pattern {
                template: collapse(&c.tokens),
                ..c.pattern
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_ns.cmp(&b.first_ns)));
        out
    }
}

/// The template of one line on its own (what [`Miner`] starts a cluster from).
pub fn template_of(line: &str) -> String {
    collapse(&tokenize(line))
}

/// Masked tokens: words split at whitespace and after commas (so the fields of a JSON or CSV
/// line are tokens); a token ending a word carries a trailing space, and the template is the
/// tokens concatenated.
fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in line.split_whitespace() {
        for piece in word.split_inclusive(',') {
            out.push(mask(piece));
        }
        if let Some(last) = out.last_mut() {
            last.push(' ');
        }
    }
    if let Some(last) = out.last_mut() {
        last.pop();
    }
    out
}

fn similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() {
        return 1.0;
    }
    let same = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x == y || x.contains(WILDCARD))
        .count();
    same as f64 / a.len() as f64
}

/// Two different tokens as one: what they share at the start and end (up to punctuation, so
/// a key and its quotes survive but half a word does not), a wildcard between.
fn generalise(a: &str, b: &str) -> String {
    let boundary = |c: char| !c.is_alphanumeric();
    let mut prefix = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    prefix = a[..prefix]
        .char_indices()
        .rfind(|(_, c)| boundary(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let common_suffix = a
        .chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum::<usize>();
    let mut suffix_start = a.len() - common_suffix;
    suffix_start = a[suffix_start..]
        .find(boundary)
        .map_or(a.len(), |i| suffix_start + i);
    if suffix_start < prefix || b.len() < a.len() - suffix_start + prefix {
        let space = if a.ends_with(' ') { " " } else { "" };
        return format!("{}{WILDCARD}{space}", &a[..prefix]);
    }
    format!("{}{WILDCARD}{}", &a[..prefix], &a[suffix_start..])
}

/// The tokens as text; adjacent wildcards read as one.
fn collapse(tokens: &[String]) -> String {
    let mut out = String::new();
    for t in tokens {
        if let Some(rest) = t.strip_prefix(WILDCARD)
            && out.trim_end().ends_with(WILDCARD)
        {
            out.truncate(out.trim_end().len());
            out.push_str(rest);
            continue;
        }
        out.push_str(t);
    }
    out
}

/// A token with its varying parts replaced: a token with a digit is a value (kept are a
/// `key=` or `"key":` prefix and surrounding punctuation).
fn mask(token: &str) -> String {
    if !token.bytes().any(|b| b.is_ascii_digit()) {
        return token.to_owned();
    }
    // key=value and "key":value keep their key.
    let split = token
        .find('=')
        .map(|i| i + 1)
        .or_else(|| token.find("\":").map(|i| i + 2));
    let (key, value) = match split {
        Some(i) if !token[..i].bytes().any(|b| b.is_ascii_digit()) => token.split_at(i),
        _ => ("", token),
    };
    let start = value
        .find(|c: char| c.is_alphanumeric())
        .unwrap_or(value.len());
    let end = value
        .char_indices()
        .rfind(|(_, c)| c.is_alphanumeric())
        .map_or(start, |(i, c)| i + c.len_utf8());
    if start >= end {
        return token.to_owned();
    }
    format!("{key}{}{WILDCARD}{}", &value[..start], &value[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varying_tokens_become_wildcards_and_similar_lines_merge() {
        let mut m = Miner::default();
        for i in 0..50 {
            m.add(
                i,
                &format!(
                    "level=error msg=\"payment authorization failed\" order=o-{i} duration_ms={}",
                    100 + i
                ),
            );
            m.add(
                i,
                &format!(
                    "INFO allocated chunk #{i} (10MB), holding {} MiB; nothing freed",
                    20 + i
                ),
            );
            if i % 10 == 0 {
                m.add(i, "WARN cache miss for tenant acme");
                m.add(i, "WARN cache miss for tenant globex");
            }
        }
        let p = m.patterns();
        assert_eq!(p.len(), 3, "{p:#?}");
        assert_eq!(
            p[0].template,
            "level=error msg=\"payment authorization failed\" order=<_> duration_ms=<_>"
        );
        assert_eq!(p[0].count, 50);
        assert_eq!((p[0].first_ns, p[0].last_ns), (0, 49));
        assert_eq!(
            p[1].template,
            "INFO allocated chunk #<_> (<_>), holding <_> MiB; nothing freed"
        );
        assert_eq!(p[2].template, "WARN cache miss for tenant <_>");
        let mut m = Miner::default();
        m.add(1, r#"{"level":"error","msg":"timeout","method":"POST","path":"/api/checkout","status":502}"#);
        m.add(
            2,
            r#"{"level":"error","msg":"timeout","method":"GET","path":"/api/cart","status":503}"#,
        );
        assert_eq!(
            m.patterns()[0].template,
            r#"{"level":"error","msg":"timeout","method":"<_>","path":"/api/<_>","status":<_>}"#
        );
        assert_eq!(p[2].count, 10);
    }

    #[test]
    fn multi_byte_punctuation_is_cut_around_not_through() {
        // Found by `just fuzz` (logql): U+0746 is not alphanumeric and two bytes long.
        let mut m = Miner::default();
        m.add(1, ">at 9\u{0} \u{0}\u{0}_fsu\u{746}");
        m.add(2, ">at 9\u{0} \u{0}\u{0}_fsu\u{746}(pa");
        m.add(3, "a\u{746}b 1");
        m.add(4, "a\u{746}c 2");
        for p in m.patterns() {
            assert!(!p.template.is_empty());
        }
    }

    #[test]
    fn json_keys_survive() {
        assert_eq!(
            template_of(r#"{"level":"error","status":503,"path":"/api/pay"}"#),
            r#"{"level":"error","status":<_>,"path":"/api/pay"}"#
        );
    }
}
