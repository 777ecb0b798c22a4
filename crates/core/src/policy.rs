//! The execution policy: given an action's risk, the operator's mode and switches, the host's
//! confidence and the circuit breaker, decide whether to execute, preview, ask the user, skip
//! or refuse, and say why. [`decide`] is a pure function, tested exhaustively below.
//!
//! Plain Rust: no MCP and no backend types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::risk::RiskLevel;

/// How changes run (`OPSMCP_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Never execute: show what would run, its risk and a preview.
    Plan,
    /// Ask the user through MCP elicitation; execute only on an explicit yes.
    Approval,
    /// Execute automatically when the host is confident enough; otherwise ask.
    Yolo,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Plan => "plan",
            Mode::Approval => "approval",
            Mode::Yolo => "yolo",
        })
    }
}

/// Confidence thresholds of yolo mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Execute low and medium risk at or above this confidence.
    pub execute: f64,
    /// Execute high risk at or above this confidence.
    pub execute_high: f64,
    /// Below this, skip instead of asking.
    pub skip_below: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            execute: 0.8,
            execute_high: 0.9,
            skip_below: 0.7,
        }
    }
}

/// Operator switches and live state that bear on the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switches {
    /// `--read-only`: only reads run.
    pub read_only: bool,
    /// The server's destructive switch (`K8S_ENABLE_DESTRUCTIVE_OPERATIONS=true`,
    /// `--enable-destructive` elsewhere).
    pub destructive_enabled: bool,
    /// The circuit breaker is open: no automatic execution.
    pub breaker_open: bool,
}

/// What to do with an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Execute,
    /// Plan mode: return the command, the risk and the preview without executing.
    Preview,
    /// Ask the user (elicitation); execute only on accept.
    Ask,
    /// Yolo with too little confidence: not executed, not asked.
    Skip,
    /// Never executed, whatever the user says.
    Refuse,
}

/// A decision and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
}

fn verdict(decision: Decision, reason: impl Into<String>) -> Verdict {
    Verdict {
        decision,
        reason: reason.into(),
    }
}

