"""The progress line of a long load (stderr) and counted words."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Protocol

# --------------------------------------------------------------------------- progress


class Counted(Protocol):
    """What the progress line reads from the input reader."""

    bytes_read: int


class Progress:
    """Prints a progress line to stderr every ``interval`` s once a load runs > ``interval`` s.

    The hot loop only assigns ``records`` (and the reader counts bytes); a daemon thread
    does the printing, so a long database phase is reported too.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: IO[str] | None = None,
        enabled: bool = True,
        total_bytes: int | None = None,
        interval: float = 2.0,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.total_bytes = total_bytes
        self.interval = interval
        self.records = 0
        self.bytes_read = 0
        self.source: Counted | None = None  # the reader, once it counts the bytes
        self.phase = "reading"
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0
        self._start = time.monotonic()

    def set_phase(self, phase: str) -> None:
        self.phase = phase

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="funnel-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._print(self.line())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        done = self.source.bytes_read if self.source is not None else self.bytes_read
        pct = ""
        if self.total_bytes:
            pct = f", {min(100.0, 100.0 * done / self.total_bytes):.0f}% of the file"
        if self.phase == "reading":
            rate = self.records / elapsed
            return f"{self.label}: {self.records:,} records read ({rate:,.0f}/s{pct})"
        if self.phase == "hashing":
            return f"{self.label}: computing checksum{pct}"
        return f"{self.label}: {self.records:,} records read, {self.phase} ({elapsed:.0f} s)"

    def _print(self, line: str) -> None:
        line = f"funnel-load: {line}"
        try:
            if self._tty:
                pad = max(0, self._width - len(line))
                self.stream.write("\r" + line + " " * pad)
                self._width = len(line)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


# --------------------------------------------------------------------------- results


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    """'1 row', '2 rows' (or the given plural), with thousands separators."""
    return f"{n:,} {word if n == 1 else (plural_word or word + 's')}"
