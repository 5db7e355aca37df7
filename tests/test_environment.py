"""environment.yml and pyproject.toml list the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml

from analysis.config import PROJ_ROOT

CONDA_NAMES = {"python-duckdb": "duckdb"}  # conda-forge name -> PyPI name
CONDA_ONLY = {"python", "pip", "openjdk"}  # runtimes pip cannot install (Java for Spark)


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(d) for d in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        pip_names |= {_name(d) for d in extra}
    env = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text())
    conda = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name = _name(dep)
            if name not in CONDA_ONLY:
                conda.add(CONDA_NAMES.get(name, name))
        else:  # the pip: section, for packages conda-forge does not carry
            conda |= {_name(d) for d in dep.get("pip", []) if not d.startswith("-e")}
    assert conda == pip_names
