"""The command line of `hfkit serve`: listed by `hfkit help`, options checked whole (usage
errors exit 2), a port in use (by another hfkit server too) exits 1, a non-loopback address
without a key warns, and HFKIT_API_KEY sets the key."""

import http.client
import os
import socket
import subprocess

import pytest

from conftest import CHAT_MODEL, CLI, Server, wait_ready

USAGE, ERROR = 2, 1


def run(*args, env=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, env=env)


def test_help_lists_serve():
    r = run("help")
    assert r.returncode == 0 and "serve [MODEL...]" in r.stdout
    r = run("serve", "--help")
    assert r.returncode == 0
    for option in ("--host", "--port", "--parallel", "--ctx-size", "--api-key", "HFKIT_API_KEY"):
        assert option in r.stdout, option


@pytest.mark.parametrize("args", [
    ["--port", "70000"], ["--port", "-1"], ["--port", "80x"], ["--parallel", "0"],
    ["--queue", "-1"], ["--ctx-size", "0"], ["--max-body", "10"], ["--read-timeout", "0"],
])
def test_bad_options_are_usage_errors(args):
    r = run("serve", CHAT_MODEL, *args)
    assert r.returncode == USAGE, (args, r.stderr)
    assert args[0].lstrip("-") in r.stderr


def test_port_in_use_is_an_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = run("serve", CHAT_MODEL, "--port", str(s.getsockname()[1]))
    assert r.returncode == ERROR
    assert "cannot listen" in r.stderr


def test_a_port_another_server_serves_is_in_use():
    # Not shared through SO_REUSEPORT (cpp-httplib's default): the kernel would split the
    # clients between the two servers.
    first = Server([CHAT_MODEL])
    try:
        r = run("serve", CHAT_MODEL, "--port", str(first.port))
        assert r.returncode == ERROR, r.stderr
        assert "cannot listen" in r.stderr
    finally:
        assert first.stop() == 0, first.stderr


def test_non_loopback_without_key_warns():
    s = Server([CHAT_MODEL, "--host", "0.0.0.0"])
    assert s.stop() == 0
    assert "without an API key" in s.stderr


def test_key_from_the_environment():
    s = Server([CHAT_MODEL], env=dict(os.environ, HFKIT_API_KEY="from-env"))
    try:
        wait_ready(s)
        for key, want in ((None, 401), ("from-env", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            conn.request("GET", "/v1/models",
                         headers={"Authorization": f"Bearer {key}"} if key else {})
            r = conn.getresponse()
            r.read()
            conn.close()
            assert r.status == want
    finally:
        assert s.stop() == 0, s.stderr
    assert "without an API key" not in s.stderr
