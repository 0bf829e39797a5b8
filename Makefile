# Two commands: `make run` and `make test`. Both install into ./.venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
PACKAGES := common $(sort $(dir $(wildcard services/*/pyproject.toml)))

.PHONY: install browser promtool run test down token lint-imports clean

WEB_STAMP := web/node_modules/.installed

install: $(STAMP) $(WEB_STAMP)

$(STAMP): requirements.txt requirements.lock common/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -r requirements.txt -c requirements.lock
	$(PIP) --no-deps $(addprefix -e ,$(PACKAGES))
	touch $@

# The web app's front-end libraries (Leaflet, its marker clusters; axe-core for the accessibility
# tests), from the npm registry, exactly as package-lock.json says; the gateway serves them.
$(WEB_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive the machine's Chromium (Debian package), installed here when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || deploy/local/install_chromium.sh

# Starts Kafka (Tansu), MongoDB (SecantusDB), the SMTP sink, every service and the gateway,
# loads the demo data and prints the URL. Ctrl-C stops everything it started.
# DEMO=territory also loads a generated territory of 60,000 actors with pledges (DEMO_ACTORS=N for
# another size); DEMO=none loads nothing. WORKERS="matching=2 notify=2" runs that many worker
# processes of those services (one each otherwise): they share the partitions of their topics.
run: install
	$(BIN)/python deploy/local/stack.py up $(if $(DEMO),--demo $(DEMO)) $(if $(DEMO_ACTORS),--demo-actors $(DEMO_ACTORS)) $(if $(WORKERS),--workers "$(WORKERS)")

# The alert tests (tests/deploy/test_alerts.py) check the Prometheus config and rules with promtool,
# taken from Debian's prometheus package into .venv/bin when missing.
promtool: $(BIN)/promtool

$(BIN)/promtool: | $(STAMP)
	deploy/local/install_promtool.sh $@

# Starts what the tests need (tests/conftest.py), runs them all, stops everything.
test: install browser promtool
	$(BIN)/python -m pytest

# Stops a stack left running by `make run` (by the PIDs in var/run).
down:
	$(BIN)/python deploy/local/stack.py down

# Prints an access token signed with the local stack's key (var/auth, made by `make run`), for
# scripts (people sign in with an emailed link): make token ROLE=school_referent SCHOOL=0940001W [ACTOR=act-...]
token: install
	@AUTH_PRIVATE_KEY_FILE=var/auth/private.pem $(BIN)/python -m vitawin_common.identity token \
		--role $(ROLE) $(if $(ACTOR),--actor-id $(ACTOR)) $(if $(SCHOOL),--school-uai $(SCHOOL))

lint-imports: install
	$(BIN)/lint-imports --config .importlinter

clean:
	rm -rf $(VENV) var
