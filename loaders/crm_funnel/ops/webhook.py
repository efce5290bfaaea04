"""``funnel-webhook``: receive signed webhooks (Resend, via Svix) into a spool of NDJSON files.

Every POST (any path) is checked, then appended as one *envelope* line to the current
spool file and made durable (write + fsync) before the answer, so a 200 means the event
is on disk:

* no ``Content-Length`` -> 411; more than one, or one with ``Transfer-Encoding`` -> 400
  (a proxy could frame the body differently); over ``--max-body-bytes`` -> 413 (the body
  is not read);
* a missing, invalid or expired Svix signature -> 401 (see ``svix.py``);
* a body that is not a UTF-8 JSON object -> 400;
* otherwise ``{"headers": {"svix-id", "svix-timestamp", "svix-signature"},
  "received_at": "<ISO UTC>", "body": "<the raw body text>"}`` is spooled -> 200.

Spool files are written as ``DIR/webhooks-<UTC stamp>-<pid>.ndjson.part`` and renamed
(atomically) to ``.ndjson`` after ``--rotate-seconds`` and on shutdown (SIGTERM/SIGINT), so
``funnel-load DIR`` and ``funnel-pipeline --inbox DIR`` (which read only ``*.ndjson``) never
see a file that is still being written. The loader verifies the envelopes again when
``CRM_FUNNEL_WEBHOOK_SECRET`` is set, lands each body verbatim with the Svix message id as
its event key (provider retries are duplicates), and puts rejects in ``raw.load_errors``.
A ``.part`` file left by a receiver that was killed is completed at the next start.

Under bursts (``LIMITS``): the kernel queues ``--backlog`` connections, ``--workers``
threads serve the accepted ones, a connection beyond ``--max-connections`` gets an
immediate 503 with ``Retry-After`` (not a reset); ``--header-timeout`` and
``--body-timeout`` are totals, so a client sending a byte now and then is cut off too.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from crm_funnel import __version__
from crm_funnel.errors import TerminalError
from crm_funnel.ingest import svix
from crm_funnel.ingest.formats import reject_constant
from crm_funnel.ops.spool import PROG, Spool, log, open_spool, utc_iso

DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_ROTATE_SECONDS = 60.0
RETRY_AFTER_SECONDS = 5  # told to a client refused with 503 (over --max-connections)
LIMITS = (  # the limits under load: option, default (its type is the option's), help
    ("--workers", 32, "threads serving requests"),
    (
        "--max-connections",
        1024,
        "connections accepted at once, waiting for a worker or being served; more get "
        f"503 with Retry-After: {RETRY_AFTER_SECONDS}",
    ),
    ("--backlog", 1024, "connections the kernel queues unaccepted (net.core.somaxconn caps it)"),
    (
        "--header-timeout",
        10.0,
        "seconds a client has to send the request line and headers, from when a worker "
        "takes the connection",
    ),
    ("--body-timeout", 30.0, "seconds a client has to send the body; later -> 408"),
)
DRAIN_SECONDS = 2.0  # after a 4xx with an unread body: how long to swallow the rest
DRAIN_BYTES = 16 << 20

DESCRIPTION = f"""\
Receive signed webhooks (Resend, signed by Svix) and spool them as NDJSON files that
funnel-load / funnel-pipeline --inbox pick up.

Each POST (any path) is verified with the signing secret in {svix.SECRET_ENV}
(whsec_...; several separated by spaces while rotating) and appended to the current spool
file, which is flushed and fsynced before the 200 answer. Answers: 200 spooled,
400 not a JSON object or an ambiguous length (two Content-Length headers, or one with
Transfer-Encoding), 401 bad or expired signature, 408 body not received in time,
411 no Content-Length, 413 too large, 503 the spool cannot be written or more than
--max-connections are open (with Retry-After; the sender retries). GET /healthz answers
200. A client that has not sent its headers within --header-timeout is disconnected.
Spool files are DIR/webhooks-<UTC time>-<pid>.ndjson.part while open and are renamed to
.ndjson every --rotate-seconds and on shutdown (SIGTERM or Ctrl-C).
Listen on loopback behind a TLS reverse proxy; one line per request goes to stderr
(never a secret or a body)."""

EPILOG = f"""\
examples:
  export {svix.SECRET_ENV}=whsec_...      # the endpoint's signing secret in Resend
  funnel-webhook --spool data/inbox/webhooks
  funnel-pipeline --inbox data/inbox        # loads the rotated *.ndjson files

