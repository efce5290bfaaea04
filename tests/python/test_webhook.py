"""Tests of ``funnel-webhook`` with real HTTP requests on loopback (no mocks).

The receiver runs as a real process on a free port with a temporary spool. The tests sign
real Resend payloads with their own HMAC code (not ``crm_funnel.ingest.svix``), check every answer
(200, 400, 401, 408, 411, 413, 503), that a 200 comes only once the line is in the spool
file, that SIGTERM leaves only complete ``.ndjson`` files, that ``funnel-load`` lands what
was spooled with the Svix message ids as keys, and that a burst of 500 simultaneous
requests is all answered and spooled once while slow clients are cut off.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, ProfileRef, fetch, parse_load_summary, run_funnel_load
from crm_funnel.ingest.inputs import expand_paths

RESEND_FIXTURES = REPO_ROOT.parent / "shared" / "data" / "resend-webhooks"
SECRET_ENV = "CRM_FUNNEL_WEBHOOK_SECRET"
MAX_BODY = 4096
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+),")


def resend_payloads() -> list[str]:
    return [
        line
        for name in ("captured_payloads.ndjson", "documented_examples.ndjson")
        for line in (RESEND_FIXTURES / name).read_text("utf-8").splitlines()
        if line
    ]


def new_secret() -> tuple[str, bytes]:
    key = os.urandom(32)
    return "whsec_" + base64.b64encode(key).decode(), key


def svix_headers(key: bytes, message_id: str, body: bytes, timestamp: int | None = None):
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(key, message_id.encode() + b"." + stamp.encode() + b"." + body, "sha256")
    signature = "v1," + base64.b64encode(digest.digest()).decode()
    return {"svix-id": message_id, "svix-timestamp": stamp, "svix-signature": signature}


@dataclass
class Receiver:
    proc: subprocess.Popen[bytes]
    port: int
    spool: Path
    log: Path
    key: bytes
    secret: str
    accepted: dict[str, bytes] = field(default_factory=dict)  # svix-id -> body

    def post(
        self, body: bytes, headers: dict[str, str], path: str = "/webhooks/resend"
    ) -> tuple[int, dict[str, Any]]:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            con.request("POST", path, body=body, headers=headers)
            response = con.getresponse()
            return response.status, json.loads(response.read())
        finally:
            con.close()

    def send(self, message_id: str, body: bytes, **kw: Any) -> tuple[int, dict[str, Any]]:
        """POST a correctly signed body; remember it when it is accepted."""
        status, answer = self.post(body, svix_headers(self.key, message_id, body, **kw))
        if status == 200:
            self.accepted.setdefault(message_id, body)
        return status, answer

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = tmp_path / "receiver.log"
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "crm_funnel.ops.webhook", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )


def wait_listening(proc: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        match = LISTENING.search(log.read_text("utf-8", "replace"))
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            pytest.fail(f"funnel-webhook exited {proc.returncode}: {log.read_text()}")
        time.sleep(0.05)
    pytest.fail("funnel-webhook did not start listening")


@contextmanager
def running(tmp_path: Path, *args: str) -> Iterator[Receiver]:
    """A receiver with its own secret and spool (killed if a test leaves it running)."""
    secret, key = new_secret()
    spool = tmp_path / "spool"
    env = {**os.environ, SECRET_ENV: secret}
    proc = start(tmp_path, "--spool", str(spool), "--port", "0", *args, env=env)
    try:
        port = wait_listening(proc, tmp_path / "receiver.log")
        yield Receiver(proc, port, spool, tmp_path / "receiver.log", key, secret)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with running(tmp_path, "--max-body-bytes", str(MAX_BODY)) as started:
        yield started


def spool_lines(spool: Path, pattern: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(spool.glob(pattern))
        for line in path.read_text("utf-8").splitlines()
    ]


def raw_request(receiver: Receiver, message_id: str, body: bytes) -> bytes:
    """A signed POST as the bytes a client sends."""
    headers = {
        "Host": "127.0.0.1",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **svix_headers(receiver.key, message_id, body),
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /webhooks/resend HTTP/1.1\r\n{head}\r\n".encode() + body


def raw_status(receiver: Receiver, request: bytes) -> int:
    """The status code answered to ``request`` sent as is on a new connection."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
        sock.sendall(request)
        return int(sock.makefile("rb").readline().split()[1])


