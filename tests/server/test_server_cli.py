"""The command line of `hfkit serve`: listed by `hfkit help`, options checked whole (usage
errors exit 2), a port in use (by another hfkit server too) exits 1, a burst of connects waits
in the accept queue, a non-loopback address without a key warns, and HFKIT_API_KEY sets the
key."""

import http.client
import os
import signal
import socket
import subprocess
import time

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


def accept_queue_length(port):
    """Connections the kernel holds for the listening socket on 127.0.0.1:port, not yet
    accepted (/proc/net/tcp's rx_queue of a LISTEN socket)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"no socket listens on port {port}")


def test_a_burst_of_connects_waits_in_the_accept_queue():
    # cpp-httplib listens with a backlog of 5: the kernel would hold 6 connections while the
    # server is busy and drop the rest's handshakes, for those clients to retry seconds later.
    s = Server([CHAT_MODEL])
    clients = []
    try:
        s.proc.send_signal(signal.SIGSTOP)  # accepts nothing until SIGCONT
        for _ in range(32):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex((s.host, s.port))
            clients.append(c)
        deadline = time.monotonic() + 10
        while accept_queue_length(s.port) < 32 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accept_queue_length(s.port) == 32
    finally:
        s.proc.send_signal(signal.SIGCONT)
        for c in clients:
            c.close()
        assert s.stop() == 0, s.stderr


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
