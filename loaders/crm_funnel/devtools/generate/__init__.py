"""``funnel-generate``: realistic, seeded, deterministic native CRM events as NDJSON.

``funnel-generate`` writes ``--events`` lines of native events (see PRODUCT.md, "Data in")
for demos, tests and benchmarks. The same arguments always produce the same bytes, and
memory does not grow with ``--events``: contacts are generated in small batches whose
events are ordered by time and written straight away.

Realism, in short:

* about one contact per 12 events; contacts work at companies that have an industry;
* eight acquisition channels with different conversion propensities;
* journeys that move through the funnel: web visits and email sequences, content and
  webinars, pricing, demos, sales follow-ups and proposals, deals and purchases (with an
  amount and a currency), training, referrals, logins, plus opt-outs, bounces,
  complaints and third-party signals (job changes, intent);
* the lifecycle (lifecycle.md): a booked demo carries ``scheduled_at`` (1-14 days later)
  and is later held or missed (``appointment_held`` / ``appointment_no_show``; some are
  rebooked, a few rescheduled before the meeting); a closed deal carries
  ``contract_end`` (6-24 months later); some customers refer 2-4 colleagues; some
  contacts go quiet for months, then get re-engagement emails a few days to weeks apart
  and a few of them engage again (some buy straight away); a few walk-in buyers purchase
  first; bounces are ``hard``, ``permanent`` or ``soft``; about 0.5% of contacts get a
  ``manual_override`` (``state``, ``set_by``) by a person;
* a contact's events have strictly increasing instants, at least one second apart,
  rendered in a mix of timestamp formats (``Z``, offsets, naive, date-only, fractional);
* ``--dirty-rate`` of the lines are dirty, cycling through every kind in ``DIRTY_KINDS``
  (so each kind is present once ``events * dirty_rate >= len(DIRTY_KINDS)``, e.g. with
  the default rate from 2,000 events on).

The package, by concern: ``vocabulary`` (the names, channels and dirty kinds it draws
from), ``people`` (companies and the contacts the sheets know), ``journeys`` (one
contact's events and how their times are written), ``events`` (the stream of lines),
``sheets`` (the contacts sheet, spend and campaigns), ``webhooks`` (Resend and Segment
payloads) and ``cli`` (``funnel-generate``).
"""

from crm_funnel.devtools.generate.events import generate
from crm_funnel.devtools.generate.sheets import SHEET_FILES, SheetRecorder
from crm_funnel.devtools.generate.vocabulary import (
    CHANNELS,
    DEFAULT_DIRTY_RATE,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    DIRTY_KINDS,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_DIRTY_RATE",
    "DEFAULT_END",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "DIRTY_KINDS",
    "SHEET_FILES",
    "SheetRecorder",
    "generate",
]
