"""crm_funnel: Python side of the crm_funnel dbt project (loaders and helpers)."""

__version__ = "0.1.0"
