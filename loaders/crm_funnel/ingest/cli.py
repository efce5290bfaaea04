"""``funnel-load``: land raw event files in the warehouse's ``raw`` schema."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from crm_funnel import __version__
from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.ingest.formats import FORMATS
from crm_funnel.ingest.inputs import (
    STDIN_NAME,
    LoadInput,
    expand_csv_paths,
    expand_paths,
    is_csv_path,
    spooled_stdin,
)
from crm_funnel.ingest.load import load_one
from crm_funnel.ingest.sheets import KINDS, REQUIRED, load_sheet, read_header
from crm_funnel.warehouse.open import open_backend
from crm_funnel.warehouse.profile import add_target_arguments, load_target
from crm_funnel.warehouse.sheet_rows import ensure_sheet_rows

PROG = "funnel-load"

DESCRIPTION = """\
Load raw marketing/sales events into the raw schema of the crm_funnel warehouse.

Each file (or stdin) is one load, committed all-or-nothing in one transaction.
Records are landed as received (the original JSON text) in raw.events with a
deterministic event key (namespaced: native:id:e-1, segment:id:m-1, ...); lines
that are not valid JSON, not a JSON object or that name a key twice go to
raw.load_errors with the reason (the same bad text is stored once); every load is
recorded in raw.loads. Loading the same file or the same events again changes
nothing. A JSON array with a syntax break is rejected whole (exit 2, the byte
offset is named); a bad element alone is one load error.

Input: NDJSON (one object per line) or a JSON array, optionally gzip-compressed.
Directories are searched recursively for *.json, *.ndjson, *.jsonl (and .gz).
Formats (detected per record, or --format): native events, Resend webhooks,
Segment track/identify calls, and the Svix envelopes funnel-webhook spools
(verified when CRM_FUNNEL_WEBHOOK_SECRET is set; rejects go to raw.load_errors).

Spreadsheets: with --kind contacts|spend|campaigns the files are CSV (UTF-8, a BOM
is fine, optionally .csv.gz; directories are searched for *.csv and *.csv.gz).
Each data row is landed in raw.sheet_rows as a JSON object of the columns (headers
normalised: "Full Name" -> full_name, "E-mail" -> email, ...); rows with the wrong
number of fields or bytes that are not UTF-8 go to raw.load_errors with their row
number. A missing required column stops the command before anything is loaded.
dbt types and checks the values (fct_quarantined_sheet_rows lists the bad rows).

The connection comes from the dbt profile 'crm_funnel' (profiles.yml)."""

EPILOG = """\
examples:
  funnel-load data/events.ndjson
  funnel-load data/                      # every .json/.ndjson/.jsonl(.gz) below data/
  funnel-load 'exports/2026-*.ndjson.gz' # quoted globs are expanded too
  zcat events.ndjson.gz | funnel-load -  # stdin
  funnel-load --target postgres events.json
  DBT_PROFILES_DIR=~/.dbt funnel-load --quiet events.ndjson
  funnel-load --kind contacts exports/contacts.csv
  funnel-load --kind spend spend/               # every .csv/.csv.gz below spend/
  funnel-load --kind campaigns campaigns.csv.gz

required columns per --kind (other columns are kept too):
  contacts   email
  spend      date, channel, spend, currency
  campaigns  campaign_id, name

exit status: 0 loaded or skipped (records in raw.load_errors are not a failure),
             2 error (one line on stderr says what to do), 130 interrupted.
Temporary CSV files go to $TMPDIR/crm-funnel-<uid> (about the size of the
uncompressed input); those of a killed load are removed by the next load."""


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
        help="record format of events: auto-detect per record (default) or force one",
    )
    parser.add_argument(
        "--kind",
        choices=("events", *KINDS),
        default="events",
        help="what the files hold: events (JSON, the default) or a spreadsheet export "
        "(CSV): contacts, spend or campaigns",
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


def _run_sheets(args: argparse.Namespace) -> int:
    if args.format != "auto":
        raise TerminalError(f"--format applies to events only, not to --kind {args.kind}")
    inputs = expand_csv_paths(args.paths)
    if sum(i.path is None for i in inputs) > 1:
        raise TerminalError(f"{STDIN_NAME} can be read once; pass - only once")
    if any(i.path is None for i in inputs) and sys.stdin.isatty():
        raise TerminalError(
            f"{STDIN_NAME} is a terminal: pipe the data in "
            f"(e.g. cat contacts.csv | {PROG} --kind {args.kind} -)"
        )
    with contextlib.ExitStack() as stack:
        ready: list[LoadInput] = []
        for load_input in inputs:
            if load_input.path is None:
                load_input = stack.enter_context(spooled_stdin())
            ready.append(load_input)
        # every file's header first: a missing column loads nothing of any file
        for load_input in ready:
            assert load_input.path is not None
            read_header(load_input.path, args.kind, load_input.display)
        target = load_target(args.profiles_dir, args.target)
        with open_backend(target, args.raw_schema) as backend:
            ensure_sheet_rows(backend)
            for load_input in ready:
                result = load_sheet(backend, load_input, args.kind, progress=not args.quiet)
                print(result.summary(), flush=True)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.kind != "events":
        return _run_sheets(args)
    csv_files = [arg for arg in args.paths if is_csv_path(arg)]
    if csv_files:
        raise TerminalError(
            f"{csv_files[0]} is a CSV file: pass --kind {'|'.join(KINDS)} for spreadsheet "
            f"exports (required columns: "
            + "; ".join(f"{kind}: {', '.join(REQUIRED[kind])}" for kind in KINDS)
            + ")"
        )
    inputs = expand_paths(args.paths)
    if any(i.path is None for i in inputs) and sys.stdin.isatty():
        raise TerminalError(
            f"{STDIN_NAME} is a terminal: pipe the data in (e.g. cat events.ndjson | {PROG} -)"
        )
    target = load_target(args.profiles_dir, args.target)
    with open_backend(target, args.raw_schema) as backend:
        ensure_sheet_rows(backend)  # the dbt sources read it even before any sheet is loaded
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
