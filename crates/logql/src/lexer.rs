//! LogQL tokens with their byte offsets.

use crate::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
    /// `|=`
    PipeExact,
    /// `|~`
    PipeMatch,
    Pipe,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// A quoted string, unescaped.
    Str(String),
    Number(f64),
    /// Seconds (`5m`, `1h30m`, `250ms`).
    Duration(f64),
    Ident(String),
}

impl Token {
    /// How Loki's parser names the token in "unexpected …" messages.
    pub fn describe(&self) -> String {
        match self {
            Token::Str(s) => format!("STRING \"{s}\""),
            Token::Number(n) => format!("NUMBER {n}"),
            Token::Duration(_) => "RANGE".into(),
            Token::Ident(i) => format!("IDENTIFIER {i}"),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::Comma => ",",
            Token::Eq => "=",
            Token::EqEq => "==",
            Token::Neq => "!=",
            Token::Re => "=~",
            Token::Nre => "!~",
            Token::PipeExact => "|=",
            Token::PipeMatch => "|~",
            Token::Pipe => "|",
            Token::Gt => ">",
            Token::Gte => ">=",
            Token::Lt => "<",
            Token::Lte => "<=",
            Token::Add => "+",
            Token::Sub => "-",
            Token::Mul => "*",
            Token::Div => "/",
            Token::Mod => "%",
            Token::Str(_) | Token::Number(_) | Token::Duration(_) | Token::Ident(_) => "",
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub at: usize,
}

/// Split `query` into tokens. Comments (`# …` to the end of the line) are skipped.
pub fn tokenize(query: &str) -> Result<Vec<Spanned>, ParseError> {
    let bytes = query.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let at = i;
        let two = |a: u8, b: u8| c == a && bytes.get(i + 1) == Some(&b);
        let (token, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'`' => {
                let (s, len) = string(query, at)?;
                (Token::Str(s), len)
            }
            b'0'..=b'9' | b'.' => number_or_duration(query, at)?,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let len = query[at..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .unwrap_or(query.len() - at);
                (Token::Ident(query[at..at + len].to_owned()), len)
            }
            _ if two(b'=', b'=') => (Token::EqEq, 2),
            _ if two(b'=', b'~') => (Token::Re, 2),
            _ if two(b'!', b'=') => (Token::Neq, 2),
            _ if two(b'!', b'~') => (Token::Nre, 2),
            _ if two(b'|', b'=') => (Token::PipeExact, 2),
            _ if two(b'|', b'~') => (Token::PipeMatch, 2),
            _ if two(b'>', b'=') => (Token::Gte, 2),
            _ if two(b'<', b'=') => (Token::Lte, 2),
            b'{' => (Token::LBrace, 1),
            b'}' => (Token::RBrace, 1),
            b'(' => (Token::LParen, 1),
            b')' => (Token::RParen, 1),
            b'[' => (Token::LBracket, 1),
            b']' => (Token::RBracket, 1),
            b',' => (Token::Comma, 1),
            b'=' => (Token::Eq, 1),
            b'|' => (Token::Pipe, 1),
            b'>' => (Token::Gt, 1),
            b'<' => (Token::Lt, 1),
            b'+' => (Token::Add, 1),
            b'-' => (Token::Sub, 1),
            b'*' => (Token::Mul, 1),
            b'/' => (Token::Div, 1),
            b'%' => (Token::Mod, 1),
            _ => {
                let ch = query[at..].chars().next().unwrap_or('?');
                return Err(ParseError::at(at, format!("unexpected character {ch:?}")));
            }
        };
        out.push(Spanned { token, at });
        i += len;
    }
    Ok(out)
}

/// A `"…"` string with Go escapes, or a raw `` `…` `` string; returns it and its length.
fn string(query: &str, at: usize) -> Result<(String, usize), ParseError> {
    let quote = query.as_bytes()[at] as char;
    let mut out = String::new();
    let mut chars = query[at + 1..].char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            c if c == quote => return Ok((out, i + 2)),
            '\\' if quote == '"' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, c @ ('\\' | '"'))) => out.push(c),
                Some((j, c)) => {
                    return Err(ParseError::at(
                        at + 1 + j,
                        format!(
                            "invalid escape \\{c} in a string (write \\\\{c}, or use a `backtick` string for regular expressions)"
                        ),
                    ));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(ParseError::at(at, "unterminated string".to_owned()))
}

fn number_or_duration(query: &str, at: usize) -> Result<(Token, usize), ParseError> {
    let rest = &query[at..];
    let end = rest
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.'))
        .unwrap_or(rest.len());
    let word = &rest[..end];
    if let Ok(n) = word.parse::<f64>() {
        return Ok((Token::Number(n), end));
    }
    match parse_duration(word) {
        Some(secs) => Ok((Token::Duration(secs), end)),
        None => Err(ParseError::at(
            at,
            format!("{word:?} is neither a number nor a duration (like 5m or 1h30m)"),
        )),
    }
}

/// `1h30m`, `5m`, `250ms`, `2d`, `1w` in seconds.
pub fn parse_duration(word: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = word;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "y" => 31_536_000.0,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[unit_len..];
    }
    Some(total)
}
