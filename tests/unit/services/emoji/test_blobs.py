"""Blob ids come from outside: only real sha256 digests map to files, inside the store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from services.emoji.blobs import BlobStore, InvalidBlobId, parse_digest, parse_uri
from shared.errors import is_retriable

DIGEST = hashlib.sha256(b"x").hexdigest()

TRAVERSALS = [
    "blob://sha256/../../etc/passwd",
    "blob://sha256/../../../../../../etc/shadow",
    "blob://sha256/..%2F..%2Fetc%2Fpasswd",
    "blob://sha256//etc/passwd",
    "blob://sha256/" + "../" * 10 + "etc/hosts",
    "blob://sha256/" + DIGEST[:62] + "/..",
    "blob://sha256/" + DIGEST + "/../../x",
    "blob://sha256/" + DIGEST.upper(),  # digests are lowercase; no aliases
    "blob://sha256/" + DIGEST + "\n",
    "blob://sha256/" + DIGEST[:63],
    "blob://sha256/" + DIGEST + "0",
    "blob://sha256/" + "g" * 64,
    "blob://sha256/" + "٣" * 64,  # Unicode digits are not hex
    "blob://sha256/",
    "blob://md5/" + DIGEST,
    "file:///etc/passwd",
    "/etc/passwd",
]


@pytest.mark.parametrize("uri", TRAVERSALS)
def test_bad_uris_are_refused_everywhere(tmp_path: Path, uri: str) -> None:
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(InvalidBlobId):
        parse_uri(uri)
    with pytest.raises(InvalidBlobId):
        store.resolve(uri)
    with pytest.raises(InvalidBlobId):
        store.read(uri)
    digest = uri.removeprefix("blob://sha256/")
    with pytest.raises(InvalidBlobId):
        store.path_of(digest)


def test_refusal_is_permanent_and_quotes_nothing() -> None:
    with pytest.raises(InvalidBlobId) as caught:
        parse_uri("blob://sha256/../../etc/passwd")
    assert not is_retriable(caught.value)
    assert "passwd" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_traversal_never_reads_outside_the_store(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"top secret")
    store = BlobStore(tmp_path / "blobs")
    store.put(b"a sticker")
    for uri in ("blob://sha256/../../secret", "blob://sha256/../../../secret.png"):
        with pytest.raises(InvalidBlobId):
            store.read(uri)


def test_put_and_read_round_trip(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    stored = store.put(b"png bytes")
    assert parse_uri(stored.uri) == stored.sha256 == parse_digest(stored.sha256)
    assert store.resolve(stored.uri) == stored.path
    assert store.read(stored.uri) == b"png bytes"
    stored.path.chmod(0o644)
    stored.path.write_bytes(b"tampered")
    with pytest.raises(InvalidBlobId):
        store.read(stored.uri)


def test_symlinked_shard_outside_the_store_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = BlobStore(tmp_path / "blobs")
    (tmp_path / "blobs" / "sha256").mkdir(parents=True)
    os.symlink(outside, tmp_path / "blobs" / "sha256" / DIGEST[:2])
    with pytest.raises(InvalidBlobId):
        store.path_of(DIGEST)
    with pytest.raises(InvalidBlobId):
        store.put(b"x")
    assert list(outside.iterdir()) == [], "nothing written through the link"