exit status: 0 stopped by SIGTERM/SIGINT (the spool is complete), 2 setup error
(one line on stderr says what to do)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (like argparse, without usage)
        _fail(message)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--spool", required=True, metavar="DIR", help="directory of the spool files (created)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on, 0 = any free port (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY,
        metavar="N",
        help=f"larger bodies are refused with 413 (default: {DEFAULT_MAX_BODY})",
    )
    parser.add_argument(
        "--rotate-seconds",
        type=float,
        default=DEFAULT_ROTATE_SECONDS,
        metavar="S",
        help="close the spool file (-> .ndjson) this long after its first event "
        f"(default: {DEFAULT_ROTATE_SECONDS:g})",
    )
    limits = parser.add_argument_group("limits under load")
    for option, default, text in LIMITS:
        metavar = "N" if isinstance(default, int) else "S"
        limits.add_argument(
            option,
            type=type(default),
            default=default,
            metavar=metavar,
            help=f"{text} (default: {default:g})",
        )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _fail(message: str) -> int:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    return 2


# --------------------------------------------------------------------------- HTTP


_DECODER = json.JSONDecoder(parse_constant=reject_constant)


class _DeadlineReader(io.RawIOBase):
    """Reads a socket until ``deadline`` (a total, not a per-read timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the time allowed is over")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class Handler(BaseHTTPRequestHandler):
    server_version = f"{PROG}/{__version__}"
    sys_version = ""
    server: WebhookServer

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # read through the deadline instead
        self.reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        # a client that has not sent its headers in time is cut off (logged as timed out)
        self.reader.deadline = time.monotonic() + self.server.header_timeout
        super().handle_one_request()

    # -- logging: one line per request, never a secret or a body
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _reply logs, with the outcome

    def log_message(self, format: str, *args: Any) -> None:
        log(f"{self.address_string()} {format % args}")

    def _path(self) -> str:
        return self.path.split("?", 1)[0][:200]  # no query string (it may hold a token)

    def _reply(
        self, status: int, note: str = "", *, message_id: str = "", unread: bool = False
    ) -> None:
        document: dict[str, Any] = {"ok": status == 200}
        if note and status != 200:
            document["error"] = note
        data = json.dumps(document).encode("utf-8")
        # logged before the answer: once the client has it, the line is there
        parts = [f'"{self.command} {self._path()}"', str(status)]
        if message_id:
            parts.append(f"id={message_id}")
        if note:
            parts.append(note)
        self.log_message("%s", " ".join(parts))
        self.connection.settimeout(self.server.header_timeout)  # for sending the answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if unread:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if unread:
            self.close_connection = True
            self._drain()

    def _drain(self) -> None:
        """Swallow the unread body for a moment, so the client reads our answer, not a reset."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + DRAIN_SECONDS
            total = 0
            while total < DRAIN_BYTES and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(1 << 16)
                if not chunk:
                    break
                total += len(chunk)

    def do_GET(self) -> None:
        if self._path() == "/healthz":
            self._reply(200)
        else:
            self._reply(404, "not found: POST webhooks to any path, GET /healthz")

    def do_POST(self) -> None:
        lengths = self.headers.get_all("Content-Length", [])
        if not lengths:
            return self._reply(411, "Content-Length required", unread=True)
        if len(lengths) > 1:
            return self._reply(400, "more than one Content-Length header", unread=True)
        if "Transfer-Encoding" in self.headers:
            return self._reply(400, "Content-Length with Transfer-Encoding", unread=True)
        text = lengths[0].strip()
        if not (text.isascii() and text.isdigit()):
            return self._reply(400, "invalid Content-Length", unread=True)
        length = int(text)
        limit = self.server.max_body_bytes
        if length > limit:
            return self._reply(413, f"body over {limit} bytes", unread=True)
        self.reader.deadline = time.monotonic() + self.server.body_timeout
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            timeout = self.server.body_timeout
            return self._reply(408, f"body not received within {timeout:g} s", unread=True)
        if len(raw) < length:
            return self._reply(400, "body shorter than Content-Length")
        headers = dict(self.headers.items())
        found = svix.signature_headers(headers)
        message_id = found["id"] or ""
        if len(message_id) > 200 or not message_id.isprintable():
            message_id = "?"  # only for the log line
        received = time.time()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._reply(400, "body is not UTF-8 text", message_id=message_id)
        try:
            svix.verify(headers, text, self.server.secrets, received)
        except svix.VerificationError as exc:
            return self._reply(401, str(exc), message_id=message_id)
        try:
            obj = _DECODER.decode(text)
        except (ValueError, RecursionError):
            return self._reply(400, "body is not valid JSON", message_id=message_id)
        if not isinstance(obj, dict):
            return self._reply(400, "body is not a JSON object", message_id=message_id)
        envelope = {
            "headers": {f"svix-{part}": found[part] for part in svix.HEADER_NAMES},
            "received_at": utc_iso(received),
            "body": text,
        }
        line = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            self.server.spool.append(line.encode("utf-8"))
        except OSError as exc:
            return self._reply(
                503, f"cannot write the spool: {exc.strerror or exc}", message_id=message_id
            )
        return self._reply(200, f"{len(raw)} bytes spooled", message_id=message_id)


