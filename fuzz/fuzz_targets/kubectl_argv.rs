//! The kubectl guard on arbitrary argument vectors: it never panics, and whatever it accepts
//! obeys the safety model — the canonical argument list parses back to the same command (what
//! was checked is what runs), no credential, endpoint or identity flag gets through, a delete of
//! a forbidden kind is forbidden, a write is never low unless it is a dry run, and a preview's
//! `--dry-run=server` is a flag, never after `--`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsmcp_core::{
    kubectl::{Defaults, Preview, check, forbidden_kind, parse},
    risk::RiskLevel,
};

const REFUSED: &[&str] = &[
    "server", "token", "kubeconfig", "user", "cluster", "as", "as-group", "as-uid", "username",
    "password", "client-key", "client-certificate", "certificate-authority",
    "insecure-skip-tls-verify", "cache-dir", "context",
];

fuzz_target!(|data: &[u8]| {
    // NUL separates arguments; the words are whatever bytes came (lossily UTF-8).
    let argv: Vec<String> = data
        .split(|b| *b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let contexts = vec!["prod".to_owned()];
    let at = Defaults { context: "prod", allowed_contexts: &contexts, namespace: "shop" };
    let Ok(checked) = check(&argv, None, at) else {
        return;
    };
    assert!(!checked.assessment.reason.trim().is_empty(), "every assessment has a reason");
    let reparsed = parse(&checked.argv).expect("the canonical form parses");
    assert_eq!(reparsed, checked.command, "{argv:?} runs as something else");
    for flag in &checked.command.flags {
        assert!(!REFUSED.contains(&flag.name.as_str()), "--{} got through: {argv:?}", flag.name);
    }
    if !checked.read_only {
        assert!(checked.assessment.level > RiskLevel::Low, "{argv:?} is a write classified low");
    }
    if checked.command.name() == "delete" {
        let kinds = &checked.command.args;
        let slashed = kinds.iter().any(|a| a.contains('/'));
        let forbidden = if slashed {
            kinds.iter().any(|a| forbidden_kind(a).is_some())
        } else {
            kinds.first().is_some_and(|a| forbidden_kind(a).is_some())
        };
        if forbidden {
            assert_eq!(checked.assessment.level, RiskLevel::Forbidden, "{argv:?}");
        }
    }
    if let Preview::DryRun(dry) = &checked.preview {
        let flag = dry.iter().position(|a| a == "--dry-run=server").expect("a dry run");
        assert!(dry.iter().position(|a| a == "--").is_none_or(|d| flag < d), "{dry:?}");
        assert_eq!(parse(dry).expect("the dry run parses").value("dry-run"), Some("server"));
    }
});
