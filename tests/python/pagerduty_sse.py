"""A shared opsmcp-pagerduty as seed 004's Copilot agent reaches PagerDuty's: the legacy SSE
endpoint behind nginx, a bearer token in a header. Driven by the official Python MCP SDK.

Usage: pagerduty_sse.py SSE_URL TOKEN EVENTS_URL CA_FILE ROUTING_KEY

Subscribes to pagerduty://events, pages the worker's service through the Events API, waits for
notifications/resources/updated, reads the incident and the on-call, and acknowledges it with
the approval answered yes. Prints a JSON report on its last line; exits non-zero on failure.
"""

import asyncio
import json
import sys

import ssl
import urllib.request
from mcp import ClientSession, types
from mcp.client.sse import sse_client

sse_url, token, events_url, ca_file, routing_key = sys.argv[1:6]
report = {"checks": []}


def check(name, condition, detail=""):
    report["checks"].append({"name": name, "ok": bool(condition), "detail": str(detail)[:400]})


async def approve(context, params):
    return types.ElicitResult(action="accept", content={"approve": True})


def text_of(result):
    return result.content[0].text if result.content else ""


async def main():
    updated = asyncio.Event()
    notices = []

    async def on_message(message):
        inner = getattr(message, "root", message)
        if getattr(inner, "method", None) == "notifications/resources/updated":
            notices.append(inner)
            updated.set()

    headers = {"Authorization": f"Bearer {token}"}
    async with sse_client(sse_url, headers=headers) as (read, write):
        async with ClientSession(read, write, elicitation_callback=approve, message_handler=on_message) as session:
            init = await session.initialize()
            check("server", init.server_info.name == "opsmcp-pagerduty", init.server_info.name)
            subscribable = init.capabilities.resources and init.capabilities.resources.subscribe
            check("resources can be subscribed to", subscribable, init.capabilities.resources)
            tools = [t.name for t in (await session.list_tools()).tools]
            check("tools listed", "incident_get" in tools and "incident_acknowledge" in tools, tools)
            await session.subscribe_resource("pagerduty://events")

            event = json.dumps({
                "routing_key": routing_key, "event_action": "trigger", "dedup_key": "sse-drill-1",
                "payload": {"summary": "[FIRING:1] ContainerOOMKilled shop (worker)", "source": "Alertmanager", "severity": "error"},
            }).encode()
            request = urllib.request.Request(events_url, data=event, headers={"Content-Type": "application/json"})
            tls = ssl.create_default_context(cafile=ca_file)
            with urllib.request.urlopen(request, context=tls, timeout=10) as r:
                check("paged through the Events API", r.status == 202, r.read())

            await asyncio.wait_for(updated.wait(), timeout=20)
            check("told of the new incident without polling", updated.is_set())
            events = await session.read_resource("pagerduty://events")
            body = events.contents[0].text
            check("the event names the incident", "incident.triggered" in body and "ContainerOOMKilled" in body, body)
            number = body.split("incident.triggered #", 1)[1].split(" ", 1)[0]

            got = await session.call_tool("incident_get", {"id": number})
            check("incident_get", not got.is_error and "assigned: Maya Chen" in text_of(got), text_of(got))
            oncall = await session.call_tool("oncalls_list", {"service_id": "PSWORKR"})
            check("oncalls_list", "L1 Maya Chen" in text_of(oncall), text_of(oncall))
            updated.clear()
            ack = await session.call_tool("incident_acknowledge", {"id": number})
            check("acknowledged after the approval", not ack.is_error and "acknowledged: #" in text_of(ack), text_of(ack))
            # The acknowledgement comes back as a webhook too; then the session leaves cleanly.
            await asyncio.wait_for(updated.wait(), timeout=20)
            events = await session.read_resource("pagerduty://events")
            check("the acknowledgement came back by webhook", "incident.acknowledged" in events.contents[0].text, events.contents[0].text)
            await session.unsubscribe_resource("pagerduty://events")


try:
    asyncio.run(asyncio.wait_for(main(), timeout=60))
except Exception as e:  # a crash is a failed check, reported with the rest
    check("the client ran without error", False, f"{type(e).__name__}: {e}")
report["ok"] = all(c["ok"] for c in report["checks"])
print(json.dumps(report))
sys.exit(0 if report["ok"] else 1)
