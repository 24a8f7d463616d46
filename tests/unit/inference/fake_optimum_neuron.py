"""A stand-in for `optimum.neuron` (the Neuron SDK and compiler cannot run without Inferentia).

It mirrors the optimum-neuron 0.4.5 surface the engine uses, with the same parameter names:
`NeuronModelForCausalLM.get_neuron_config / export / from_pretrained`, a config carrying the
`NxDNeuronConfig` attributes, `save_pretrained` writing the compiled directory, and a
"compiled model" whose `__call__(input_ids, position_ids, seq_ids, sampling_params)` follows
`NxDModelForCausalLM.forward`:

* more than one input column with positions from 0 -> context encoding: one seq_id per call
  (continuous batching), at most `max_context_length` tokens, the slot's cache rebuilt;
* otherwise token generation: up to `batch_size` rows, each row's KV appended at its position.
  Like optimum-neuron's `_forward_with_pad`, a partial batch is padded with the unused seq_ids,
  and a padding row writes KV at row 0's position into that slot: a slot that held more tokens
  than that is marked corrupted, and decoding it later fails the test.

The model behind it is a real (tiny) transformers causal LM on CPU, run one row at a time, so a
row's logits do not depend on its neighbours and engine answers can be compared exactly with
single-request greedy decoding.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, DynamicCache

VERSION = "0.4.5"


class FakeNeuronConfig:
    """The NxDNeuronConfig attributes, as llama's `_get_neuron_config` sets them."""

    def __init__(
        self, *, batch_size: int, sequence_length: int, tp_degree: int, torch_dtype: Any
    ) -> None:
        self.checkpoint_id: str | None = None
        self.batch_size = batch_size
        self.max_batch_size = batch_size
        self.sequence_length = sequence_length
        self.max_context_length = sequence_length
        self.tp_degree = tp_degree
        self.torch_dtype = torch_dtype
        self.target = "trn1"
        self.on_device_sampling = True
        self.continuous_batching = batch_size > 1
        self.fused_qkv = True

    def to_json_string(self) -> str:
        values = {k: str(v) if isinstance(v, torch.dtype) else v for k, v in vars(self).items()}
        values |= {"optimum_neuron_version": VERSION, "neuronxcc_version": "2.21.fake"}
        return json.dumps(values, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> FakeNeuronConfig:
        values = json.loads(text)
        config = cls(
            batch_size=values["batch_size"],
            sequence_length=values["sequence_length"],
            tp_degree=values["tp_degree"],
            torch_dtype=getattr(torch, values["torch_dtype"].removeprefix("torch.")),
        )
        for name in ("max_context_length", "on_device_sampling", "continuous_batching"):
            setattr(config, name, values[name])
        return config


class FakeCompiledModel:
    """NxDModelForCausalLM.forward's contract over a CPU transformers model."""

    def __init__(self, model: Any, neuron_config: FakeNeuronConfig, owner: FakeOptimumNeuron):
        self.model = model
        self.config = model.config
        self.neuron_config = neuron_config
        self.owner = owner
        self.caches: dict[int, DynamicCache] = {}
        self.lengths: dict[int, int] = {}
        self.corrupted: set[int] = set()

    def __call__(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        seq_ids: torch.Tensor,
        sampling_params: torch.Tensor,
    ) -> torch.Tensor:
        owner = self.owner
        assert owner.gate.wait(timeout=30), "fake device held too long"
        if owner.fail_next:
            owner.fail_next = False
            raise RuntimeError("NRT: execution failed (injected)")
        time.sleep(owner.step_delay_s)
        assert sampling_params.shape == (seq_ids.shape[0], 3)
        with torch.inference_mode():
            if input_ids.shape[-1] > 1 and int(position_ids.min()) == 0:
                return self._context(input_ids, position_ids, seq_ids)
            return self._tokens(input_ids, position_ids, seq_ids)

    def _context(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, seq_ids: torch.Tensor
    ) -> torch.Tensor:
        nc = self.neuron_config
        assert seq_ids.shape == (1,), "continuous batching encodes one sequence per call"
        n = input_ids.shape[1]
        assert n <= nc.max_context_length, f"{n} tokens > max_context_length"
        assert torch.equal(position_ids[0], torch.arange(n)), "prompt positions must be 0..n-1"
        slot = int(seq_ids[0])
        assert 0 <= slot < nc.batch_size
        cache = DynamicCache(config=self.config)
        out = self.model(
            input_ids=input_ids, position_ids=position_ids, past_key_values=cache, use_cache=True
        )
        self.caches[slot], self.lengths[slot] = cache, n
        self.corrupted.discard(slot)
        self.owner.calls.append(("prefill", [slot]))
        logits: torch.Tensor = out.logits[:, -1:, :].float()
        return logits

    def _tokens(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, seq_ids: torch.Tensor
    ) -> torch.Tensor:
        nc = self.neuron_config
        slots = [int(s) for s in seq_ids]
        assert len(slots) <= nc.batch_size and len(set(slots)) == len(slots)
        rows = []
        for row, slot in enumerate(slots):
            position = int(position_ids[row, 0])
            assert slot not in self.corrupted, f"slot {slot} KV was overwritten by batch padding"
            assert position == self.lengths.get(slot), (
                f"slot {slot}: position {position}, cache holds {self.lengths.get(slot)}"
            )
            assert position < nc.sequence_length, "position beyond the static KV cache"
            out = self.model(
                input_ids=input_ids[row : row + 1],
                position_ids=position_ids[row : row + 1],
                past_key_values=self.caches[slot],
                use_cache=True,
            )
            self.lengths[slot] = position + 1
            rows.append(out.logits[:, -1:, :].float())
        pad_position = int(position_ids[0, 0])
        for slot in range(nc.batch_size):
            if slot not in slots and self.lengths.get(slot, 0) > pad_position:
                self.corrupted.add(slot)
        self.owner.calls.append(("decode", slots))
        return torch.cat(rows, dim=0)


class _Exported:
    """What NeuronModelForCausalLM.export returns; save_pretrained writes the compiled dir."""

    def __init__(self, model_dir: Path, neuron_config: FakeNeuronConfig) -> None:
        self.model_dir = model_dir
        self.neuron_config = neuron_config

    def save_pretrained(self, save_directory: str) -> None:
        dest = Path(save_directory)
        (dest / "checkpoint").mkdir(parents=True)
        (dest / "neuron_config.json").write_text(self.neuron_config.to_json_string())
        (dest / "model.pt").write_bytes(b"traced graphs would be here")
        # optimum-neuron shards a local checkpoint into the compiled directory.
        for path in self.model_dir.iterdir():
            if path.suffix in (".json", ".safetensors"):
                shutil.copy(path, dest / "checkpoint" / path.name)


class _FakeAuto:
    """NeuronModelForCausalLM's class methods, recording their arguments."""

    def __init__(self, owner: FakeOptimumNeuron) -> None:
        self.owner = owner

    def get_neuron_config(
        self,
        model_name_or_path: str | Path,
        config: Any = None,
        token: bool | str | None = None,
        revision: str | None = None,
        instance_type: str | None = None,
        batch_size: int | None = None,
        sequence_length: int | None = None,
        tensor_parallel_size: int | None = None,
    ) -> FakeNeuronConfig:
        self.owner.config_calls.append(
            {
                "model_name_or_path": model_name_or_path,
                "batch_size": batch_size,
                "sequence_length": sequence_length,
                "tensor_parallel_size": tensor_parallel_size,
                "instance_type": instance_type,
            }
        )
        assert batch_size is not None and sequence_length is not None
        assert tensor_parallel_size is not None
        return FakeNeuronConfig(
            batch_size=batch_size,
            sequence_length=sequence_length,
            tp_degree=tensor_parallel_size,
            torch_dtype=torch.bfloat16,
        )

    def export(
        self,
        model_id: str,
        neuron_config: FakeNeuronConfig,
        config: Any = None,
        token: bool | str | None = None,
        revision: str | None = None,
        load_weights: bool | None = False,
        **kwargs: Any,
    ) -> _Exported:
        self.owner.export_calls.append(
            {"model_id": model_id, "load_weights": load_weights, "neuron_config": neuron_config}
        )
        return _Exported(Path(model_id), neuron_config)

    def from_pretrained(self, model_id: str | Path, **kwargs: Any) -> FakeCompiledModel:
        path = Path(model_id)
        self.owner.load_calls.append(str(path))
        neuron_config = FakeNeuronConfig.from_json((path / "neuron_config.json").read_text())
        model = AutoModelForCausalLM.from_pretrained(
            path / "checkpoint", dtype=neuron_config.torch_dtype
        )
        model.eval()
        compiled = FakeCompiledModel(model, neuron_config, self.owner)
        self.owner.loaded.append(compiled)
        return compiled


class FakeOptimumNeuron:
    """Module-like stand-in for `optimum.neuron`; one per test, with its call records."""

    __version__ = VERSION

    def __init__(self, *, step_delay_s: float = 0.0) -> None:
        self.NeuronModelForCausalLM = _FakeAuto(self)
        self.config_calls: list[dict[str, Any]] = []
        self.export_calls: list[dict[str, Any]] = []
        self.load_calls: list[str] = []
        self.loaded: list[FakeCompiledModel] = []
        # ("prefill", [slot]) / ("decode", [slots]) in execution order (worker thread).
        self.calls: list[tuple[str, list[int]]] = []
        self.step_delay_s = step_delay_s
        self.gate = threading.Event()  # cleared: the device holds every call
        self.gate.set()
        self.fail_next = False

    def is_neuronx_available(self) -> bool:
        return True
