# AWS Inferentia2 (Neuron) images of the two generator services, on the AWS Neuron deep
# learning container, which brings torch, torch-neuronx, neuronx-cc and the Neuron runtime.
# It cannot be built on the project's machines (AWS's registry and package index are out of
# reach); `make deploy-check` lints it. Build on a machine that reaches them:
#   docker build -f infra/images/neuron.Dockerfile --target summarizer -t cairn-summarizer:0.1.0-neuron .
#   docker build -f infra/images/neuron.Dockerfile --target rewriter -t cairn-rewriter:0.1.0-neuron .
# Pin NEURON_BASE to the DLC release validated on inf2 (its Python must be 3.11+).
ARG NEURON_BASE=public.ecr.aws/neuron/pytorch-inference-neuronx:2.8.0-neuronx-py311-sdk2.26.0-ubuntu22.04

FROM ${NEURON_BASE} AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_EXTRA_INDEX_URL=https://pip.repos.neuron.amazonaws.com
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
COPY pyproject.toml /tmp/cairn/pyproject.toml
# Cairn's dependencies except torch: the DLC's torch is the one torch-neuronx is built
# against. The Neuron backend uses torch-neuronx only (shared/inference/backends/neuron.py),
# so optimum-neuron, which pins an older transformers, is not installed.
RUN python -c "import tomllib; print('\n'.join(d for d in tomllib.load(open('/tmp/cairn/pyproject.toml', 'rb'))['project']['dependencies'] if not d.startswith('torch')))" > /tmp/cairn/requirements.txt \
    && pip install --no-cache-dir -r /tmp/cairn/requirements.txt \
    && python -c "import torch_neuronx, torch; print('torch', torch.__version__, 'torch-neuronx', torch_neuronx.__version__)" \
    && rm -rf /tmp/cairn
# TOKENIZERS_PARALLELISM is no secret (DL3064 matches "TOKEN").
# hadolint ignore=DL3064
ENV PYTHONPATH=/opt/cairn \
    CAIRN_STATE_DIR=/opt/cairn/state \
    CAIRN_ENV=production \
    INFERENCE_AUTO_INSTALL=false \
    INFERENCE_DEVICE=neuron \
    INFERENCE_NEURON_CACHE_DIR=/var/cache/neuron \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    HOME=/tmp
WORKDIR /opt/cairn
COPY schemas ./schemas
COPY shared ./shared
COPY services ./services
RUN python -m compileall -q /opt/cairn \
    && echo "cairn:x:10001:10001:cairn:/tmp:/usr/sbin/nologin" >> /etc/passwd \
    && echo "cairn:x:10001:" >> /etc/group \
    && mkdir -p /opt/cairn/state/models /opt/cairn/state/blobs /var/cache/neuron \
    && chown 10001:10001 /opt/cairn/state/blobs /var/cache/neuron

# The model, converted once at build time (as in the CPU images). The compiled Neuron
# graphs are not baked: they depend on the NeuronCore count and bucket set, and live on the
# cairn-neuron-cache volume (infra/k8s/overlays/inf2), so a restart loads instead of compiling.
FROM app AS models
ARG GENERATOR_MODEL=qwen2.5-coder-0.5b-instruct
RUN INFERENCE_AUTO_INSTALL=true PIP_NO_CACHE_DIR=1 python -m shared.inference.provision "${GENERATOR_MODEL}" \
    && rm -rf /opt/cairn/state/models/.staging /opt/cairn/state/models/.*.lock \
    && chmod -R a+rX /opt/cairn/state/models

FROM app AS generator
ARG GENERATOR_MODEL=qwen2.5-coder-0.5b-instruct
ENV CAIRN_GENERATOR_MODEL=${GENERATOR_MODEL}
COPY --from=models /opt/cairn/state/models /opt/cairn/state/models
# The provisioner's lock file, on a read-only root: a link into /tmp (see services/*/Dockerfile).
RUN ln -s "/tmp/.${GENERATOR_MODEL}.lock" "/opt/cairn/state/models/.${GENERATOR_MODEL}.lock"
EXPOSE 9100
USER 10001:10001

FROM generator AS summarizer
LABEL org.opencontainers.image.title="cairn-summarizer" org.opencontainers.image.flavor="neuron"
CMD ["python", "-m", "services.summarizer"]

FROM generator AS rewriter
LABEL org.opencontainers.image.title="cairn-rewriter" org.opencontainers.image.flavor="neuron"
CMD ["python", "-m", "services.rewriter"]
