"""One CAO 2.5.4 handoff through its own MCP server, timed as an agent would see it.

Run by `bench/compare_cao.py` with the Python of CAO's virtualenv (it needs the `mcp` client
library, a dependency of CAO). It spawns `cao-mcp-server` over stdio with this process's
environment (CAO_TERMINAL_ID names the calling supervisor; CAO_HOME_DIR and CAO_API_HOST/PORT
name the running cao-server), initializes the MCP session, and then times one
`handoff(agent_profile, message)` tool call: from sending the request to receiving its result.
MCP server start and `initialize` are outside the timed span.

Prints one JSON line: {"seconds", "is_error", "result"}; exits 1 with the reason on stderr
when the handoff could not be made.

    python cao_mcp_handoff.py --server PATH --agent-profile developer --message TEXT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def handoff(server: str, agent_profile: str, message: str, timeout_s: float) -> dict:
    # stdio_client passes only a few safe variables by default; CAO's server needs ours.
    params = StdioServerParameters(command=server, args=[], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            started = time.perf_counter()
            result = await asyncio.wait_for(
                session.call_tool("handoff", {"agent_profile": agent_profile, "message": message}),
                timeout_s,
            )
            seconds = time.perf_counter() - started
    content = result.structured_content
    if content is None:
        content = [getattr(block, "text", str(block)) for block in result.content]
    return {"seconds": seconds, "is_error": result.is_error, "result": content}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the cao-mcp-server executable")
    parser.add_argument("--agent-profile", required=True)
    parser.add_argument("--message", required=True)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for the tool call")
    args = parser.parse_args()
    try:
        out = asyncio.run(handoff(args.server, args.agent_profile, args.message, args.timeout))
    except Exception as error:  # noqa: BLE001 -- the caller wants the reason, whatever it is
        print(f"handoff through {args.server} failed: {type(error).__name__}: {error}",
              file=sys.stderr)
        return 1
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
