"""The agent against slow and hostile HTTP clients, over raw sockets.

One real agent (`snoozebot agent serve --access-log` on 127.0.0.1) for the module:
slowloris clients are dropped after 10 s while others are served, heads over
64 KiB get 431, idle kept-alive connections close after 5 s, a token in the query
is refused and never logged, the access log is on stderr, and a body without a
Content-Type gets 415 (docs/agent.md, "Slow and hostile clients"; docs/rest.md).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from test_agent_harness import Agent, running_agent

HEADER_TIMEOUT = 10.0
KEEP_ALIVE = 5.0
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    base = tmp_path_factory.mktemp("hardening")
    home = base / "home"
    home.mkdir()
    (base / "config.toml").write_text("")
    with running_agent(home, base / "config.toml", args=["--access-log"]) as running:
        with running.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        yield running


def _connect(agent: Agent) -> socket.socket:
    address = urlsplit(agent.url)
    assert address.hostname == "127.0.0.1" and address.port
    return socket.create_connection((address.hostname, address.port), timeout=5)


def _head(path: str = "/healthz", *lines: bytes, method: str = "GET") -> bytes:
    """A request line, a Host header and ``lines``; end with ``b""`` for a complete head."""
    start = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    return b"".join([start, *(line + b"\r\n" for line in lines)])


def _until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the agent sends until it closes the connection, and the seconds that took."""
    started = time.monotonic()
    received = b""
    while True:
        left = within - (time.monotonic() - started)
        if left <= 0:
            raise AssertionError(f"the agent kept the connection open for {within:g} s; got {received[:200]!r}")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            continue
        if not data:
            return received, time.monotonic() - started
        received += data


def _readable(sock: socket.socket) -> bool:
    """Whether the agent has sent something or closed the connection (without waiting)."""
    return bool(select.select([sock], [], [], 0)[0])


def _healthz_answer(sock: socket.socket) -> bytes:
    """Read one answer to ``GET /healthz`` on a connection that stays open."""
    answer = b""
    while not answer.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(65536)
        assert chunk, f"the agent closed the connection before its answer: {answer!r}"
        answer += chunk
    return answer


def _status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _wait_for(agent: Agent, text: str, *, seen: int = 0, timeout: float = 5.0) -> None:
    """Wait until ``text`` is in the agent's stderr more than ``seen`` times."""
    deadline = time.monotonic() + timeout
    while agent.stderr.count(text) <= seen:
        assert time.monotonic() < deadline, f"{text!r} not in the agent's stderr:\n{agent.stderr}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_client_sending_its_headers_byte_by_byte_is_dropped_after_10_s(agent: Agent) -> None:
    sock = _connect(agent)
    started = time.monotonic()
    head = _head("/healthz", b"X-Slow: " + b"z" * 40)  # 97 bytes, one each 0.2 s: 19 s in all
    stop = threading.Event()

    def trickle() -> None:
        for byte in head:
            if stop.wait(0.2):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        answer, _ = _until_closed(sock, within=HEADER_TIMEOUT + 5)
    finally:
        stop.set()
        sender.join(timeout=5)
        sock.close()
    dropped_after = time.monotonic() - started
    assert answer == b""  # dropped, not answered
    assert HEADER_TIMEOUT - 0.5 <= dropped_after <= HEADER_TIMEOUT + 2
    _wait_for(agent, "request headers not complete within 10 s: connection dropped")


@pytest.mark.slow
def test_slow_clients_do_not_keep_others_from_being_served(agent: Agent) -> None:
    kept = _connect(agent)  # served once, then slow with its next request
    kept.sendall(_head("/healthz", b""))
    _healthz_answer(kept)
    slow = [kept, *(_connect(agent) for _ in range(64))]
    opened = time.monotonic()
    try:
        for i, sock in enumerate(slow):
            if i % 2 == 0:  # half of them (kept first) send part of a head, the others nothing at all
                sock.sendall(_head("/api/plugins", b"X-Part: 1"))
        served: list[float] = []
        with agent.client("viewer", timeout=5) as client:
            while time.monotonic() - opened < HEADER_TIMEOUT - 2:
                before = time.monotonic()
                assert client.get("/api/plugins").status_code == 200
                served.append(time.monotonic() - before)
                time.sleep(0.2)
        assert len(served) >= 10 and max(served) < 2.0
        assert not [sock for sock in slow if _readable(sock)]  # held, unanswered, until their 10 s are up
        for sock in slow:
            answer, _ = _until_closed(sock, within=HEADER_TIMEOUT + 3 - (time.monotonic() - opened))
            assert answer == b""
        assert time.monotonic() - opened <= HEADER_TIMEOUT + 3
    finally:
        for sock in slow:
            sock.close()


def test_headers_over_64_kib_get_431_with_a_json_error(agent: Agent) -> None:
    with _connect(agent) as sock:
        sock.sendall(_head("/healthz", b"X-Big: " + b"a" * LIMIT, b""))
        answer, _ = _until_closed(sock, within=5)
    status, body = _status_and_body(answer)
    assert status == 431
    error = json.loads(body)["error"]
    assert error["code"] == "headers_too_large" and "65536 bytes" in error["message"]


def test_headers_just_under_64_kib_are_served(agent: Agent) -> None:
    with _connect(agent) as sock:
        sock.sendall(_head("/healthz", b"X-Big: " + b"a" * (LIMIT - 200), b"Connection: close", b""))
        answer, _ = _until_closed(sock, within=5)
    assert _status_and_body(answer) == (200, b'{"status":"ok"}')


