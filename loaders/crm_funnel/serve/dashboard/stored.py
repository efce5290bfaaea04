"""Pages that show a mart's rows as stored: cohorts, stage velocity, campaigns."""

from __future__ import annotations

from crm_funnel.serve.dashboard.reader import Page, page, show_mart_rows


def stored_page(
    title: str, url_path: str, section: str, mart: str, built_by: str, icon: str, about: str
) -> Page:
    """A page that shows the rows of ``mart`` as stored."""
    return page(title, url_path, section, mart, built_by=built_by, icon=icon, about=about)(
        lambda reader: show_mart_rows(reader, mart)
    )


PAGES = (
    stored_page(
        "Cohort heatmap",
        "cohorts",
        "Cohorts and campaigns",
        "marts.rpt_cohorts",
        "cohorts and stage velocity",
        ":material/grid_on:",
        "signup-month cohorts by months since signup, with the share that reached MQL, SQL "
        "and Customer",
    ),
    stored_page(
        "Stage velocity",
        "velocity",
        "Cohorts and campaigns",
        "marts.rpt_stage_velocity",
        "cohorts and stage velocity",
        ":material/speed:",
        "median and 75th-percentile days between stages, by channel",
    ),
    stored_page(
        "Campaign performance",
        "campaigns",
        "Cohorts and campaigns",
        "marts.rpt_campaign_performance",
        "campaign performance",
        ":material/mail:",
        "per campaign and sequence step: sent, delivered, opened, clicked, replied, bounced, "
        "complained, unsubscribed and conversions",
    ),
)
