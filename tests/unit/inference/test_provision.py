"""Provisioning with small fake chunk sets: the real code path, test data."""

import hashlib
import json
import tomllib
from pathlib import Path

import pytest

from shared.inference import provision as prov
from shared.inference.catalog import CATALOG, LocalFile, ModelSource
from shared.inference.errors import ProvisioningError

REPO = Path(__file__).resolve().parents[3]


def make_chunks(tmp_path: Path, count: int = 3) -> tuple[list[Path], str]:
    parts = []
    digest = hashlib.sha256()
    for i in range(count):
        data = bytes([i]) * (1000 + i)
        path = tmp_path / f"part{i + 1:02d}.bin"
        path.write_bytes(data)
        digest.update(data)
        parts.append(path)
    return parts, digest.hexdigest()


def source_for(parts: list[Path], sha: str) -> ModelSource:
    return ModelSource(
        name="fake-model",
        kind="causal-lm",
        format="gguf",
        parts=tuple(LocalFile(p) for p in parts),
        sha256=sha,
    )


def test_assemble_joins_in_order_when_the_hash_matches(tmp_path: Path) -> None:
    parts, sha = make_chunks(tmp_path)
    out = prov.assemble(parts, sha, tmp_path / "joined.gguf")
    assert out.read_bytes() == b"".join(p.read_bytes() for p in parts)


def test_a_corrupted_chunk_is_refused_before_anything_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, sha = make_chunks(tmp_path)
    data = bytearray(parts[1].read_bytes())
    data[10] ^= 0xFF  # one flipped byte in the middle chunk
    parts[1].write_bytes(bytes(data))
    converted: list[Path] = []
    monkeypatch.setattr(prov, "convert_gguf", lambda gguf, out: converted.append(gguf))
    cache = tmp_path / "cache"
    with pytest.raises(ProvisioningError, match="does not match the pinned"):
        prov.provision_source(source_for(parts, sha), cache, auto_install=False)
    assert converted == []
    assert not list((cache / ".staging").glob("*.gguf*"))  # no half-assembled file left
    assert not (cache / "fake-model").exists()


def test_chunks_out_of_order_are_refused(tmp_path: Path) -> None:
    parts, sha = make_chunks(tmp_path)
    with pytest.raises(ProvisioningError):
        prov.assemble(list(reversed(parts)), sha, tmp_path / "joined.gguf")


def test_missing_parts_are_a_provisioning_error(tmp_path: Path) -> None:
    parts, sha = make_chunks(tmp_path)
    parts[0].unlink()
    with pytest.raises(ProvisioningError, match="not found"):
        prov.provision_source(source_for(parts, sha), tmp_path / "c", auto_install=False)


def test_conversion_runs_once_and_a_crash_mid_way_is_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, sha = make_chunks(tmp_path)
    calls: list[int] = []

    def crashing(gguf: Path, out: Path) -> None:
        calls.append(1)
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt  # e.g. the process is killed mid-convert

    def working(gguf: Path, out: Path) -> None:
        calls.append(2)
        assert gguf.read_bytes() == b"".join(p.read_bytes() for p in parts)
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"weights")

    cache = tmp_path / "cache"
    source = source_for(parts, sha)
    monkeypatch.setattr(prov, "convert_gguf", crashing)
    with pytest.raises(KeyboardInterrupt):
        prov.provision_source(source, cache, auto_install=False)
    assert not (cache / "fake-model" / prov.MARKER).exists()

    monkeypatch.setattr(prov, "convert_gguf", working)
    target = prov.provision_source(source, cache, auto_install=False)
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert json.loads((target / prov.MARKER).read_text())["sha256"] == sha
    prov.provision_source(source, cache, auto_install=False)  # cached: no third convert
    assert calls == [1, 2]


def test_a_pin_change_invalidates_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, sha = make_chunks(tmp_path)
    monkeypatch.setattr(prov, "convert_gguf", lambda g, out: out.mkdir(parents=True))
    cache = tmp_path / "cache"
    prov.provision_source(source_for(parts, sha), cache, auto_install=False)
    with pytest.raises(ProvisioningError):
        prov.provision_source(source_for(parts, "0" * 64), cache, auto_install=False)


def test_unknown_names_pass_through_as_hub_ids(tmp_path: Path) -> None:
    from shared.config import CoreSettings

    model = prov.provision("org/some-model", CoreSettings(CAIRN_STATE_DIR=tmp_path))
    assert model.location == "org/some-model" and not model.from_catalog


def test_catalog_pins_match_pyproject() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    dependencies = set(pyproject["project"]["dependencies"])
    no_deps = set(pyproject["tool"]["cairn"]["models"]["no-deps"])
    for source in CATALOG.values():
        declared = no_deps if source.no_deps else dependencies
        assert set(source.requirements) <= declared, source.name


def test_the_gguf_is_kept_verified_for_llamacpp_and_reassembled_when_touched(
    tmp_path: Path,
) -> None:
    parts, sha = make_chunks(tmp_path)
    source = source_for(parts, sha)
    cache = tmp_path / "cache"
    (cache / source.name).mkdir(parents=True)
    path = prov.ensure_gguf(source, cache, auto_install=False)
    assert path == cache / source.name / prov.GGUF_NAME
    assert path.read_bytes() == b"".join(p.read_bytes() for p in parts)
    stamp = path.stat().st_mtime_ns
    assert prov.ensure_gguf(source, cache, auto_install=False).stat().st_mtime_ns == stamp
    # A file changed behind the marker's back is not trusted: it is rebuilt and re-verified.
    path.write_bytes(b"tampered")
    again = prov.ensure_gguf(source, cache, auto_install=False)
    assert again.read_bytes() == b"".join(p.read_bytes() for p in parts)


def test_a_gguf_whose_parts_do_not_hash_is_not_kept(tmp_path: Path) -> None:
    parts, sha = make_chunks(tmp_path)
    parts[0].write_bytes(b"other bytes")
    source = source_for(parts, sha)
    cache = tmp_path / "cache"
    (cache / source.name).mkdir(parents=True)
    with pytest.raises(ProvisioningError, match="does not match the pinned"):
        prov.ensure_gguf(source, cache, auto_install=False)
    assert not list((cache / source.name).glob("model.gguf*"))


def test_conversion_keeps_the_assembled_gguf_so_it_is_not_assembled_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, sha = make_chunks(tmp_path)
    source = source_for(parts, sha)
    monkeypatch.setattr(prov, "convert_gguf", lambda gguf, out: out.mkdir(parents=True))
    cache = tmp_path / "cache"
    target = prov.provision_source(source, cache, auto_install=False)
    kept = target / prov.GGUF_NAME
    assert kept.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert not list((cache / ".staging").glob("*.gguf*"))
    stamp = kept.stat().st_mtime_ns
    assert prov.ensure_gguf(source, cache, auto_install=False) == kept
    assert kept.stat().st_mtime_ns == stamp
