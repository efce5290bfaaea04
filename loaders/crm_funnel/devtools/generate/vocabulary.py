"""What the generator draws from: channels, names, event vocabulary and dirty kinds."""

from __future__ import annotations

DEFAULT_START = "2025-01-01"
DEFAULT_END = "2026-06-30"
DEFAULT_DIRTY_RATE = 0.02
DEFAULT_SEED = 42

# Every kind of dirty record, in the order they are first used. The first three stay
# valid after normalisation; the others are quarantined, duplicates or load errors.
DIRTY_KINDS = (
    "email_whitespace_case",  # valid: same contact after strip + lower
    "event_type_alias_case",  # valid: an alias or odd case of a known type
    "missing_channel",  # valid: channel becomes the unknown channel
    "missing_email",
    "empty_email",
    "malformed_email",
    "non_string_email",
    "unknown_event_type",
    "missing_event_type",
    "missing_event_time",
    "unparseable_event_time",
    "impossible_event_time",
    "out_of_range_event_time",
    "invalid_override_state",  # a manual_override whose state is not a lifecycle state
    "duplicate_line",
    "invalid_json",
    "non_object_json",
)

# channel: (share of new contacts, conversion propensity)
CHANNELS = {
    "organic_search": (0.22, 1.0),
    "paid_search": (0.17, 0.75),
    "linkedin": (0.14, 0.9),
    "referral": (0.08, 1.8),
    "webinar": (0.10, 1.35),
    "email": (0.13, 0.55),
    "direct": (0.10, 1.1),
    "partner": (0.06, 1.5),
}
LEAD_SOURCE_BY_CHANNEL = {
    "organic_search": ["organic"],
    "paid_search": ["paid"],
    "linkedin": ["paid", "organic"],
    "referral": ["referral"],
    "webinar": ["event"],
    "email": ["outbound", "paid"],
    "direct": ["organic", "referral"],
    "partner": ["partner"],
}
INDUSTRIES = (
    "SaaS",
    "Fintech",
    "Healthcare",
    "Education",
    "Retail",
    "Manufacturing",
    "Consulting",
    "Logistics",
    "Media",
    "Non-profit",
)
FIRST_NAMES = (
    "ana", "ben", "carla", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
    "kate", "liam", "maria", "nadia", "omar", "paula", "quentin", "rosa", "sam", "tariq",
    "ursula", "victor", "wei", "xenia", "yusuf", "zoe", "aiko", "bruno", "chloe", "diego",
    "emma", "felix", "gita", "hannah", "ivan", "julia", "kofi", "lena", "marco", "nina",
    "oscar", "priya", "rafael", "sofia", "tom", "uma", "vera", "will", "yara", "zainab",
)  # fmt: skip
LAST_NAMES = (
    "silva", "smith", "garcia", "mueller", "rossi", "dubois", "kowalski", "nguyen", "khan",
    "okafor", "jensen", "novak", "schmidt", "tanaka", "costa", "murphy", "fischer", "lopez",
    "martin", "ivanova", "haddad", "berg", "moreau", "santos", "weber", "clarke", "sato",
    "petrov", "ali", "horvat", "lindqvist", "oconnor", "bianchi", "yilmaz", "kim", "chen",
)  # fmt: skip
COMPANY_WORDS = (
    "Northwind", "Bluepeak", "Cedar", "Orbit", "Lumen", "Quarry", "Harbor", "Vertex",
    "Mosaic", "Summit", "Pioneer", "Falcon", "Evergreen", "Atlas", "Nimbus", "Copper",
    "Granite", "Juniper", "Kestrel", "Meridian", "Nova", "Oakridge", "Polar", "Redwood",
    "Saffron", "Tidal", "Umbra", "Willow", "Zenith", "Amber", "Brightline", "Crescent",
    "Müller", "Société", "Ångström", "Fjord", "Helios", "Ironclad", "Lakeside", "Maple",
)  # fmt: skip
COMPANY_SUFFIX_BY_INDUSTRY = {
    "SaaS": ("Software", "Cloud", "Labs", "Analytics", "Systems"),
    "Fintech": ("Pay", "Capital", "Finance", "Ledger"),
    "Healthcare": ("Health", "Clinics", "Medical", "Care"),
    "Education": ("Academy", "Learning", "Institute", "School"),
    "Retail": ("Stores", "Market", "Outfitters", "Goods"),
    "Manufacturing": ("Industries", "Maschinenbau GmbH", "Works", "Fabrication"),
    "Consulting": ("Consulting", "Partners", "Advisory", "Group"),
    "Logistics": ("Logistics", "Freight", "Shipping"),
    "Media": ("Media", "Studios", "Publishing"),
    "Non-profit": ("Foundation", "Trust", "Alliance"),
}
TLDS = (".com", ".com", ".com", ".io", ".co", ".de", ".fr", ".co.uk", ".org", ".net")
LOCAL_PATTERNS = ("{f}.{l}{n}", "{f}{n}", "{fi}{l}{n}", "{f}_{l}{n}", "{f}-{l}.{n}")
PAGES = (
    "/", "/blog/lead-scoring-101", "/blog/funnel-metrics", "/features", "/customers",
    "/integrations", "/docs/getting-started", "/about", "/careers", "/blog/nurture-cadence",
)  # fmt: skip
ASSETS = ("ebook-b2b-funnel", "whitepaper-intent-data", "template-lead-scoring", "report-2025")
WEBINARS = ("wbn-funnel-basics", "wbn-scoring-deep-dive", "wbn-sales-handover", "wbn-q4-trends")
PRODUCTS = (("starter-training", 490), ("pro-training", 1490), ("team-seat-pack", 2990))
CURRENCIES = ("EUR", "EUR", "USD", "USD", "GBP")
CAMPAIGN_THEMES = ("welcome", "nurture", "reengage", "webinar-invite", "product-news", "outbound")

