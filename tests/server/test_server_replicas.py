"""Two `hfkit serve` replicas on loopback over one shared HF cache, offline, behind Debian's
nginx: every request through the balancer succeeds with the single-session greedy output,
both replicas serve, streaming passes through, and the cache is not written."""

import http.client
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import CLI, SHARED_DIR, SOURCE_DIR, Server, hfkit_run_json, wait_ready
from test_server_lifecycle import metrics

sys.path.insert(0, str(SOURCE_DIR / "tests" / "hub"))
import hub_server  # noqa: E402

MODEL = "hfkit-test/aidreams260K"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_state(root):
    """Every path of the cache with its size and mtime: any write shows."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = pathlib.Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def shared_cache():
    root = pathlib.Path(tempfile.mkdtemp(prefix="hfkit-serve-cache-"))
    proc, info = hub_server.start_subprocess(shared_dir=str(SHARED_DIR))
    try:
        env = dict(os.environ, HF_ENDPOINT=info["endpoint"], HF_HUB_CACHE=str(root),
                   HF_HOME=str(root / "home"), HF_TOKEN="")
        r = subprocess.run([CLI, "pull", MODEL], env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
    finally:
        proc.kill()
        proc.wait()
    for dirpath, dirnames, filenames in os.walk(root):  # read-only for whoever is not root
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def nginx(tmp_path):
    def start(ports):
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    upstream hfkit {{ {"".join(f"server 127.0.0.1:{p}; " for p in ports)} }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hfkit;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
""")
        proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)],
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.05)
        raise AssertionError("nginx did not start")
    procs = []
    yield lambda ports: procs.append(start(ports)) or procs[-1]
    for proc, _ in procs:
        proc.terminate()
        proc.wait(timeout=30)


def test_two_replicas_behind_nginx(shared_cache, nginx):
    before = cache_state(shared_cache)
    env = dict(os.environ, HF_HUB_CACHE=str(shared_cache), HF_HUB_OFFLINE="1",
               HF_HOME=str(shared_cache / "home"))
    replicas = [Server([MODEL, "--threads", "1"], env=env) for _ in range(2)]
    try:
        for r in replicas:
            assert wait_ready(r)["models"][0]["state"] == "ready"
        _, port = nginx([r.port for r in replicas])
        oracle = hfkit_run_json(str(SHARED_DIR / "models" / "aidreams260K"), "Once upon a time",
                                "--max-tokens", "8", "--temperature", "0")
        for i in range(6):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 8,
                    "temperature": 0, "stream": i % 2 == 1}
            conn.request("POST", "/v1/completions", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            conn.close()
            assert r.status == 200, data
            if body["stream"]:
                events = [line[6:] for line in data.split(b"\n") if line.startswith(b"data: ")]
                assert events[-1] == b"[DONE]"
                text = "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1])
            else:
                text = json.loads(data)["choices"][0]["text"]
            assert text == oracle["text"]
        served = [metrics(r).get('hfkit_requests_total{endpoint="/v1/completions",status="200"}', 0)
                  for r in replicas]
        assert sum(served) == 6 and all(n > 0 for n in served), served
    finally:
        for r in replicas:
            assert r.stop() == 0, r.stderr
    assert cache_state(shared_cache) == before
