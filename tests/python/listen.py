"""Follow a resource through a 2026-07-28 `subscriptions/listen` stream with the official Python
MCP SDK, as a modern host does; print what happened as JSON. Used by the gateway's tests.

    listen.py URI --post URL --body JSON [--ca FILE] -- COMMAND [ARGS...]

Once the server acknowledges the stream, BODY is POSTed to URL (the change to be told about,
e.g. a page through PagerDuty's Events API); the first event that arrives is reported, with the
resource read again afterwards.
"""

import argparse
import asyncio
import json
import sys

import anyio
import httpx
from mcp import Client, StdioServerParameters


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("--post", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--ca")
    parser.add_argument("command")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()

    report = {}
    server = StdioServerParameters(command=opts.command, args=opts.args)
    async with Client(server, mode="2026-07-28") as client:
        listed = await client.list_resources()
        report["listed"] = [r.uri for r in listed.resources]
        async with client.listen(resource_subscriptions=[opts.uri], tools_list_changed=True) as sub:
            report["honored"] = sub.honored.model_dump(by_alias=True, exclude_none=True)
            async with httpx.AsyncClient(verify=opts.ca or True) as http:
                posted = await http.post(
                    opts.post, content=opts.body, headers={"content-type": "application/json"}
                )
                report["posted"] = posted.status_code
            with anyio.fail_after(20):
                event = await sub.__anext__()
            report["event"] = {"type": type(event).__name__, "uri": getattr(event, "uri", None)}
        read = await client.read_resource(opts.uri)
        report["text"] = "".join(getattr(c, "text", "") for c in read.contents)
    print(json.dumps(report))


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    except Exception as e:  # one line for the Rust test, with what a task group wrapped
        while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
            e = e.exceptions[0]
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
