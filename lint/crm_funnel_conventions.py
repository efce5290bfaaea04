"""dbt-score rules for the project's conventions (docs/STYLE.md, dbt-project-evaluator).

Run from the repository root, after ``dbt parse`` wrote ``target/manifest.json``::

    PYTHONPATH=lint .venv/bin/dbt-score lint --namespace crm_funnel_conventions \
        --manifest target/manifest.json --fail-project-under 10 --fail-any-item-under 10

Every rule is HIGH severity, so one violation drops its model or source to 0 and the
thresholds of 10 make the command fail: the conventions hold for 100% of the items.

- ``model_has_description``: every model has a description.
- ``model_has_primary_key_test``: every model has a primary-key test: ``unique`` and
  ``not_null`` on one column, or a ``unique_combination`` test (ours, in
  ``macros/tests/``; dbt_utils' ``unique_combination_of_columns`` counts too) whose
  columns are each ``not_null`` (a test, or a ``not_null`` constraint of an enforced
  contract).
- ``source_has_freshness``: every source table has a ``warn_after`` or ``error_after``
  freshness and a ``loaded_at_field`` or ``loaded_at_query`` to measure it with (the
  DuckDB and PostgreSQL adapters have no metadata-based freshness).
"""

# No `from __future__ import annotations`: dbt-score reads the evaluated annotations
# (Model / Source) to know what a rule applies to.
from typing import Any

from dbt_score import Model, RuleViolation, Severity, Source, rule

COMBINATION_TESTS = {
    "unique_combination": "columns",
    "unique_combination_of_columns": "combination_of_columns",
}


def _enabled(test: Any) -> bool:
    return (test._raw_values.get("config") or {}).get("enabled", True) is not False


def _column_test_types(model: Model) -> dict[str, set[str]]:
    """Column name -> the enabled generic tests on it (and ``not_null`` constraints)."""
    enforced = bool(((model.config or {}).get("contract") or {}).get("enforced"))
    tests: dict[str, set[str]] = {}
    for column in model.columns:
        types = {test.type for test in column.tests if _enabled(test)}
        if enforced and any(c.type in ("not_null", "primary_key") for c in column.constraints):
            types.add("not_null")
        tests[column.name] = types
    return tests


@rule(severity=Severity.HIGH)
def model_has_description(model: Model) -> RuleViolation | None:
    """Every model has a description."""
    if not (model.description or "").strip():
        return RuleViolation(
            f"model {model.name} has no description: add `description:` to it in "
            f"{(model.patch_path or 'its _<dir>__models.yml').split('://')[-1]}"
        )
    return None


@rule(severity=Severity.HIGH)
def model_has_primary_key_test(model: Model) -> RuleViolation | None:
    """Every model has a primary-key test (unique + not_null, or unique_combination)."""
    columns = _column_test_types(model)
    if any({"unique", "not_null"} <= types for types in columns.values()):
        return None
    for test in model.tests:
        argument = COMBINATION_TESTS.get(test.type)
        if argument is None or not _enabled(test):
            continue
        key = list(test.kwargs.get(argument) or [])
        nullable = [name for name in key if "not_null" not in columns.get(name, set())]
        if key and not nullable:
            return None
        if key:
            return RuleViolation(
                f"{test.type} on ({', '.join(key)}) but no not_null test on "
                f"{', '.join(nullable)}: add `data_tests: [not_null]` to those columns"
            )
    half = [name for name, types in columns.items() if types & {"unique", "not_null"}]
    hint = f" (partial: {', '.join(half)})" if half else ""
    return RuleViolation(
        "no primary-key test: add `data_tests: [unique, not_null]` to the key column, or "
        f"a model-level `unique_combination` test with not_null key columns{hint}"
    )


def _get(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


@rule(severity=Severity.HIGH)
def source_has_freshness(source: Source) -> RuleViolation | None:
    """Every source table has a freshness check (warn_after or error_after)."""
    freshness = source.freshness
    thresholds = [_get(freshness, "warn_after"), _get(freshness, "error_after")]
    if not any(_get(t, "count") and _get(t, "period") for t in thresholds if t):
        return RuleViolation(
            f"source {source.source_name}.{source.name} has no freshness: set "
            "`config: freshness: {warn_after: ..., error_after: ...}` on the table or source"
        )
    raw = source._raw_values
    config = raw.get("config") or {}
    if not any(raw.get(key) or config.get(key) for key in ("loaded_at_field", "loaded_at_query")):
        return RuleViolation(
            f"source {source.source_name}.{source.name} has a freshness but nothing to measure "
            "it with: set `loaded_at_field` or `config: loaded_at_query`"
        )
    return None
