"""The DAG in layer order (dbt structure guide): staging reads sources only, intermediate
reads staging, intermediate models and seeds, marts read anything but sources. So the
folder a model is in says when it is built. Read from the manifest of one `dbt parse`
(no database). The longest chain of models is printed (`pytest -s`) for the record."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from conftest import TARGET, ProfileRef, run_dbt, write_profiles

# the layers a model of each layer may read ('source', 'seed', 'snapshot': resource types)
ALLOWED = {
    "staging": {"source"},
    "intermediate": {"staging", "intermediate", "seed"},
    "marts": {"staging", "intermediate", "marts", "seed", "snapshot"},
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("dag")
    path = work / "never-opened.duckdb"  # dbt parse does not connect
    ref = ProfileRef(write_profiles(work / "profiles", "duckdb", path=path), TARGET, "duckdb", {})
    run_dbt(ref, "parse", work_dir=work, artifacts=True)
    return json.loads((work / "target" / "manifest.json").read_text())


def project_models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["package_name"] == manifest["metadata"]["project_name"]
    }


def layer(manifest: dict[str, Any], unique_id: str) -> str:
    """'source', 'seed', or the models folder under models/ (staging, intermediate, marts)."""
    if unique_id in manifest["sources"]:
        return "source"
    node = manifest["nodes"][unique_id]
    return node["resource_type"] if node["resource_type"] != "model" else node["fqn"][1]


def dag_depth(models: dict[str, dict[str, Any]]) -> tuple[int, str]:
    """The number of models on the longest path, and the model it ends at."""

    @functools.cache
    def depth(unique_id: str) -> int:
        parents = [p for p in models[unique_id]["depends_on"]["nodes"] if p in models]
        return 1 + max((depth(parent) for parent in parents), default=0)

    deepest = max(models, key=depth)
    return depth(deepest), models[deepest]["name"]


def test_every_model_reads_only_the_layers_before_it(manifest: dict[str, Any]) -> None:
    models = project_models(manifest)
    print("DAG depth: {} models (the longest path ends at {})".format(*dag_depth(models)))
    assert {node["fqn"][1] for node in models.values()} == set(ALLOWED)
    wrong = sorted(
        f"{node['name']} ({node['fqn'][1]}) reads"
        f" {parent.split('.')[-1]} ({layer(manifest, parent)})"
        for node in models.values()
        for parent in node["depends_on"]["nodes"]
        if layer(manifest, parent) not in ALLOWED[node["fqn"][1]]
    )
    assert wrong == [], "models out of layer order:\n" + "\n".join(wrong)
