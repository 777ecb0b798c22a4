//! Architecture invariants that the compiler cannot check: the safety modules know nothing of
//! MCP, HTTP or any backend, so they stay testable alone and cannot be bypassed by transport code.

#[test]
fn safety_modules_import_no_mcp_or_backend_types() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    for module in [
        "risk",
        "policy",
        "breaker",
        "audit",
        "kubectl/mod",
        "kubectl/table",
        "kubectl/parse",
        "kubectl/check",
    ] {
        let text = std::fs::read_to_string(format!("{src}/{module}.rs")).unwrap();
        for forbidden in [
            "rmcp",
            "reqwest",
            "axum",
            "crate::serve",
            "crate::http",
            "crate::tools",
            "crate::legacy_sse",
        ] {
            let offending: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .filter(|l| l.contains(forbidden))
                .collect();
            assert!(
                offending.is_empty(),
                "{module}.rs must not use {forbidden}: {offending:?}"
            );
        }
    }
}
