//! Who is on call, computed from the schedules at any time: each layer hands over every
//! `turn_seconds` from its virtual start, a later layer covers an earlier one, and an escalation
//! policy's levels name users (always on call) or schedules; and a schedule as REST renders it.

use jiff::{SignedDuration, Timestamp};

use serde_json::{Value, json};

use super::model::{Account, Layer, Schedule, Target, Urls, time};

/// A stretch of time one user is on call for a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub start: Timestamp,
    pub end: Timestamp,
    pub user: String,
}

/// The layer's shifts overlapping `[since, until)`.
fn layer_shifts(layer: &Layer, since: Timestamp, until: Timestamp) -> Vec<Shift> {
    if layer.users.is_empty() || layer.turn_seconds <= 0 {
        return Vec::new();
    }
    let turn = SignedDuration::from_secs(layer.turn_seconds);
    let from = since.max(layer.start);
    let elapsed = from.duration_since(layer.virtual_start).as_secs();
    let mut index = elapsed.div_euclid(layer.turn_seconds);
    let mut shifts = Vec::new();
    loop {
        let start = layer.virtual_start + turn * index as i32;
        if start >= until {
            break;
        }
        let user = layer.users[index.rem_euclid(layer.users.len() as i64) as usize].clone();
        shifts.push(Shift {
            start: start.max(layer.start),
            end: start + turn,
            user,
        });
        index += 1;
    }
    shifts
}

/// The final schedule over `[since, until)`: later layers win; neighbouring shifts of one user
/// are joined.
pub fn final_schedule(schedule: &Schedule, since: Timestamp, until: Timestamp) -> Vec<Shift> {
    let mut cuts = vec![since, until];
    let per_layer: Vec<Vec<Shift>> = schedule
        .layers
        .iter()
        .map(|l| layer_shifts(l, since, until))
        .collect();
    for shift in per_layer.iter().flatten() {
        cuts.extend([shift.start, shift.end]);
    }
    cuts.retain(|t| *t >= since && *t <= until);
    cuts.sort();
    cuts.dedup();
    let mut out: Vec<Shift> = Vec::new();
    for pair in cuts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let user = per_layer.iter().rev().find_map(|shifts| {
            shifts
                .iter()
                .find(|s| s.start <= a && a < s.end)
                .map(|s| s.user.clone())
        });
        let Some(user) = user else { continue };
        match out.last_mut() {
            Some(last) if last.user == user && last.end == a => last.end = b,
            _ => out.push(Shift {
                start: a,
                end: b,
                user,
            }),
        }
    }
    // Shifts are reported whole, not cut at the window.
    for shift in &mut out {
        if let Some(full) = per_layer
            .iter()
            .flatten()
            .find(|s| s.user == shift.user && s.start <= shift.start && shift.end <= s.end)
        {
            if shift.start == since {
                shift.start = full.start;
            }
            if shift.end == until {
                shift.end = full.end;
            }
        }
    }
    out
}

/// Who is on call for `schedule` at `at`.
pub fn on_call_at(schedule: &Schedule, at: Timestamp) -> Option<Shift> {
    final_schedule(schedule, at, at + SignedDuration::from_secs(1))
        .into_iter()
        .next()
}

/// One entry of `/oncalls`.
#[derive(Debug, Clone)]
pub struct OnCall {
    pub policy: String,
    pub level: usize,
    pub user: String,
    pub schedule: Option<String>,
    /// `None` for a user named directly by the policy (on call permanently).
    pub shift: Option<(Timestamp, Timestamp)>,
}

