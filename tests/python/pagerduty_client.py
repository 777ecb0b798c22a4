"""PagerDuty's official Python client (`pagerduty`) against the sandbox's PagerDuty stand-in.

Usage: pagerduty_client.py BASE_URL CA_FILE API_KEY FROM_EMAIL ROUTING_KEY

Pages the worker's service through the Events API, then iterates every incident across pages,
gets one, acknowledges it with From, adds a note, lists on-calls and reads /users/me, and checks
the refusals the client surfaces (no From, a wrong key). Prints a JSON report on its last line;
exits non-zero if any expectation fails.
"""

import json
import sys

import pagerduty

base_url, ca_file, api_key, from_email, routing_key = sys.argv[1:6]
report = {"checks": []}


def check(name, condition, detail=""):
    report["checks"].append({"name": name, "ok": bool(condition), "detail": str(detail)[:300]})


try:
    events = pagerduty.EventsApiV2Client(routing_key, base_url=base_url, verify=ca_file)
    keys = []
    for n in range(120):
        keys.append(
            events.trigger(
                f"contract test {n}: queue depth high",
                "contract-test",
                dedup_key=f"contract-{n}",
                severity="warning",
                custom_details={"n": str(n)},
            )
        )
    check("events: dedup keys come back", keys[0] == "contract-0", keys[0])
    again = events.trigger("contract test 0: again", "contract-test", dedup_key="contract-0")
    check("events: a trigger for an open alert is de-duplicated", again == "contract-0", again)

    rest = pagerduty.RestApiV2Client(api_key, default_from=from_email, base_url=base_url, verify=ca_file)
    incidents = list(rest.iter_all("incidents", params={"date_range": "all"}))
    ids = [i["id"] for i in incidents]
    contract = [i for i in incidents if i["title"].startswith("contract test")]
    check("iter_all: every incident across pages", len(contract) == 120, len(contract))
    check("iter_all: no incident twice", len(ids) == len(set(ids)), len(ids))

    first = contract[0]
    got = rest.rget(f"incidents/{first['id']}")
    check("rget: the incident", got["id"] == first["id"] and got["status"] == "triggered", got.get("status"))
    check(
        "rget: assigned to the on-call of the worker's policy",
        [a["assignee"]["summary"] for a in got["assignments"]] == ["Maya Chen"],
        got["assignments"],
    )

    acked = rest.rput(
        f"incidents/{first['id']}",
        json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
    )
    check("rput: acknowledged with From", acked["status"] == "acknowledged", acked["status"])
    check(
        "rput: the acknowledger is the From user",
        acked["acknowledgements"][0]["acknowledger"]["summary"] == "Maya Chen",
        acked["acknowledgements"],
    )

    note = rest.rpost(f"incidents/{first['id']}/notes", json={"note": {"content": "looking at the queue"}})
    check("rpost: a note", note["content"] == "looking at the queue", note)
    notes = rest.rget(f"incidents/{first['id']}/notes")
    check("rget: the notes", [n["content"] for n in notes] == ["looking at the queue"], notes)

    log = list(rest.iter_all(f"incidents/{first['id']}/log_entries"))
    kinds = [e["type"] for e in log]
    check(
        "log entries: trigger, acknowledge and annotate",
        {"trigger_log_entry", "acknowledge_log_entry", "annotate_log_entry"} <= set(kinds),
        kinds,
    )

    oncalls = list(rest.iter_all("oncalls"))
    level_one = [o["user"]["summary"] for o in oncalls if o["escalation_policy"]["summary"] == "Platform" and o["escalation_level"] == 1]
    check("oncalls: Maya Chen is on call for Platform now", level_one == ["Maya Chen"], level_one)

    me = rest.rget("users/me")
    check("users/me with a user key", me["email"] == from_email, me.get("email"))

    services = rest.dict_all("services", by="name")
    check("dict_all: services by name", "worker" in services and "checkout" in services, list(services))

    anonymous = pagerduty.RestApiV2Client(api_key, base_url=base_url, verify=ca_file)
    try:
        anonymous.rput(
            f"incidents/{first['id']}",
            json={"incident": {"type": "incident_reference", "status": "resolved"}},
        )
        check("no From: refused", False, "accepted")
    except pagerduty.HttpError as e:
        body = e.response.json()
        check(
            "no From: 400 with PagerDuty's message",
            e.response.status_code == 400 and "From" in body["error"]["errors"][0],
            body,
        )

    wrong = pagerduty.RestApiV2Client("not-the-key", base_url=base_url, verify=ca_file)
    try:
        wrong.rget("users")
        check("wrong key: refused", False, "accepted")
    except pagerduty.HttpError as e:
        check("wrong key: 401", e.response.status_code == 401, e.response.status_code)
except Exception as e:  # a crash is a failed check, reported with the rest
    check("the client ran without error", False, repr(e))

report["ok"] = all(c["ok"] for c in report["checks"])
print(json.dumps(report))
sys.exit(0 if report["ok"] else 1)
