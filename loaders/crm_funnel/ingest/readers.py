"""The streaming readers: NDJSON lines and JSON arrays, plain or gzip, into the CSV sink."""

from __future__ import annotations

import codecs
import gc
import gzip
import hashlib
import json
import re
import uuid
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from crm_funnel.errors import TerminalError
from crm_funnel.ingest.formats import (
    DECODER,
    JSON_WS,
    LENIENT_DECODER,
    WHITESPACE,
    json_error_reason,
    webhook_secrets,
)
from crm_funnel.ingest.inputs import LoadInput
from crm_funnel.ingest.progress import Progress
from crm_funnel.ingest.sink import CsvSink
from crm_funnel.warehouse.backend import Batch, utcnow
from crm_funnel.warehouse.tombstones import NO_TOMBSTONES, Tombstones

CHUNK_SIZE = 1 << 20  # bytes read from the source per step


GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- reading


class _HashingReader:
    """Reads the raw bytes of a file or stdin, hashing and counting what it reads."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.bytes_read = 0
        head = b""
        while len(head) < 2:  # enough to recognise the gzip magic
            more = fh.read(2 - len(head))
            if not more:
                break
            head += more
        self._sha.update(head)
        self.bytes_read = len(head)
        self.head = head
        self._pending = head

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            if size is None or size < 0:
                return data + self.read(-1)
            return data + self.read(size - len(data)) if size > len(data) else data
        data = self._fh.read(size)
        if data:
            self._sha.update(data)
            self.bytes_read += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        """Read (and hash) the rest, so the checksum always covers the whole input."""
        while self.read(CHUNK_SIZE):
            pass

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def file_sha256(path: Path, progress: Progress | None = None) -> str:
    """sha256 of a file's bytes as stored on disk."""
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_SIZE):
                sha.update(chunk)
                if progress is not None:
                    progress.bytes_read += len(chunk)
    except OSError as exc:
        raise TerminalError(f"cannot read {path}: {exc.strerror or exc}") from None
    return sha.hexdigest()


def _chunks(stream: Any, display: str) -> Iterator[bytes]:
    """Read decompressed chunks, turning gzip failures into a TerminalError."""
    while True:
        try:
            chunk = stream.read(CHUNK_SIZE)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            what = "truncated" if isinstance(exc, EOFError) else "corrupt"
            raise TerminalError(
                f"cannot read {display}: {what} gzip data ({exc}); nothing was loaded from it, "
                "re-create or re-download the file"
            ) from None
        except OSError as exc:
            raise TerminalError(f"cannot read {display}: {exc.strerror or exc}") from None
        if not chunk:
            return
        yield chunk


def _ndjson(sink: CsvSink, first: bytes, chunks: Iterator[bytes]) -> None:
    lineno = 0
    parts: list[bytes] = []
    for chunk in _prepend(first, chunks):
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            parts.append(chunk)
            continue
        if parts:
            parts.append(lines[0])
            lines[0] = b"".join(parts)
            parts = []
        tail = lines.pop()
        if tail:
            parts.append(tail)
        lineno = sink.add_lines(lines, lineno)
    if parts:
        sink.add_lines([b"".join(parts)], lineno)


