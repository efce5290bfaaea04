"""The webhook spool: envelope lines appended durably to a ``.part`` file, rotated into
``webhooks-*.ndjson`` files that ``funnel-load`` reads; the receiver's log.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from crm_funnel.errors import TerminalError
from crm_funnel.ingest.inputs import process_alive

PROG = "funnel-webhook"  # the receiver that writes the spool: its name starts each log line


PART_SUFFIX = ".ndjson.part"
_PART_NAME = re.compile(r"webhooks-.+-(\d+)\.ndjson\.part\Z")


_LOG_LOCK = threading.Lock()


def log(message: str) -> None:
    """One whole line on stderr (handler threads log at the same time)."""
    text = "".join(ch if ch.isprintable() else " " for ch in message)
    with _LOG_LOCK, contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"{PROG}: {text}\n")
        sys.stderr.flush()


def utc_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the spool


class Spool:
    """Appends envelope lines durably to the current ``.part`` file and rotates it."""

    def __init__(self, directory: Path, rotate_seconds: float) -> None:
        self.directory = directory
        self.rotate_seconds = rotate_seconds
        self.lock = threading.Lock()
        self._fd: int | None = None
        self._part: Path | None = None
        self._size = 0
        self._opened = 0.0
        self.files_completed = 0

    def _open(self) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        self._part = self.directory / f"webhooks-{stamp}-{os.getpid()}{PART_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self._fd = os.open(self._part, flags, 0o600)
        self._size = 0
        self._opened = time.monotonic()
        _fsync_dir(self.directory)  # the new name is durable before the first 200

    def _complete(self) -> None:
        """Close the current file and rename it to ``.ndjson`` (atomic)."""
        if self._fd is None or self._part is None:
            return
        fd, part = self._fd, self._part
        self._fd = self._part = None
        os.close(fd)
        os.rename(part, part.with_name(part.name[: -len(".part")]))
        _fsync_dir(self.directory)
        self.files_completed += 1

    def append(self, line: bytes) -> None:
        """Write one line and fsync it; on failure nothing of it stays in the file."""
        with self.lock:
            if self._fd is not None and time.monotonic() - self._opened >= self.rotate_seconds:
                self._complete()
            if self._fd is None:
                self._open()
            assert self._fd is not None
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                raise
            self._size += len(line)

    def rotate_if_due(self) -> None:
        with self.lock:
            if self._fd is not None and time.monotonic() - self._opened >= self.rotate_seconds:
                self._complete()

    def close(self) -> None:
        with self.lock:
            self._complete()

    def recover(self) -> list[str]:
        """Complete the ``.part`` files of receivers that are no longer running.

        Every acknowledged line was fsynced whole; a trailing line without its newline was
        never acknowledged (the sender retries it), so it is cut off.
        """
        recovered = []
        for part in sorted(self.directory.glob(f"webhooks-*{PART_SUFFIX}")):
            match = _PART_NAME.match(part.name)
            if match is None or int(match.group(1)) == os.getpid():
                continue
            if process_alive(int(match.group(1))):
                continue
            data = part.read_bytes()
            keep = data.rfind(b"\n") + 1
            if keep == 0:
                part.unlink()
            else:
                if keep < len(data):
                    with open(part, "r+b") as fh:
                        fh.truncate(keep)
                        os.fsync(fh.fileno())
                os.rename(part, part.with_name(part.name[: -len(".part")]))
            recovered.append(part.name)
        if recovered:
            _fsync_dir(self.directory)
        return recovered


def open_spool(directory: str, rotate_seconds: float) -> Spool:
    path = Path(directory).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise TerminalError(
            f"cannot create the spool directory {directory}: {exc.strerror or exc}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise TerminalError(
            f"the spool directory {directory} is not writable; pass another --spool"
        )
    spool = Spool(path, rotate_seconds)
    try:
        for name in spool.recover():
            log(f"completed {name} (left open by a receiver that stopped)")
    except OSError as exc:
        raise TerminalError(
            f"cannot complete the spool files in {directory}: {exc.strerror or exc}"
        ) from None
    return spool
