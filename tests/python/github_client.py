"""githubkit (GitHub's strictest client: pydantic models generated from GitHub's OpenAPI
description) against the sandbox's GitHub stand-in.

Usage: github_client.py BASE_URL TOKEN

Lists the commits of the last 24 hours, reads one commit with its files and patches, reads a
file and a directory, pages through the history one commit at a time, looks up a user, and checks
the refusal of a wrong token. Every answer is parsed into githubkit's models, so a missing or
mistyped field fails. Prints a JSON report on its last line; exits non-zero on failure.
"""

import base64
import datetime
import json
import sys

from githubkit import GitHub
from githubkit.exception import RequestFailed

base_url, token = sys.argv[1:3]
report = {"checks": []}


def check(name, condition, detail=""):
    report["checks"].append({"name": name, "ok": bool(condition), "detail": str(detail)[:400]})


try:
    gh = GitHub(token, base_url=base_url)
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=24)
    recent = gh.rest.repos.list_commits("shop", "worker", since=since).parsed_data
    titles = [c.commit.message.splitlines()[0] for c in recent]
    check("commits of the last 24 hours", titles == ["cache the working set between batches"], titles)
    check("the commit's author is a GitHub user", recent and recent[0].author and recent[0].author.login == "jonas-weber", recent and recent[0].author)

    leak = gh.rest.repos.get_commit("shop", "worker", recent[0].sha).parsed_data
    files = {f.filename: f for f in leak.files or []}
    check("the commit's files", sorted(files) == ["deploy/worker.yaml", "worker.c"], sorted(files))
    patch = files["worker.c"].patch or ""
    check("the patch drops free(buffer)", "-        free(buffer);" in patch, patch)
    check("stats", leak.stats and leak.stats.additions == 2 and leak.stats.deletions == 2, leak.stats)
    by_tag = gh.rest.repos.get_commit("shop", "worker", "v1.4.2").parsed_data
    check("a tag resolves to the commit", by_tag.sha == leak.sha, by_tag.sha)

    content = gh.rest.repos.get_content("shop", "worker", "deploy/worker.yaml").parsed_data
    text = base64.b64decode(content.content).decode()
    check("a file, base64", "memory: 64Mi" in text and content.encoding == "base64", text)
    older = gh.rest.repos.get_content("shop", "worker", "worker.c", ref="v1.4.1").parsed_data
    check("a file at a tag", "free(buffer);" in base64.b64decode(older.content).decode(), older.path)
    listing = gh.rest.repos.get_content("shop", "worker", "").parsed_data
    names = sorted(e.name for e in listing)
    check("the root directory", "worker.c" in names and "deploy" in names and ".github" in names, names)

    paged = [c.sha for c in gh.paginate(gh.rest.repos.list_commits, owner="shop", repo="worker", per_page=1)]
    check("paging one commit at a time through Link", len(paged) == 4 and len(set(paged)) == 4, paged)

    jonas = gh.rest.users.get_by_username("jonas-weber").parsed_data
    check("a user with the email PagerDuty knows", jonas.email == "jonas.weber@shop.example", jonas.email)

    try:
        wrong = GitHub("ghp_wrong", base_url=base_url)
        wrong.rest.users.get_authenticated()
        check("a wrong token is refused", False, "accepted")
    except RequestFailed as e:
        check("a wrong token is refused", e.response.status_code == 401, e.response.status_code)
    try:
        gh.rest.repos.list_commits("shop", "nothing-here")
        check("a missing repository is 404", False, "found")
    except RequestFailed as e:
        check("a missing repository is 404", e.response.status_code == 404, e.response.status_code)
except Exception as e:  # a crash (a model that does not validate, too) is a failed check
    check("the client ran without error", False, f"{type(e).__name__}: {e}")

report["ok"] = all(c["ok"] for c in report["checks"])
print(json.dumps(report))
sys.exit(0 if report["ok"] else 1)
