"""The Streamlit dashboard over the marts (``make dashboard`` runs ``app.py``).

``app`` is the shell (settings, navigation, ``main``); ``reader`` the read-only access to
the warehouse, the page registry and the shared formatting and widgets; the pages, by
user: ``funnel`` (funnel, channels, intent), ``lifecycle``, ``contacts`` (contact 360),
``queue`` (the orchestrator queue and its actions), ``operations`` (nurture lists, data
quality) and ``stored`` (marts shown as stored).
"""
