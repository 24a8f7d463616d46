import pytest
from pydantic import ValidationError

from shared.inference.settings import DEFAULT_BUCKETS, InferenceSettings


def test_defaults() -> None:
    settings = InferenceSettings()
    assert settings.device == "auto"
    assert settings.generator_model == "qwen2.5-coder-0.5b-instruct"
    assert settings.embedding_model == "all-minilm-l6-v2"
    assert settings.buckets == DEFAULT_BUCKETS


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_BUCKETS", "64, 128,256")
    monkeypatch.setenv("INFERENCE_DEVICE", "cpu")
    monkeypatch.setenv("INFERENCE_MAX_BATCH_SIZE", "4")
    settings = InferenceSettings()
    assert settings.buckets == (64, 128, 256)
    assert settings.device == "cpu"
    assert settings.max_batch_size == 4


@pytest.mark.parametrize("buckets", ["128,64", "64,64", "0,64", ""])
def test_buckets_must_increase(monkeypatch: pytest.MonkeyPatch, buckets: str) -> None:
    monkeypatch.setenv("INFERENCE_BUCKETS", buckets)
    with pytest.raises(ValidationError):
        InferenceSettings()


def test_unknown_device_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        InferenceSettings()
