"""Which accelerator this process serves models on."""

from __future__ import annotations

import importlib.util
import logging
from typing import Literal

log = logging.getLogger(__name__)

Device = Literal["cpu", "cuda", "neuron"]


def neuron_available() -> bool:
    """True where the AWS Neuron SDK's torch-neuronx is installed (it is not on PyPI)."""
    try:
        return importlib.util.find_spec("torch_neuronx") is not None
    except (ImportError, ValueError):
        return False


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str) -> Device:
    """`auto` probes neuron → cuda → cpu; anything else is taken as the operator's choice."""
    if requested == "cpu":
        return "cpu"
    if requested == "cuda":
        return "cuda"
    if requested == "neuron":
        return "neuron"
    if requested != "auto":
        raise ValueError(f"unknown device {requested!r}")
    if neuron_available():
        chosen: Device = "neuron"
    elif cuda_available():
        chosen = "cuda"
    else:
        chosen = "cpu"
    log.info("inference device auto-detected: %s", chosen)
    return chosen
