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

    # The fix, as git data: a blob, a tree on the leaking commit's, a commit, a branch.
    main = gh.rest.git.get_ref("shop", "worker", "heads/main").parsed_data
    source = base64.b64decode(gh.rest.repos.get_content("shop", "worker", "worker.c").parsed_data.content).decode()
    fixed = source.replace("        /* keep the working set for the next batch */\n", "        free(buffer);\n")
    blob = gh.rest.git.create_blob("shop", "worker", content=fixed, encoding="utf-8").parsed_data
    head = gh.rest.git.get_commit("shop", "worker", main.object_.sha).parsed_data
    tree = gh.rest.git.create_tree("shop", "worker", base_tree=head.tree.sha,
                                   tree=[{"path": "worker.c", "mode": "100644", "type": "blob", "sha": blob.sha}]).parsed_data
    check("a tree on a base tree keeps the other files", any(e.path == "deploy" for e in tree.tree), [e.path for e in tree.tree])
    commit = gh.rest.git.create_commit("shop", "worker", message="worker: free the batch buffer", tree=tree.sha, parents=[main.object_.sha]).parsed_data
    check("a commit by the token's user", commit.author.email == "maya.chen@shop.example" and commit.parents[0].sha == main.object_.sha, commit.author)
    branch = gh.rest.git.create_ref("shop", "worker", ref="refs/heads/fix-oom", sha=commit.sha).parsed_data
    check("a branch", branch.ref == "refs/heads/fix-oom" and branch.object_.sha == commit.sha, branch.ref)
    try:
        gh.rest.git.create_ref("shop", "worker", ref="refs/heads/fix-oom", sha=commit.sha)
        check("an existing branch is refused", False, "created twice")
    except RequestFailed as e:
        check("an existing branch is refused", e.response.status_code == 422, e.response.status_code)
    compared = gh.rest.repos.compare_commits("shop", "worker", "main...fix-oom").parsed_data
    patch = compared.files[0].patch if compared.files else ""
    check("compare: one commit ahead, the fix's patch", compared.ahead_by == 1 and compared.status == "ahead" and "+        free(buffer);" in patch, patch)
    try:
        gh.rest.git.update_ref("shop", "worker", "heads/fix-oom", sha=main.object_.sha, force=False)
        check("a non-fast-forward update is refused", False, "moved back")
    except RequestFailed as e:
        check("a non-fast-forward update is refused", e.response.status_code == 422, e.response.status_code)
    try:
        gh.rest.git.update_ref("shop", "worker", "heads/main", sha=commit.sha, force=False)
        moved = gh.rest.git.get_ref("shop", "worker", "heads/main").parsed_data
        check("a fast-forward update moves the branch", moved.object_.sha == commit.sha, moved.object_.sha)
    except RequestFailed as e:
        check("a fast-forward update moves the branch", False, e.response.status_code)

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
