"""Model execution backends, one per device, behind one interface (base.Backend)."""

from __future__ import annotations

from pathlib import Path

from shared.inference.backends.base import Backend, BatchOutcome, ModelRole
from shared.inference.catalog import ModelKind
from shared.inference.device import Device
from shared.inference.provision import ProvisionedModel
from shared.inference.settings import InferenceSettings


def create_backend(
    device: Device,
    settings: InferenceSettings,
    model: ProvisionedModel,
    role: ModelRole,
    *,
    model_cache_dir: Path,
) -> Backend:
    """The backend class for `device`; Neuron's module is imported only when asked for."""
    if device == "neuron":
        from shared.inference.backends.neuron import NeuronBackend

        root = Path(settings.neuron_cache_dir or model_cache_dir / "neuron-cache")
        return NeuronBackend(settings, model, role, cache_root=root)
    from shared.inference.backends.torch_backend import TorchBackend

    return TorchBackend(settings, model, role, device=device)


__all__ = ["Backend", "BatchOutcome", "ModelKind", "ModelRole", "create_backend"]
