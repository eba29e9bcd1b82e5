# `make report` and `make test` do all set-up on a fresh machine: each creates .venv/ from the
# committed lock (haplo_report/requirements.lock: exact versions, sha256 hashes checked) and
# never from the open ranges of pyproject.toml. `make lock` refreshes the lock on purpose.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := haplo_report/requirements.lock
STAMP := $(VENV)/.installed
UV := $(BIN)/uv

.PHONY: report test venv lock clean

venv: $(STAMP)

# pip installs only uv (its hashes taken from the lock); uv then makes .venv exactly the lock
# (`pip sync` removes anything else; pip, which the venv brought, is removed after) and adds the suite itself, editable.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || { sed -n '/^uv==/,/^[^ ]/p' $(LOCK) | sed '$$d' > $(VENV)/uv.txt && \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r $(VENV)/uv.txt; }
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(UV) pip uninstall --quiet --python $(BIN)/python pip
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/haplo-report run params/example.yml

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Resolve pyproject.toml's ranges anew (newest releases) for every Python the suite supports;
# commit the lock with the test suite run on it: its diff shows every version change.
lock:
	$(PYTHON) -m uv --version >/dev/null 2>&1 || { echo "make lock needs uv: $(PYTHON) -m pip install uv" >&2; exit 2; }
	$(PYTHON) -m uv pip compile pyproject.toml --extra test --group setup --universal \
	  --python-version 3.10 --generate-hashes --quiet --upgrade \
	  --custom-compile-command "make lock" --output-file $(LOCK)

clean:
	rm -rf output build
