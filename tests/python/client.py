"""Drive an opsmcp server with the official Python MCP SDK and print what happened as JSON.

Used by the e2e tests (tests/tests/python_sdk.rs): the server is the thing under test, this
script is a real third-party client. Exit status 0 means every step succeeded.

    client.py stdio -- /path/to/opsmcp-fixture
    client.py http  http://127.0.0.1:8080/mcp [--token T]
    client.py sse   http://127.0.0.1:8080/sse [--token T]
"""

import argparse
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def answer_elicitation(context, params):
    """Accept every form with a fixed answer, as a user clicking 'yes' would."""
    return types.ElicitResult(action="accept", content={"username": "oncall", "email": "oncall@example.com"})


async def exercise(read, write, report):
    async with ClientSession(read, write, elicitation_callback=answer_elicitation) as session:
        init = await session.initialize()
        report["protocol_version"] = init.protocol_version
        report["server"] = init.server_info.name
        tools = await session.list_tools()
        report["tools"] = sorted(t.name for t in tools.tools)
        echo = await session.call_tool("echo", {"text": "hello from python"})
        report["echo"] = echo.content[0].text
        report["echo_is_error"] = bool(echo.is_error)
        failing = await session.call_tool("test_error_handling", {})
        report["tool_error_flagged"] = bool(failing.is_error)
        elicited = await session.call_tool("test_elicitation", {"message": "Approve?"})
        report["elicitation"] = elicited.content[0].text
        resource = await session.read_resource("test://static-text")
        report["resource"] = resource.contents[0].text


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http", "sse"])
    parser.add_argument("target", help="URL, or the server command for stdio")
    parser.add_argument("args", nargs="*", help="server arguments for stdio")
    parser.add_argument("--token")
    opts = parser.parse_args()
    headers = {"Authorization": f"Bearer {opts.token}"} if opts.token else None
    report = {"transport": opts.transport}
    if opts.transport == "stdio":
        params = StdioServerParameters(command=opts.target, args=opts.args)
        async with stdio_client(params) as (read, write):
            await exercise(read, write, report)
    elif opts.transport == "http":
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(opts.target, http_client=http) as (read, write):
                await exercise(read, write, report)
    else:
        async with sse_client(opts.target, headers=headers) as (read, write):
            await exercise(read, write, report)
    print(json.dumps(report))


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    except Exception as e:  # report any failure in one line for the Rust test
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
