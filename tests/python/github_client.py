"""githubkit (GitHub's strictest client: pydantic models generated from GitHub's OpenAPI
description) against the sandbox's GitHub stand-in.

Usage: github_client.py BASE_URL TOKEN APP_ID APP_KEY_FILE INSTALLATION_ID

Lists the commits of the last 24 hours, reads one commit with its files and patches, reads a
file and a directory, pages through the history one commit at a time, builds the fix as git data
on a branch (the protected default branch refuses it), opens a pull request with a reviewer,
reads its files and diff, is refused a merge without approval, creates, comments, labels and
closes an issue, pages through issues, reads a failed workflow run, its job and its log behind
GitHub's redirect, check runs, releases and deployments, searches users by email, code and
issues, looks up a user, authenticates as the GitHub App and as its installation (which sees only
its repository), and checks the refusal of a wrong token and of another App's JWT. Every answer is parsed into githubkit's models, so a missing or
mistyped field fails. Prints a JSON report on its last line; exits non-zero on failure.
"""

import base64
import datetime
import json
import sys

from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.exception import RequestFailed

base_url, token, app_id, app_key_file, installation_id = sys.argv[1:6]
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

    paged = [c.sha for c in gh.rest.paginate(gh.rest.repos.list_commits, owner="shop", repo="worker", per_page=1)]
    check("paging one commit at a time through Link", len(paged) == 7 and len(set(paged)) == 7, paged)

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
        check("the protected default branch refuses a direct update", False, "moved")
    except RequestFailed as e:
        check("the protected default branch refuses a direct update", e.response.status_code == 422 and "Protected branch" in e.response.text, e.response.text)

    # The repository, its branches, and the pull request for the fix.
    repo = gh.rest.repos.get("shop", "worker").parsed_data
    check("the repository", repo.default_branch == "main" and repo.private and repo.full_name == "shop/worker", repo.full_name)
    branches = {b.name: b for b in gh.rest.repos.list_branches("shop", "worker").parsed_data}
    check("branches, main protected", sorted(branches) == ["fix-oom", "main"] and branches["main"].protected, sorted(branches))
    main_branch = gh.rest.repos.get_branch("shop", "worker", "main").parsed_data
    check("one branch with its head commit", main_branch.commit.sha == main.object_.sha, main_branch.commit.sha)
    pr = gh.rest.pulls.create("shop", "worker", title="worker: free the batch buffer", head="fix-oom", base="main",
                              body="Frees the 10 MB buffer after each batch. cc @maya-chen").parsed_data
    check("a pull request", pr.number == 43 and pr.state == "open" and pr.commits == 1 and pr.changed_files == 1 and pr.mergeable, (pr.number, pr.commits, pr.changed_files, pr.mergeable))
    try:
        gh.rest.pulls.create("shop", "worker", title="again", head="fix-oom", base="main")
        check("a second pull request for the branch is refused", False, "created")
    except RequestFailed as e:
        check("a second pull request for the branch is refused", e.response.status_code == 422 and "already exists" in e.response.text, e.response.text)
    try:
        gh.rest.pulls.create("shop", "worker", title="empty", head="main", base="fix-oom")
        check("a pull request with no commits is refused", False, "created")
    except RequestFailed as e:
        check("a pull request with no commits is refused", e.response.status_code == 422 and "No commits between" in e.response.text, e.response.text)
    asked = gh.rest.pulls.request_reviewers("shop", "worker", pr.number, reviewers=["jonas-weber"]).parsed_data
    check("a requested reviewer", [u.login for u in asked.requested_reviewers or []] == ["jonas-weber"], asked.requested_reviewers)
    pr_files = gh.rest.pulls.list_files("shop", "worker", pr.number).parsed_data
    check("the pull request's files", [f.filename for f in pr_files] == ["worker.c"] and "+        free(buffer);" in (pr_files[0].patch or ""), [f.filename for f in pr_files])
    diff = gh.rest.pulls.get("shop", "worker", pr.number, headers={"Accept": "application/vnd.github.diff"}).text
    check("the pull request as a diff", diff.startswith("diff --git a/worker.c b/worker.c") and "+        free(buffer);" in diff, diff[:200])
    listed = gh.rest.pulls.list("shop", "worker", state="all").parsed_data
    check("pull requests, the merged one too", [p.number for p in listed] == [43, 42] and listed[1].merged_at is not None, [p.number for p in listed])
    try:
        gh.rest.pulls.merge("shop", "worker", pr.number, merge_method="squash")
        check("merging without an approving review is refused", False, "merged")
    except RequestFailed as e:
        check("merging without an approving review is refused", e.response.status_code == 405, e.response.text)
    reviews = gh.rest.pulls.list_reviews("shop", "worker", 42).parsed_data
    check("the reviews of the leaking pull request", [r.state for r in reviews] == ["APPROVED"], [r.state for r in reviews])

    # Issues: create, comment, label, close; paging through them.
    issue = gh.rest.issues.create("shop", "worker", title="worker OOM-killed: 64Mi limit", body="Follow-up of the page.", labels=["incident"], assignees=["maya-chen"]).parsed_data
    check("an issue", issue.number == 44 and [l.name for l in issue.labels] == ["incident"], issue.number)
    comment = gh.rest.issues.create_comment("shop", "worker", issue.number, body="Fix in #43").parsed_data
    check("a comment", comment.body == "Fix in #43" and comment.user.login == "maya-chen", comment.body)
    labels = gh.rest.issues.add_labels("shop", "worker", issue.number, labels=["memory"]).parsed_data
    check("labels added", sorted(l.name for l in labels) == ["incident", "memory"], [l.name for l in labels])
    closed = gh.rest.issues.update("shop", "worker", issue.number, state="closed", state_reason="completed").parsed_data
    check("an issue closed as completed", closed.state == "closed" and closed.state_reason == "completed", closed.state)
    try:
        gh.rest.issues.create("shop", "worker", title="")
        check("an issue without a title is refused", False, "created")
    except RequestFailed as e:
        check("an issue without a title is refused", e.response.status_code == 422 and "missing_field" in e.response.text, e.response.text)
    every = [i.number for i in gh.rest.paginate(gh.rest.issues.list_for_repo, owner="shop", repo="worker", state="all", per_page=2)]
    check("paging through issues and pull requests", sorted(every) == [41, 42, 43, 44], every)

    # Actions: checkout's failing run, its job and log (through GitHub's 302); check runs.
    runs = gh.rest.actions.list_workflow_runs_for_repo("shop", "checkout", status="failure").parsed_data
    check("a failed run", runs.total_count == 1 and runs.workflow_runs[0].conclusion == "failure", runs.total_count)
    run = runs.workflow_runs[0]
    jobs = gh.rest.actions.list_jobs_for_workflow_run("shop", "checkout", run.id).parsed_data
    failed_steps = [s.name for s in jobs.jobs[0].steps or [] if s.conclusion == "failure"]
    check("the failed step", failed_steps == ["Run pytest -q"], failed_steps)
    logs = gh.rest.actions.download_job_logs_for_workflow_run("shop", "checkout", jobs.jobs[0].id)
    check("the job log behind the redirect", "AssertionError: assert Decimal('8.10') == Decimal('9.00')" in logs.text, logs.status_code)
    by_workflow = gh.rest.actions.list_workflow_runs("shop", "worker", "ci.yml", branch="main").parsed_data
    check("the worker's runs, all green", by_workflow.total_count == 7 and all(r.conclusion == "success" for r in by_workflow.workflow_runs), [r.conclusion for r in by_workflow.workflow_runs])
    workflows = gh.rest.actions.list_repo_workflows("shop", "worker").parsed_data
    check("workflows", [w.path for w in workflows.workflows] == [".github/workflows/ci.yml"], workflows.total_count)
    checks = gh.rest.checks.list_for_ref("shop", "checkout", run.head_sha).parsed_data
    check("check runs of the failing commit", [(c.name, c.conclusion) for c in checks.check_runs] == [("test", "failure")], checks.total_count)

    # Releases and deployments.
    releases = gh.rest.repos.list_releases("shop", "worker").parsed_data
    check("releases, newest first", [r.tag_name for r in releases] == ["v1.4.2", "v1.4.1", "v1.4.0", "v1.3.0"], [r.tag_name for r in releases])
    latest = gh.rest.repos.get_latest_release("shop", "worker").parsed_data
    check("the latest release", latest.tag_name == "v1.4.2" and latest.author.login == "jonas-weber", latest.tag_name)
    deployments = gh.rest.repos.list_deployments("shop", "worker", environment="production").parsed_data
    check("production deployments", [d.ref for d in deployments][:1] == ["v1.4.2"] and len(deployments) == 4, [d.ref for d in deployments])
    statuses = gh.rest.repos.list_deployment_statuses("shop", "worker", deployments[0].id).parsed_data
    check("the deployment's statuses, newest first", [s.state for s in statuses] == ["success", "in_progress"], [s.state for s in statuses])

    # Search.
    users = gh.rest.search.users(q="maya.chen@shop.example in:email").parsed_data
    check("a user found by email", [u.login for u in users.items] == ["maya-chen"], [u.login for u in users.items])
    code = gh.rest.search.code(q="CHUNK_BYTES repo:shop/worker").parsed_data
    check("code search on the default branch", [c.path for c in code.items] == ["worker.c"], [c.path for c in code.items])
    found = gh.rest.search.issues_and_pull_requests(q="repo:shop/worker is:pr is:merged cache").parsed_data
    check("issue search for a merged pull request", [i.number for i in found.items] == [42], [i.number for i in found.items])

    jonas = gh.rest.users.get_by_username("jonas-weber").parsed_data
    check("a user with the email PagerDuty knows", jonas.email == "jonas.weber@shop.example", jonas.email)

    # The GitHub App: its JWT reads the App, an installation token (minted by githubkit) sees
    # the installation's repository and not the other private one.
    key = open(app_key_file).read()
    as_app = GitHub(AppAuthStrategy(int(app_id), key), base_url=base_url)
    me = as_app.rest.apps.get_authenticated().parsed_data
    check("the App authenticated by its JWT", me.slug == "opsmcp-incident", me.slug)
    as_installation = GitHub(AppInstallationAuthStrategy(int(app_id), key, int(installation_id)), base_url=base_url)
    seen = as_installation.rest.apps.list_repos_accessible_to_installation().parsed_data
    check("the installation's repositories", [r.full_name for r in seen.repositories] == ["shop/worker"], [r.full_name for r in seen.repositories])
    try:
        as_installation.rest.repos.get("shop", "checkout")
        check("a private repository outside the installation is 404", False, "visible")
    except RequestFailed as e:
        check("a private repository outside the installation is 404", e.response.status_code == 404, e.response.status_code)
    try:
        other = GitHub(AppAuthStrategy(int(app_id) + 1, key), base_url=base_url)
        other.rest.apps.get_authenticated()
        check("a JWT for another App id is refused", False, "accepted")
    except RequestFailed as e:
        check("a JWT for another App id is refused", e.response.status_code == 401, e.response.status_code)

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
