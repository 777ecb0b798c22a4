//! Quantities as the sandbox's controllers need them (the parser is `opsmcp_core::units`).

pub use opsmcp_core::units::quantity as parse;

/// Millicores of a CPU quantity.
pub fn millicores(q: &str) -> Option<u64> {
    parse(q).map(|v| (v * 1000.0).round() as u64)
}

/// Bytes of a memory quantity.
pub fn bytes(q: &str) -> Option<u64> {
    parse(q).map(|v| v.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(bytes("64Mi"), Some(64 * 1024 * 1024));
        assert_eq!(millicores("250m"), Some(250));
        assert_eq!(bytes("12Qi"), None);
    }
}
