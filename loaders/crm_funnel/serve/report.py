"""``funnel-report``: print the funnel, channel, intent, lifecycle, queue and revenue marts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from crm_funnel.errors import FunnelError
from crm_funnel.warehouse.connections import query_all
from crm_funnel.warehouse.profile import add_target_arguments, load_target

EPILOG = """examples:
  funnel-report                      # the default target of ./profiles.yml
  funnel-report --target postgres    # another target of the same profile
"""

FUNNEL_SQL = """
select funnel_stage, contacts_current, contacts_reached, conversion_to_next, drop_off_rate
from {schema}.rpt_funnel
order by stage_order
"""

CHANNEL_SQL = """
select first_touch_channel, funnel_stage, contacts_reached, conversion_from_lead
from {schema}.rpt_channel_effectiveness
order by first_touch_channel, stage_order
"""

INTENT_SQL = """
select lead_source, contacts, avg_intent_score, median_intent_score
from {schema}.rpt_intent_by_source
order by avg_intent_score desc, lead_source
"""

LIFECYCLE_SQL = """
select lifecycle_state, lifecycle_funnel, contacts, share_of_contacts
from {schema}.rpt_funnel_membership
order by precedence, lifecycle_funnel
"""

QUEUE_SQL = """
select priority, queue_type, owner_department, count(*) as items,
    sum(case when due_at < state_as_of then 1 else 0 end) as overdue
from {schema}.rpt_orchestrator_queue
cross join (select max(state_as_of) as state_as_of from {schema}.dim_contacts) as build
group by priority, queue_type, owner_department
order by priority, items desc, queue_type
"""

QUEUE_PEOPLE_SQL = """
select owner_department, coalesce(orchestrator, '(unassigned)') as orchestrator,
    count(*) as items,
    sum(case when work_bucket = 'today' then 1 else 0 end) as today,
    sum(case when work_bucket = 'backlog' then 1 else 0 end) as backlog,
    sum(case when work_bucket = 'snoozed' then 1 else 0 end) as snoozed,
    sum(case when work_bucket = 'escalated' then 1 else 0 end) as escalated,
    sum(case when due_at < state_as_of then 1 else 0 end) as overdue
from {schema}.rpt_orchestrator_queue
cross join (select max(state_as_of) as state_as_of from {schema}.dim_contacts) as build
group by owner_department, coalesce(orchestrator, '(unassigned)')
order by owner_department, orchestrator
"""

CAMPAIGN_SQL = """
select campaign_id, campaign_name, sent_contacts, open_rate, click_rate, reply_rate,
    bounce_rate, meeting_conversions
from {schema}.rpt_campaign_performance
where is_campaign_total
order by sent_contacts desc, campaign_id
limit 10
"""

ATTRIBUTION_SQL = """
select touch_channel,
    sum(case when attribution_model = 'first_touch' then credit else 0 end) as first_touch,
    sum(case when attribution_model = 'last_touch' then credit else 0 end) as last_touch,
    sum(case when attribution_model = 'linear' then credit else 0 end) as linear,
    sum(case when attribution_model = 'time_decay' then credit else 0 end) as time_decay,
    sum(case when attribution_model = 'position_based' then credit else 0 end) as position_based,
    sum(case when attribution_model = 'linear' then revenue_credit else 0 end) as linear_revenue
from {schema}.rpt_attribution
where conversion_type = 'customer'
group by touch_channel
order by linear desc, touch_channel
"""

ROI_SQL = """
select channel, sum(spend) as spend, sum(attributed_customers) as customers,
    sum(attributed_revenue) as revenue,
    sum(attributed_revenue) / nullif(sum(spend), 0) as roas,
    sum(spend) / nullif(sum(case when spend is not null then attributed_customers end), 0) as cpa
from {schema}.rpt_attribution_channel_roi
where attribution_model = 'position_based'
group by channel
order by sum(attributed_customers) desc, channel
"""

CAC_LTV_SQL = """
select channel, sum(spend) as spend, sum(leads) as leads, sum(customers) as customers,
    sum(ltv * customers) / nullif(sum(case when ltv is not null then customers end), 0) as ltv
from {schema}.rpt_channel_cac_ltv
group by channel
order by sum(customers) desc, channel
"""

FORECAST_SQL = """
select horizon_days, sum(open_contacts) as open_contacts,
    sum(expected_customers) as expected_customers, sum(expected_revenue) as expected_revenue
