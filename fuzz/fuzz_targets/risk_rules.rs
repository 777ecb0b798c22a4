//! The operator's risk-rules parser on arbitrary text: it never panics, errors point at a line
//! of the input, and a parsed rule set never lowers a forbidden action.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsmcp_core::risk::{Action, Assessment, RiskLevel, RiskRules};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RiskRules::parse("fuzz.toml", text) {
        Ok(rules) => {
            let action = Action {
                verb: "delete".into(),
                resource: Some("namespace".into()),
                ..Action::default()
            };
            let out = rules.apply(&action, Assessment::new(RiskLevel::Forbidden, "forbidden"));
            assert_eq!(out.level, RiskLevel::Forbidden);
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "line {} of {lines}: {e}",
                e.line
            );
            assert!(!e.problem.is_empty());
        }
    }
});
