"""``funnel-generate``: the command line (arguments, output file, summary)."""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import math
import os
import sys
from typing import IO

from crm_funnel.devtools.generate.events import generate
from crm_funnel.devtools.generate.sheets import SHEET_FILES, SheetRecorder
from crm_funnel.devtools.generate.vocabulary import (
    DEFAULT_DIRTY_RATE,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    DIRTY_KINDS,
)

PROG = "funnel-generate"


class UsageError(Exception):
    """A user mistake: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-01-31, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Write realistic native CRM events (NDJSON) for demos, tests and benchmarks. "
            "The same arguments always produce the same bytes; memory does not grow "
            "with --events."
        ),
        epilog=(
            "examples:\n"
            "  funnel-generate --events 5000 --seed 7 --out data/sample/events.ndjson\n"
            "  funnel-generate --events 10000000 --seed 1 --out big.ndjson.gz\n"
            "  funnel-generate --events 3000 --dirty-rate 0 --out - | head\n"
            "  funnel-generate --events 2000 --start 2024-01-01 --end 2024-12-31 --out e.ndjson\n"
            "  funnel-generate --events 5000 --out data/sample/events.ndjson --sheets data/sample\n"
            "\n"
            f"dirty kinds (cycled, one every 1/--dirty-rate lines): {', '.join(DIRTY_KINDS)}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=_positive_int, required=True, metavar="N", help="lines to write"
    )
    parser.add_argument(
        "--seed", type=_seed, default=DEFAULT_SEED, metavar="S", help="random seed (default 42)"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="output file; gzip when it ends with .gz; '-' writes to stdout",
    )
    parser.add_argument(
        "--dirty-rate",
        type=_rate,
        default=DEFAULT_DIRTY_RATE,
        metavar="R",
        help="share of dirty lines, 0..1 (default 0.02)",
    )
    parser.add_argument(
        "--start",
        type=_date,
        default=dt.date.fromisoformat(DEFAULT_START),
        metavar="DATE",
        help=f"first day of activity, UTC (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--end",
        type=_date,
        default=dt.date.fromisoformat(DEFAULT_END),
        metavar="DATE",
        help=f"last day of activity, UTC, inclusive (default {DEFAULT_END})",
    )
    parser.add_argument(
        "--sheets",
        metavar="DIR",
        help="also write, into DIR (created if missing), the spreadsheet and webhook "
        "inputs of the same contacts: " + ", ".join(SHEET_FILES),
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the summary line")
    return parser


def _open_output(path: str) -> tuple[IO[bytes], IO[bytes] | None]:
    """Return (stream to write, underlying file to close or None for stdout)."""
    if path == "-":
        return sys.stdout.buffer, None
    raw = open(path, "wb")  # noqa: SIM115 - closed by the caller
    if path.endswith(".gz"):
        # mtime=0 and no file name in the header: same arguments, same bytes.
        zipped = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
        return zipped, raw  # type: ignore[return-value]  # a GzipFile is a binary IO
    return raw, raw


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.end < args.start:
            raise UsageError(f"--end {args.end} is before --start {args.start}")
        sheets = None
        if args.sheets is not None:
            try:
                os.makedirs(args.sheets, exist_ok=True)
            except OSError as exc:
                raise UsageError(
                    f"cannot create --sheets {args.sheets}: {exc.strerror or exc}"
                ) from None
            if not os.access(args.sheets, os.W_OK):
                raise UsageError(f"cannot write into --sheets {args.sheets}: permission denied")
            sheets = SheetRecorder(args.seed, args.start, args.end)
        try:
            out, raw = _open_output(args.out)
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            generator = generate(
                out, args.events, args.seed, args.dirty_rate, args.start, args.end, sheets
            )
        finally:
            if raw is None:
                out.flush()
            else:
                out.close()
                raw.close()
        sheet_counts = sheets.write(args.sheets) if sheets is not None else None
    except BrokenPipeError:
        # `funnel-generate --out - | head`: the reader left; that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = exc.filename or args.out
        print(f"{PROG}: error: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(
            f"{PROG}: wrote {args.events} lines ({generator.dirty_written} dirty) to {args.out}",
            file=sys.stderr,
        )
        if sheet_counts is not None:
            files = ", ".join(f"{name} ({n:,})" for name, n in sheet_counts.items())
            print(f"{PROG}: wrote {files} to {args.sheets}", file=sys.stderr)
    return 0