def test_an_endless_header_is_cut_off_at_the_limit(agent: Agent) -> None:
    """A client streaming 32 MiB of one header gets 431 while it is still sending."""
    sent = [0]
    with _connect(agent) as sock:

        def flood() -> None:
            try:
                sock.sendall(_head("/healthz") + b"X-Flood: ")
                for _ in range(32 * 16):
                    sent[0] += sock.send(b"a" * 65536)
            except OSError:
                return

        sender = threading.Thread(target=flood)
        sender.start()
        answer, _ = _until_closed(sock, within=10)
        sender.join(timeout=10)
    assert _status_and_body(answer)[0] == 431
    assert sent[0] < 32 * 1024 * 1024  # refused before the client was done


def test_a_large_head_pipelined_behind_a_request_gets_431(agent: Agent) -> None:
    """A head that arrives whole in the same read as the request before it is measured too."""
    with _connect(agent) as sock:
        sock.sendall(_head("/healthz", b"") + _head("/healthz", b"X-Big: " + b"a" * (LIMIT + 1000), b""))
        answer, _ = _until_closed(sock, within=5)
    assert b"HTTP/1.1 431 " in answer  # the answer to the first may be lost: the connection ends


def test_a_large_body_behind_a_small_head_is_not_mistaken_for_headers(agent: Agent) -> None:
    body = b" " * (LIMIT * 4) + b'{"plugin": "memory"}'
    head = _head(
        "/api/plugins/load",
        f"Authorization: Bearer {agent.tokens['admin']}".encode(),
        b"Content-Type: application/json",
        f"Content-Length: {len(body)}".encode(),
        b"Connection: close",
        b"",
        method="POST",
    )
    with _connect(agent) as sock:
        sock.sendall(head + body)
        answer, _ = _until_closed(sock, within=10)
    assert _status_and_body(answer)[0] == 200


@pytest.mark.slow
def test_a_kept_alive_connection_serves_requests_in_time_and_closes_after_5_s_idle(agent: Agent) -> None:
    with _connect(agent) as sock:
        for pause in (KEEP_ALIVE - 2, 0):
            sock.sendall(_head("/healthz", b""))
            assert b"connection: close" not in _healthz_answer(sock).lower()  # kept alive
            time.sleep(pause)
        rest, idle = _until_closed(sock, within=KEEP_ALIVE + 3)
    assert rest == b""
    assert KEEP_ALIVE - 0.5 <= idle <= KEEP_ALIVE + 1.5


@pytest.mark.parametrize("query", ["token={secret}", "access_token={secret}", "x=1&TOKEN={secret}"])
@pytest.mark.parametrize("with_header", [False, True])
def test_a_token_in_the_query_is_refused_and_never_logged(agent: Agent, query: str, with_header: bool) -> None:
    secret = agent.tokens["admin"]  # a valid token: refused all the same
    path = f"/api/plugins?{query.format(secret=secret)}"
    logged = '"GET /api/plugins HTTP/1.1" 401'
    seen = agent.stderr.count(logged)
    response = httpx.get(agent.url + path, headers=agent.headers("viewer") if with_header else {}, timeout=5)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization header" in response.json()["error"]["message"]
    _wait_for(agent, logged, seen=seen)
    assert secret not in agent.stderr and secret not in agent.stdout


def test_the_access_log_is_on_stderr_only(agent: Agent) -> None:
    assert httpx.get(agent.url + "/api/plugins/discover?x=visible", headers=agent.headers("viewer")).status_code == 200
    _wait_for(agent, '"GET /api/plugins/discover HTTP/1.1" 200')
    assert "x=visible" not in agent.stderr  # query strings are never logged
    assert agent.stdout == ""


def test_a_body_without_a_content_type_gets_415(agent: Agent) -> None:
    body = b'{"dry_run": true}'
    head = _head(
        "/api/providers/memory/instances/mem-1/stop",
        f"Authorization: Bearer {agent.tokens['operator']}".encode(),
        f"Content-Length: {len(body)}".encode(),
        b"Connection: close",
        b"",
        method="POST",
    )
    with _connect(agent) as sock:
        sock.sendall(head + body)
        answer, _ = _until_closed(sock, within=10)
    status, raw = _status_and_body(answer)
    assert status == 415
    assert json.loads(raw) == {
        "error": {
            "code": "unsupported_media_type",
            "message": "send the body as JSON, with Content-Type: application/json",
        }
    }
    with agent.client("viewer") as client:  # nothing was stopped
        assert client.get("/api/providers/memory/instances/mem-1").json()["state"] == "running"


def test_a_post_without_a_body_needs_no_content_type(agent: Agent) -> None:
    with agent.client("operator") as client:
        response = client.post("/api/providers/memory/instances/mem-2/start")
    assert response.status_code == 200 and "content-type" not in response.request.headers


def test_docs_name_the_limits() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    guide, rest = (docs / "agent.md").read_text(), (docs / "rest.md").read_text()
    for text in ("10 seconds", "64 KiB", "5 seconds", "stderr"):
        assert text in guide, f"docs/agent.md does not say {text!r}"
    assert "| 431 | `headers_too_large` |" in rest and "no `Content-Type`" in rest
