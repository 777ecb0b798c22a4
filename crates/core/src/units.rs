//! Kubernetes resource quantities (`64Mi`, `1Gi`, `500M`, `1.5`, `250m`) as numbers, and bytes
//! written back the way manifests write them. Plain Rust.

/// The value of a quantity in base units (bytes, cores), `None` when it is not one.
pub fn quantity(q: &str) -> Option<f64> {
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
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "e3" => 1e3,
        "e6" => 1e6,
        _ => return None,
    };
    Some(n * factor)
}

/// Bytes as Ki/Mi/Gi.
pub fn bytes(b: f64) -> String {
    let mib = b / 1024.0 / 1024.0;
    if mib >= 1024.0 {
        format!("{:.1}Gi", mib / 1024.0)
    } else if mib >= 1.0 {
        format!("{mib:.0}Mi")
    } else {
        format!("{:.0}Ki", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_sizes() {
        assert_eq!(quantity("64Mi"), Some(67_108_864.0));
        assert_eq!(quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(quantity("500M"), Some(500_000_000.0));
        assert_eq!(quantity("128974848"), Some(128_974_848.0));
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("1.5"), Some(1.5));
        assert_eq!(quantity("12Qi"), None);
        assert_eq!(bytes(67_108_864.0), "64Mi");
        assert_eq!(bytes(3.5 * 1024.0 * 1024.0 * 1024.0), "3.5Gi");
    }
}
