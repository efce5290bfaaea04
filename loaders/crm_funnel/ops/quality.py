"""``funnel-quality``: Great Expectations suites on the marts, run after every build.

Each mart of the configured target is read into a pandas DataFrame (only the columns its
suite checks, so PII columns are never read) and validated with a Great Expectations
ephemeral context: nothing is written to a GX project, nothing goes to the network, and
Data Docs (HTML) are written under ``--docs-dir`` (default ``target/data_docs``).

The suites are declared in ``SUITES``: one ``Suite`` entry per mart, plus a
``reconciliation`` suite on a one-row summary frame (every raw event and every contact
imported from the contacts sheet is an activity, a duplicate or quarantined; every contact
is counted once in each funnel mart). A new mart gets its gate by adding one entry, e.g.::

    Suite(
        "rpt_channel_month",
        key=("channel", "calendar_month"),
        non_negative=("leads", "customers"),
        non_negative_where_set=("spend", "cac"),
        rates=("lead_to_mql_rate",),
        at_least=(("leads", "customers"),),
    )

Output: one ``PASS``/``FAIL`` line per suite, and under a ``FAIL`` one line per failed
expectation (column, expectation, observed values). Exit status 0 when every suite
passes, 1 when any fails, 2 (with one ``funnel-quality: error: ...`` line) when the
profile, target or database is wrong or the marts are not built.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.warehouse.connections import connect_duckdb, connect_postgres, one_line
from crm_funnel.warehouse.profile import DuckDBTarget, Target, add_target_arguments, load_target

if TYPE_CHECKING:
    import pandas as pd

PROG = "funnel-quality"
DEFAULT_DOCS_DIR = Path("target") / "data_docs"
SHOWN_VALUES = 5


# --------------------------------------------------------------------------- the suites


@dataclass(frozen=True)
class NonIncreasing:
    """``column`` never grows from one row to the next in ``order_by`` order (per partition)."""

    column: str
    order_by: str
    partition_by: tuple[str, ...] = ()

    @property
    def step_column(self) -> str:
        """Name of the derived column: the increase over the previous row (must be <= 0)."""
        return f"{self.column}_increase"


@dataclass(frozen=True)
class Suite:
    """The expectations of one mart (or of a summary ``query``), declared as data.

    ``key``          unique (jointly when several columns) and not null;
    ``not_null``     never null;
    ``non_negative`` not null and >= 0 (counts, amounts);
    ``non_negative_where_set`` >= 0 where not null (null = unknown or nothing to divide by);
    ``rates``        in [0, 1] where not null (null = nothing to divide by);
    ``non_increasing`` funnel counts that must not grow from stage to stage;
    ``at_least``     (a, b): a >= b on every row where both are set;
    ``equal``        (a, b): a = b on every row;
    ``computed``     extra columns as SQL expressions (``{marts}`` etc. are substituted);
    ``min_rows``     the frame has at least this many rows;
    ``relation``     the table to read (default ``{marts}.<name>``);
    ``query``        a whole SQL query instead of ``relation`` (for summary frames).
    """

    name: str
    description: str = ""
    key: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    non_negative_where_set: tuple[str, ...] = ()
    rates: tuple[str, ...] = ()
    non_increasing: tuple[NonIncreasing, ...] = ()
    at_least: tuple[tuple[str, str], ...] = ()
    equal: tuple[tuple[str, str], ...] = ()
    computed: tuple[tuple[str, str], ...] = ()
    min_rows: int = 0
    relation: str = ""
    query: str = ""

    def columns(self) -> list[str]:
        """The stored columns the suite reads, in first-use order."""
        names: list[str] = [
            *self.key,
            *self.not_null,
            *self.non_negative,
            *self.non_negative_where_set,
            *self.rates,
        ]
        for rule in self.non_increasing:
            names += [*rule.partition_by, rule.order_by, rule.column]
        for a, b in (*self.at_least, *self.equal):
            names += [a, b]
        computed = {name for name, _ in self.computed}
        return [n for n in dict.fromkeys(names) if n not in computed]

    def sql(self, schemas: dict[str, str]) -> str:
        if self.query:
            return self.query.format(**schemas)
        select = list(self.columns()) + [
            f"{expression} as {name}" for name, expression in self.computed
        ]
        relation = self.relation or f"{{marts}}.{self.name}"
        return f"select {', '.join(select) or '*'} from {relation}".format(**schemas)


STAGE_DATES = (
    "became_lead_at",
    "became_mql_at",
    "became_sql_at",
    "became_opportunity_at",
    "became_customer_at",
)

CAMPAIGN_EMAIL_METRICS = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "replied",
    "bounced",
    "complained",
    "unsubscribed",
)
CAMPAIGN_EMAIL_RATES = (
    "delivery_rate",
    "open_rate",
    "click_rate",
    "click_to_open_rate",
    "reply_rate",
    "bounce_rate",
    "complaint_rate",
    "unsubscribe_rate",
)

RECONCILIATION_SQL = """
with
raw_events as (select count(*) as n from {raw}.events),
activities as (select count(*) as n from {marts}.fct_activities),
duplicates as (
    select count(*) as n from {intermediate}.int_events_validated where is_duplicate
),
quarantined as (select count(*) as n from {marts}.fct_quarantined_events),
imported_contacts as (
    select count(*) as n from {intermediate}.int_sheet_contacts_imported
),
contacts as (select count(*) as n from {marts}.dim_contacts),
contacts_with_activities as (
    select count(distinct contact_id) as n from {marts}.fct_activities
),
funnel as (
    select cast(coalesce(sum(contacts_current), 0) as bigint) as n from {marts}.rpt_funnel
),
channel_funnel as (
    select cast(coalesce(sum(contacts_current), 0) as bigint) as n
    from {marts}.rpt_channel_effectiveness
),
lead_sources as (
    select cast(coalesce(sum(contacts), 0) as bigint) as n from {marts}.rpt_intent_by_source
),
memberships as (
    select cast(coalesce(sum(contacts), 0) as bigint) as n from {marts}.rpt_funnel_membership
),
stories as (select count(*) as n from {marts}.rpt_contact_360),
transitioned as (
    select count(distinct contact_id) as n from {marts}.fct_lifecycle_transitions
)
select
    raw_events.n as raw_events,
    imported_contacts.n as imported_contacts,
    raw_events.n + imported_contacts.n as raw_events_and_imported_contacts,
    activities.n as activities,
    duplicates.n as duplicates,
    quarantined.n as quarantined,
    activities.n + duplicates.n + quarantined.n as activities_duplicates_quarantined,
    contacts.n as contacts,
    contacts_with_activities.n as contacts_with_activities,
    funnel.n as contacts_in_rpt_funnel,
    channel_funnel.n as contacts_in_rpt_channel_effectiveness,
    lead_sources.n as contacts_in_rpt_intent_by_source,
    memberships.n as contacts_in_rpt_funnel_membership,
    stories.n as contacts_in_rpt_contact_360,
    transitioned.n as contacts_with_transitions
