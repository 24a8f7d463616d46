import importlib.util
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.inference.backends import create_backend
from shared.inference.provision import ProvisionedModel
from shared.inference.settings import InferenceSettings


@pytest.mark.skipif(
    importlib.util.find_spec("torch_neuronx") is not None, reason="Neuron SDK present"
)
def test_neuron_without_the_sdk_is_a_clear_configuration_error(tmp_path: Path) -> None:
    backend = create_backend(
        "neuron",
        InferenceSettings(INFERENCE_DEVICE="neuron"),
        ProvisionedModel("m", "m", "causal-lm", False),
        "generator",
        model_cache_dir=tmp_path,
    )
    with pytest.raises(ConfigurationError, match=r"pip\.repos\.neuron\.amazonaws\.com"):
        backend.load()
