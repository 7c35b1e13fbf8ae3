"""A loopback stand-in for the Hugging Face Hub, for tests that drive the real `huggingface_hub` client.

`FakeHub` keeps model repos in memory (branches -> commits -> {path: bytes}) and serves, on
127.0.0.1 at a random port, the part of the Hub's HTTP API that huggingface_hub 2.x calls
(read from its source: `file_download.py`, `utils/_http.py`, `hf_api.py`, `_commit_api.py`):

* `HEAD|GET /{repo_id}/resolve/{revision}/{path}` (what `hf_hub_download` asks for; the
  revision and path are URL-quoted). Every answer carries `X-Repo-Commit` (the client refuses a
  file without it). A regular file is answered 200 with `ETag: "<git blob sha1>"` and
  `Content-Length`. An LFS file (by suffix, `.h5` by default) is answered like the real Hub does:
  `302` with `Location` on a second "CDN" origin, `X-Linked-Etag: "<sha256>"` and
  `X-Linked-Size`; as the CDN has another port it is another origin, so the client's HEAD stops
  at the redirect and reads the metadata from it, and its GET then fetches the CDN URL.
* Errors are the Hub's: 404 with `X-Error-Code: RepoNotFound`, `RevisionNotFound` or
  `EntryNotFound` (+ `X-Repo-Commit`), which `hf_raise_for_status` maps to
  `RepositoryNotFoundError`, `RevisionNotFoundError` and `RemoteEntryNotFoundError`.
* `HEAD|GET /cdn/{sha256}` on the CDN origin: the blob bytes (`corrupt_cdn` makes it serve
  other bytes under the same metadata, i.e. a tampered mirror).
* The legacy (non-Xet) upload API used by `HfApi.create_repo` / `create_branch` /
  `upload_folder` when `hf_xet` is absent or `HF_HUB_DISABLE_XET` is set:
  `POST /api/repos/create`, `POST /api/validate-yaml`, `POST /api/models/{repo}/preupload/{rev}`
  (every file "regular", so contents travel base64-encoded inside the commit),
  `POST /api/models/{repo}/commit/{rev}` (NDJSON), `POST /api/models/{repo}/branch/{branch}`,
  and `GET /api/models/{repo}[/revision/{rev}]` (repo info).

Writes need `Authorization: Bearer <token>` when `FakeHub(token=...)` is given. HTTP/1.0, so
no connection outlives its request; each connection has a 5 s socket timeout, and `stop()`
joins the server threads with a timeout, so a test can never hang on the server. Every request
is logged in `FakeHub.requests` as `(method, path)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_RESOLVE = re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_API_REPO = re.compile(rf"^/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?$")
_API_ACTION = re.compile(rf"^/api/models/{_REPO}/(?P<action>preupload|commit|branch)/(?P<rev>[^/]+)$")
_CDN = re.compile(r"^/cdn/(?P<sha>[0-9a-f]{64})$")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of `data` (`git hash-object`), the Hub's ETag of a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _Repo:
    branches: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit id
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit id -> files


class FakeHub:
    """In-memory model repos served over loopback HTTP in the Hugging Face Hub's layout.

    Args:
        token: when given, write calls must send `Authorization: Bearer <token>`.
        lfs_suffixes: file suffixes served as LFS files (redirect to the CDN origin).
    """

    def __init__(self, *, token: str | None = None, lfs_suffixes: tuple[str, ...] = (".h5",)):
        self.token = token
        self.lfs_suffixes = lfs_suffixes
        self.repos: dict[str, _Repo] = {}
        self.cdn_overrides: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()
        self._counter = 0
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.endpoint = ""
        self.cdn_endpoint = ""

    # ---- repository content -------------------------------------------------------------
    def create_repo(self, repo_id: str) -> str:
        """Create an empty repo whose `main` points at an initial empty commit; returns its id."""
        with self._lock:
            if repo_id in self.repos:
                raise ValueError(f"repo {repo_id} exists")
            self.repos[repo_id] = _Repo()
            return self._new_commit(repo_id, "main", {}, "initial commit")

    def commit(self, repo_id: str, files: dict[str, bytes], *, branch: str = "main", delete: tuple[str, ...] = ()) -> str:
        """Commit `files` (path -> bytes) on top of `branch`, creating the repo if needed; returns the commit id."""
        with self._lock:
            if repo_id not in self.repos:
                self.create_repo(repo_id)
            repo = self.repos[repo_id]
            tree = dict(repo.commits[repo.branches[branch]]) if branch in repo.branches else {}
            for path in delete:
                tree.pop(path, None)
            tree.update(files)
            return self._new_commit(repo_id, branch, tree, "commit")

    def tag(self, repo_id: str, name: str, revision: str = "main") -> str:
        """Point the ref `name` at the commit `revision` resolves to; returns that commit id."""
        with self._lock:
            commit = self.resolve(repo_id, revision)
            self.repos[repo_id].branches[name] = commit
            return commit

    def resolve(self, repo_id: str, revision: str) -> str:
        """The commit id a branch, tag or commit id names (KeyError when unknown)."""
        repo = self.repos[repo_id]
        if revision in repo.branches:
            return repo.branches[revision]
        if revision in repo.commits:
            return revision
        raise KeyError(revision)

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of `repo_id` at `revision`."""
        with self._lock:
            return dict(self.repos[repo_id].commits[self.resolve(repo_id, revision)])

    def corrupt_cdn(self, data: bytes, replacement: bytes) -> None:
        """Make the CDN serve `replacement` where it should serve `data`; the Hub's metadata
        (sha256 ETag, size) stays that of `data`. Keep the length to get past the client's size check."""
        with self._lock:
            self.cdn_overrides[hashlib.sha256(data).hexdigest()] = replacement

    def _new_commit(self, repo_id: str, branch: str, tree: dict[str, bytes], message: str) -> str:
        self._counter += 1
        digest = hashlib.sha1()
        digest.update(f"{repo_id}\0{branch}\0{message}\0{self._counter}".encode())
        for path in sorted(tree):
            digest.update(f"{path}\0{git_blob_sha1(tree[path])}\0".encode())
        commit = digest.hexdigest()
        repo = self.repos[repo_id]
        repo.commits[commit] = tree
        repo.branches[branch] = commit
        return commit

    def _is_lfs(self, path: str) -> bool:
        return path.endswith(self.lfs_suffixes)

    def _blob(self, sha256: str) -> bytes | None:
        with self._lock:
            if sha256 in self.cdn_overrides:
                return self.cdn_overrides[sha256]
            for repo in self.repos.values():
                for tree in repo.commits.values():
                    for data in tree.values():
                        if hashlib.sha256(data).hexdigest() == sha256:
                            return data
        return None

    # ---- server lifecycle ---------------------------------------------------------------
    def start(self) -> "FakeHub":
        """Serve the Hub and its CDN on two random loopback ports (in daemon threads)."""
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.fake_hub = self  # type: ignore[attr-defined]
            server.role = role  # type: ignore[attr-defined]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.endpoint = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.cdn_endpoint = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return self

    def stop(self) -> None:
        """Stop serving; afterwards the ports refuse connections."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = 5  # seconds a connection may stay silent

    @property
    def hub(self) -> FakeHub:
        return self.server.fake_hub  # type: ignore[attr-defined]

    def log_message(self, format, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # ---- helpers ------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, length: int | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, obj, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None) -> None:
        extra = {"X-Error-Message": message, **(headers or {})}
        if code:
            extra["X-Error-Code"] = code
        self._json(status, {"error": message}, extra)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorised(self) -> bool:
        if self.hub.token is None or self.headers.get("Authorization") == f"Bearer {self.hub.token}":
            return True
        self._error(401, None, "Invalid credentials in Authorization header")
        return False

    def _repo_and_commit(self, repo_id: str, revision: str) -> tuple[_Repo, str] | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        try:
            return repo, self.hub.resolve(repo_id, revision)
        except KeyError:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None

    # ---- routing ------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        with self.hub._lock:  # one request at a time: tests mutate repos between calls
            self.hub.requests.append((method, path))
            self._route(method, path)

    def _route(self, method: str, path: str) -> None:
        try:
            if self.server.role == "cdn":  # type: ignore[attr-defined]
                m = _CDN.match(path)
                if m and method in ("HEAD", "GET"):
                    return self._cdn(m["sha"])
            elif method in ("HEAD", "GET") and (m := _RESOLVE.match(path)):
                return self._resolve(unquote(m["repo"]), unquote(m["rev"]), unquote(m["path"]))
            elif method == "GET" and (m := _API_REPO.match(path)):
                return self._repo_info(m["repo"], unquote(m["rev"] or "main"))
            elif method == "POST" and path == "/api/repos/create":
                return self._create_repo()
            elif method == "POST" and path == "/api/validate-yaml":
                self._body()
                return self._json(200, {"errors": [], "warnings": []})
            elif method == "POST" and (m := _API_ACTION.match(path)):
                action = {"preupload": self._preupload, "commit": self._commit, "branch": self._branch}[m["action"]]
                return action(m["repo"], unquote(m["rev"]))
            self._error(404, None, f"no route for {method} {path}")
        except Exception as e:  # a bug in the fake must fail the test at once: 418 is not retried, 5xx would be
            self._error(418, None, f"fake hub error: {type(e).__name__}: {e}")

    def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
        found = self._repo_and_commit(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        tree = repo.commits[commit]
        if filename not in tree:
            return self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
        data = tree[filename]
        headers = {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha1(data)}"'}
        if self.hub._is_lfs(filename):
            sha256 = hashlib.sha256(data).hexdigest()
            headers.update({
                "Location": f"{self.hub.cdn_endpoint}/cdn/{sha256}",
                "X-Linked-Etag": f'"{sha256}"',
                "X-Linked-Size": str(len(data)),
            })
            return self._send(302, b"", headers)
        self._send(200, data, {"Content-Type": "application/octet-stream", **headers})

    def _cdn(self, sha256: str) -> None:
        data = self.hub._blob(sha256)
        if data is None:
            return self._send(404, b"NoSuchKey")
        self._send(200, data, {"Content-Type": "application/octet-stream", "ETag": f'"{sha256}"'})

    def _repo_info(self, repo_id: str, revision: str) -> None:
        found = self._repo_and_commit(repo_id, revision)
        if found is not None:
            repo, commit = found
            siblings = [{"rfilename": p} for p in sorted(repo.commits[commit])]
            self._json(200, {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False, "siblings": siblings})

    def _create_repo(self) -> None:
        payload = json.loads(self._body() or b"{}")
        if not self._authorised():
            return
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        url = f"{self.hub.endpoint}/{repo_id}"
        if repo_id in self.hub.repos:  # the Hub's 409 body carries the url too; create_repo(exist_ok=True) reads it
            message = "You already created this model repo"
            return self._json(409, {"error": message, "url": url}, {"X-Error-Message": message})
        self.hub.create_repo(repo_id)
        self._json(200, {"url": url, "name": repo_id})

    def _branch(self, repo_id: str, branch: str) -> None:
        self._body()
        if not self._authorised():
            return
        found = self._repo_and_commit(repo_id, "main")
        if found is None:
            return
        repo, commit = found
        if branch in repo.branches:
            return self._error(409, None, f"Reference refs/heads/{branch} already exists")
        repo.branches[branch] = commit
        self._json(200, {})

    def _preupload(self, repo_id: str, revision: str) -> None:
        payload = json.loads(self._body())
        if not self._authorised():
            return
        found = self._repo_and_commit(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        tree = repo.commits[commit]
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_sha1(tree[f["path"]]) if f["path"] in tree else None}
            for f in payload["files"]
        ]
        self._json(200, {"files": files, "commitOid": commit})

    def _commit(self, repo_id: str, revision: str) -> None:
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        if not self._authorised():
            return
        found = self._repo_and_commit(repo_id, revision)
        if found is None:
            return
        files: dict[str, bytes] = {}
        deleted: list[str] = []
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    return self._error(400, None, f"unsupported encoding {value.get('encoding')!r}")
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                deleted.append(value["path"])
            elif key != "header":
                return self._error(400, None, f"the fake hub does not support {key!r} commit lines")
        commit = self.hub.commit(repo_id, files, branch=revision, delete=tuple(deleted))
        self._json(200, {"success": True, "commitOid": commit, "commitUrl": f"{self.hub.endpoint}/{repo_id}/commit/{commit}"})