async def _exchange(port: int, request: bytes) -> str:
    """Send one request on a new connection; its status code, or the error instead."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 30)
        finally:
            writer.close()
        return answer.split(b" ", 2)[1].decode() if answer else "no answer"
    except (OSError, asyncio.TimeoutError) as exc:
        return type(exc).__name__


def burst(port: int, requests: list[bytes]) -> Counter[str]:
    """All requests at once, each on its own connection: how many got each answer."""

    async def everything() -> list[str]:
        return await asyncio.gather(*(_exchange(port, request) for request in requests))

    return Counter(asyncio.run(everything()))


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.webhook", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


# --------------------------------------------------------------------------- tests


def test_signed_webhooks_are_spooled_and_loaded(
    receiver: Receiver, duckdb_profile: ProfileRef
) -> None:
    payloads = [p.encode() for p in resend_payloads()]
    for number, body in enumerate(payloads):
        message_id = f"msg_{number:02d}_{hashlib.md5(body).hexdigest()[:8]}"
        assert receiver.send(message_id, body) == (200, {"ok": True})
        # the answer came after the line was written: it is in the open spool file
        written = spool_lines(receiver.spool, "*.ndjson.part")
        assert written[-1]["headers"]["svix-id"] == message_id
    # Resend retries msg 0 (new timestamp, same id): accepted again, a duplicate later
    first_id = next(iter(receiver.accepted))
    retry = receiver.send(first_id, receiver.accepted[first_id], timestamp=int(time.time()) - 5)
    assert retry == (200, {"ok": True})
    # concurrent deliveries: every line complete (appends are serialised)
    bodies = {f"msg_c{n}": json.dumps({"type": "email.opened", "n": n}).encode() for n in range(12)}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda item: receiver.send(*item), bodies.items()))
    assert answers == [(200, {"ok": True})] * len(bodies)
    con = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    con.request("GET", "/healthz")
    assert con.getresponse().status == 200
    con.close()

    assert receiver.stop() == 0
    assert [p.suffix for p in receiver.spool.iterdir()] == [".ndjson"]
    spooled = spool_lines(receiver.spool, "*.ndjson")
    assert len(spooled) == len(payloads) + 1 + len(bodies)
    for line in spooled:
        assert set(line) == {"headers", "received_at", "body"}
        assert set(line["headers"]) == {"svix-id", "svix-timestamp", "svix-signature"}
        assert line["body"].encode() == receiver.accepted[line["headers"]["svix-id"]]

    # the log: one line per request, no secret, no body
    log = receiver.log.read_text("utf-8")
    requests = [line for line in log.splitlines() if '"POST ' in line or '"GET ' in line]
    assert len(requests) == len(payloads) + 1 + len(bodies) + 1
    assert receiver.secret not in log and "to@example.org" not in log

    # funnel-load verifies the envelopes again (against received_at) and lands the bodies
    env = {**os.environ, SECRET_ENV: receiver.secret}
    proc = run_funnel_load(*duckdb_profile.cli_args(), "--quiet", receiver.spool, env=env)
    assert proc.returncode == 0, proc.stderr
    (summary,) = map(parse_load_summary, proc.stdout.splitlines())
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (
        len(spooled),
        len(receiver.accepted),
        1,
        0,
    )
    rows = fetch(duckdb_profile, "select event_key, source_format, payload from raw.events")
    rows = [(key.removeprefix("svix:id:"), fmt, payload) for key, fmt, payload in rows]
    assert {key: payload.encode() for key, _, payload in rows} == receiver.accepted
    formats = {key: fmt for key, fmt, _ in rows}
    assert {formats[key] for key in receiver.accepted if key.startswith("msg_c")} == {"native"}
    assert {formats[key] for key in receiver.accepted if not key.startswith("msg_c")} == {"resend"}


def test_rejections(receiver: Receiver) -> None:
    body = resend_payloads()[6].encode()
    other_key = os.urandom(32)

    status, answer = receiver.post(body, svix_headers(other_key, "msg_bad", body))
    assert (status, answer) == (401, {"ok": False, "error": "invalid webhook signature"})
    headers = svix_headers(receiver.key, "msg_tampered", body)
    assert receiver.post(body.replace(b"to@", b"xx@"), headers)[0] == 401
    expired = receiver.send("msg_old", body, timestamp=int(time.time()) - 6 * 60)
    assert expired == (
        401,
        {"ok": False, "error": "webhook timestamp outside the 5-minute tolerance"},
    )
    assert receiver.post(body, {"svix-id": "msg_unsigned"})[0] == 401

    # signed, but not a JSON object
    assert receiver.send("msg_text", b"hello") == (
        400,
        {"ok": False, "error": "body is not valid JSON"},
    )
    assert receiver.send("msg_array", b"[1, 2]")[0] == 400
    assert receiver.send("msg_latin1", '{"name": "Zoë"}'.encode("latin-1"))[0] == 400

    # the size limit: exactly MAX_BODY is accepted, one byte more is not
    filler = json.dumps({"type": "email.sent", "pad": ""}).encode()
    exact = filler.replace(b'""', b'"' + b"x" * (MAX_BODY - len(filler)) + b'"')
    assert len(exact) == MAX_BODY
    assert receiver.send("msg_exact", exact) == (200, {"ok": True})
    too_big = exact.replace(b'"x', b'"xx')
    status, answer = receiver.send("msg_big", too_big)
    assert (status, answer) == (413, {"ok": False, "error": f"body over {MAX_BODY} bytes"})

    # chunked upload (no Content-Length) -> 411
    chunked = b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert raw_status(receiver, b"POST /webhooks HTTP/1.1\r\nHost: x\r\n" + chunked) == 411
    # a length a proxy could read differently (request smuggling): 400, even when signed
    body = b'{"type": "email.sent"}'
    signed = raw_request(receiver, "msg_framing", body)
    head, _, rest = signed.partition(b"\r\n")
    length = b"Content-Length: %d\r\n" % len(body)
    for extra in (b"Content-Length: 2\r\n", length, b"Transfer-Encoding: chunked\r\n"):
        assert raw_status(receiver, head + b"\r\n" + extra + rest) == 400, extra
    for odd in (b"+%d" % len(body), b"%d_%d" % divmod(len(body), 10), b" 0x%x" % len(body)):
        assert raw_status(receiver, signed.replace(length, b"Content-Length:%s\r\n" % odd)) == 400

    assert receiver.stop() == 0
    assert [line["headers"]["svix-id"] for line in spool_lines(receiver.spool, "*")] == [
        "msg_exact"
    ]


def test_rotation_and_recovery_of_an_interrupted_spool(tmp_path: Path) -> None:
    secret, key = new_secret()
    spool = tmp_path / "spool"
    spool.mkdir()
    # a file left open by a receiver that was killed: its last line was never acknowledged
    finished = subprocess.Popen(["true"])
    finished.wait()
    orphan = spool / f"webhooks-20260101T000000.000000Z-{finished.pid}.ndjson.part"
    orphan.write_bytes(b'{"headers": {}, "body": "{}"}\n{"headers": {"svix-id": "msg_par')

    env = {**os.environ, SECRET_ENV: secret}
    proc = start(tmp_path, "--spool", str(spool), "--port", "0", "--rotate-seconds", "0.3", env=env)
    try:
        port = wait_listening(proc, tmp_path / "receiver.log")
        receiver = Receiver(proc, port, spool, tmp_path / "receiver.log", key, secret)
        assert not orphan.exists()
        completed = orphan.with_name(orphan.name.removesuffix(".part"))
        assert completed.read_bytes() == b'{"headers": {}, "body": "{}"}\n'

        assert receiver.send("msg_r1", b'{"type": "email.sent", "data": {}}')[0] == 200
        deadline = time.monotonic() + 10
        while list(spool.glob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not list(spool.glob("*.part"))  # rotated while running
        assert receiver.send("msg_r2", b'{"type": "email.sent", "data": {}}')[0] == 200
        assert len(list(spool.glob("*.part"))) == 1  # a new file for the next events
        # funnel-load DIR / funnel-pipeline --inbox DIR read only the completed files
        assert {i.path for i in expand_paths([str(spool)])} == set(spool.glob("*.ndjson"))
        assert receiver.stop() == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    files = sorted(spool.glob("*.ndjson"))
    assert len(files) == 3 and not list(spool.glob("*.part"))
    ids = [line["headers"].get("svix-id") for line in spool_lines(spool, "*.ndjson")]
    assert sorted(map(str, ids)) == ["None", "msg_r1", "msg_r2"]


def test_setup_errors_are_one_line(tmp_path: Path, receiver: Receiver) -> None:
    spool = str(tmp_path / "other-spool")
    base = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    cases = [
        (base, ["--spool", spool], f"{SECRET_ENV} is not set"),
        ({**base, SECRET_ENV: "secret-without-prefix"}, ["--spool", spool], "whsec_"),
        ({**base, SECRET_ENV: "whsec_%%%"}, ["--spool", spool], "not valid base64"),
        (
            {**base, SECRET_ENV: receiver.secret},
            ["--spool", spool, "--port", str(receiver.port)],
            "address already in use",
        ),
        ({**base, SECRET_ENV: receiver.secret}, ["--port", "1"], "--spool"),
        (
            {**base, SECRET_ENV: receiver.secret},
            ["--spool", spool, "--max-connections", "0"],
            "--max-connections must be a whole number above 0",
        ),
        (
            {**base, SECRET_ENV: receiver.secret},
            ["--spool", spool, "--header-timeout", "nan"],
            "--header-timeout must be a finite number of seconds above 0",
        ),
    ]
    for env, args, needle in cases:
        proc = run_cli(*args, env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("funnel-webhook: error: "), proc.stderr
        assert needle in lines[0], lines[0]
        assert "Traceback" not in proc.stderr
    assert receiver.stop() == 0


def test_a_burst_of_500_signed_requests_is_answered_and_spooled_once(receiver: Receiver) -> None:
    bodies = {f"msg_b{n}": json.dumps({"type": "email.sent", "n": n}).encode() for n in range(500)}
    requests = [raw_request(receiver, key, body) for key, body in bodies.items()]
    started = time.monotonic()
    assert burst(receiver.port, requests) == {"200": 500}
    assert time.monotonic() - started < 30
    assert receiver.stop() == 0
    spooled = spool_lines(receiver.spool, "*.ndjson")
    assert Counter(line["headers"]["svix-id"] for line in spooled) == dict.fromkeys(bodies, 1)
    assert {line["headers"]["svix-id"]: line["body"].encode() for line in spooled} == bodies


def test_slow_clients_are_cut_off_and_more_connections_get_503(tmp_path: Path) -> None:
    limits = ("--workers", "2", "--max-connections", "4", "--header-timeout", "1")
    with running(tmp_path, *limits, "--body-timeout", "1") as receiver:
        address = ("127.0.0.1", receiver.port)
        # four clients that send a header line every 0.2 s and never finish (slowloris)
        slow = [socket.create_connection(address, timeout=5) for _ in range(4)]
        for sock in slow:
            sock.sendall(b"POST /webhooks/resend HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.2)  # all four taken by the receiver
        # the fifth connection is over the cap: a fast 503 with Retry-After, not a reset
        started = time.monotonic()
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(raw_request(receiver, "msg_over", b"{}"))
            answer = sock.makefile("rb").read()
        assert time.monotonic() - started < 1
        assert answer.startswith(b"HTTP/1.0 503 ") and b"\r\nRetry-After: 5\r\n" in answer
        # each slow client is cut off within the header timeout of a worker taking it
        # (two workers: two at about 1 s, the other two at about 2 s)
        cut: dict[socket.socket, float] = {}
        while len(cut) < len(slow) and time.monotonic() - started < 6:
            for sock in slow:
                if sock not in cut:
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                        readable = select.select([sock], [], [], 0)[0]
                        if readable and not sock.recv(4096):
                            cut[sock] = time.monotonic() - started
                    except OSError:
                        cut[sock] = time.monotonic() - started
            time.sleep(0.2)
        for sock in slow:
            sock.close()
        assert len(cut) == 4 and max(cut.values()) < 3.5, sorted(cut.values())
        # a body that does not arrive within --body-timeout: 408
        body = b'{"type": "email.sent"}'
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(raw_request(receiver, "msg_slow_body", body)[:-5])
            assert sock.makefile("rb").readline().split()[1] == b"408"
        # the receiver serves again
        assert receiver.send("msg_after", body) == (200, {"ok": True})
        assert receiver.stop() == 0
        log = receiver.log.read_text("utf-8")
        assert log.count("503 over --max-connections 4") == 1 and "Traceback" not in log
    assert [line["headers"]["svix-id"] for line in spool_lines(receiver.spool, "*")] == [
        "msg_after"
    ]
