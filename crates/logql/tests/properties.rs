//! Properties over arbitrary input: parsing never panics (queries come from models and users),
//! the pre-send check never refuses what the full parser accepts, and errors point inside the
//! query.

use proptest::prelude::*;

/// Text built from LogQL's own pieces, so many samples get deep into the grammar.
fn logqlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[5m]".to_owned()),
        Just(",".to_owned()),
        Just("app=\"a\"".to_owned()),
        Just("ns=~\"x|y\"".to_owned()),
        Just("|= \"err\"".to_owned()),
        Just("!~ \"(?i)t\"".to_owned()),
        Just("| json".to_owned()),
        Just("| logfmt".to_owned()),
        Just("| status >= 500".to_owned()),
        Just("| line_format \"{{.msg}}\"".to_owned()),
        Just("sum by (pod) ".to_owned()),
        Just("count_over_time".to_owned()),
        Just("rate".to_owned()),
        Just("topk(3, ".to_owned()),
        Just(" / ".to_owned()),
        Just(" > 2".to_owned()),
        Just("\"".to_owned()),
        Just("`".to_owned()),
        Just("\\".to_owned()),
        "[a-z_]{1,6}",
        "[0-9]{1,4}",
        "[ -~]{1,3}",
    ];
    prop::collection::vec(piece, 0..14).prop_map(|pieces| pieces.join(""))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics_and_check_accepts_what_parse_accepts(q in logqlish()) {
        let parsed = opsmcp_logql::parse(&q);
        let checked = opsmcp_logql::check(&q);
        if parsed.is_ok() {
            prop_assert!(checked.is_ok(), "{q:?} parsed but check refused it: {checked:?}");
        }
        for e in [parsed.err(), checked.err()].into_iter().flatten() {
            if let Some(p) = e.position {
                prop_assert!(p <= q.len(), "{q:?}: position {p} beyond the query");
                prop_assert!(q.is_char_boundary(p), "{q:?}: position {p} inside a character");
            }
            // Rendering never panics either.
            let _ = e.render(&q);
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(q in "\\PC{0,40}") {
        let _ = opsmcp_logql::parse(&q);
        let _ = opsmcp_logql::check(&q);
        let _ = opsmcp_logql::stream_selectors(&q);
        let _ = opsmcp_logql::patterns::template_of(&q);
    }

    #[test]
    fn escaped_text_is_matched_literally(text in "\\PC{0,30}") {
        let q = format!(
            "{{app=\"x\"}} |= {} |~ {}",
            opsmcp_logql::escape_string(&text),
            opsmcp_logql::escape_string(&opsmcp_logql::escape_regex(&text))
        );
        let Ok(opsmcp_logql::Query::Log(query)) = opsmcp_logql::parse(&q) else {
            return Err(TestCaseError::fail(format!("{q:?} did not parse")));
        };
        for stage in &query.pipeline {
            let opsmcp_logql::Stage::Line(filter) = stage else { unreachable!() };
            prop_assert!(filter.keeps(&format!("before {text} after")), "{q:?}");
        }
    }
}
