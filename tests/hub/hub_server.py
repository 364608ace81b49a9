#!/usr/bin/python3
"""A local Hugging Face Hub for tests: a real HTTP server on loopback (standard library only).

It speaks the Hub protocol of ../shared/HUB.md section 2 and serves the model folders of
$HFK_SHARED_DIR/models as repositories, with every case of the HUB.md 2.8 checklist:

  hfkit-test/<name>      each folder of models/ and models/tiny/ (also the bare alias <name>)
  hfkit-test/renamed     307 with a relative Location to hfkit-test/aidreams260K
  hfkit-test/missing     (any unknown repo) 404 X-Error-Code: RepoNotFound
  hfkit-test/private     401 RepoNotFound without a token; served with TOKEN_OK
  hfkit-test/gated       401 GatedRepo without a token, 403 GatedRepo with TOKEN_NO_ACCESS,
                         served with TOKEN_OK
  hfkit-test/disabled    403 "Access to this resource is disabled."
  hfkit-test/flaky       the first --flaky-count requests of each URL answer 503 (then 200)
  hfkit-test/ratelimited the first request of each URL answers 429 with Retry-After
  hfkit-test/norange     the CDN ignores Range (always 200 with the whole body)
  hfkit-test/drop        the CDN closes the connection half way through the body for the first
                         --drop-count GETs of each blob
  hfkit-test/slow        the CDN sends at --slow-bps bytes per second
  hfkit-test/stall       the CDN's first response for a blob sends 64 KiB, then one byte every
                         --stall-interval seconds; later ones only drip (a stalled server)
  hfkit-test/corrupt     the CDN serves model.safetensors with one byte flipped
  hfkit-test/corrupt-small  the Hub serves every non-LFS file (config.json, tokenizer.json, ...)
                         with its middle byte flipped; the weights are served intact
  hfkit-test/nobody      the CDN sends the headers of every GET, then closes before any body byte
  hfkit-test/badrange    the CDN answers a Range request with a 206 whose Content-Range starts one
                         byte late (a GET without Range gets the whole body)
  hfkit-test/badrange-always  every CDN GET gets such a 206, with or without Range
  hfkit-test/toolong     the CDN's Content-Length and body are 64 MiB longer than the blob
  hfkit-test/toolong-eof the CDN sends the blob plus 64 MiB without Content-Length, then closes
  hfkit-test/no-etag     /resolve/ answers without ETag and X-Linked-Etag
  hfkit-test/no-commit   /resolve/ answers without X-Repo-Commit
  hfkit-test/no-size     /resolve/ answers without X-Linked-Size (and HEADs without Content-Length)
  hfkit-test/ratelimited-date  like ratelimited, with Retry-After as an HTTP-date an hour ahead
  hfkit-test/moving      refs/main moves to a new commit (a changed generation_config.json)
                         each time /_ctl/move is requested
  hfkit-test/evil-etag   ETag "../../../tmp/pwn" and X-Repo-Commit "../x" on every file
  hfkit-test/evil-redirect  LFS redirects go to file:///etc/passwd
  hfkit-test/loop        a relative redirect loop
  hfkit-test/nosiblings  the model info has no "siblings" (file list)
  hfkit-test/badsiblings the model info's siblings hold malformed entries
  hfkit-test/pickle-only config, tokenizer and pytorch_model.bin: no safetensors weights
  hfkit-test/noweights   config and tokenizer only
  hfkit-test/huge-header aidreams260K's files, but model.safetensors is only a header claiming a
                         256 TB tensor: the memory and disk checks refuse it before any download
  hfkit-test/chat-config, chat-named, chat-jinja, chat-json
                         aidreams260K with a real chat template in tokenizer_config.json (a string,
                         or named default/tool_use), chat_template.jinja or chat_template.json
  any bad token          401 "Invalid credentials in Authorization header"

LFS files (*.safetensors, *.bin, files >= 10 MiB) answer 302 to the CDN, a second listener on
another port that answers 401 to any request carrying Authorization (and records it).

Control and inspection: GET /_log (JSON array of requests), /_log/clear, /_ctl/move,
/_ctl/reset (counters). With --log FILE every request is also appended there as a JSON line.
Prints {"port": P, "cdn_port": C, "pid": N, "endpoint": ..., "token": ...} on stdout when ready.

Shell:  /usr/bin/python3 tests/hub/hub_server.py --port 0 --cdn-port 0 [--log FILE]
C++:    tests/hub/hub_server.h (HubServer) and hub_server_fixture.h (GoogleTest fixture)
Python: start_subprocess() below
"""
import argparse
import hashlib
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from hfk_paths import SHARED_DIR  # noqa: E402

