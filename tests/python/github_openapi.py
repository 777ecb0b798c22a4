"""The GitHub stand-in's answers to every request opsmcp-github makes, validated against GitHub's
own OpenAPI description (@octokit/openapi's api.github.com.json) with openapi-core: the path and
method must exist, the status must be one the description lists, and the body must match its
schema (required fields, types, enums, nullability).

Usage: github_openapi.py SPEC BASE_URL TOKEN APP_ID APP_KEY_FILE INSTALLATION_ID

Walks an App installation token's minting and the incident's reads (repository, commits, a commit, a comparison, contents, branches, git
refs and commits, pull requests with files and reviews, issues with comments, searches, users,
Actions runs, jobs and the log redirect, releases, deployments and statuses, the rate limit) and
the fix's writes (tree, commit, ref, pull request, requested reviewers, issue, comment, update,
a refused merge). Prints a JSON report on its last line; exits non-zero on failure.
"""

import datetime
import json
import sys

import httpx
import jwt
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

spec_file, base_url, token, app_id, app_key_file, installation_id = sys.argv[1:7]
report = {"checks": []}


class Req:
    def __init__(self, request: httpx.Request):
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        # Undecoded, as on the wire (`git/ref/heads%2Fmain` is one path parameter).
        self.path = request.url.raw_path.split(b"?")[0].decode()
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class Resp:
    def __init__(self, response: httpx.Response):
        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.items()))
        self.content_type = response.headers.get("content-type", "").split(";")[0] or "application/json"
        self.data = response.content or None


spec = json.load(open(spec_file))
spec["servers"] = [{"url": base_url}]


def repair(node, schemas):
    """Two known flaws of GitHub's description under a strict OpenAPI 3.0 validator, which real
    GitHub answers also trip: a nullable enum (`state_reason: null` for an open issue) lacks
    null among its values, and contents' `oneOf` discriminates by a `type` property that a
    directory listing (an array) cannot have."""
    if isinstance(node, dict):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"].append(None)
        if "discriminator" in node and any(
            schemas.get(o.get("$ref", "").rsplit("/", 1)[-1], {}).get("type") == "array"
            for o in node.get("oneOf", [])
        ):
            del node["discriminator"]
        for v in node.values():
            repair(v, schemas)
    elif isinstance(node, list):
        for v in node:
            repair(v, schemas)


repair(spec, spec["components"]["schemas"])
api = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
http = httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {token}", "accept": "application/vnd.github+json"}, follow_redirects=False)


def call(name, method, path, expect, **kwargs):
    """Send, validate the answer against the description, and return it (or None)."""
    try:
        response = http.request(method, path, **kwargs)
        request = Req(response.request)
        if response.status_code != expect:
            report["checks"].append({"name": name, "ok": False, "detail": f"status {response.status_code}: {response.text[:300]}"})
            return None
        api.validate_response(request, Resp(response))
        report["checks"].append({"name": name, "ok": True, "detail": f"{method} {path} {response.status_code}"})
        return response
    except Exception as e:  # a validation error names the field that does not match
        report["checks"].append({"name": name, "ok": False, "detail": reason(e)})
        return None


def reason(e):
    """The innermost schema errors: which field, and why."""
    found = []

    def walk(err, depth=0):
        for attr in ("schema_errors", "__cause__"):
            inner = getattr(err, attr, None)
            for x in inner if isinstance(inner, (list, tuple)) else [inner] if inner else []:
                context = getattr(x, "context", None) or []
                path = "/".join(str(p) for p in getattr(x, "absolute_path", []))
                message = getattr(x, "message", str(x))
                if context:
                    for c in context[:3]:
                        found.append(f"{path}: {'/'.join(str(p) for p in c.absolute_path)}: {c.message[:200]}")
                else:
                    found.append(f"{path}: {message[:200]}")
                if depth < 3:
                    walk(x, depth + 1)

    walk(e)
    return (type(e).__name__ + ": " + " | ".join(found[:8]))[:1500] if found else f"{type(e).__name__}: {str(e)[:600]}"