/// Decide what happens to an action of `risk` in `mode`. `destructive_switch` names the switch
/// that enables high-risk actions on this server, for the message.
pub fn decide(
    mode: Mode,
    risk: RiskLevel,
    confidence: Option<f64>,
    switches: Switches,
    thresholds: Thresholds,
    destructive_switch: &str,
) -> Verdict {
    if risk == RiskLevel::Forbidden {
        return verdict(
            Decision::Refuse,
            "forbidden actions are never executed, in any mode",
        );
    }
    if risk == RiskLevel::Low {
        return verdict(Decision::Execute, "reads run in every mode");
    }
    if switches.read_only {
        return verdict(
            Decision::Refuse,
            "the server runs read-only (--read-only / OPSMCP_READ_ONLY)",
        );
    }
    if risk == RiskLevel::High && !switches.destructive_enabled {
        return verdict(
            Decision::Refuse,
            format!(
                "high-risk actions are disabled on this server; an operator can enable them with {destructive_switch}"
            ),
        );
    }
    match mode {
        Mode::Plan => verdict(Decision::Preview, "plan mode: nothing is executed"),
        Mode::Approval => verdict(
            Decision::Ask,
            format!("approval mode: {risk}-risk changes need the user's yes"),
        ),
        Mode::Yolo => {
            let Some(c) = confidence.filter(|c| c.is_finite()) else {
                return verdict(
                    Decision::Ask,
                    "yolo mode without a confidence: asking the user",
                );
            };
            if switches.breaker_open {
                return verdict(
                    Decision::Ask,
                    "the circuit breaker is open after repeated failures: asking instead of executing",
                );
            }
            if c < thresholds.skip_below {
                return verdict(
                    Decision::Skip,
                    format!(
                        "confidence {c:.2} is below {:.2}: skipped; gather more evidence or ask for approval",
                        thresholds.skip_below
                    ),
                );
            }
            let needed = if risk == RiskLevel::High {
                thresholds.execute_high
            } else {
                thresholds.execute
            };
            if c >= needed {
                verdict(
                    Decision::Execute,
                    format!("yolo mode: confidence {c:.2} ≥ {needed:.2} for {risk} risk"),
                )
            } else {
                verdict(
                    Decision::Ask,
                    format!(
                        "confidence {c:.2} is below {needed:.2} for {risk} risk: asking the user"
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RiskLevel::*;

    const MODES: [Mode; 3] = [Mode::Plan, Mode::Approval, Mode::Yolo];
    const RISKS: [RiskLevel; 4] = [Low, Medium, High, Forbidden];
    const CONFIDENCES: [Option<f64>; 10] = [
        None,
        Some(0.0),
        Some(0.5),
        Some(0.69),
        Some(0.7),
        Some(0.79),
        Some(0.8),
        Some(0.89),
        Some(0.9),
        Some(1.0),
    ];

    fn all_switches() -> Vec<Switches> {
        let mut out = Vec::new();
        for read_only in [false, true] {
            for destructive_enabled in [false, true] {
                for breaker_open in [false, true] {
                    out.push(Switches {
                        read_only,
                        destructive_enabled,
                        breaker_open,
                    });
                }
            }
        }
        out
    }

    fn d(mode: Mode, risk: RiskLevel, c: Option<f64>, s: Switches) -> Decision {
        decide(
            mode,
            risk,
            c,
            s,
            Thresholds::default(),
            "K8S_ENABLE_DESTRUCTIVE_OPERATIONS=true",
        )
        .decision
    }

    /// The whole space, 3 × 4 × 10 × 8 = 960 cases, against the rules written out once more.
    #[test]
    fn exhaustive() {
        let mut cases = 0;
        for mode in MODES {
            for risk in RISKS {
                for c in CONFIDENCES {
                    for s in all_switches() {
                        cases += 1;
                        let expected = if risk == Forbidden {
                            Decision::Refuse
                        } else if risk == Low {
                            Decision::Execute
                        } else if s.read_only || (risk == High && !s.destructive_enabled) {
                            Decision::Refuse
                        } else {
                            match mode {
                                Mode::Plan => Decision::Preview,
                                Mode::Approval => Decision::Ask,
                                Mode::Yolo => match c {
                                    None => Decision::Ask,
                                    Some(_) if s.breaker_open => Decision::Ask,
                                    Some(c) if c < 0.7 => Decision::Skip,
                                    Some(c) if c >= if risk == High { 0.9 } else { 0.8 } => {
                                        Decision::Execute
                                    }
                                    Some(_) => Decision::Ask,
                                },
                            }
                        };
                        assert_eq!(d(mode, risk, c, s), expected, "{mode} {risk} {c:?} {s:?}");
                    }
                }
            }
        }
        assert_eq!(cases, 960);
    }

    #[test]
    fn forbidden_is_refused_everywhere() {
        for mode in MODES {
            for c in CONFIDENCES {
                for s in all_switches() {
                    assert_eq!(d(mode, Forbidden, c, s), Decision::Refuse);
                }
            }
        }
    }

    #[test]
    fn nothing_but_reads_runs_in_plan_mode() {
        for risk in [Medium, High] {
            for c in CONFIDENCES {
                for s in all_switches() {
                    assert_ne!(d(Mode::Plan, risk, c, s), Decision::Execute);
                }
            }
        }
    }

    #[test]
    fn reasons_explain() {
        let v = decide(
            Mode::Yolo,
            High,
            Some(0.95),
            Switches::default(),
            Thresholds::default(),
            "K8S_ENABLE_DESTRUCTIVE_OPERATIONS=true",
        );
        assert_eq!(v.decision, Decision::Refuse);
        assert!(
            v.reason.contains("K8S_ENABLE_DESTRUCTIVE_OPERATIONS=true"),
            "{}",
            v.reason
        );
        let v = decide(
            Mode::Yolo,
            Medium,
            Some(0.5),
            Switches::default(),
            Thresholds::default(),
            "",
        );
        assert_eq!(
            v.reason,
            "confidence 0.50 is below 0.70: skipped; gather more evidence or ask for approval"
        );
        // NaN is no confidence at all.
        assert_eq!(
            d(Mode::Yolo, Medium, Some(f64::NAN), Switches::default()),
            Decision::Ask
        );
    }

    #[test]
    fn thresholds_are_configurable() {
        let strict = Thresholds {
            execute: 0.95,
            execute_high: 0.99,
            skip_below: 0.5,
        };
        let s = Switches::default();
        assert_eq!(
            decide(Mode::Yolo, Medium, Some(0.9), s, strict, "").decision,
            Decision::Ask
        );
        assert_eq!(
            decide(Mode::Yolo, Medium, Some(0.6), s, strict, "").decision,
            Decision::Ask
        );
        assert_eq!(
            decide(Mode::Yolo, Medium, Some(0.96), s, strict, "").decision,
            Decision::Execute
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::risk::{Action, RiskRules, Rule, classify_action};

        fn mode() -> impl Strategy<Value = Mode> {
            prop::sample::select(&MODES[..])
        }

        fn level() -> impl Strategy<Value = RiskLevel> {
            prop::sample::select(&RISKS[..])
        }

        /// Any f64 at all, including NaN, infinities and values outside 0–1.
        fn confidence() -> impl Strategy<Value = Option<f64>> {
            prop::option::of(prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                -1.0..2.0f64
            ])
        }

        fn switches() -> impl Strategy<Value = Switches> {
            (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(r, d, b)| Switches {
                read_only: r,
                destructive_enabled: d,
                breaker_open: b,
            })
        }

        fn thresholds() -> impl Strategy<Value = Thresholds> {
            (any::<f64>(), any::<f64>(), any::<f64>()).prop_map(|(e, h, s)| Thresholds {
                execute: e,
                execute_high: h,
                skip_below: s,
            })
        }

        fn rule() -> impl Strategy<Value = Rule> {
            (level(), any::<bool>(), prop::option::of("[a-z*]{1,8}")).prop_map(
                |(level, allow_lower, namespace)| Rule {
                    server: None,
                    tool: None,
                    verb: None,
                    resource: None,
                    namespace,
                    name: None,
                    level,
                    reason: "operator rule".into(),
                    allow_lower,
                },
            )
        }

        proptest! {
            /// Forbidden is refused in every mode, whatever the confidence, switches and
            /// thresholds.
            #[test]
            fn forbidden_is_always_refused(mode in mode(), c in confidence(), s in switches(), t in thresholds()) {
                prop_assert_eq!(decide(mode, RiskLevel::Forbidden, c, s, t, "x").decision, Decision::Refuse);
            }

            /// Deleting a forbidden kind through a structured action is refused after any
            /// operator rules, in any mode, for any other input.
            #[test]
            fn forbidden_actions_survive_rules_and_policy(
                kind in prop::sample::select(&["namespace", "ns", "node", "no", "pv", "persistentvolume", "pvc", "persistentvolumeclaims", "Namespace"][..]),
                name in "[a-z][a-z0-9-]{0,12}",
                namespace in prop::option::of("[a-z][a-z0-9-]{0,12}"),
                base in prop::option::of(level()),
                rules in prop::collection::vec(rule(), 0..4),
                mode in mode(), c in confidence(), s in switches(), t in thresholds(),
            ) {
                let action = Action {
                    server: "kubernetes".into(),
                    tool: "resource_delete".into(),
                    verb: "delete".into(),
                    resource: Some(kind.to_owned()),
                    namespace,
                    name: Some(name),
                    base,
                    ..Action::default()
                };
                let rules = RiskRules::from_rules(rules);
                let assessment = rules.apply(&action, classify_action(&action));
                prop_assert_eq!(assessment.level, RiskLevel::Forbidden);
                prop_assert_eq!(decide(mode, assessment.level, c, s, t, "x").decision, Decision::Refuse);
            }

            /// Nothing executes while read-only except reads, and high risk never executes
            /// without the destructive switch.
            #[test]
            fn switches_hold(mode in mode(), risk in level(), c in confidence(), s in switches(), t in thresholds()) {
                let d = decide(mode, risk, c, s, t, "x").decision;
                if d == Decision::Execute {
                    prop_assert!(risk == RiskLevel::Low || !s.read_only);
                    prop_assert!(risk != RiskLevel::High || s.destructive_enabled);
                    prop_assert!(risk == RiskLevel::Low || (mode == Mode::Yolo && !s.breaker_open));
                }
            }
        }
    }
}
