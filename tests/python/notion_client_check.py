"""Notion's official Python client (notion-client 3.1.0) against the sandbox's Notion stand-in.

Usage: notion_client_check.py BASE_URL TOKEN api|throttled

`api`: searches for the runbook, retrieves it and walks its block tree, finds the incidents data
source and its schema, creates an incident report page with properties and children in it,
queries with a compound filter and sorts, pages through the runbooks two at a time, appends
after a block (2025-09-03's `after`) and at the start (2026-03-11's `position`), comments, and
checks Notion's refusals (a text run over 2,000 characters, three levels of nesting, an unknown
property, an old or missing Notion-Version, a wrong token, a page that does not exist).
`throttled` (the stand-in limited to a few requests a second): a burst of calls is answered
429 `rate_limited` with Retry-After, and the client's retries get every call through.

Prints a JSON report on its last line; exits non-zero on failure.
"""

import json
import logging
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
from notion_client import APIResponseError, Client
from notion_client.helpers import collect_paginated_api, is_full_block, is_full_page

base_url, token, mode = sys.argv[1:4]
report = {"checks": []}


def check(name, condition, detail=""):
    report["checks"].append({"name": name, "ok": bool(condition), "detail": str(detail)[:400]})


def refused(name, call, code):
    try:
        call()
        check(name, False, "accepted")
    except APIResponseError as e:
        check(name, e.code == code, f"{e.code}: {e}")


def tree(client, block_id, depth=0):
    """Every block under `block_id`, depth first, as (depth, block)."""
    out = []
    for b in collect_paginated_api(client.blocks.children.list, block_id=block_id):
        out.append((depth, b))
        if b["has_children"]:
            out.extend(tree(client, b["id"], depth + 1))
    return out


def text(block):
    body = block[block["type"]]
    return "".join(t["plain_text"] for t in body.get("rich_text", []))


