//! LogQL from models and users on arbitrary text: parsing, the pre-send check, selector
//! extraction and pattern mining never panic; the check never refuses what the parser accepts;
//! error positions fall on character boundaries inside the query.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = opsmcp_logql::parse(q);
    let checked = opsmcp_logql::check(q);
    if parsed.is_ok() {
        assert!(checked.is_ok(), "{q:?} parsed but check refused it: {checked:?}");
    }
    for e in [parsed.err(), checked.err()].into_iter().flatten() {
        if let Some(p) = e.position {
            assert!(p <= q.len() && q.is_char_boundary(p), "{q:?}: position {p}");
        }
        let _ = e.render(q);
    }
    let _ = opsmcp_logql::stream_selectors(q);
    let mut miner = opsmcp_logql::patterns::Miner::default();
    for (i, line) in q.lines().enumerate() {
        miner.add(i as i64, line);
    }
    let _ = miner.patterns();
});
