//! A refusal in PagerDuty's words: the HTTP status, PagerDuty's error code, its message and
//! details, rendered as `{"error":{"message","code","errors"}}`.

use serde_json::{Value, json};

/// A refusal in PagerDuty's words: HTTP status, PagerDuty's error code, message and details.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub code: u32,
    pub message: String,
    pub errors: Vec<String>,
}

impl Failure {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 400 `Invalid Input Provided` (2001) with one detail.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self {
            errors: vec![detail.into()],
            ..Self::new(400, 2001, "Invalid Input Provided")
        }
    }

    /// 404 `Not Found` (2100).
    pub fn not_found(what: &str) -> Self {
        Self {
            errors: vec![format!("{what} Not Found")],
            ..Self::new(404, 2100, "Not Found")
        }
    }

    /// The body: `{"error":{"message","code","errors"}}`.
    pub fn body(&self) -> Value {
        json!({ "error": { "message": self.message, "code": self.code, "errors": self.errors } })
    }
}
