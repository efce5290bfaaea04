"""Developer tools: ``generate`` (``funnel-generate``) and ``bench`` (``funnel-bench``)."""
