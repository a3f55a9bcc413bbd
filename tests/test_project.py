"""The project's promises about itself: one environment, two commands, no data in git."""
import re
import subprocess
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pypi_requirements():
    project = pyproject()["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str) or dep in ("pip",) or dep.startswith("python"):
            continue
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)(.*)", dep).groups()
        found[CONDA_NAMES.get(name, name).lower()] = spec
    return found


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert conda_requirements().keys() == pypi_requirements().keys()


def test_environment_yml_uses_the_same_version_ranges():
    pypi = pypi_requirements()
    for name, spec in conda_requirements().items():
        assert set(spec.split(",")) == set(pypi[name].split(",")), name


def test_dependencies_are_ranges_not_pins():
    for name, spec in pypi_requirements().items():
        assert "==" not in spec, f"{name} is pinned ({spec}); use a range"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_makefile_targets_set_up_before_running():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "release", "book"):
        assert re.search(rf"^{target}: setup( |$)", makefile, re.M), target


def test_only_the_readme_of_datasets_is_tracked():
    tracked = subprocess.run(
        ["git", "ls-files", "datasets"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == ["datasets/README.md"]


def test_dataset_files_are_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "datasets/MNIST/raw/train-images-idx3-ubyte.gz"], cwd=ROOT
    )
    assert result.returncode == 0
