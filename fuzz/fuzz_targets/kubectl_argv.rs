//! The kubectl argv classifier on arbitrary argument vectors: it never panics, and whatever it
//! accepts obeys the safety model (no injected credentials or endpoints get through; a delete
//! of a forbidden kind is forbidden; nothing that writes is classified as a read).

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsmcp_core::risk::{RiskLevel, classify_kubectl, parse_kubectl};

const INJECTION: &[&str] = &[
    "--server",
    "--token",
    "--kubeconfig",
    "--as",
    "--as-group",
    "--as-uid",
    "--username",
    "--password",
    "--client-key",
    "--client-certificate",
    "--certificate-authority",
    "--insecure-skip-tls-verify",
    "--cache-dir",
];
const FORBIDDEN: &[&str] = &[
    "namespace",
    "namespaces",
    "ns",
    "node",
    "nodes",
    "no",
    "pv",
    "pvc",
    "persistentvolume",
    "persistentvolumes",
    "persistentvolumeclaim",
    "persistentvolumeclaims",
];
const WRITES: &[&str] = &[
    "delete",
    "apply",
    "create",
    "replace",
    "edit",
    "patch",
    "exec",
    "port-forward",
    "drain",
    "cp",
    "run",
    "scale",
    "rollout",
    "label",
    "annotate",
    "cordon",
    "uncordon",
    "set",
];

fuzz_target!(|data: &[u8]| {
    // NUL separates arguments; the words are whatever bytes came (lossily UTF-8).
    let argv: Vec<String> = data
        .split(|b| *b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let contexts = vec!["prod".to_owned()];
    let Ok(assessment) = classify_kubectl(&argv, &contexts) else {
        return;
    };
    assert!(
        !assessment.reason.trim().is_empty(),
        "every assessment has a reason"
    );
    let command = parse_kubectl(&argv, &contexts).expect("classify accepted it");
    for word in &argv {
        let flag = word.split('=').next().unwrap_or_default();
        assert!(
            !INJECTION.contains(&flag),
            "injected {word} got through: {argv:?}"
        );
    }
    if WRITES.contains(&command.verb.as_str()) {
        assert!(
            assessment.level > RiskLevel::Low,
            "{argv:?} is a write classified low"
        );
    }
    if command.verb == "delete" {
        // kubectl reads `delete TYPE[,TYPE] NAME…` or `delete TYPE/NAME…`.
        let kind = |t: &str| t.split('.').next().unwrap_or_default().to_ascii_lowercase();
        let slashed = command.positionals.iter().any(|p| p.contains('/'));
        let forbidden = if slashed {
            command
                .positionals
                .iter()
                .filter_map(|p| p.split_once('/'))
                .any(|(t, _)| FORBIDDEN.contains(&kind(t).as_str()))
        } else {
            command
                .positionals
                .first()
                .is_some_and(|p| p.split(',').any(|t| FORBIDDEN.contains(&kind(t).as_str())))
        };
        if forbidden {
            assert_eq!(assessment.level, RiskLevel::Forbidden, "{argv:?}");
        }
    }
});
