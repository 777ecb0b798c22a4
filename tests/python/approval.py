"""Answer an opsmcp server's approval questions with the official Python MCP SDK, as a user would,
and print what happened as JSON. Used by tests/tests/approval.rs.

    approval.py TRANSPORT PROTOCOL ANSWER --tool NAME --arguments JSON -- TARGET [SERVER ARGS...]

TRANSPORT  stdio (TARGET is the server command) or http (TARGET is the /mcp URL)
PROTOCOL   legacy (initialize handshake; the server asks with elicitation/create) or 2026-07-28
           (no handshake; the server answers with an input-required result)
ANSWER     yes (accept, approve=true), no (accept, approve=false), decline, cancel, or none (the
           client declares no elicitation capability at all)

With --forgery (2026-07-28 only) the input-required loop is driven by hand to check that a
tampered request state, changed arguments and a replayed state are all refused, and that the
genuine answer runs the change exactly once.
"""

import argparse
import asyncio
import json
import sys

from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError


def answerer(answer, asked):
    async def answer_elicitation(context, params):
        asked.append(params.message)
        if answer == "yes":
            return types.ElicitResult(action="accept", content={"approve": True})
        if answer == "no":
            return types.ElicitResult(action="accept", content={"approve": False})
        return types.ElicitResult(action=answer)

    return answer_elicitation


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def forgery(client, tool, arguments, report):
    """Drive the 2026-07-28 loop by hand and try to cheat it."""
    first = await client.session.call_tool(tool, arguments, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult), f"expected a question, got {first!r}"
    report["asked"] = [first.input_requests["approval"].params.message]
    state = first.request_state
    yes = {"approval": types.ElicitResult(action="accept", content={"approve": True})}

    async def attempt(args, request_state):
        try:
            result = await client.session.call_tool(
                tool, args, input_responses=yes, request_state=request_state, allow_input_required=True
            )
            if isinstance(result, types.InputRequiredResult):
                return "asked again"
            return ("error: " if result.is_error else "ran: ") + text_of(result)
        except MCPError as e:
            return f"refused: {e.error.message}"

    report["no_state"] = await attempt(arguments, None)
    report["tampered"] = await attempt(arguments, state[:-6] + ("AAAAAA" if not state.endswith("AAAAAA") else "BBBBBB"))
    changed = dict(arguments)
    changed["comment"] = str(changed.get("comment", "")) + " (changed after approval)"
    report["changed_arguments"] = await attempt(changed, state)
    report["genuine"] = await attempt(arguments, state)
    report["replayed"] = await attempt(arguments, state)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("protocol", choices=["legacy", "2026-07-28"])
    parser.add_argument("answer", choices=["yes", "no", "decline", "cancel", "none"])
    parser.add_argument("--tool", required=True)
    parser.add_argument("--arguments", required=True, type=json.loads)
    parser.add_argument("--forgery", action="store_true")
    parser.add_argument("--token", help="bearer token for http")
    parser.add_argument("target")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()

    asked = []
    callback = None if opts.answer == "none" else answerer(opts.answer, asked)
    report = {"transport": opts.transport, "protocol": opts.protocol, "answer": opts.answer}

    async def session(server):
        async with Client(server, mode=opts.protocol, elicitation_callback=callback) as client:
            await client.list_tools()
            if opts.forgery:
                await forgery(client, opts.tool, opts.arguments, report)
            else:
                result = await client.call_tool(opts.tool, opts.arguments)
                report["is_error"] = bool(result.is_error)
                report["text"] = text_of(result)
                report["asked"] = asked

    if opts.transport == "stdio":
        await session(StdioServerParameters(command=opts.target, args=opts.args))
    else:
        headers = {"Authorization": f"Bearer {opts.token}"} if opts.token else None
        async with create_mcp_http_client(headers=headers) as http:
            await session(streamable_http_client(opts.target, http_client=http))
    print(json.dumps(report))


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    except Exception as e:  # one line for the Rust test
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