# Lifecycle states a manual_override may set (seeds/lifecycle_states.csv), and how
# often people pick each: mostly Hot, Disqualified and VIP.
OVERRIDE_STATES = {
    "Hot": 30,
    "Disqualified": 30,
    "VIP": 20,
    "Unsubscribed": 3,
    "Alumni": 3,
    "Customer": 3,
    "Dormant": 3,
    "Warm": 3,
    "Engaged": 3,
    "Cold": 2,
}
# Spellings a person may type that are not a state (the ``invalid_override_state`` kind).
INVALID_OVERRIDE_STATES = ("hot", "vip", "Lost", "Nurture", "Closed Won", "Disqualifed", "")
OVERRIDE_SETTERS = ("Amara Okafor", "Jonas Weber", "Lucia Ferreira", "Priya Raman", "Tom Becker")
OVERRIDE_RATE = 0.005
# Contract lengths of a closed deal, in months.
CONTRACT_MONTHS = (6, 12, 12, 12, 18, 24)
# Offsets (minutes) a meeting time may be written in; most are written in UTC.
SCHEDULE_OFFSETS = (0, 0, 0, 0, 60, 120, -300, 330)
APPOINTMENT_OUTCOMES = frozenset({"appointment_held", "appointment_no_show"})

# Event types whose events often carry only a date (spreadsheets, third-party signals).
DATE_ONLY_TYPES = frozenset({"job_change", "intent_signal", "training_completed"})

# Type aliases and odd spellings used by the ``event_type_alias_case`` dirty kind
# (every value maps to a known type through seeds/event_type_aliases.csv or lower/strip).
ALIAS_SPELLINGS = {
    "view": ("Page_View", "pageview", "  VIEW ", "Page Viewed"),
    "click": ("Link_Click", "CLICK", "clicked"),
    "download": ("  DOWNLOAD ", "whitepaper_download", "Content_Downloaded"),
    "webinar_joined": ("Webinar_Attended", "event_attended"),
    "demo_booked": ("Meeting_Booked", "call_booked", "Demo_Requested"),
    "email_opened": ("email_open", "Email_Opened"),
    "email_clicked": ("email_click", "EMAIL_CLICKED"),
    "email_sent": ("Email_Sent", "\temail_sent\n"),
    "email_delivered": ("EMAIL_DELIVERED",),
    "purchase": ("order_completed", "Purchase"),
    "signup": ("Signed_Up", "trial_started"),
    "login": ("logged_in", "Login"),
    "follow_up": ("followup", "Follow_Up"),
    "proposal_sent": ("quote_sent",),
    "deal_closed": ("closed_won", "Deal_Closed"),
    "pricing_viewed": ("pricing_page_viewed", "Pricing_Viewed"),
    "unsubscribed": ("unsubscribe",),
}
UNKNOWN_EVENT_TYPES = ("page_scrolled", "coupon_redeemed", "chat_started", "viewd", "foo")
UNPARSEABLE_TIMES = (
    "yesterday",
    "03/04/2025 10:00",
    "2025-03-04T10:00:00 PST",
    "2025/03/04",
    "20250304T100000Z",
    "not a date",
    "2025-03-04T10",
    "2025-03-04T10:00:00.1234567890Z",
)
IMPOSSIBLE_TIMES = (
    "2025-02-30T10:00:00Z",
    "2025-03-04T25:00:00Z",
    "2025-13-01T09:00:00Z",
    "2025-04-31",
    "2025-06-15T12:60:00Z",
    "2025-02-29T08:00:00Z",
    "2025-06-30T23:59:60Z",
    "2025-03-04T10:00:00+19:00",
)
OUT_OF_RANGE_TIMES = (
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:30:00+01:00",  # 1999-12-31 23:30 UTC: the offset counts
    "1970-06-15T12:00:00Z",
    "2099-01-01T00:00:00Z",
    "2087-12-31T23:59:59+01:00",
)
MALFORMED_EMAILS = (
    "ana.silva@northwind",
    "no-at-sign.example.com",
    "two@@signs.com",
    "spaces in@example.com",
    "trailing.dot@example.",
    "unicode.ü@example.com",
    "@example.com",
)
INVALID_JSON_LINES = (
    '{"email": "broken@example.com", "event_type": "view"',
    "not json at all",
    "{'email': 'single@quotes.com'}",
    '{"email": "x@example.com", "event_type": }',
)
NON_OBJECT_LINES = ("[1, 2]", '"x"', "42", '["view", "x@example.com"]', "null")
