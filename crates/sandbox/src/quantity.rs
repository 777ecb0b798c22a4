//! Kubernetes resource quantities (`64Mi`, `1Gi`, `500M`, `1.5`, `250m`) as numbers.

/// Bytes of a memory quantity, or the value of any quantity in base units.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "e3" => 1e3,
        "e6" => 1e6,
        _ => return None,
    };
    Some(n * factor)
}

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
        assert_eq!(bytes("1Gi"), Some(1 << 30));
        assert_eq!(bytes("500M"), Some(500_000_000));
        assert_eq!(bytes("128974848"), Some(128_974_848));
        assert_eq!(millicores("250m"), Some(250));
        assert_eq!(millicores("1.5"), Some(1500));
        assert_eq!(bytes("12Qi"), None);
    }
}
