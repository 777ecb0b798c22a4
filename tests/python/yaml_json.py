"""Print a YAML file, or a Markdown file's YAML front matter and its body, as JSON: how GitHub
reads a Copilot agent profile (`---` front matter, then the prompt) and a workflow file."""

import json
import sys

import yaml

text = open(sys.argv[1], encoding="utf-8").read()
if text.startswith("---\n"):
    front, _, body = text[4:].partition("\n---\n")
    print(json.dumps({"ok": True, "front_matter": yaml.safe_load(front), "body": body}))
else:
    print(json.dumps({"ok": True, "document": yaml.safe_load(text)}))