/// Every on-call of every policy over `[since, until]`.
pub fn oncalls(account: &Account, since: Timestamp, until: Timestamp) -> Vec<OnCall> {
    let until = until.max(since + SignedDuration::from_secs(1));
    let mut out = Vec::new();
    for policy in account.policies.values() {
        for (i, rule) in policy.rules.iter().enumerate() {
            for target in &rule.targets {
                match target {
                    Target::User(user) => out.push(OnCall {
                        policy: policy.id.clone(),
                        level: i + 1,
                        user: user.clone(),
                        schedule: None,
                        shift: None,
                    }),
                    Target::Schedule(id) => {
                        let Some(schedule) = account.schedules.get(id) else {
                            continue;
                        };
                        for shift in final_schedule(schedule, since, until) {
                            out.push(OnCall {
                                policy: policy.id.clone(),
                                level: i + 1,
                                user: shift.user,
                                schedule: Some(id.clone()),
                                shift: Some((shift.start, shift.end)),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// The users a policy's level (1-based) pages at `at`.
pub fn level_users(account: &Account, policy: &str, level: usize, at: Timestamp) -> Vec<String> {
    let Some(rule) = account
        .policies
        .get(policy)
        .and_then(|p| p.rules.get(level.saturating_sub(1)))
    else {
        return Vec::new();
    };
    let mut users = Vec::new();
    for target in &rule.targets {
        let user = match target {
            Target::User(u) => Some(u.clone()),
            Target::Schedule(s) => account
                .schedules
                .get(s)
                .and_then(|s| on_call_at(s, at))
                .map(|s| s.user),
        };
        if let Some(u) = user.filter(|u| !users.contains(u)) {
            users.push(u);
        }
    }
    users
}

/// A schedule in REST's shape; with a window, its layers' and final schedule's entries in it.
pub fn schedule_json(
    account: &Account,
    urls: &Urls,
    s: &Schedule,
    window: Option<(Timestamp, Timestamp)>,
) -> Value {
    let entries = |shifts: Vec<Shift>| -> Vec<Value> {
        shifts
            .into_iter()
            .map(|sh| json!({ "start": time(sh.start), "end": time(sh.end), "user": account.user_ref(urls, &sh.user) }))
            .collect()
    };
    let layers: Vec<Value> = s
        .layers
        .iter()
        .map(|l| {
            let mut v = json!({
                "id": l.id, "name": l.name, "start": time(l.start), "end": null,
                "rotation_virtual_start": time(l.virtual_start),
                "rotation_turn_length_seconds": l.turn_seconds,
                "users": l.users.iter().map(|u| json!({ "user": account.user_ref(urls, u) })).collect::<Vec<_>>(),
                "restrictions": [],
            });
            if let Some((since, until)) = window {
                let single = Schedule { layers: vec![l.clone()], ..s.clone() };
                let shifts = final_schedule(&single, since, until);
                v["rendered_schedule_entries"] = json!(entries(shifts));
                v["rendered_coverage_percentage"] = json!(100.0);
            }
            v
        })
        .collect();
    let users: Vec<Value> = {
        let mut ids: Vec<&String> = s.layers.iter().flat_map(|l| &l.users).collect();
        ids.dedup();
        ids.into_iter().map(|u| account.user_ref(urls, u)).collect()
    };
    let policies: Vec<Value> = account
        .policies
        .values()
        .filter(|p| {
            p.rules
                .iter()
                .any(|r| r.targets.contains(&Target::Schedule(s.id.clone())))
        })
        .map(|p| account.policy_ref(urls, &p.id))
        .collect();
    let mut v = json!({
        "id": s.id, "type": "schedule", "summary": s.name, "name": s.name, "description": s.description,
        "self": format!("{}/schedules/{}", urls.api, s.id), "html_url": urls.html("schedule", &s.id),
        "time_zone": s.time_zone, "schedule_layers": layers, "users": users,
        "escalation_policies": policies,
        "teams": s.teams.iter().map(|t| account.team_ref(urls, t)).collect::<Vec<_>>(),
    });
    if let Some((since, until)) = window {
        let shifts = final_schedule(s, since, until);
        v["final_schedule"] = json!({ "name": "Final Schedule", "rendered_schedule_entries": entries(shifts), "rendered_coverage_percentage": 100.0 });
        v["overrides_subschedule"] = json!({ "name": "Overrides", "rendered_schedule_entries": [], "rendered_coverage_percentage": 0.0 });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(start: Timestamp) -> Schedule {
        Schedule {
            id: "S".into(),
            name: "weekly".into(),
            description: String::new(),
            time_zone: "UTC".into(),
            teams: vec![],
            layers: vec![Layer {
                id: "L1".into(),
                name: "rotation".into(),
                start,
                virtual_start: start,
                turn_seconds: 7 * 86_400,
                users: vec!["A".into(), "B".into(), "C".into()],
            }],
        }
    }

    #[test]
    fn turns_follow_the_rotation_and_wrap() {
        let start: Timestamp = "2026-11-02T09:00:00Z".parse().unwrap();
        let s = weekly(start);
        let at = |d: &str| on_call_at(&s, d.parse().unwrap()).unwrap().user;
        assert_eq!(at("2026-11-02T09:00:00Z"), "A");
        assert_eq!(at("2026-11-09T08:59:59Z"), "A");
        assert_eq!(at("2026-11-09T09:00:00Z"), "B");
        assert_eq!(at("2026-11-23T10:00:00Z"), "A");
        let shift = on_call_at(&s, "2026-11-10T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(shift.start.to_string(), "2026-11-09T09:00:00Z");
        assert_eq!(shift.end.to_string(), "2026-11-16T09:00:00Z");
    }

    #[test]
    fn a_later_layer_overrides_and_shifts_are_whole() {
        let start: Timestamp = "2026-11-02T09:00:00Z".parse().unwrap();
        let mut s = weekly(start);
        s.layers.push(Layer {
            id: "L2".into(),
            name: "weekend cover".into(),
            start: "2026-11-07T00:00:00Z".parse().unwrap(),
            virtual_start: "2026-11-07T00:00:00Z".parse().unwrap(),
            turn_seconds: 86_400,
            users: vec!["D".into()],
        });
        let shifts = final_schedule(
            &s,
            "2026-11-06T12:00:00Z".parse().unwrap(),
            "2026-11-07T12:00:00Z".parse().unwrap(),
        );
        let users: Vec<&str> = shifts.iter().map(|s| s.user.as_str()).collect();
        assert_eq!(users, ["A", "D"]);
        assert_eq!(shifts[0].start, start);
    }
}
