# dlcourse: every target sets up what it needs first, from a fresh clone.
#   make lab      create .venv if missing, install, open the course in JupyterLab
#   make test     create .venv if missing, install, run the whole test suite
#                 (CHAPTER=03: only chapter 03's tests: its package, notebook, grading and book tests)
#   make release  regenerate chapters/ (student edition) from solutions/ with nbgrader
#   make book     build the website: jupyter_book/_build/public/html/ (INSTRUCTOR=1: with solutions,
#                 jupyter_book/_build/instructor/html/)
#   make bench    run the benchmarks (numpy against PyTorch; explorers, loaders, full training runs, grading)
#   make grade CHAPTER=NN_name  autograde every submission of a chapter, in parallel, each in the sandbox
#                 (WORKERS=4: four at a time; default one per core)
#   make grade-demo  rehearse nbgrader grading on one chapter (CHAPTER=NN or NN_name) with two students
#   make lint     ruff on the package, tests, tools, benchmarks and the solution notebooks
#   make student-edition DIR=path  export the students' repository for a graded class into DIR
#                 (no solutions/, no hidden tests; UP_TO=NN: only chapters 00 to NN)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED_DATA := ../shared/datasets
PORT   ?= 8888
# Jupyter refuses to run as root unless told; course machines and containers often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup data system-deps lab test release book bench grade grade-demo student-edition lint clean

setup: $(STAMP) data

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Course machines have no internet: copy MNIST, Fashion-MNIST and the two text
# corpora of chapter 06 from ../shared/datasets when it exists. Elsewhere
# torchvision (images) and dlcourse.data.load_text (texts, checked by sha256)
# download them into datasets/ the first time a chapter asks for them.
data:
	@if [ -d $(SHARED_DATA) ]; then \
		for d in MNIST FashionMNIST tinyshakespeare names; do \
			if [ -d $(SHARED_DATA)/$$d ] && [ ! -d datasets/$$d ]; then \
				echo "copying $$d from $(SHARED_DATA) into datasets/"; \
				cp -r $(SHARED_DATA)/$$d datasets/ && chmod -R u+w datasets/$$d; \
			fi; \
		done; \
	fi

lab: setup
	@echo "Opening JupyterLab on the course. If no browser opens, copy the http://127.0.0.1 URL printed below."
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/chapters/00_getting_started/00_getting_started.ipynb

# The website and browser tests need Debian's chromium (driven by Playwright,
# which never downloads a browser of its own) and npm (the book build fetches
# MathJax and the widget manager); grading runs each student's kernel in
# bubblewrap's sandbox (tools/sandbox.py). Installed with apt-get when missing.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing with apt-get"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# CHAPTER=NN selects the tests marked chapterNN (tests/conftest.py); without it, everything runs.
test: setup system-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile $(if $(CHAPTER),--chapter=$(CHAPTER))

release: setup
	$(BIN)/python tools/release.py

# Executes every chapter from solutions/, fetches MathJax and the widget manager
# with npm (once, into jupyter_book/_vendor/), then a strict jupyter-book build.
book: setup
	$(BIN)/python tools/build_book.py $(if $(INSTRUCTOR),--instructor)

bench: setup
	$(BIN)/python benchmarks/mlp_step.py
	$(BIN)/python benchmarks/conv_step.py
	$(BIN)/python benchmarks/rnn_step.py
	$(BIN)/python benchmarks/widgets_and_loaders.py
	$(BIN)/python benchmarks/char_lm.py
	$(BIN)/python benchmarks/mnist_cnn.py
	$(BIN)/python benchmarks/regularization_table.py
	$(BIN)/python benchmarks/grading_throughput.py

# Release, autograde, feedback and export in a scratch folder; the course's gradebook is not touched.
grade-demo: setup system-deps
	$(BIN)/python tools/grade_demo.py $(or $(CHAPTER),00_getting_started)

# Every submitted/<student>/CHAPTER/ of this course, into gradebook.db (INSTRUCTORS.md, section 4).
grade: setup system-deps
	@test -n "$(CHAPTER)" || { echo "make grade needs CHAPTER=NN_name (or NN)"; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tools/grade.py $(CHAPTER) $(if $(WORKERS),--workers $(WORKERS))

# A separate repository for a graded class: release notebooks, package, the students' README,
# Makefile and tests; no solutions/, hidden tests or instructor tooling. See INSTRUCTORS.md.
student-edition: setup
	@test -n "$(DIR)" || { echo "usage: make student-edition DIR=../dlcourse-student [UP_TO=NN]"; exit 2; }
	$(BIN)/python tools/student_edition.py "$(DIR)" $(if $(UP_TO),--up-to $(UP_TO))

lint: setup
	$(BIN)/ruff check dlcourse tests tools benchmarks solutions

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis gradebook.db