from {schema}.rpt_pipeline_forecast
group by horizon_days
order by horizon_days
"""


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render rows as an aligned text table: first column left, the others right."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        first, *rest = (
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join([first, *rest]).rstrip()

    out = [title, line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.1f}%"


def channel_pivot(rows: Sequence[Sequence[Any]]) -> tuple[list[str], list[list[Any]]]:
    """One row per channel: leads, then the % of leads that reached each later stage."""
    stages: list[str] = []
    by_channel: dict[str, dict[str, tuple[int, float | None]]] = {}
    for channel, stage, reached, from_lead in rows:
        if stage not in stages:
            stages.append(stage)
        by_channel.setdefault(channel, {})[stage] = (reached, from_lead)
    headers = ["first_touch_channel", "leads"] + [f"to {s}" for s in stages[1:]]
    table: list[list[Any]] = []
    for channel, stage_values in by_channel.items():
        leads = stage_values[stages[0]][0]
        table.append([channel, leads] + [_percent(stage_values[s][1]) for s in stages[1:]])
    table.sort(key=lambda row: -row[1])
    return headers, table


def cac_ltv_row(channel: str, spend: Any, leads: int, customers: int, ltv: Any) -> list[Any]:
    """One channel over all months: ratios of the sums (null where undefined)."""
    spend = None if spend is None else float(spend)
    ltv = None if ltv is None else float(ltv)
    cost_per_lead = spend / leads if spend is not None and leads else None
    cac = spend / customers if spend is not None and customers else None
    ltv_to_cac = ltv / cac if ltv is not None and cac else None
    return [channel, spend, leads, customers, cost_per_lead, cac, ltv, ltv_to_cac]


def render(fetch: Any, schema: str = "marts") -> str:
    funnel = fetch(FUNNEL_SQL.format(schema=schema))
    funnel_rows = [
        [stage, current, reached, _percent(conversion), _percent(drop_off)]
        for stage, current, reached, conversion, drop_off in funnel
    ]
    channel_headers, channel_rows = channel_pivot(fetch(CHANNEL_SQL.format(schema=schema)))
    intent = fetch(INTENT_SQL.format(schema=schema))
    lifecycle = [
        [state, funnel or "-", contacts, _percent(share)]
        for state, funnel, contacts, share in fetch(LIFECYCLE_SQL.format(schema=schema))
    ]
    queue = fetch(QUEUE_SQL.format(schema=schema))
    queue_people = fetch(QUEUE_PEOPLE_SQL.format(schema=schema))
    campaigns = [
        [campaign_id, name or "-", sent, *(_percent(rate) for rate in rates), meetings]
        for campaign_id, name, sent, *rates, meetings in fetch(CAMPAIGN_SQL.format(schema=schema))
    ]
    cac_ltv = [cac_ltv_row(*row) for row in fetch(CAC_LTV_SQL.format(schema=schema))]
    forecast = [
        [horizon, opened, float(customers), float(revenue)]
        for horizon, opened, customers, revenue in fetch(FORECAST_SQL.format(schema=schema))
    ]
    attribution = [
        [channel, *(float(credit) for credit in credits), float(revenue)]
        for channel, *credits, revenue in fetch(ATTRIBUTION_SQL.format(schema=schema))
    ]
    roi = [
        [channel, *(None if value is None else float(value) for value in values)]
        for channel, *values in fetch(ROI_SQL.format(schema=schema))
    ]
    return "\n\n".join(
        [
            format_table(
                "Funnel",
                ["stage", "current", "reached", "to next", "drop-off"],
                funnel_rows,
            ),
            format_table("Channel effectiveness (first touch)", channel_headers, channel_rows),
            format_table(
                "Intent by lead source",
                ["lead_source", "contacts", "avg intent", "median intent"],
                intent,
            ),
            format_table(
                "Lifecycle states (as of the build)",
                ["state", "funnel", "contacts", "share"],
                lifecycle,
            ),
            format_table(
                "Orchestrator queue",
                ["priority", "queue_type", "department", "items", "overdue"],
                queue,
            ),
            format_table(
                "Orchestrator queue per person (today: up to queue_daily_capacity)",
                [
                    "department",
                    "orchestrator",
                    "items",
                    "today",
                    "backlog",
                    "snoozed",
                    "escalated",
                    "overdue",
                ],
                queue_people,
            ),  # fmt: skip
            format_table(
                "Campaigns (top 10 by contacts sent to)",
                ["campaign", "name", "sent", "open", "click", "reply", "bounce", "meetings"],
                campaigns,
            ),
            format_table(
                "CAC and LTV by first-touch channel (all months; money in the reporting currency)",
                ["channel", "spend", "leads", "customers", "cost/lead", "CAC", "LTV", "LTV:CAC"],
                cac_ltv,
            ),
            format_table(
                "Pipeline forecast (contacts open now)",
                ["horizon (days)", "open contacts", "expected customers", "expected revenue"],
                forecast,
            ),
            format_table(
                "Customers attributed to touch channels (conversions credited per model)",
                ["touch_channel", "first", "last", "linear", "decay", "position", "revenue"],
                attribution,
            ),
            format_table(
                "Attributed ROAS and CPA by touch channel (position-based, all months)",
                ["touch_channel", "spend", "customers", "revenue", "ROAS", "CPA"],
                roi,
            ),
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funnel-report",
        description="Print the funnel, channel effectiveness, intent-by-source, lifecycle "
        "state and orchestrator-queue summaries.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(parser)
    parser.add_argument("--schema", default="marts", help="schema of the marts (default: marts)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        target = load_target(args.profiles_dir, args.target)
        print(render(lambda sql: query_all(target, sql), args.schema))
    except FunnelError as exc:
        print(f"funnel-report: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