from raw_events
cross join activities
cross join duplicates
cross join quarantined
cross join imported_contacts
cross join contacts
cross join contacts_with_activities
cross join funnel
cross join channel_funnel
cross join lead_sources
cross join memberships
cross join stories
cross join transitioned
"""

SUITES: tuple[Suite, ...] = (
    Suite(
        "rpt_funnel",
        "One row per funnel stage; counts never grow from stage to stage.",
        key=("funnel_stage",),
        not_null=("stage_order",),
        non_negative=("contacts_current", "contacts_reached"),
        rates=("conversion_to_next", "drop_off_rate"),
        non_increasing=(NonIncreasing("contacts_reached", order_by="stage_order"),),
        at_least=(("contacts_reached", "contacts_current"),),
        min_rows=1,
    ),
    Suite(
        "rpt_channel_effectiveness",
        "One row per first-touch channel and stage; per channel, counts never grow.",
        key=("first_touch_channel", "funnel_stage"),
        not_null=("stage_order",),
        non_negative=("contacts_current", "contacts_reached"),
        rates=("conversion_to_next", "conversion_from_lead"),
        non_increasing=(
            NonIncreasing(
                "contacts_reached",
                order_by="stage_order",
                partition_by=("first_touch_channel",),
            ),
        ),
        at_least=(("contacts_reached", "contacts_current"),),
    ),
    Suite(
        "rpt_intent_by_source",
        "One row per lead source with the average and median intent score.",
        key=("lead_source",),
        not_null=("avg_intent_score", "median_intent_score"),
        non_negative=("contacts",),
    ),
    Suite(
        "dim_contacts",
        "One row per contact. A score is a sum of weights (decayed by at most 1x), so it "
        "is >= 0 while no weight is negative; intent_score_floor is events_total times "
        "the lowest weight of any activity, or 0.",
        key=("contact_id",),
        not_null=(
            "first_touch_channel",
            "lead_source",
            "funnel_stage",
            "stage_order",
            "nurture_track",
            "became_lead_at",
            "lifetime_intent_score",
            "intent_score",
            "lifecycle_state",
            "lifecycle_state_since",
        ),
        non_negative=("events_total", "lifetime_revenue", "referrals_given"),
        at_least=(
            ("intent_score", "intent_score_floor"),
            ("lifetime_intent_score", "intent_score_floor"),
            *zip(STAGE_DATES[1:], STAGE_DATES[:-1], strict=True),
        ),
        computed=(
            (
                "intent_score_floor",
                "events_total * least(coalesce("
                "(select min(intent_weight) from {marts}.fct_activities), 0), 0)",
            ),
        ),
    ),
    Suite(
        "fct_activities",
        "One row per valid, deduplicated event.",
        key=("activity_id",),
        not_null=("contact_id", "load_id", "event_type", "channel", "intent_weight", "event_at"),
    ),
    Suite(
        "fct_lifecycle_transitions",
        "One row per lifecycle change; each contact's changes are numbered from 1.",
        key=("transition_id",),
        not_null=("contact_id", "to_state", "trigger", "transitioned_at"),
        non_negative=("transition_number",),
    ),
    Suite(
        "rpt_orchestrator_queue",
        "One item per contact and queue rule, due on or after it was detected.",
        key=("queue_item_id",),
        not_null=("contact_id", "queue_type", "title", "owner_department", "detected_at"),
        non_negative=("priority",),
        at_least=(("due_at", "detected_at"),),
    ),
    Suite(
        "fct_quarantined_events",
        "One row per quarantined event, with the first rule it breaks.",
        key=("event_key",),
        not_null=("load_id", "rejection_reason"),
    ),
    Suite(
        "rpt_campaign_performance",
        "One row per campaign and sequence step plus one total row per campaign; unique "
        "contacts never exceed events, the meeting conversions are a share of the contacts "
        "who clicked or replied. Every rate is a share in [0, 1]: the email rates nest "
        "(opened within delivered within sent, ...), so a feed that drops events cannot "
        "push them above 1.",
        key=("campaign_performance_id",),
        not_null=(
            "campaign_id",
            "is_campaign_total",
            "is_in_campaign_sheet",
            "first_activity_at",
            "last_activity_at",
        ),
        non_negative=(
            *(f"{m}_{n}" for m in CAMPAIGN_EMAIL_METRICS for n in ("events", "contacts")),
            "engaged_contacts",
            "meeting_conversions",
        ),
        rates=(*CAMPAIGN_EMAIL_RATES, "meeting_conversion_rate"),
        at_least=(
            *((f"{m}_events", f"{m}_contacts") for m in CAMPAIGN_EMAIL_METRICS),
            ("engaged_contacts", "meeting_conversions"),
            ("engaged_contacts", "clicked_contacts"),
            ("engaged_contacts", "replied_contacts"),
            ("clicked_or_replied_contacts", "engaged_contacts"),
            ("last_activity_at", "first_activity_at"),
        ),
        computed=(("clicked_or_replied_contacts", "clicked_contacts + replied_contacts"),),
    ),
    Suite(
        "rpt_attribution",
        "One row per conversion, attribution model and touch: a credit in [0, 1] (the "
        "credits of a conversion and model sum to 1, dbt test "
        "assert_attribution_credits_sum_to_one), a revenue credit within the conversion's "
        "revenue, touches before their conversion (a conversion without one has a single "
        "row with no touch activity). Reads no contact column.",
        key=("attribution_credit_id",),
        not_null=(
            "conversion_id",
            "conversion_type",
            "attribution_model",
            "touch_channel",
            "currency",
            "has_prior_touch",
            "converted_at",
        ),
        non_negative=(
            "touch_position",
            "touch_count",
            "conversion_revenue",
            "revenue_credit",
        ),
        non_negative_where_set=("days_before_conversion",),
        rates=("credit",),
        at_least=(
            ("touch_count", "touch_position"),
            ("converted_at", "touch_at"),
            ("conversion_revenue", "revenue_credit"),
        ),
    ),
    Suite(
        "rpt_attribution_channel_roi",
        "One row per attribution model, channel and month: attributed conversions and "
        "revenue never negative; spend, ROAS, cost per SQL and CPA null when unknown, never "
        "negative.",
        key=("attribution_roi_id",),
        not_null=("attribution_model", "channel", "currency", "calendar_month"),
        non_negative=("attributed_sqls", "attributed_customers", "attributed_revenue"),
        non_negative_where_set=("spend", "roas", "cost_per_sql", "cpa"),
    ),
    Suite(
        "rpt_channel_cac_ltv",
        "One row per channel and calendar month; spend and the ratios are null when "
        "unknown, never negative; the conversion rates follow the month's lead cohort.",
        key=("channel", "calendar_month"),
        not_null=("currency",),
        non_negative=("leads", "mqls", "sqls", "customers", "revenue"),
        non_negative_where_set=(
            "spend",
            "cost_per_lead",
            "cac",
            "ltv",
            "ltv_to_cac",
            "monthly_revenue_per_customer",
            "payback_months",
        ),
        rates=("lead_to_mql_rate", "mql_to_sql_rate", "sql_to_customer_rate"),
    ),
    Suite(
        "rpt_cohorts",
        "One row per signup-month cohort, month since signup and later stage; a cohort's "
        "reached counts never grow from stage to stage nor exceed the cohort.",
        key=("cohort_month", "months_since_signup", "funnel_stage"),
        not_null=("stage_order", "is_complete_period"),
        non_negative=("months_since_signup", "cohort_size", "contacts_reached"),
        rates=("share_reached",),
        non_increasing=(
            NonIncreasing(
                "contacts_reached",
                order_by="stage_order",
                partition_by=("cohort_month", "months_since_signup"),
            ),
        ),
        at_least=(("cohort_size", "contacts_reached"),),
    ),
    Suite(
        "rpt_stage_velocity",
        "One row per channel (and all channels) and stage step; durations are >= 0 (null "
        "when every contact skipped the step), the median within the 75th percentile, "
        "steps go forward.",
        key=("first_touch_channel", "is_all_channels", "from_stage", "to_stage"),
        not_null=("from_stage_order", "to_stage_order"),
        non_negative=("contacts", "skipped_contacts"),
        non_negative_where_set=("avg_days", "median_days", "p75_days"),
        at_least=(
            ("p75_days", "median_days"),
            ("to_stage_order", "from_stage_order"),
        ),
    ),
    Suite(
        "rpt_funnel_over_time",
        "One row per grain (week, month), period and stage; the variance is actual minus "
        "target where there is a target.",
        key=("grain", "period_start", "funnel_stage"),
        not_null=("stage_order", "is_complete_period"),
        non_negative=("new_contacts",),
        non_negative_where_set=("target_contacts", "target_attainment"),
        equal=(("target_variance", "new_contacts_minus_target"),),
        computed=(("new_contacts_minus_target", "new_contacts - target_contacts"),),
    ),
    Suite(
        "rpt_pipeline_forecast",
        "One row per open stage, first-touch channel and horizon; expected customers "
        "within the open contacts and never fewer over a longer horizon.",
        key=("funnel_stage", "first_touch_channel", "horizon_days"),
        not_null=(
            "currency",
            "stage_order",
            "is_pooled_history",
            "is_pooled_revenue",
            "forecast_as_of",
            "forecast_until",
        ),
        non_negative=(
            "horizon_days",
            "open_contacts",
            "history_contacts",
            "history_customers",
            "expected_customers",
        ),
        non_negative_where_set=(
            "median_days_to_customer",
            "avg_customer_revenue",
            "expected_revenue",
        ),
        rates=("conversion_rate",),
        non_increasing=(
            NonIncreasing(
                "expected_customers",
                order_by="horizon_days_desc",
                partition_by=("funnel_stage", "first_touch_channel"),
            ),
        ),
        at_least=(
            ("open_contacts", "expected_customers"),
            ("history_contacts", "history_customers"),
            ("forecast_until", "forecast_as_of"),
        ),
        computed=(("horizon_days_desc", "-horizon_days"),),
    ),
    Suite(
        "reconciliation",
        "Nothing vanishes, nothing is counted twice: raw events + contacts imported from "
        "the contacts sheet = activities + duplicates + quarantined, and every contact is "
        "counted once in each funnel and lifecycle mart and has a lifecycle history.",
        equal=(
            ("raw_events_and_imported_contacts", "activities_duplicates_quarantined"),
            ("contacts", "contacts_with_activities"),
            ("contacts", "contacts_in_rpt_funnel"),
            ("contacts", "contacts_in_rpt_channel_effectiveness"),
            ("contacts", "contacts_in_rpt_intent_by_source"),
            ("contacts", "contacts_in_rpt_funnel_membership"),
            ("contacts", "contacts_in_rpt_contact_360"),
            ("contacts", "contacts_with_transitions"),
        ),
        query=RECONCILIATION_SQL,
    ),
)


def build_expectations(suite: Suite) -> list[Any]:
    """The Great Expectations expectations a ``Suite`` entry declares."""
    import great_expectations.expectations as gxe

    out: list[Any] = []
    if suite.min_rows:
        out.append(gxe.ExpectTableRowCountToBeBetween(min_value=suite.min_rows))
    for column in suite.key:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    if len(suite.key) == 1:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=suite.key[0]))
    elif suite.key:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(suite.key)))
    for column in suite.not_null:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in suite.non_negative:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        out.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    for column in suite.non_negative_where_set:
        out.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    for column in suite.rates:
        out.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1))
    for rule in suite.non_increasing:
        per = f" per {', '.join(rule.partition_by)}" if rule.partition_by else ""
        out.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=rule.step_column,
                max_value=0,
                notes=f"{rule.column} must not increase with {rule.order_by}{per}",
            )
        )
    for a, b in suite.at_least:
        out.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing"
            )
        )
    for a, b in suite.equal:
        out.append(gxe.ExpectColumnPairValuesToBeEqual(column_A=a, column_B=b))
    return out


# --------------------------------------------------------------------------- reading


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


@contextlib.contextmanager
def _cursor(target: Target) -> Iterator[Any]:
    if isinstance(target, DuckDBTarget):
        con = connect_duckdb(target, read_only=True)
        try:
            yield con
        finally:
            con.close()
        return
    con = connect_postgres(target, application_name=PROG)
    try:
        con.set_session(readonly=True, autocommit=True)
        with con.cursor() as cur:
            yield cur
    finally:
        con.close()


def _query_error(exc: BaseException, target: Target, suite: Suite) -> TerminalError:
    message = one_line(exc).rstrip(".!")
    if isinstance(exc, _missing_relation_errors(target)):
        return TerminalError(
            f"suite {suite.name}: {message} ({target.describe()}): run dbt build first "
            "(or check --target and the --*-schema options)"
        )
    return TerminalError(f"suite {suite.name}: query failed ({target.describe()}): {message}")


def _missing_relation_errors(target: Target) -> tuple[type[BaseException], ...]:
    """Errors that mean a mart, schema or column is missing: not built, or built by an old
    version of the project."""
    if isinstance(target, DuckDBTarget):
        import duckdb

        return (duckdb.CatalogException, duckdb.BinderException)
    import psycopg2.errors

    return (
        psycopg2.errors.UndefinedTable,
        psycopg2.errors.UndefinedColumn,
        psycopg2.errors.InvalidSchemaName,
    )


def read_frames(
    target: Target, suites: Sequence[Suite], schemas: dict[str, str]
) -> dict[str, pd.DataFrame]:
    """Run each suite's query on the target and return one DataFrame per suite."""
    import pandas as pd

    if isinstance(target, DuckDBTarget):
        import duckdb

        db_errors: tuple[type[BaseException], ...] = (duckdb.Error,)
    else:
        import psycopg2

        db_errors = (psycopg2.Error,)
    frames: dict[str, pd.DataFrame] = {}
    with _cursor(target) as cur:
        for suite in suites:
            try:
                cur.execute(suite.sql(schemas))
                names = [column[0] for column in cur.description]
                rows = [tuple(_plain(v) for v in row) for row in cur.fetchall()]
            except db_errors as exc:
                raise _query_error(exc, target, suite) from None
            frame = pd.DataFrame.from_records(rows, columns=names)
            frames[suite.name] = add_steps(frame, suite)
    return frames


