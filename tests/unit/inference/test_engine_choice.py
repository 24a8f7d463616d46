"""Which engine serves the generator, and how llama.cpp's answers become EngineOutputs."""

import json
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.inference.engines.llamacpp import LlamaCppEngine, find_server
from shared.inference.provision import ProvisionedModel
from shared.inference.runtime import choose_engine
from shared.inference.settings import InferenceSettings
from shared.inference.types import GenerationParams

WITH_GGUF = ProvisionedModel("m", "/models/m", "causal-lm", True, "/models/m/model.gguf")
NO_GGUF = ProvisionedModel("org/m", "org/m", None, False)


def settings(**values: object) -> InferenceSettings:
    return InferenceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    server = tmp_path / "engines" / "llamacpp-0.3.36" / "bin" / "llama-server"
    server.parent.mkdir(parents=True)
    server.write_text("#!/bin/sh\n")
    return tmp_path


def test_auto_picks_one_engine_per_device(built: Path) -> None:
    auto = settings()
    assert choose_engine(auto, "cpu", WITH_GGUF, built) == "llamacpp"
    assert choose_engine(auto, "cuda", WITH_GGUF, built) == "transformers"
    assert choose_engine(auto, "neuron", WITH_GGUF, built) == "neuron"


def test_auto_on_cpu_without_a_gguf_or_a_server_uses_transformers(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert choose_engine(settings(), "cpu", NO_GGUF, built) == "transformers"
    monkeypatch.setenv("PATH", "")
    empty = tmp_path / "empty"
    assert choose_engine(settings(), "cpu", WITH_GGUF, empty) == "transformers"
    assert "llama-server is not built" in caplog.text


def test_an_explicit_engine_is_honoured_or_refused(built: Path) -> None:
    assert choose_engine(settings(INFERENCE_ENGINE="static"), "cpu", WITH_GGUF, built) == "static"
    assert (
        choose_engine(settings(INFERENCE_ENGINE="transformers"), "cuda", WITH_GGUF, built)
        == "transformers"
    )
    with pytest.raises(ConfigurationError, match="CPU only"):
        choose_engine(settings(INFERENCE_ENGINE="llamacpp"), "cuda", WITH_GGUF, built)
    with pytest.raises(ConfigurationError, match="Neuron"):
        choose_engine(settings(INFERENCE_ENGINE="transformers"), "neuron", WITH_GGUF, built)


def test_the_server_is_found_by_setting_then_build_then_path(built: Path) -> None:
    explicit = settings(INFERENCE_LLAMACPP_SERVER="/opt/llama/llama-server")
    assert find_server(explicit, built) == Path("/opt/llama/llama-server")
    assert find_server(settings(), built) == (
        built / "engines" / "llamacpp-0.3.36" / "bin" / "llama-server"
    )


def test_a_model_without_gguf_cannot_go_to_llamacpp() -> None:
    with pytest.raises(ConfigurationError, match="no GGUF"):
        LlamaCppEngine(settings(), NO_GGUF, model_id="org/m", binary=Path("/x"))


def test_requests_carry_exactly_the_params_and_neutral_samplers() -> None:
    engine = LlamaCppEngine(settings(), WITH_GGUF, model_id="m", binary=Path("/x"))
    body = engine._body(
        [1, 2, 3],
        GenerationParams(max_new_tokens=7, temperature=0.7, top_p=0.9, stop=("\n\n",), seed=5),
    )
    assert body["prompt"] == [1, 2, 3] and body["n_predict"] == 7
    assert (body["temperature"], body["top_p"], body["seed"], body["stop"]) == (
        0.7,
        0.9,
        5,
        ["\n\n"],
    )
    # llama.cpp's own defaults (top-k 40, min-p 0.05) would change what is sampled.
    assert body["top_k"] == 0 and body["min_p"] == 0.0 and body["repeat_penalty"] == 1.0
    assert body["n_probs"] == 1 and body["post_sampling_probs"] is False
    assert engine._body([1], GenerationParams())["seed"] == -1


def test_server_answers_become_outputs() -> None:
    data = {
        "content": "Bonjour",
        "tokens_predicted": 3,
        "stop_type": "eos",
        "completion_probabilities": [{"logprob": -0.5}, {"logprob": -0.25}, {"logprob": 0.0}],
        "timings": {"prompt_ms": 12.0, "predicted_ms": 30.0},
    }
    out = LlamaCppEngine._output(data, wall_ms=50.0, batch_size=3)
    assert (out.text, out.token_count, out.finish_reason) == ("Bonjour", 3, "stop")
    assert out.logprobs == (-0.5, -0.25, 0.0)
    assert out.compute_ms == 42.0 and out.queue_ms == pytest.approx(8.0)
    assert out.batch_size == 3
    limited = LlamaCppEngine._output({**data, "stop_type": "limit"}, wall_ms=10.0, batch_size=0)
    assert limited.finish_reason == "length" and limited.queue_ms == 0.0
    assert limited.batch_size == 1
    assert out.drafted_accepted == 0
    drafted = {**data, "timings": {**data["timings"], "draft_n": 4, "draft_n_accepted": 2}}
    assert LlamaCppEngine._output(drafted, wall_ms=50.0, batch_size=1).drafted_accepted == 2


def test_prompt_lookup_drafting_is_configured_or_off() -> None:
    on = LlamaCppEngine(settings(), WITH_GGUF, model_id="m", binary=Path("/x"))._command()
    assert on[on.index("--spec-type") + 1] == "ngram-simple"
    assert on[on.index("--spec-ngram-simple-size-n") + 1] == "4"
    assert on[on.index("--spec-ngram-simple-size-m") + 1] == "16"
    assert "--no-kv-unified" in on  # answers must not depend on what runs beside them
    off = LlamaCppEngine(
        settings(INFERENCE_SPECULATIVE="none"), WITH_GGUF, model_id="m", binary=Path("/x")
    )._command()
    assert "--spec-type" not in off


async def test_overlapping_requests_each_leave_the_running_set() -> None:
    # B starts, A starts, A ends, C and D start, B ends: with value equality of the
    # bookkeeping records, "A ends" removed B's (equal) record and "B ends" then raised
    # ValueError, a failed request (seen under load in `make bench`).
    import asyncio

    import httpx2 as httpx

    release = {key: asyncio.Event() for key in (1, 2, 3, 4)}

    async def answer(request: httpx.Request) -> httpx.Response:
        await release[json.loads(request.content)["prompt"][0]].wait()
        return httpx.Response(200, json={"content": "ok", "tokens_predicted": 1, "timings": {}})

    engine = LlamaCppEngine(settings(), WITH_GGUF, model_id="m", binary=Path("/x"))
    engine._client = httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://server"
    )

    def start(key: int) -> asyncio.Task[object]:
        return asyncio.create_task(engine._run([key], GenerationParams(max_new_tokens=1)))

    async def finish(key: int, task: asyncio.Task[object]) -> None:
        release[key].set()
        await task

    b = start(2)
    await asyncio.sleep(0.01)
    a = start(1)
    await asyncio.sleep(0.01)
    await finish(1, a)
    c, d = start(3), start(4)
    await asyncio.sleep(0.01)
    await finish(2, b)
    await finish(3, c)
    await finish(4, d)
    assert engine._active == []
    await engine._client.aclose()
