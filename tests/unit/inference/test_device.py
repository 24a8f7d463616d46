import pytest

from shared.inference import device


def test_explicit_device_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "neuron_available", lambda: True)
    assert device.resolve_device("cpu") == "cpu"


def test_auto_probes_neuron_then_cuda_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "neuron_available", lambda: True)
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    assert device.resolve_device("auto") == "neuron"
    monkeypatch.setattr(device, "neuron_available", lambda: False)
    assert device.resolve_device("auto") == "cuda"
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    assert device.resolve_device("auto") == "cpu"
