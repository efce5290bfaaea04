"""``funnel-load``: land raw event files in the warehouse's ``raw`` schema."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

from crm_funnel import __version__
from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.loader import FORMATS, STDIN_NAME, expand_paths, load_one, open_backend
from crm_funnel.profile import add_target_arguments, load_target

PROG = "funnel-load"

DESCRIPTION = """\
Load raw marketing/sales events into the raw schema of the crm_funnel warehouse.

Each file (or stdin) is one load, committed all-or-nothing in one transaction.
Records are landed as received (the original JSON text) in raw.events with a
deterministic event key; lines that are not valid JSON or not a JSON object go to
raw.load_errors with the reason; every load is recorded in raw.loads. Loading the
same file or the same events again changes nothing.

Input: NDJSON (one object per line) or a JSON array, optionally gzip-compressed.
Directories are searched recursively for *.json, *.ndjson, *.jsonl (and .gz).
The connection comes from the dbt profile 'crm_funnel' (profiles.yml)."""

EPILOG = """\
examples:
  funnel-load data/events.ndjson
  funnel-load data/                      # every .json/.ndjson/.jsonl(.gz) below data/
  funnel-load 'exports/2026-*.ndjson.gz' # quoted globs are expanded too
  zcat events.ndjson.gz | funnel-load -  # stdin
  funnel-load --target postgres events.json
  DBT_PROFILES_DIR=~/.dbt funnel-load --quiet events.ndjson

exit status: 0 loaded or skipped (records in raw.load_errors are not a failure),
             2 error (one line on stderr says what to do), 130 interrupted.
Temporary CSV files go to $TMPDIR (about the size of the uncompressed input)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="file, directory, glob, or - for stdin",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--raw-schema",
        default="raw",
        metavar="SCHEMA",
        help="schema of the raw tables (default: raw)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="record format: auto-detect per record (default) or force one",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _fail(message: str) -> int:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    return 2


def _on_sigterm(signum: int, frame: Any) -> None:
    # Turn SIGTERM into KeyboardInterrupt so the open transaction is rolled back and
    # temporary files are removed on the way out.
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    inputs = expand_paths(args.paths)
    if any(i.path is None for i in inputs) and sys.stdin.isatty():
        raise TerminalError(
            f"{STDIN_NAME} is a terminal: pipe the data in (e.g. cat events.ndjson | {PROG} -)"
        )
    target = load_target(args.profiles_dir, args.target)
    with open_backend(target, args.raw_schema) as backend:
        for load_input in inputs:
            result = load_one(backend, load_input, fmt=args.format, progress=not args.quiet)
            print(result.summary(), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        # Ctrl-C rolls back even when started in the background (where SIGINT is ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not in the main thread
        previous = None
    try:
        return _run(args)
    except FunnelError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; the load in progress was rolled back (nothing committed)",
            file=sys.stderr,
            flush=True,
        )
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
