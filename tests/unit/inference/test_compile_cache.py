from pathlib import Path

from shared.inference.compile_cache import CompileCache, GraphKey, TorchScriptCompiler


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
