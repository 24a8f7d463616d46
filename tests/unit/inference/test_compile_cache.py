import os
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.inference import compile_cache
from shared.inference.compile_cache import (
    CompileCache,
    GraphKey,
    TorchScriptCompiler,
    weight_files,
    weights_checksum,
)


def key(**changes: object) -> GraphKey:
    values: dict[str, object] = {
        "model": "m/x",
        "weights": "abc",
        "graph": "decode",
        "batch_size": 4,
        "bucket": 64,
        "width": 1,
        "cache_len": 320,
        "dtype": "torch.bfloat16",
        "compiler": "neuronxcc-2.0",
    }
    values.update(changes)
    return GraphKey(**values)  # type: ignore[arg-type]


def test_cache_key_covers_model_shapes_and_compiler(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path, TorchScriptCompiler())
    base = cache.path_for(key())
    assert base.parent == tmp_path / "m_x" / "neuronxcc-2.0"
    for change in (
        {"bucket": 128},
        {"batch_size": 8},
        {"compiler": "neuronxcc-2.1"},
        {"weights": "def"},
        {"dtype": "torch.float32"},
        {"width": 64},
    ):
        assert cache.path_for(key(**change)) != base, change


def test_cache_compiles_once_then_loads(tmp_path: Path) -> None:
    import torch

    compiler = TorchScriptCompiler()
    cache = CompileCache(tmp_path, compiler)
    module = torch.nn.Linear(3, 2)
    example = (torch.ones(1, 3),)

    def build() -> object:
        return compiler.compile(module, example)

    first = cache.get(key(), build)
    second = CompileCache(tmp_path, compiler).get(key(), build)
    assert compiler.compiled == 1
    assert torch.equal(first(*example), second(*example))
    assert cache.path_for(key()).with_suffix(".json").exists()


def checkpoint(root: Path, weights: bytes = b"\x00" * 4096) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text('{"model_type": "llama"}')
    (root / "model-00001-of-00002.safetensors").write_bytes(weights)
    (root / "model-00002-of-00002.safetensors").write_bytes(b"\x01" * 1024)
    (root / "tokenizer.json").write_text("{}")
    return root


def test_weights_checksum_changes_with_one_weight_byte(tmp_path: Path) -> None:
    base = weights_checksum(checkpoint(tmp_path / "base"))
    weights = bytearray(b"\x00" * 4096)
    weights[1234] = 1
    tuned = weights_checksum(checkpoint(tmp_path / "tuned", bytes(weights)))
    assert tuned != base
    # Same bytes elsewhere give the same checksum: it is a function of the content.
    assert weights_checksum(checkpoint(tmp_path / "copy")) == base
    # The config is covered; files the loaders do not read are not.
    (tmp_path / "copy" / "tokenizer.json").write_text('{"changed": true}')
    assert weights_checksum(tmp_path / "copy") == base
    (tmp_path / "copy" / "config.json").write_text('{"model_type": "llama", "x": 1}')
    assert weights_checksum(tmp_path / "copy") != base


def test_weights_checksum_keys_a_graph_cache_entry(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache", TorchScriptCompiler())
    paths = set()
    for name, weights in (("a", b"\x00" * 4096), ("b", b"\x00" * 4095 + b"\x02")):
        paths.add(
            cache.path_for(key(weights=weights_checksum(checkpoint(tmp_path / name, weights))))
        )
    assert len(paths) == 2


def test_weights_checksum_is_remembered_across_restarts_until_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = checkpoint(tmp_path / "model")
    memo = tmp_path / "memo"
    first = weights_checksum(model, memo_dir=memo)
    assert len(list(memo.glob("*.json"))) == 1
    compile_cache._memo.clear()  # a restarted process: only the sidecar remains

    def no_hashing(files: object) -> str:
        raise AssertionError("re-hashed although size and mtime are unchanged")

    monkeypatch.setattr(compile_cache, "_hash_files", no_hashing)
    assert weights_checksum(model, memo_dir=memo) == first
    monkeypatch.undo()

    compile_cache._memo.clear()
    shard = model / "model-00001-of-00002.safetensors"
    shard.write_bytes(b"\x03" * 4096)  # same size, new mtime
    stat = shard.stat()
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = weights_checksum(model, memo_dir=memo)
    assert changed != first
    assert changed == weights_checksum(checkpoint(tmp_path / "fresh", b"\x03" * 4096))


def test_weights_checksum_reads_bin_only_without_safetensors(tmp_path: Path) -> None:
    model = tmp_path / "bin"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "pytorch_model.bin").write_bytes(b"\x05" * 100)
    first = weights_checksum(model)
    (model / "pytorch_model.bin").write_bytes(b"\x06" * 100)
    assert weights_checksum(model) != first
    assert [p.name for p in weight_files(model)] == ["pytorch_model.bin", "config.json"]
    (model / "model.safetensors").write_bytes(b"\x07" * 10)
    assert [p.name for p in weight_files(model)] == ["model.safetensors", "config.json"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError, match=r"no \*\.safetensors"):
        weights_checksum(empty)