def _prepend(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from chunks


class _ArrayReader:
    """Cuts the elements out of a JSON array without loading the whole file.

    ``json.JSONDecoder.raw_decode`` decodes one element from a text buffer and tells where
    it ends, so the element's original text is ``buf[start:end]``. When an element may
    continue beyond the buffer, more is read and the element decoded again.

    Bytes that are not UTF-8 are decoded as lone surrogates ('surrogateescape'), so a bad
    byte inside a string, NaN/Infinity or a duplicate key spoil only their element (one
    load error, the reader goes on). A syntax break (where the next element starts cannot
    be known) rejects the whole file: ``TerminalError`` naming the byte offset.
    """

    def __init__(
        self, sink: CsvSink, first: bytes, chunks: Iterator[bytes], where: str, offset: int
    ) -> None:
        self.sink = sink
        self.where = where  # "name" or "the decompressed data of name"
        self.chunks = _prepend(first, chunks)
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.offset = offset  # bytes of the (decompressed) input before buf[0]

    def _fill(self, want: int = 1) -> bool:
        """Read at least one more chunk (and ``want`` bytes) into the buffer.

        Drops the consumed part of the buffer; returns False if nothing could be added.
        """
        if self.eof:
            return False
        self.offset += _utf8_size(self.buf[: self.pos])
        pieces = [self.buf[self.pos :]]
        got = added = 0
        while not self.eof and (got < want or not added):
            following = next(self.chunks, None)
            final = following is None
            if final:
                self.eof = True
            chunk = b"" if following is None else following
            got += len(chunk)
            piece = self.decoder.decode(chunk, final)
            pieces.append(piece)
            added += len(piece)
        self.buf = "".join(pieces)
        self.pos = 0
        return added > 0

    def _skip_ws(self) -> bool:
        """Move past whitespace; False when the input ends."""
        while True:
            self.pos = WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return True
            if not self._fill():
                return False

    def _reject(self, reason: str, at: int | None = None) -> TerminalError:
        """The error that rejects the file; ``at`` is an index into ``buf`` (default pos)."""
        at = self.pos if at is None else at
        if at < len(self.buf) and "\udc80" <= self.buf[at] <= "\udcff":
            reason = "invalid UTF-8"
        byte = self.offset + _utf8_size(self.buf[:at])
        return TerminalError(
            f"cannot read {self.where}: {reason} at byte {byte:,}; nothing was loaded "
            "from it, fix the JSON array and load the file again"
        )

    def _maybe_incomplete(self, exc: BaseException) -> bool:
        if not isinstance(exc, json.JSONDecodeError):
            return False
        return exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")

    def _decode(self, decoder: json.JSONDecoder) -> tuple[Any, int]:
        """``decoder.raw_decode`` at ``pos``, reading more while the element may continue."""
        while True:
            try:
                obj, end = decoder.raw_decode(self.buf, self.pos)
            except (ValueError, RecursionError) as exc:
                if self._maybe_incomplete(exc) and not self.eof:
                    self._fill(len(self.buf) - self.pos)
                    continue  # (decoded again even at the end: _fill moves the buffer)
                raise
            if end == len(self.buf) and not self.eof:
                self._fill(len(self.buf) - self.pos)
                continue  # a number or literal may continue in the next chunk
            return obj, end

    def _element(self, position: int) -> None:
        """Decode the element at ``pos`` and hand it (or its load error) to the sink."""
        try:
            obj, end = self._decode(DECODER)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise self._reject(json_error_reason(exc, with_column=False), exc.pos) from None
            # well-formed but not acceptable (NaN, a duplicate key, too deep): find its end
            end = self._end_of(exc)
            self.sink.error(position, self._text(end), json_error_reason(exc))
            self.pos = end
            return
        text = self.buf[self.pos : end]
        self.pos = end
        if not text.isascii() and _has_undecodable(text):
            self.sink.error(position, _undecoded(text), "invalid UTF-8")
        else:
            self.sink.add_element(position, obj, text)

    def _end_of(self, exc: BaseException) -> int:
        """Where the element at ``pos`` ends, by the lenient decoder or by its brackets."""
        try:
            return self._decode(LENIENT_DECODER)[1]
        except json.JSONDecodeError as again:
            raise self._reject(json_error_reason(again, with_column=False), again.pos) from None
        except RecursionError:
            pass
        depth = 0
        while True:
            for match in _BRACKETS.finditer(self.buf, self.pos):
                token = match.group()
                depth += 1 if token in "[{" else -1 if token in "]}" else 0
                if depth == 0:
                    return match.end()
            depth = 0
            if not self._fill(len(self.buf) - self.pos):
                raise self._reject(json_error_reason(exc)) from None

    def _text(self, end: int) -> str:
        text = self.buf[self.pos : end]
        return _undecoded(text) if _has_undecodable(text) else text

    def run(self) -> None:
        self._fill()
        self.pos = WHITESPACE.match(self.buf).end() + 1  # type: ignore[union-attr]  # '['
        index = 0
        if not self._skip_ws():
            raise self._reject(_UNCLOSED)
        if self.buf[self.pos] == "]":
            self.pos += 1
        else:
            while True:
                index += 1
                self._element(index)
                if not self._skip_ws():
                    raise self._reject(_UNCLOSED)
                ch = self.buf[self.pos]
                if ch == "]":
                    self.pos += 1
                    break
                if ch != ",":
                    raise self._reject("invalid JSON: Expecting ',' delimiter")
                self.pos += 1
                if not self._skip_ws():
                    raise self._reject(_UNCLOSED)
        if self._skip_ws():
            raise self._reject("extra data after the JSON array")


_UNCLOSED = "unexpected end of file: the JSON array is not closed"
# the tokens that open and close a value (strings skipped whole): finds a deep value's end
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _has_undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (see _ArrayReader)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _undecoded(text: str) -> str:
    """The text with its non-UTF-8 bytes as backslash escapes (as NDJSON lines show them)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_to_csv(
    load_input: LoadInput,
    stream: IO[bytes],
    tmpdir: Path,
    fmt: str,
    progress: Progress,
    tombstones: Tombstones = NO_TOMBSTONES,
    secrets: Sequence[bytes] | None = None,
) -> Batch:
    """Stream one input into CSV files in ``tmpdir``; return the batch description.

    ``secrets``: the keys that verify webhook envelopes (None: from the environment).
    """
    if secrets is None:
        secrets = webhook_secrets()
    started_at = utcnow()
    load_id = uuid.uuid4().hex
    source = _HashingReader(stream)
    progress.source = source
    display = load_input.display
    if source.head == GZIP_MAGIC:
        decompressed: Any = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[call-overload]
    elif (
        source.head and load_input.path is not None and load_input.path.name.lower().endswith(".gz")
    ):
        raise TerminalError(f"cannot read {display}: not gzip data although the name ends in .gz")
    else:
        decompressed = source
    chunks = _chunks(decompressed, display)

    # Find the layout: skip a BOM and leading whitespace, look at the first byte.
    first = b""
    bom_checked = False
    skipped = 0  # bytes of a BOM
    for chunk in chunks:
        first += chunk
        if not bom_checked:
            if len(first) < len(BOM):
                continue
            bom_checked = True
            if first.startswith(BOM):
                first, skipped = first[len(BOM) :], len(BOM)
        if first.lstrip(JSON_WS) or len(first) > CHUNK_SIZE:
            break
    if not bom_checked and first.startswith(BOM):
        first, skipped = first[len(BOM) :], len(BOM)
    is_array = first.lstrip(JSON_WS)[:1] == b"["
    source_file = tombstones.redact(load_input.source_file)  # a forgotten person's name

    sink = CsvSink(tmpdir, fmt, progress, tombstones, secrets=secrets)
    # The hot loop creates and frees millions of small dicts that never form cycles; the
    # cyclic GC would only slow it down (by ~30%). Reference counting still frees them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if is_array:
            where = f"the decompressed data of {display}" if decompressed is not source else display
            _ArrayReader(sink, first, chunks, where, skipped).run()
        else:
            _ndjson(sink, first, chunks)
        source.drain()
    finally:
        if gc_was_enabled:
            gc.enable()
        sink.close()
    progress.records = sink.records
    return Batch(
        load_id=load_id,
        source_file=source_file,
        source_format=sink.source_format(),
        checksum=source.hexdigest(),
        events_csv=sink.events_csv,
        errors_csv=sink.errors_csv,
        event_rows=sink.event_rows,
        error_rows=sink.error_rows,
        erased_rows=sink.erased_rows,
        max_field=sink.max_field,
        started_at=started_at,
    )
