"""The project's promises about itself: one environment, two commands, no data in git, lint-clean code,
one marker per test and one home per chapter."""
import re
import subprocess
import sys
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


# -- lint ---------------------------------------------------------------------------------------
LINTED = ["dlcourse", "tests", "tools", "benchmarks", "solutions"]


def test_ruff_finds_nothing_in_the_code_and_the_solution_notebooks():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *LINTED], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_reads_every_solution_notebook_and_make_lint_runs_it():
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--show-files", "solutions"]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        assert str(notebook) in listed, f"ruff does not lint {notebook.relative_to(ROOT)}"
    lint = re.search(r"^lint:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert all(folder in lint.split() for folder in LINTED), lint


# -- markers: one chapter's tests run alone ---------------------------------------------------------
MARKERS = [f"chapter{n:02d}" for n in range(7)] + ["package", "course"]


def collect(*args):
    """The test ids `pytest --collect-only` finds with these arguments."""
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             "-o", "addopts=", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 5), result.stdout[-3000:] + result.stderr[-2000:]   # 5: none collected
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_every_marker_is_registered():
    registered = [line.split(":")[0] for line in pyproject()["tool"]["pytest"]["ini_options"]["markers"]]
    assert set(MARKERS) <= set(registered)


def test_every_test_has_a_chapter_package_or_course_marker():
    unmarked = collect("-m", f"not ({' or '.join(MARKERS)})")
    assert unmarked == [], f"tests without a marker (see tests/conftest.py, FILE_MARKERS): {unmarked[:5]}"


def test_chapter_option_selects_one_chapter_and_its_notebook():
    selected = collect("--chapter", "03")
    files = {test.split("::")[0] for test in selected}
    chapter_03 = {"test_backpropagation.py", "test_widgets_backpropagation.py", "test_notebooks.py",
                  "test_release.py", "test_grading.py", "test_book.py"}
    assert {f"tests/{name}" for name in chapter_03} <= files
    assert not files & {"tests/test_perceptrons.py", "tests/test_activations.py", "tests/test_nn_layers.py"}
    notebook_files = {"tests/test_notebooks.py", "tests/test_release.py", "tests/test_grading.py"}
    by_chapter = [test for test in selected if test.split("::")[0] in notebook_files and "[" in test]
    assert by_chapter and all("03_backpropagation" in test for test in by_chapter)


def test_make_test_passes_the_chapter_to_pytest():
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = re.search(r"^test:.*\n\t(.*)$", makefile, re.M).group(1)
    assert "--chapter=$(CHAPTER)" in test_recipe and "$(if $(CHAPTER)" in test_recipe
    assert "make test CHAPTER=" in (ROOT / "README.md").read_text()


# -- one home per chapter -----------------------------------------------------------------------------
def test_each_chapter_module_has_its_widgets_module_of_the_same_name():
    """dlcourse/<chapter>.py and dlcourse/widgets/<chapter>.py, named after solutions/NN_<chapter>/."""
    chapters = [p.name.split("_", 1)[1] for p in (ROOT / "solutions").iterdir() if p.is_dir()]
    widget_modules = {p.stem for p in (ROOT / "dlcourse" / "widgets").glob("*.py")} - {"__init__", "explorer"}
    assert widget_modules <= set(chapters), f"a widgets module not named after a chapter: {widget_modules}"
    for name in chapters:
        assert (ROOT / "dlcourse" / "widgets" / f"{name}.py").is_file(), f"dlcourse/widgets/{name}.py"
        if (ROOT / "dlcourse" / f"{name}.py").is_file():
            continue
        assert name == "getting_started", f"chapter {name} has no dlcourse/{name}.py"
    assert "dlcourse/<chapter>.py" in (ROOT / "STYLE.md").read_text()
