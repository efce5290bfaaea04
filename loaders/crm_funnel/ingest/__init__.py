"""Ingest: input files -> records -> CSV batches -> the raw tables (``funnel-load``)."""