try:
    logging.getLogger("notion_client").setLevel(logging.CRITICAL)
    notion = Client(auth=token, base_url=base_url)
    if mode == "api":
        found = notion.search(query="Worker OOM", filter={"property": "object", "value": "page"})
        titled = {"".join(t["plain_text"] for p in r["properties"].values() if p["type"] == "title" for t in p["title"]): r for r in found["results"] if is_full_page(r)}
        check("search finds the runbook and last month's report", sorted(titled) == ["Worker OOM runbook", "Worker OOM-killed after the 1.3 rollout"] and found["object"] == "list", sorted(titled))
        pages = [titled.get("Worker OOM runbook")]
        runbook = notion.pages.retrieve(page_id=pages[0]["id"])
        title = "".join(t["plain_text"] for t in runbook["properties"]["Name"]["title"])
        check("the runbook page", title == "Worker OOM runbook" and runbook["parent"]["type"] == "data_source_id", title)
        blocks = tree(notion, runbook["id"])
        kinds = [b["type"] for _, b in blocks]
        check("its blocks are full blocks", all(is_full_block(b) for _, b in blocks), kinds[:5])
        for kind in ["callout", "heading_2", "bulleted_list_item", "numbered_list_item", "code", "table", "table_row", "heading_3", "paragraph", "divider"]:
            check(f"the runbook has a {kind}", kind in kinds, kinds)
        nested_code = [b for d, b in blocks if d == 1 and b["type"] == "code"]
        check("steps hold their kubectl commands", any("kubectl set resources deployment/worker" in text(b) and b["code"]["language"] == "bash" for b in nested_code), [text(b) for b in nested_code])
        rows = [b["table_row"]["cells"] for _, b in blocks if b["type"] == "table_row"]
        check("the table of limits", len(rows) == 4 and rows[2][1][0]["plain_text"] == "128Mi", rows[:2])

        sources = notion.search(query="Incidents", filter={"property": "object", "value": "data_source"})["results"]
        check("search finds the incidents data source", len(sources) == 1 and sources[0]["object"] == "data_source", [s.get("object") for s in sources])
        incidents = notion.data_sources.retrieve(data_source_id=sources[0]["id"])
        severities = [o["name"] for o in incidents["properties"]["Severity"]["select"]["options"]]
        check("its schema", severities == ["SEV1", "SEV2", "SEV3"] and incidents["properties"]["Duration (min)"]["type"] == "number", severities)
        database = notion.databases.retrieve(database_id=incidents["parent"]["database_id"])
        check("the database holds the data source", [d["id"] for d in database["data_sources"]] == [incidents["id"]], database["data_sources"])
        maya = next(u for u in collect_paginated_api(notion.users.list) if u.get("name") == "Maya Chen")
        # Two days ago, so that "the past week" holds it on any date the test runs.
        started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
        resolved = started + timedelta(minutes=38)
        report_page = notion.pages.create(
            parent={"data_source_id": incidents["id"]},
            properties={
                "Title": {"title": [{"text": {"content": "Worker OOM-killed at its 64Mi limit"}}]},
                "Severity": {"select": {"name": "SEV2"}},
                "Status": {"status": {"name": "Resolved"}},
                "Service": {"select": {"name": "worker"}},
                "Started": {"date": {"start": started.isoformat().replace("+00:00", "Z")}},
                "Resolved": {"date": {"start": resolved.isoformat().replace("+00:00", "Z")}},
                "Duration (min)": {"number": 38},
                "PR": {"url": "https://github.com/shop/worker/pull/43"},
                "On-call": {"people": [{"id": maya["id"]}]},
            },
            children=[
                {"heading_2": {"rich_text": [{"text": {"content": "Summary"}}]}},
                {"paragraph": {"rich_text": [{"text": {"content": "The worker leaked its batch buffer."}}]}},
                {"to_do": {"rich_text": [{"text": {"content": "Add a memory test"}}], "checked": False}},
            ],
        )
        props = report_page["properties"]
        check("a report page in the data source", is_full_page(report_page) and props["Severity"]["select"]["name"] == "SEV2" and props["Status"]["status"]["name"] == "Resolved" and props["On-call"]["people"][0]["name"] == "Maya Chen", props.get("Severity"))
        check("its children", [b["type"] for _, b in tree(notion, report_page["id"])] == ["heading_2", "paragraph", "to_do"], "")
        query = notion.data_sources.query(
            data_source_id=incidents["id"],
            filter={"and": [{"property": "Service", "select": {"equals": "worker"}}, {"or": [{"property": "Severity", "select": {"equals": "SEV1"}}, {"property": "Severity", "select": {"equals": "SEV2"}}]}]},
            sorts=[{"property": "Started", "direction": "descending"}],
        )
        titles = ["".join(t["plain_text"] for t in r["properties"]["Title"]["title"]) for r in query["results"]]
        check("a compound filter and a sort", titles == ["Worker OOM-killed at its 64Mi limit", "Worker OOM-killed after the 1.3 rollout"], titles)
        recent = notion.data_sources.query(data_source_id=incidents["id"], filter={"property": "Started", "date": {"past_week": {}}})
        check("a relative date filter", len(recent["results"]) == 1, len(recent["results"]))
        runbooks = notion.search(query="Runbooks", filter={"property": "object", "value": "data_source"})["results"][0]
        paged = collect_paginated_api(notion.data_sources.query, data_source_id=runbooks["id"], page_size=2)
        check("paging through runbooks two at a time", len(paged) == 5 and len({p["id"] for p in paged}) == 5, len(paged))

        first = collect_paginated_api(notion.blocks.children.list, block_id=report_page["id"])[0]
        notion.blocks.children.append(block_id=report_page["id"], after=first["id"], children=[{"paragraph": {"rich_text": [{"text": {"content": "inserted"}}]}}])
        order = [text(b) for _, b in tree(notion, report_page["id"])]
        check("append after a block (2025-09-03)", order[:3] == ["Summary", "inserted", "The worker leaked its batch buffer."], order)
        newer = Client(auth=token, base_url=base_url, notion_version="2026-03-11")
        newer.blocks.children.append(block_id=report_page["id"], position={"type": "start"}, children=[{"paragraph": {"rich_text": [{"text": {"content": "first"}}]}}])
        order = [text(b) for _, b in tree(notion, report_page["id"])]
        check("append at the start (2026-03-11)", order[0] == "first", order)
        check("2026-03-11 has in_trash, not archived", "archived" not in newer.pages.retrieve(page_id=report_page["id"]) and "archived" in runbook, "")
        refused("`after` is refused in 2026-03-11", lambda: newer.blocks.children.append(block_id=report_page["id"], after=first["id"], children=[]), "validation_error")

        comment = notion.comments.create(parent={"page_id": report_page["id"]}, rich_text=[{"text": {"content": "Reviewed."}}])
        listed = notion.comments.list(block_id=report_page["id"])["results"]
        check("a comment", [c["id"] for c in listed] == [comment["id"]], listed)
        me = notion.users.me()
        check("the integration's bot", me["type"] == "bot", me.get("type"))

        refused("a text run over 2,000 characters", lambda: notion.blocks.children.append(block_id=report_page["id"], children=[{"paragraph": {"rich_text": [{"text": {"content": "x" * 2001}}]}}]), "validation_error")
        deep = {"toggle": {"rich_text": [{"text": {"content": "1"}}], "children": [{"toggle": {"rich_text": [{"text": {"content": "2"}}], "children": [{"paragraph": {"rich_text": [{"text": {"content": "3"}}]}}]}}]}}
        refused("three levels of nesting in one request", lambda: notion.blocks.children.append(block_id=report_page["id"], children=[deep]), "validation_error")
        refused("101 children in one request", lambda: notion.blocks.children.append(block_id=report_page["id"], children=[{"divider": {}}] * 101), "validation_error")
        refused("an unknown property", lambda: notion.pages.create(parent={"data_source_id": incidents["id"]}, properties={"Nope": {"number": 1}}), "validation_error")
        refused("a page that does not exist", lambda: notion.pages.retrieve(page_id="00000000-0000-4000-8000-000000000000"), "object_not_found")
        refused("an old Notion-Version", lambda: Client(auth=token, base_url=base_url, notion_version="2022-06-28").users.me(), "validation_error")
        refused("a wrong token", lambda: Client(auth="ntn_wrong", base_url=base_url).users.me(), "unauthorized")
        bare = httpx.get(f"{base_url}/v1/users/me", headers={"authorization": f"Bearer {token}"})
        check("a missing Notion-Version", bare.status_code == 400 and bare.json()["code"] == "missing_version", bare.text[:200])
    else:
        strict = Client(auth=token, base_url=base_url, retry=False)
        codes = []
        for _ in range(8):
            try:
                strict.users.me()
                codes.append(200)
            except APIResponseError as e:
                codes.append(e.code)
        check("a burst is rate limited", "rate_limited" in codes, codes)
        raw = httpx.get(f"{base_url}/v1/users/me", headers={"authorization": f"Bearer {token}", "notion-version": "2025-09-03"})
        check("429 with Retry-After", raw.status_code == 429 and int(raw.headers.get("retry-after", "0")) >= 1, raw.headers.get("retry-after"))
        patient = Client(auth=token, base_url=base_url)
        started = time.time()
        ok = [patient.users.me()["type"] for _ in range(4)]
        check("the client's retries get through", ok == ["bot"] * 4 and time.time() - started >= 1, time.time() - started)
except Exception as e:
    check("the client ran without error", False, f"{type(e).__name__}: {e}")

report["ok"] = all(c["ok"] for c in report["checks"])
print(json.dumps(report))
sys.exit(0 if report["ok"] else 1)