try:
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    call("rate limit", "GET", "/rate_limit", 200)
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    app_jwt = jwt.encode({"iat": now - 60, "exp": now + 540, "iss": app_id}, open(app_key_file).read(), algorithm="RS256")
    call("an installation token", "POST", f"/app/installations/{installation_id}/access_tokens", 201, headers={"authorization": f"Bearer {app_jwt}"})
    call("repository", "GET", "/repos/shop/worker", 200)
    commits = call("commits since", "GET", "/repos/shop/worker/commits", 200, params={"since": since, "per_page": 30})
    sha = commits.json()[0]["sha"] if commits else "v1.4.2"
    call("one commit", "GET", f"/repos/shop/worker/commits/{sha}", 200)
    call("compare", "GET", "/repos/shop/worker/compare/v1.4.1...v1.4.2", 200)
    call("a file", "GET", "/repos/shop/worker/contents/worker.c", 200)
    call("a directory", "GET", "/repos/shop/worker/contents/deploy", 200)
    call("a branch", "GET", "/repos/shop/worker/branches/main", 200)
    call("a missing branch", "GET", "/repos/shop/worker/branches/nope", 404)
    ref = call("a git ref", "GET", "/repos/shop/worker/git/ref/heads%2Fmain", 200)
    head = ref.json()["object"]["sha"] if ref else sha
    git_commit = call("a git commit", "GET", f"/repos/shop/worker/git/commits/{head}", 200)
    tree = git_commit.json()["tree"]["sha"] if git_commit else ""
    call("pull requests", "GET", "/repos/shop/worker/pulls", 200, params={"state": "all"})
    call("a pull request", "GET", "/repos/shop/worker/pulls/42", 200)
    call("its files", "GET", "/repos/shop/worker/pulls/42/files", 200)
    call("its reviews", "GET", "/repos/shop/worker/pulls/42/reviews", 200)
    call("issues", "GET", "/repos/shop/worker/issues", 200, params={"state": "all"})
    call("an issue", "GET", "/repos/shop/worker/issues/41", 200)
    call("its comments", "GET", "/repos/shop/worker/issues/41/comments", 200)
    call("code search", "GET", "/search/code", 200, params={"q": "CHUNK_BYTES repo:shop/worker"})
    call("issue search", "GET", "/search/issues", 200, params={"q": "OOM repo:shop/worker"})
    call("user search", "GET", "/search/users", 200, params={"q": "maya.chen@shop.example in:email"})
    call("a user", "GET", "/users/maya-chen", 200)
    runs = call("workflow runs", "GET", "/repos/shop/checkout/actions/runs", 200)
    run = runs.json()["workflow_runs"][0]["id"] if runs else 0
    jobs = call("a run's jobs", "GET", f"/repos/shop/checkout/actions/runs/{run}/jobs", 200)
    job = jobs.json()["jobs"][0]["id"] if jobs else 0
    call("a job", "GET", f"/repos/shop/checkout/actions/jobs/{job}", 200)
    call("a job's log (the redirect)", "GET", f"/repos/shop/checkout/actions/jobs/{job}/logs", 302)
    call("check runs of a ref", "GET", f"/repos/shop/checkout/commits/{runs.json()['workflow_runs'][0]['head_sha'] if runs else 'main'}/check-runs", 200)
    call("releases", "GET", "/repos/shop/worker/releases", 200)
    deployments = call("deployments", "GET", "/repos/shop/worker/deployments", 200, params={"environment": "production"})
    deployment = deployments.json()[0]["id"] if deployments else 0
    call("a deployment's statuses", "GET", f"/repos/shop/worker/deployments/{deployment}/statuses", 200)

    # The fix's writes, as pr_create and the issue tools send them.
    new_tree = call("a tree", "POST", "/repos/shop/worker/git/trees", 201, json={"base_tree": tree, "tree": [{"path": "worker.c", "mode": "100644", "type": "blob", "content": "int main(void) { return 0; }\n"}]})
    new_commit = call("a commit", "POST", "/repos/shop/worker/git/commits", 201, json={"message": "worker: free the batch buffer", "tree": new_tree.json()["sha"] if new_tree else tree, "parents": [head]})
    call("a branch", "POST", "/repos/shop/worker/git/refs", 201, json={"ref": "refs/heads/fix/openapi", "sha": new_commit.json()["sha"] if new_commit else head})
    pr = call("a pull request", "POST", "/repos/shop/worker/pulls", 201, json={"title": "worker: free the batch buffer", "head": "fix/openapi", "base": "main", "body": "cc @maya-chen"})
    number = pr.json()["number"] if pr else 0
    call("requested reviewers", "POST", f"/repos/shop/worker/pulls/{number}/requested_reviewers", 201, json={"reviewers": ["jonas-weber"]})
    call("a refused merge (no approving review)", "PUT", f"/repos/shop/worker/pulls/{number}/merge", 405, json={"merge_method": "squash"})
    issue = call("an issue", "POST", "/repos/shop/worker/issues", 201, json={"title": "worker OOM follow-up", "labels": ["incident"]})
    n = issue.json()["number"] if issue else 0
    call("a comment", "POST", f"/repos/shop/worker/issues/{n}/comments", 201, json={"body": "Fix in #43"})
    call("closing it", "PATCH", f"/repos/shop/worker/issues/{n}", 200, json={"state": "closed", "state_reason": "completed"})
    call("a protected branch refuses a direct update", "PATCH", "/repos/shop/worker/git/refs/heads%2Fmain", 422, json={"sha": head})
except Exception as e:
    report["checks"].append({"name": "the walk ran without error", "ok": False, "detail": f"{type(e).__name__}: {e}"})

report["ok"] = all(c["ok"] for c in report["checks"])
print(json.dumps(report))
sys.exit(0 if report["ok"] else 1)