def add_steps(frame: pd.DataFrame, suite: Suite) -> pd.DataFrame:
    """Add each ``non_increasing`` rule's step column (increase over the previous row)."""
    for rule in suite.non_increasing:
        frame = frame.sort_values([*rule.partition_by, rule.order_by], kind="stable")
        values = frame[rule.column].astype("float64")
        if rule.partition_by:
            step = values.groupby([frame[c] for c in rule.partition_by], sort=False).diff()
        else:
            step = values.diff()
        frame = frame.assign(**{rule.step_column: step}).reset_index(drop=True)
    return frame


# --------------------------------------------------------------------------- validating


@dataclass
class SuiteOutcome:
    name: str
    expectations: int
    failures: list[str]

    @property
    def success(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        if self.success:
            return [f"PASS {self.name} ({self.expectations} expectations)"]
        head = f"FAIL {self.name} ({len(self.failures)} of {self.expectations} expectations failed)"
        return [head, *(f"  {line}" for line in self.failures)]


def _quiet_gx() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "py.warnings"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")


def make_context(docs_dir: Path) -> Any:
    """An ephemeral GX context: in-memory stores, no analytics, Data Docs in ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites={
            "crm_funnel": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _show(value: Any) -> str:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        with contextlib.suppress(ValueError, TypeError):
            value = value.item()
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return repr(value)


def _expectation_text(config: Any) -> str:
    kwargs = config.kwargs
    if "column_list" in kwargs:
        subject = "(" + ", ".join(kwargs["column_list"]) + ")"
    elif "column_A" in kwargs:
        op = {"expect_column_pair_values_to_be_equal": "="}.get(
            config.type, ">=" if kwargs.get("or_equal") else ">"
        )
        subject = f"{kwargs['column_A']} {op} {kwargs['column_B']}"
    else:
        subject = kwargs.get("column", "table")
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        bounds = f" in [{_show(low)}, {_show(high)}]"
    elif low is not None:
        bounds = f" >= {_show(low)}"
    elif high is not None:
        bounds = f" <= {_show(high)}"
    else:
        bounds = ""
    return f"{subject}: {config.type}{bounds}"


def describe_failure(result: Any) -> str:
    """One line: the column(s), the expectation and what was observed."""
    config = result.expectation_config
    text = _expectation_text(config)
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        message = " ".join(str(exception.get("exception_message") or "error").split())
        return f"{text}: could not be evaluated: {message[:200]}"
    outcome = result.result or {}
    if "unexpected_count" in outcome:
        values = list(outcome.get("partial_unexpected_list") or [])
        distinct: list[str] = []
        for value in values:
            shown = _show(value)
            if shown not in distinct:
                distinct.append(shown)
        more = ", ..." if len(distinct) > SHOWN_VALUES else ""
        shown_values = ", ".join(distinct[:SHOWN_VALUES])
        count, total = outcome.get("unexpected_count"), outcome.get("element_count")
        note = f" ({config.notes})" if config.notes else ""
        return (
            f"{text}{note}: {count} of {total} rows unexpected; "
            f"unexpected values: [{shown_values}{more}]"
        )
    if "observed_value" in outcome:
        return f"{text}: observed {_show(outcome['observed_value'])}"
    return f"{text}: failed"


def validate(
    frames: dict[str, pd.DataFrame], suites: Sequence[Suite], docs_dir: Path
) -> list[SuiteOutcome]:
    """Validate each frame with its suite and write Data Docs; return the outcomes."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = make_context(docs_dir)
    source = context.data_sources.add_pandas("marts")
    run_id = RunIdentifier(run_name=PROG, run_time=dt.datetime.now(dt.timezone.utc))
    outcomes = []
    for suite in suites:
        gx_suite = context.suites.add(
            gx.ExpectationSuite(
                name=suite.name,
                expectations=build_expectations(suite),
                meta={"notes": suite.description} if suite.description else None,
            )
        )
        batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe(
            "all_rows"
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frames[suite.name]},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
            run_id=run_id,
        )
        failures = [describe_failure(r) for r in result.results if not r.success]
        outcomes.append(SuiteOutcome(suite.name, len(gx_suite.expectations), failures))
    context.build_data_docs()
    return outcomes


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Run the Great Expectations suites on the marts of a target and write Data Docs. "
            "Exit 0 when every suite passes, 1 when any fails, 2 on a usage or setup error."
        ),
        epilog=(
            "examples:\n"
            "  funnel-quality                      # the default target, after dbt build\n"
            "  funnel-quality --target postgres\n"
            "  funnel-quality --docs-dir /tmp/dd   # write the Data Docs elsewhere"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--docs-dir",
        type=Path,
        default=DEFAULT_DOCS_DIR,
        help=f"where Data Docs HTML is written (default: {DEFAULT_DOCS_DIR})",
    )
    parser.add_argument("--marts-schema", default="marts", help="default: marts")
    parser.add_argument(
        "--intermediate-schema", default="intermediate", help="default: intermediate"
    )
    parser.add_argument(
        "--raw-schema", default="raw", help="schema the loader writes (dbt var raw_schema)"
    )
    return parser


def _prepare_docs_dir(docs_dir: Path) -> Path:
    docs_dir = docs_dir.expanduser().resolve()
    try:
        docs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TerminalError(
            f"cannot create the Data Docs directory {docs_dir}: {exc.strerror}; "
            "pass another --docs-dir"
        ) from None
    if not os.access(docs_dir, os.W_OK):
        raise TerminalError(f"cannot write to {docs_dir}; pass another --docs-dir")
    return docs_dir


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    schemas = {
        "marts": args.marts_schema,
        "intermediate": args.intermediate_schema,
        "raw": args.raw_schema,
    }
    try:
        target = load_target(args.profiles_dir, args.target)
        frames = read_frames(target, SUITES, schemas)
        docs_dir = _prepare_docs_dir(args.docs_dir)
    except FunnelError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    _quiet_gx()
    outcomes = validate(frames, SUITES, docs_dir)
    for outcome in outcomes:
        print("\n".join(outcome.lines()))
    failed = [o.name for o in outcomes if not o.success]
    summary = f"{len(outcomes) - len(failed)} of {len(outcomes)} suites passed"
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    print(f"{summary}. Data Docs: {docs_dir / 'index.html'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
