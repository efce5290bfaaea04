"""Serving the marts to people: ``report`` (``funnel-report``) and ``dashboard``."""