class WebhookServer(HTTPServer):
    """Accepts connections up to a cap and serves them with a fixed pool of workers.

    server_close() waits for the connections taken (the pool finishes them), so the spool
    is completed only after their lines are written.
    """

    allow_reuse_port = False

    def __init__(
        self,
        address: tuple[str, int],
        args: argparse.Namespace,
        spool: Spool,
        secrets: Sequence[bytes],
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.spool = spool
        self.secrets = list(secrets)
        self.max_body_bytes = args.max_body_bytes
        self.header_timeout = args.header_timeout
        self.body_timeout = args.body_timeout
        self.request_queue_size = args.backlog  # the listen() backlog
        self.max_connections = args.max_connections
        self.slots = threading.BoundedSemaphore(args.max_connections)
        self.pool = ThreadPoolExecutor(args.workers, thread_name_prefix=PROG)
        note = b'{"ok": false, "error": "too many connections; retry later"}'
        self.busy = (
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
        ) % (RETRY_AFTER_SECONDS, len(note), note)
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self._refuse(request, client_address)
            return
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def _refuse(self, request: socket.socket, client_address: Any) -> None:
        """503 at once, without waiting for the request (the accepting thread never blocks)."""
        log(f"{client_address[0]} 503 over --max-connections {self.max_connections}")
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(self.busy)
            request.shutdown(socket.SHUT_WR)
            with contextlib.suppress(BlockingIOError):
                while request.recv(1 << 16):  # what has arrived, so close() sends no reset
                    pass
        request.close()

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is one log line, not a traceback."""
        exc = sys.exc_info()[1]
        log(f"{client_address[0]} request failed: {type(exc).__name__}: {exc}")


def _listen(args: argparse.Namespace, spool: Spool, secrets: list[bytes]) -> WebhookServer:
    where = f"{args.host}:{args.port}"
    try:
        return WebhookServer((args.host, args.port), args, spool, secrets)
    except socket.gaierror as exc:
        raise TerminalError(f"cannot listen on {where}: unknown host ({exc.strerror})") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = (
                "address already in use (is another funnel-webhook running?); pick another --port"
            )
        raise TerminalError(f"cannot listen on {where}: {reason}") from None


def _check_args(args: argparse.Namespace) -> list[bytes]:
    try:
        secrets = svix.secrets_from_env()
    except svix.SecretError as exc:
        raise TerminalError(str(exc)) from None
    if not secrets:
        raise TerminalError(
            f"{svix.SECRET_ENV} is not set: export the signing secret of the webhook endpoint "
            "(whsec_..., from the Resend dashboard) before starting"
        )
    if not 0 <= args.port <= 65535:
        raise TerminalError(f"--port {args.port} is not a port number (0-65535)")
    if args.max_body_bytes < 1:
        raise TerminalError("--max-body-bytes must be a positive number of bytes")
    if not args.rotate_seconds > 0:
        raise TerminalError("--rotate-seconds must be a positive number of seconds")
    for option, default, _ in LIMITS:
        if not 0 < getattr(args, option[2:].replace("-", "_")) < math.inf:  # also not NaN
            unit = "a whole number" if isinstance(default, int) else "a finite number of seconds"
            raise TerminalError(f"{option} must be {unit} above 0")
    return secrets


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        secrets = _check_args(args)
        spool = open_spool(args.spool, args.rotate_seconds)
        server = _listen(args, spool, secrets)
    except TerminalError as exc:
        return _fail(str(exc))

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host, port = server.server_address[:2]
    shown = f"[{host!s}]" if ":" in str(host) else str(host)
    log(
        f"listening on http://{shown}:{port}, spooling to {spool.directory} "
        f"(files complete every {args.rotate_seconds:g} s and at shutdown)"
    )
    serving = threading.Thread(target=server.serve_forever, name="funnel-webhook", daemon=True)
    serving.start()
    try:
        tick = min(1.0, max(0.05, args.rotate_seconds / 4))
        while not stop.wait(tick):
            try:
                spool.rotate_if_due()
            except OSError as exc:
                log(f"cannot complete the spool file: {exc.strerror or exc}")
    finally:
        server.shutdown()  # no new requests
        server.server_close()  # waits for the requests in flight
        try:
            spool.close()
        except OSError as exc:
            return _fail(f"cannot complete the spool file: {exc.strerror or exc}")
    log(f"stopped; {spool.files_completed} spool file(s) completed in {spool.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
