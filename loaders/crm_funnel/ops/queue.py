"""``funnel-queue``: act on the orchestrator queue (resolve, snooze, escalate) and log
interactions, as native events (``ingest/actions.py`` builds and lands them)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from crm_funnel import __version__
from crm_funnel.errors import FunnelError, TerminalError, TransientError
from crm_funnel.ingest import actions
from crm_funnel.ingest.actions import QueueItem
from crm_funnel.warehouse.backend import IDENTIFIER
from crm_funnel.warehouse.connections import cursor, missing_relation_errors, placeholder
from crm_funnel.warehouse.profile import Target, add_target_arguments, load_target

PROG = "funnel-queue"
QUEUE_MART = "rpt_orchestrator_queue"

DESCRIPTION = f"""\
Act on the orchestrator queue: each command records ONE native event (a unique event_id,
the contact's email, the time you acted, and what you did):

  resolve   queue_item_resolved   the item is done        (--outcome, --by)
  snooze    queue_item_snoozed    it comes back later     (--until, --by)
  escalate  queue_item_escalated  a manager takes it      (--to, --reason, --by)
  log       interaction_logged    a call, a DM, a meeting (--direction, --channel,
                                  --outcome, --initiated-by, --summary, --by)

ITEM is a queue_item_id (as the dashboard and {QUEUE_MART} show it); an EMAIL
means that contact's open item (with several open items, pass --type QUEUE_TYPE). `log`
takes the contact's EMAIL.

The event is loaded straight into the warehouse the way funnel-load loads a file (same
de-duplication, a raw.loads row) when the warehouse is free. When it is not (the DuckDB
file is in use by a build or a load, the server is unreachable), or with --inbox, it is
written as an NDJSON file in the inbox folder instead, and the next funnel-pipeline run
(make pipeline) loads it. Either way the queue reflects it after the next dbt build.

The connection comes from the dbt profile 'crm_funnel' (profiles.yml)."""

EPILOG = f"""\
examples:
  funnel-queue resolve 5f1c0e9a... --outcome "booked a demo" --by "Amara Okafor"
  funnel-queue resolve ada@example.com --type reply_waiting --by "Amara Okafor"
  funnel-queue snooze ada@example.com --until 2026-12-14 --by "Amara Okafor"
  funnel-queue escalate 5f1c0e9a... --to "Head of Sales" --reason "asks for a discount" \\
      --by "Amara Okafor"
  funnel-queue log ada@example.com --direction outbound --channel call --outcome booked \\
      --initiated-by orchestrator --summary "demo on Monday" --by "Amara Okafor"
  funnel-queue resolve 5f1c0e9a... --by "Tom Becker" --target postgres --inbox

every command also takes --profiles-dir, --target, --inbox, --inbox-dir, --raw-schema and
--marts-schema (after the command's name): see funnel-queue COMMAND --help.

allowed values (log):
  --direction      {", ".join(actions.DIRECTIONS)}
  --channel        {", ".join(actions.INTERACTION_CHANNELS)}
  --outcome        {", ".join(actions.INTERACTION_OUTCOMES)}
  --initiated-by   {", ".join(actions.INITIATED_BY)}
dates: --until and --at take an ISO date (2026-12-14) or timestamp (2026-12-14T09:00Z; no
offset = UTC); --until must be after the time acted, --at (default: now) not in the future.

exit status: 0 recorded (loaded, or written to the inbox), 2 error (one line on stderr
             says what to fix; nothing was recorded)."""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr and exit 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see {self.prog} --help)")
        raise SystemExit(2)


def _common(parser: argparse.ArgumentParser, *, item: bool) -> None:
    if item:
        parser.add_argument(
            "item", metavar="ITEM_OR_EMAIL", help="a queue_item_id, or a contact's email"
        )
        parser.add_argument(
            "--type",
            metavar="QUEUE_TYPE",
            help="with an EMAIL: the queue type of the item (needed when the contact has "
            "several open items)",
        )
        parser.add_argument(
            "--email",
            metavar="EMAIL",
            help="with an ITEM id: the contact's email, so the event can be written to the "
            "inbox even when the queue cannot be read (the DuckDB file is in use)",
        )
    else:
        parser.add_argument("item", metavar="EMAIL", help="the contact's email")
    parser.add_argument("--by", required=True, metavar="NAME", help="who acted (your name)")
    parser.add_argument(
        "--at", metavar="WHEN", help="when you acted: ISO date or timestamp (default: now)"
    )


def _shared() -> _Parser:
    """The options every command takes (after the command's name)."""
    shared = _Parser(add_help=False)
    add_target_arguments(shared)
    shared.add_argument(
        "--inbox",
        action="store_true",
        help="write the event to the inbox folder even when the warehouse is free",
    )
    shared.add_argument(
        "--inbox-dir",
        metavar="DIR",
        default=str(actions.DEFAULT_INBOX),
        help=f"the inbox folder funnel-pipeline loads (default: {actions.DEFAULT_INBOX})",
    )
    shared.add_argument("--raw-schema", default="raw", metavar="SCHEMA", help="default: raw")
    shared.add_argument(
        "--marts-schema",
        default="marts",
        metavar="SCHEMA",
        help=f"schema of {QUEUE_MART} (default: marts)",
    )
    return shared


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shared = _shared()
    formatter = argparse.RawDescriptionHelpFormatter

    resolve = commands.add_parser(
        "resolve", parents=[shared],
        help="mark an item done", description="Mark a queue item done "
        "(queue_item_resolved): it leaves the open queue.", formatter_class=formatter,
    )  # fmt: skip
    _common(resolve, item=True)
    resolve.add_argument("--outcome", metavar="TEXT", help="how it ended (free text)")

    snooze = commands.add_parser(
        "snooze", parents=[shared],
        help="put an item away until a date", description="Snooze a queue item "
        "(queue_item_snoozed): it is back in the queue after --until.", formatter_class=formatter,
    )  # fmt: skip
    _common(snooze, item=True)
    snooze.add_argument(
        "--until", required=True, metavar="DATE", help="ISO date or timestamp it comes back"
    )

    escalate = commands.add_parser(
        "escalate", parents=[shared],
        help="hand an item to a manager", description="Escalate a queue item "
        "(queue_item_escalated): it moves to the manager's view.", formatter_class=formatter,
    )  # fmt: skip
    _common(escalate, item=True)
    escalate.add_argument("--to", required=True, metavar="NAME", help="who takes it over")
    escalate.add_argument("--reason", metavar="TEXT", help="why (free text)")

    log = commands.add_parser(
        "log", parents=[shared],
        help="log an interaction with a contact", description="Log an interaction "
        "(interaction_logged): the Interactions log. An outbound interaction is a touch.",
        formatter_class=formatter,
    )  # fmt: skip
    _common(log, item=False)
    for option, values, what in (
        ("--direction", actions.DIRECTIONS, "who reached out"),
        ("--channel", actions.INTERACTION_CHANNELS, "how"),
        ("--outcome", actions.INTERACTION_OUTCOMES, "what came of it"),
        ("--initiated-by", actions.INITIATED_BY, "who started it"),
    ):
        log.add_argument(
            option, required=True, metavar="VALUE", help=f"{what}: {', '.join(values)}"
        )
    log.add_argument("--summary", metavar="TEXT", help="what was said (free text)")
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return 2


# --------------------------------------------------------------------------- the item


def open_items(
    target: Target, marts_schema: str, column: str, value: str
) -> list[tuple[str, str, str]]:
    """``(queue_item_id, email, queue_type)`` of the open items whose ``column`` is ``value``."""
    sql = (
        f"select queue_item_id, email, queue_type from {marts_schema}.{QUEUE_MART} "
        f"where {column} = {placeholder(target)} order by queue_type, queue_item_id"
    )
    try:
        with cursor(target, read_only=True, application_name=PROG) as cur:
            cur.execute(sql, [value])
            return [(str(i), str(e), str(t)) for i, e, t in cur.fetchall()]
    except missing_relation_errors(target):
        raise TerminalError(
            f"{marts_schema}.{QUEUE_MART} is not in {target.describe()}: run dbt build "
            "(or make pipeline) first"
        ) from None


def find_item(args: argparse.Namespace, target: Target) -> QueueItem:
    """The open item ITEM_OR_EMAIL (and ``--type``) names, read from the queue mart."""
    given = args.item.strip()
    is_email = "@" in given
    if not is_email and args.type:
        raise TerminalError("--type goes with an EMAIL; an ITEM id names one item already")
    if is_email and args.email:
        raise TerminalError("--email goes with an ITEM id; ITEM_OR_EMAIL is an email already")
    try:
        if is_email:
            email = actions.email_address(given)
            found = open_items(target, args.marts_schema, "email", email)
        else:
            found = open_items(target, args.marts_schema, "queue_item_id", given)
    except TransientError as exc:
        if not is_email and args.email:  # the caller knows the contact: the inbox takes it
            return QueueItem(given, actions.email_address(args.email))
        raise TerminalError(
            f"cannot read the queue ({exc}); or give the ITEM id with --email to write the "
            "event to the inbox now"
        ) from None
    if not is_email:
        if not found:
            raise TerminalError(
                f"no open queue item {given!r} in {target.describe()} (resolved already, or a "
                "typo? the dashboard's queue page and funnel-report list the open items)"
            )
        item_id, email, _ = found[0]
        if args.email and actions.email_address(args.email) != email:
            raise TerminalError(f"item {given} belongs to another contact than {args.email}")
        return QueueItem(item_id, email)
    if args.type:
        found = [row for row in found if row[2] == args.type.strip()]
    listing = ", ".join(f"{kind} {item_id}" for item_id, _, kind in found)
    if not found:
        of_type = f" of type {args.type}" if args.type else ""
        raise TerminalError(f"{email} has no open queue item{of_type} in {target.describe()}")
    if len(found) > 1:
        raise TerminalError(
            f"{email} has {len(found)} open items: pass --type QUEUE_TYPE or the ITEM id "
            f"({listing})"
        )
    return QueueItem(found[0][0], email)


# --------------------------------------------------------------------------- commands


def build_event(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """The event of the command (every value checked; ``TerminalError`` if one is bad)."""
    at = actions.acted_at(args.at)
    if args.command == "log":
        return actions.interaction(
            args.item,
            by=args.by,
            direction=args.direction,
            channel=args.channel,
            outcome=args.outcome,
            initiated_by=args.initiated_by,
            summary=args.summary,
            at=at,
        )
    # check what needs no database before reading the queue
    actions.text("--by", args.by, limit=actions.NAME_LIMIT, required=True)
    if args.command == "snooze":
        actions.snooze_until(args.until, at)
    if args.command == "escalate":
        actions.text("--to", args.to, limit=actions.NAME_LIMIT, required=True)
    item = find_item(args, target)
    if args.command == "resolve":
        return actions.resolved(item, by=args.by, outcome=args.outcome, at=at)
    if args.command == "snooze":
        return actions.snoozed(item, by=args.by, until=args.until, at=at)
    return actions.escalated(item, by=args.by, to=args.to, reason=args.reason, at=at)


def run(args: argparse.Namespace) -> int:
    schemas = (("--raw-schema", args.raw_schema), ("--marts-schema", args.marts_schema))
    for option, schema in schemas:
        if not IDENTIFIER.match(schema):
            raise TerminalError(f"{option} {schema!r} is not a plain SQL identifier; fix it")
    target = load_target(args.profiles_dir, args.target)
    event = build_event(args, target)
    recorded = actions.record(
        event,
        target,
        inbox=Path(args.inbox_dir).expanduser(),
        to_inbox=args.inbox,
        raw_schema=args.raw_schema,
    )
    print(f"{PROG}: {args.command}: {recorded.summary(target)}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except FunnelError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted; nothing was recorded")


if __name__ == "__main__":
    sys.exit(main())