TOKEN_OK = "hf_hfkitTestTokenValidAAAAAAAAAAAAAAAAAAAA"
TOKEN_NO_ACCESS = "hf_hfkitTestTokenNoAccessBBBBBBBBBBBBBBBBB"
VALID_TOKENS = {TOKEN_OK, TOKEN_NO_ACCESS}
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".h5", ".msgpack", ".onnx")
LFS_MIN_SIZE = 10 * 1024 * 1024

SPECIAL = {"private", "gated", "disabled", "flaky", "ratelimited", "norange", "drop", "slow", "stall",
           "corrupt", "moving", "evil-etag", "evil-redirect", "nobody", "badrange",
           "badrange-always", "toolong", "toolong-eof", "no-etag", "no-commit", "no-size",
           "ratelimited-date", "corrupt-small", "nosiblings", "badsiblings"}
# The CDN modes: the repo's mode is put in the CDN URL of its LFS redirects.
CDN_MODES = ("norange", "drop", "slow", "stall", "corrupt", "nobody", "badrange", "badrange-always",
             "toolong", "toolong-eof")
TOOLONG_EXTRA = 64 * 1024 * 1024


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Blob:
    """One file of a repository. Content is read lazily for big files (the benchmark's 256 MB)."""

    def __init__(self, path=None, data=None):
        self.path, self._data = path, data
        self.size = len(data) if data is not None else os.path.getsize(path)
        self._sha256 = self._sha1 = None

    def data(self):
        if self._data is not None:
            return self._data
        with open(self.path, "rb") as f:
            return f.read()

    def read(self, start, end):  # [start, end)
        if self._data is not None:
            return self._data[start:end]
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def sha256(self):
        if self._sha256 is None:
            h = hashlib.sha256()
            if self._data is not None:
                h.update(self._data)
            else:
                with open(self.path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            self._sha256 = h.hexdigest()
        return self._sha256

    def sha1(self):
        if self._sha1 is None:
            self._sha1 = git_blob_sha1(self.data())
        return self._sha1

    def is_lfs(self, name):
        return name.endswith(LFS_SUFFIXES) or self.size >= LFS_MIN_SIZE


class Repo:
    def __init__(self, repo_id, files, mode=None):
        self.repo_id, self.files, self.mode = repo_id, dict(sorted(files.items())), mode
        h = hashlib.sha1(repo_id.encode())
        for name, blob in self.files.items():
            h.update(name.encode() + b"\0" + str(blob.size).encode())
            h.update(blob.sha256().encode() if blob.is_lfs(name) else blob.sha1().encode())
        self.commit = h.hexdigest()


def load_dir(d):
    """The files of a repo folder, with those of its subfolders as "sub/name" (a
    sentence-transformers repo keeps 1_Pooling/config.json)."""
    files = {}
    for root, dirs, names in os.walk(d):
        dirs.sort()
        rel = os.path.relpath(root, d)
        for n in sorted(names):
            files[n if rel == "." else rel.replace(os.sep, "/") + "/" + n] = \
                Blob(path=os.path.join(root, n))
    return dict(sorted(files.items()))


class Hub:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.idle = threading.Condition()
        self.active = 0
        self.log = []
        self.log_file = open(args.log, "a") if args.log else None
        self.counters = {}
        self.moves = 0
        self.repos = {}  # repo id -> Repo (current main)
        self.commits = {}  # repo id -> {commit: Repo} (every commit ever served)
        models = os.path.join(args.shared_dir, "models")
        sources = {}
        for name in sorted(os.listdir(models)):
            d = os.path.join(models, name)
            if name == "tiny":
                for sub in sorted(os.listdir(d)):
                    sources[sub] = os.path.join(d, sub)
            elif os.path.isdir(d):
                sources[name] = d
        for spec in args.repo:  # name=dir, e.g. the benchmark's generated model
            name, _, d = spec.partition("=")
            sources[name] = d
        for name, d in sources.items():
            files = load_dir(d)
            self.add(Repo("hfkit-test/" + name, files))
            self.add(Repo(name, files))
        base = load_dir(sources["aidreams260K"])
        for mode in SPECIAL:
            self.add(Repo("hfkit-test/" + mode, base, mode))
        self.base_files = base
        small = {n: b for n, b in base.items() if not n.endswith(".safetensors")}
        self.add(Repo("hfkit-test/noweights", small))
        pickle = dict(small)
        pickle["pytorch_model.bin"] = Blob(data=b"PK\x03\x04 not a real pickle archive")
        self.add(Repo("hfkit-test/pickle-only", pickle))
        header = json.dumps({"model.embed_tokens.weight": {
            "dtype": "F32", "shape": [8000000, 8000000],
            "data_offsets": [0, 4 * 8000000 * 8000000]}}).encode()
        huge = dict(base)
        huge["model.safetensors"] = Blob(data=len(header).to_bytes(8, "little") + header)
        self.add(Repo("hfkit-test/huge-header", huge))
        self.add_chat_repos(base)

    def add_chat_repos(self, base):
        """aidreams260K with a real chat template (../shared/reference/chat/templates) in each
        place transformers reads one from (issue 16): chat-config (tokenizer_config.json's
        chat_template string), chat-named (its list of named templates: default and tool_use),
        chat-jinja (chat_template.jinja, which takes precedence over the config's template) and
        chat-json (chat_template.json)."""
        tdir = os.path.join(self.args.shared_dir, "reference", "chat", "templates")

        def template(name):
            with open(os.path.join(tdir, name + ".jinja"), encoding="utf-8") as f:
                return f.read()

        cfg = json.loads(base["tokenizer_config.json"].data())

        def with_config(**extra):
            files = dict(base)
            files["tokenizer_config.json"] = Blob(data=json.dumps(dict(cfg, **extra), indent=2).encode())
            return files

        qwen, gemma, llama = (template("Qwen-Qwen2.5-7B-Instruct"), template("google-gemma-2-2b-it"),
                              template("meta-llama-Llama-3.1-8B-Instruct"))
        self.add(Repo("hfkit-test/chat-config", with_config(chat_template=qwen)))
        self.add(Repo("hfkit-test/chat-named", with_config(chat_template=[
            {"name": "default", "template": gemma}, {"name": "tool_use", "template": qwen}])))
        files = with_config(chat_template=qwen)
        files["chat_template.jinja"] = Blob(data=llama.encode())
        self.add(Repo("hfkit-test/chat-jinja", files))
        files = dict(base)
        files["chat_template.json"] = Blob(data=json.dumps({"chat_template": gemma}).encode())
        self.add(Repo("hfkit-test/chat-json", files))

    def add(self, repo):
        self.repos[repo.repo_id] = repo
        self.commits.setdefault(repo.repo_id, {})[repo.commit] = repo

    def move(self):
        with self.lock:
            self.moves += 1
            files = dict(self.base_files)
            gen = json.loads(files["generation_config.json"].data())
            gen["_hfkit_move"] = self.moves
            files["generation_config.json"] = Blob(data=json.dumps(gen).encode())
            self.add(Repo("hfkit-test/moving", files, "moving"))
            return self.repos["hfkit-test/moving"].commit

    def count(self, key):
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]

    def begin(self):
        with self.idle:
            self.active += 1

    def wait_idle(self, timeout=3.0):
        # A client may see its last byte before the handler has recorded the request: /_log
        # waits for requests in flight so that counts are exact.
        with self.idle:
            self.idle.wait_for(lambda: self.active == 0, timeout)

    def record(self, entry):
        with self.idle:
            self.active -= 1
            self.idle.notify_all()
        with self.lock:
            self.log.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()

    def cdn_blob(self, sha):
        for commits in self.commits.values():
            for repo in commits.values():
                for name, blob in repo.files.items():
                    if blob.is_lfs(name) and blob.sha256() == sha:
                        return blob
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hfkit-test-hub/1"
    is_cdn = False

    def log_message(self, fmt, *args):  # quiet; the request log is the record
        pass

    # ---------- plumbing ----------
    def hub(self):
        return self.server.hub

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        self.method = method
        self.sent = 0
        self.status = 0
        self.dropped = False
        auth = self.headers.get("Authorization")
        control = self.path.startswith("/_")
        if not control:
            self.hub().begin()
        try:
            if self.is_cdn:
                self.cdn()
            else:
                self.route()
        except OSError:  # the client hung up (killed, or stopped reading after a Range)
            self.dropped = True
        except Exception:  # a bug in this server: say so, and keep the record consistent
            import traceback
            traceback.print_exc()
            self.status = self.status or -1
        if control:
            return  # control requests are not part of the record
        self.hub().record({
            "t": time.time(), "host": "cdn" if self.is_cdn else "hub", "method": method,
            "path": self.path, "range": self.headers.get("Range"), "auth": auth is not None,
            "token_ok": auth == "Bearer " + TOKEN_OK, "status": self.status,
            "bytes": self.sent, "dropped": self.dropped,
            "user_agent": self.headers.get("User-Agent")})

    def reply(self, status, headers=None, body=b"", content_type="application/json"):
        self.status = status
        self.send_response(status)
        hdrs = {"Content-Type": content_type, "Content-Length": str(len(body))}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if self.method != "HEAD" and body:
            self.wfile.write(body)
            self.sent += len(body)

    def error(self, status, code=None, message=None, extra=None):
        headers = dict(extra or {})
        if code:
            headers["X-Error-Code"] = code
        if message:
            headers["X-Error-Message"] = message
        headers["X-Request-Id"] = "hfkit-test-%d" % self.hub().count("request-id")
        body = json.dumps({"error": message or code or "error"}).encode()
        self.reply(status, headers, body)

    # ---------- access control shared by the API and /resolve/ ----------
    def check_access(self, repo_id):
        """Returns the Repo, or None after sending the error response."""
        auth = self.headers.get("Authorization")
        token = auth[7:] if auth and auth.startswith("Bearer ") else None
        if auth is not None and token not in VALID_TOKENS:
            self.error(401, None, "Invalid credentials in Authorization header")
            return None
        repo = self.hub().repos.get(repo_id)
        if repo is None:
            self.error(404, "RepoNotFound", "Repository not found")
            return None
        mode = repo.mode
        if mode == "private" and token != TOKEN_OK:
            self.error(401, "RepoNotFound", "Repository not found")
            return None
        if mode == "gated" and token != TOKEN_OK:
            if token is None:
                self.error(401, "GatedRepo", "Access to model %s is restricted. You must have "
                           "access to it and be authenticated to access it. Please log in." % repo_id)
            else:
                self.error(403, "GatedRepo", "Access to model %s is restricted and you are not "
                           "in the authorized list. Visit https://huggingface.co/%s to ask for "
                           "access." % (repo_id, repo_id))
            return None
        if mode == "disabled":
            self.error(403, None, "Access to this resource is disabled.")
            return None
        return repo

    def transient_fault(self, repo):
        """flaky / ratelimited repos: fail the first requests of each URL. True if it replied."""
        if repo.mode == "flaky":
            if self.hub().count("flaky " + self.method + " " + self.path) <= self.server.args.flaky_count:
                self.error(503, None, "Service temporarily unavailable (flaky test repo)")
                return True
        if repo.mode in ("ratelimited", "ratelimited-date"):
            if self.hub().count("429 " + self.method + " " + self.path) <= 1:
                import email.utils
                retry_after = str(self.server.args.retry_after)
                if repo.mode == "ratelimited-date":
                    retry_after = email.utils.formatdate(time.time() + 3600, usegmt=True)
                self.error(429, None, "You have been rate limited (test repo)", {
                    "Retry-After": retry_after,
                    "RateLimit": '"api";r=0;t=%d' % self.server.args.retry_after,
                    "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
                return True
        return False

    def resolve_revision(self, repo, rev):
        commits = self.hub().commits.get(repo.repo_id, {})
        if rev in ("main", "refs/pr/1", "v1.0"):
            return repo
        if rev in commits:
            return commits[rev]
        self.error(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
        return None

    # ---------- routes ----------
    def route(self):
        url = urllib.parse.urlsplit(self.path)
        raw = url.path
        if raw.startswith("/_"):
            return self.control(raw)
        segs = [urllib.parse.unquote(s) for s in raw.split("/")[1:]]
        if len(segs) >= 3 and segs[0] == "api" and segs[1] == "models":
            return self.api(segs[2:], url.query)
        for kind in ("resolve", "raw"):
            if kind in segs:
                i = segs.index(kind)
                if 1 <= i <= 2 and len(segs) >= i + 3:
                    return self.resolve("/".join(segs[:i]), segs[i + 1], "/".join(segs[i + 2:]),
                                        kind, raw)
        self.error(404, None, "Not found: %s" % raw)

    def control(self, raw):
        hub = self.hub()
        if raw == "/_log":
            hub.wait_idle()
            with hub.lock:
                body = json.dumps(hub.log).encode()
            return self.reply(200, body=body)
        if raw == "/_log/clear":
            hub.wait_idle()
            with hub.lock:
                hub.log.clear()
            return self.reply(200, body=b"{}")
        if raw == "/_ctl/move":
            return self.reply(200, body=json.dumps({"commit": hub.move()}).encode())
        if raw == "/_ctl/reset":
            with hub.lock:
                hub.counters.clear()
            return self.reply(200, body=b"{}")
        self.error(404, None, "unknown control path")

    def redirect_renamed(self, repo_id, raw):
        if repo_id == "hfkit-test/renamed":
            self.reply(307, {"Location": raw.replace("/hfkit-test/renamed/",
                                                     "/hfkit-test/aidreams260K/", 1)})
            return True
        if repo_id == "hfkit-test/loop":
            self.reply(307, {"Location": raw})
            return True
        return False

    def api(self, segs, query):
        # /api/models/{repo}[/revision/{rev}] | /tree/{rev}[/path] | /refs | /paths-info/{rev}
        n = 2 if len(segs) >= 2 and segs[1] not in ("revision", "tree", "refs", "paths-info") else 1
        repo_id, rest = "/".join(segs[:n]), segs[n:]
        raw = self.path.split("?")[0]
        if repo_id == "hfkit-test/renamed":
            return self.reply(307, {"Location": raw.replace("/hfkit-test/renamed", "/hfkit-test/aidreams260K", 1)})
        repo = self.check_access(repo_id)
        if repo is None or self.transient_fault(repo):
            return
        if not rest or rest[0] == "revision":
            rev = "/".join(rest[1:]) if len(rest) > 1 else "main"
            r = self.resolve_revision(repo, rev)
            if r is None:
                return
            siblings = []
            for name, blob in r.files.items():
                s = {"rfilename": name, "size": blob.size, "blobId": blob.sha1()}
                if blob.is_lfs(name):
                    s["lfs"] = {"sha256": blob.sha256(), "size": blob.size, "pointerSize": 134}
                siblings.append(s)
            body = {"_id": "x", "id": repo.repo_id, "modelId": repo.repo_id, "sha": r.commit,
                    "private": repo.mode == "private", "gated": "manual" if repo.mode == "gated" else False,
                    "disabled": False, "siblings": siblings, "tags": [], "lastModified": "2026-11-23T00:00:00.000Z"}
            if repo.mode == "nosiblings":
                del body["siblings"]
            elif repo.mode == "badsiblings":
                body["siblings"] = [{"name": "config.json"}, 5] + siblings
            return self.reply(200, body=json.dumps(body).encode())
        if rest[0] == "refs":
            body = {"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.commit}],
                    "tags": [{"name": "v1.0", "ref": "refs/tags/v1.0", "targetCommit": repo.commit}],
                    "converts": []}
            return self.reply(200, body=json.dumps(body).encode())
        if rest[0] in ("tree", "paths-info") and len(rest) >= 2:
            r = self.resolve_revision(repo, rest[1])
            if r is None:
                return
            if rest[0] == "paths-info":
                length = int(self.headers.get("Content-Length") or 0)
                req = self.rfile.read(length) if length else b"{}"
                try:
                    ctype = self.headers.get("Content-Type", "")
                    if "json" in ctype:
                        paths = json.loads(req or b"{}").get("paths", [])
                    else:
                        paths = urllib.parse.parse_qs(req.decode()).get("paths", [])
                except ValueError:
                    return self.error(400, None, "bad paths-info body")
                if isinstance(paths, str):
                    paths = [paths]
                names = [p for p in paths if p in r.files]
            else:
                prefix = "/".join(rest[2:])
                names = [n for n in r.files if not prefix or n.startswith(prefix + "/")]
            items = []
            for name in names:
                blob = r.files[name]
                it = {"type": "file", "oid": blob.sha1(), "size": blob.size, "path": name,
                      "lastCommit": {"id": r.commit, "title": "test", "date": "2026-11-23T00:00:00.000Z"}}
                if blob.is_lfs(name):
                    it["lfs"] = {"oid": blob.sha256(), "size": blob.size, "pointerSize": 134}
                items.append(it)
            if rest[0] == "tree":  # Link pagination, 4 per page
                q = urllib.parse.parse_qs(query)
                start = int((q.get("cursor") or ["0"])[0])
                page = items[start:start + 4]
                headers = {}
                if start + 4 < len(items):
                    q2 = dict(q)
                    q2["cursor"] = [str(start + 4)]
                    nxt = "http://127.0.0.1:%d%s?%s" % (self.server.server_port, self.path.split("?")[0],
                                                        urllib.parse.urlencode(q2, doseq=True))
                    headers["Link"] = '<%s>; rel="next"' % nxt
                return self.reply(200, headers, json.dumps(page).encode())
            return self.reply(200, body=json.dumps(items).encode())
        self.error(404, None, "unknown API route")

    def resolve(self, repo_id, rev, filename, kind, raw):
        if self.redirect_renamed(repo_id, raw):
            return
        repo = self.check_access(repo_id)
        if repo is None or self.transient_fault(repo):
            return
        r = self.resolve_revision(repo, rev)
        if r is None:
            return
        blob = r.files.get(filename)
        if blob is None:
            return self.error(404, "EntryNotFound", "%s does not exist on %s" % (filename, rev),
                              {"X-Repo-Commit": r.commit})
        commit, etag = r.commit, blob.sha1()
        if repo.mode == "evil-etag":
            commit, etag = "../x", "../../../tmp/pwn"
        headers = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes", "Vary": "Origin, Accept-Encoding"}
        if kind == "resolve" and blob.is_lfs(filename):
            sha = blob.sha256() if repo.mode != "evil-etag" else "../../../tmp/pwn"
            mode = repo.mode if repo.mode in CDN_MODES else "plain"
            loc = "http://127.0.0.1:%d/cdn/%s/%s?X-Amz-Signature=secret" % (
                self.server.args.cdn_port_actual, mode, blob.sha256())
            if repo.mode == "evil-redirect":
                loc = "file:///etc/passwd"
            headers.update({"Location": loc, "X-Linked-Etag": '"%s"' % sha,
                            "X-Linked-Size": str(blob.size), "ETag": '"%s"' % etag})
            self.drop_metadata(repo, headers)
            return self.reply(302, headers, b"Found. Redirecting", "text/plain; charset=utf-8")
        headers["ETag"] = '"%s"' % etag
        self.drop_metadata(repo, headers)
        mode = {"no-size": "no-size", "corrupt-small": "corrupt"}.get(repo.mode, "plain")
        self.send_body(blob.data() if blob.size < LFS_MIN_SIZE else None, blob, headers, mode)

    def drop_metadata(self, repo, headers):
        """no-etag / no-commit / no-size repos: the metadata header their name says is missing."""
        drop = {"no-etag": ("ETag", "X-Linked-Etag"), "no-commit": ("X-Repo-Commit",),
                "no-size": ("X-Linked-Size",)}.get(repo.mode, ())
        for k in drop:
            headers.pop(k, None)

    def send_body(self, data, blob, headers, mode):
        """200/206/416 for the whole blob or a Range of it, with the per-mode faults."""
        size = blob.size
        rng = self.headers.get("Range")
        start, end, status = 0, size, 200
        if rng and mode not in ("norange", "badrange-always"):
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not m:
                return self.error(416, None, "bad Range")
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
            if start >= size or start >= end:
                return self.reply(416, dict(headers, **{"Content-Range": "bytes */%d" % size}))
            status = 206
            # badrange: a Content-Range that starts one byte after the requested offset.
            shown = start + 1 if mode == "badrange" else start
            headers = dict(headers, **{"Content-Range": "bytes %d-%d/%d" % (shown, end - 1, size)})
        if mode == "badrange-always" and self.method == "GET":
            if rng:
                m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
                start = min(int(m.group(1)), size - 2) if m else 0
            status = 206
            headers = dict(headers, **{"Content-Range": "bytes %d-%d/%d" % (start + 1, end - 1, size)})
        self.status = status
        self.send_response(status)
        headers = dict(headers)
        headers.setdefault("Content-Type", "application/octet-stream")
        extra = TOOLONG_EXTRA if mode in ("toolong", "toolong-eof") else 0
        if mode == "toolong-eof":
            headers["Connection"] = "close"  # the body ends when the connection does
            self.close_connection = True
        elif mode != "no-size" or self.method != "HEAD":
            headers["Content-Length"] = str(end - start + extra)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.method == "HEAD":
            return
        if mode == "nobody":  # the headers only: close before the first body byte
            self.hang_up()
            return
        limit = end
        if mode == "drop" and self.hub().count("drop " + self.path.split("?")[0]) <= self.server.args.drop_count:
            limit = start + max(1, (end - start) // 2)
        chunk = 1 << 20
        delay = 0.0
        if mode == "slow":
            chunk = 16 * 1024
            delay = chunk / float(self.server.args.slow_bps)
        pos = start
        if mode == "stall":
            self.stall(data, blob, pos, limit)
            return
        # One open file per response (as http.server's copyfileobj), not one per chunk.
        f = open(blob.path, "rb") if data is None and blob.path is not None else None
        try:
            self.send_range(data, blob, f, pos, limit, chunk, delay, mode, size)
        finally:
            if f:
                f.close()
        if extra:  # toolong: junk after the blob, until done or the client hangs up
            junk = b"\xAA" * (1 << 20)
            left = extra
            while left > 0:
                n = min(len(junk), left)
                self.wfile.write(junk[:n])
                self.sent += n
                left -= n
            self.wfile.flush()
            if mode == "toolong-eof":
                self.hang_up()
                self.dropped = False
        if limit < end:  # mid-body drop: close without sending the rest
            self.hang_up()

    def send_range(self, data, blob, f, pos, limit, chunk, delay, mode, size):
        """Bytes [pos, limit) of the blob: from `data`, else the open file `f`, else the blob."""
        if f:
            f.seek(pos)
        while pos < limit:
            n = min(chunk, limit - pos)
            if data is not None:
                piece = data[pos:pos + n]
            else:
                piece = f.read(n) if f else blob.read(pos, pos + n)
            if mode == "corrupt" and pos <= size // 2 < pos + n:
                i = size // 2 - pos
                piece = piece[:i] + bytes([piece[i] ^ 0xFF]) + piece[i + 1:]
            self.wfile.write(piece)
            self.sent += n
            pos += n
            if delay:
                self.wfile.flush()
                time.sleep(delay)

    def hang_up(self):
        self.wfile.flush()
        self.dropped = True
        self.close_connection = True
        try:
            import socket
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stall(self, data, blob, pos, limit):
        """64 KiB at once (first response per blob only), then a byte every --stall-interval
        seconds until the client leaves."""
        burst = 64 * 1024 if self.hub().count("stall " + self.path.split("?")[0]) == 1 else 1
        first = min(limit, pos + burst)
        try:
            while pos < limit:
                end = first if pos < first else pos + 1
                self.wfile.write(data[pos:end] if data is not None else blob.read(pos, end))
                self.wfile.flush()
                self.sent += end - pos
                pos = end
                if pos >= first:
                    time.sleep(self.server.args.stall_interval)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def cdn(self):
        if self.headers.get("Authorization") is not None:
            return self.error(401, None, "CDN: requests must not carry Authorization (token leaked)")
        segs = urllib.parse.urlsplit(self.path).path.split("/")
        if len(segs) != 4 or segs[1] != "cdn":
            return self.error(404, None, "not a CDN path")
        mode, sha = segs[2], segs[3]
        blob = self.hub().cdn_blob(sha)
        if blob is None:
            return self.error(404, None, "no such blob")
        headers = {"ETag": '"%s"' % sha, "Accept-Ranges": "none" if mode == "norange" else "bytes"}
        self.send_body(None, blob, headers, mode)


class CdnHandler(Handler):
    is_cdn = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # Clients that hang up early (Range reads that stop, killed downloads) are normal here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def start_subprocess(*extra_args, shared_dir=None):
    """For pytest and scripts: starts this server in a child process on free ports and returns
    (process, info) where info is the ready line ({"port", "cdn_port", "endpoint", "token", ...}).
    Stop it with process.kill(); process.wait().

        sys.path.insert(0, "tests/hub"); import hub_server
        proc, info = hub_server.start_subprocess()
    """
    import subprocess
    cmd = [sys.executable, os.path.abspath(__file__), "--port", "0", "--cdn-port", "0"]
    if shared_dir:
        cmd += ["--shared-dir", shared_dir]
    proc = subprocess.Popen(cmd + list(extra_args), stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.wait()
        raise RuntimeError("hub_server.py did not start")
    return proc, json.loads(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cdn-port", type=int, default=0)
    ap.add_argument("--shared-dir", default=str(SHARED_DIR))
    ap.add_argument("--repo", action="append", default=[], help="extra repo NAME=DIR")
    ap.add_argument("--log", help="append each request as a JSON line to this file")
    ap.add_argument("--flaky-count", type=int, default=2)
    ap.add_argument("--drop-count", type=int, default=1)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--slow-bps", type=int, default=512 * 1024)
    ap.add_argument("--stall-interval", type=float, default=3.0)
    args = ap.parse_args()
    hub = Hub(args)
    cdn = Server(("127.0.0.1", args.cdn_port), CdnHandler)
    args.cdn_port_actual = cdn.server_port
    srv = Server(("127.0.0.1", args.port), Handler)
    for s in (cdn, srv):
        s.hub, s.args = hub, args
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    print(json.dumps({"port": srv.server_port, "cdn_port": cdn.server_port, "pid": os.getpid(),
                      "endpoint": "http://127.0.0.1:%d" % srv.server_port,
                      "token": TOKEN_OK, "token_no_access": TOKEN_NO_ACCESS}), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
