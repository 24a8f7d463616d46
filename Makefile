# Cairn's task runner: README, CI and people call these targets verbatim.
# Every target installs what it needs and is fast when that is already done.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STATE := .cairn
INSTALLED := $(VENV)/.installed
KAFKA_JARS := infra/kafka/lib/.complete
# The CPU serving engine (llama.cpp's server), built from source once; the version is the
# script's pinned one.
LLAMA_SERVER := $(STATE)/engines/llamacpp-$(shell sed -n 's/^VERSION="\(.*\)"/\1/p' infra/engines/build-llamacpp.sh)/bin/llama-server
PYTEST_ARGS ?=
PROMTOOL ?= promtool

export PYTHONUNBUFFERED := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help install engines models jars assets up down logs status demo test test-reliability \
        lint fmt migrate schemas docs eval bench bench-inference bench-candidates clean purge \
        monitoring-tools check-monitoring dashboards \
        images images-tools test-images deploy-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@touch $@

install: $(INSTALLED) ## Create .venv and install Cairn with its dev tools

$(KAFKA_JARS): infra/kafka/pom.xml
	$(PY) -c "from infra.stack.kafka import ensure_jars; ensure_jars()"

jars: $(INSTALLED) $(KAFKA_JARS) ## Resolve the Apache Kafka broker jars (Maven Central)

$(LLAMA_SERVER): infra/engines/build-llamacpp.sh | $(INSTALLED)
	PYTHON=$(PY) bash infra/engines/build-llamacpp.sh

engines: $(LLAMA_SERVER) ## Build the CPU serving engine, llama.cpp's server (cmake, once)

models: $(INSTALLED) ## Provision model weights and emoji assets into .cairn (once)
	$(PY) -m shared.inference.provision --all
	$(PY) -m services.emoji.assets

migrate: $(INSTALLED) ## Apply database migrations (DATABASE_URL, default SQLite in .cairn)
	$(PY) -m shared.persistence.migrate upgrade

up: $(INSTALLED) $(KAFKA_JARS) $(LLAMA_SERVER) models ## Start broker, migrations and every service in the background
	$(PY) -m infra.stack up

down: ## Stop exactly what `make up` started
	@test -x $(PY) && $(PY) -m infra.stack down || true

status: ## Show what is running
	$(PY) -m infra.stack status

logs: ## Follow the logs of the local stack
	$(PY) -m infra.stack logs

demo: $(INSTALLED) $(KAFKA_JARS) $(LLAMA_SERVER) models ## Run the whole system on embedded defaults with sample traffic
	$(PY) -m infra.demo

test: $(INSTALLED) $(KAFKA_JARS) $(LLAMA_SERVER) models ## Run the test suite (real Kafka, real DB, real models)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-reliability: $(INSTALLED) $(KAFKA_JARS) $(LLAMA_SERVER) models ## Fault scenarios (slow)
	$(PY) -m pytest -m "slow and not podman" -s $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff + mypy (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy schemas shared services

fmt: $(INSTALLED) ## Format and auto-fix
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: $(INSTALLED) ## Export JSON Schema + AsyncAPI for every contract
	$(PY) -m schemas.export

docs: $(INSTALLED) ## Regenerate the README's table of environment variables
	$(PY) -m services.settings_doc

eval: $(INSTALLED) $(LLAMA_SERVER) models ## Quality harness on ../shared/eval (EVAL_DATA=path, EVAL_LIMIT=n)
	$(PY) -m tests.eval $(if $(EVAL_DATA),--data $(EVAL_DATA)) $(if $(EVAL_LIMIT),--limit $(EVAL_LIMIT))

bench-inference: $(INSTALLED) $(LLAMA_SERVER) models ## Micro-batched vs sequential generation, padding waste
	$(PY) -m tests.bench.inference

bench-candidates: $(INSTALLED) $(LLAMA_SERVER) models ## Best-of-N candidates vs one: p50 latency and tokens per request
	$(PY) -m tests.bench.candidates

bench: $(INSTALLED) $(KAFKA_JARS) $(LLAMA_SERVER) models ## End-to-end benchmark (writes docs/bench/)
	$(PY) -m tests.bench.e2e

monitoring-tools: ## Install promtool (Debian's prometheus package) if it is missing
	@command -v $(PROMTOOL) >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

check-monitoring: monitoring-tools ## promtool check + unit tests of the alerting and recording rules
	$(PROMTOOL) check rules infra/monitoring/rules/*.yml
	cd infra/monitoring/tests && $(PROMTOOL) test rules *.test.yml

dashboards: $(INSTALLED) ## Regenerate the Grafana dashboards in infra/monitoring/grafana
	$(PY) -m infra.monitoring.dashboards

# Deployment (docs/deploy.md). kustomize and the KEDA CRDs are fetched into DEPLOY_TOOLS.
DEPLOY_TOOLS ?= $(STATE)/tools
CONTAINER_TOOLS := podman buildah runc mmdebstrap

images-tools: ## Install podman, buildah, runc and mmdebstrap (Debian packages, once)
	@for t in $(CONTAINER_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CONTAINER_TOOLS) >/dev/null; fi

images: $(INSTALLED) images-tools ## Build the three CPU service images (skips those up to date)
	$(PY) -m infra.images build

test-images: images $(KAFKA_JARS) ## Run the three images with podman against Kafka and PostgreSQL
	CAIRN_REQUIRE_IMAGES=1 $(PY) -m pytest -m podman -s tests/deploy/test_containers.py $(PYTEST_ARGS)

deploy-check: $(INSTALLED) ## Render, validate and lint the Kubernetes, compose and Dockerfiles
	CAIRN_DEPLOY_TOOLS=$(abspath $(DEPLOY_TOOLS)) $(PY) -m infra.deploycheck

purge: $(INSTALLED) ## Delete stored results older than CAIRN_RETENTION_DAYS
	$(PY) -m shared.persistence.purge

clean: down ## Remove local state, caches and the virtualenv
	rm -rf $(STATE) $(VENV) .pytest_cache .mypy_cache .ruff_cache infra/kafka/lib
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
