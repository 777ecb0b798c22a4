"""Check MCP tool input schemas the way strict-schema hosts read them.

Each argument is a JSON file holding a list of tools (a `tools/list` result's `tools`). For every
tool: each name in `required` must be a declared property, and the schema must convert under the
OpenAI Agents SDK's own strict converter (`ensure_strict_json_schema`, as `MCPUtil` calls it for
`convert_schemas_to_strict=True`). Prints one line per problem; exits 1 if there is any.
"""

import copy
import json
import sys

from agents.strict_schema import ensure_strict_json_schema


def problems(tool):
    schema = copy.deepcopy(tool["inputSchema"])
    found = []
    declared = schema.get("properties", {})
    missing = [name for name in schema.get("required", []) if name not in declared]
    if missing:
        found.append(f"{tool['name']}: required but not declared: {', '.join(missing)}")
    # What MCPUtil.to_function_tool does before converting.
    empty = schema == {}
    schema.setdefault("properties", {})
    try:
        ensure_strict_json_schema(schema, _reject_open_objects=not empty)
    except Exception as e:  # the converter raises UserError and friends
        found.append(f"{tool['name']}: strict conversion refused: {e}")
    return found


def main():
    found = []
    count = 0
    for path in sys.argv[1:]:
        with open(path) as f:
            tools = json.load(f)
        count += len(tools)
        for tool in tools:
            found.extend(problems(tool))
    for line in found:
        print(line)
    print(f"{count} tools checked, {len(found)} problems", file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
