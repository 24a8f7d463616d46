"""Content-addressed, write-once storage of sticker PNGs.

A blob lives at `<blob_dir>/sha256/<first two hex>/<hex>.png` and is named by the sha256 of its
bytes, so storing the same image twice is a no-op and a stored file is never rewritten. Its
URI is `blob://sha256/<hex>`; `path_of` maps the URI back to the file.

A URI or digest comes from outside (a result event, an API caller), so every path built from
one is checked first: exactly 64 lowercase hex characters, and the file must lie under the
store's root. `blob://sha256/../../etc/passwd` and its encoded cousins are refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from services.emoji.constants import BLOB_URI_PREFIX
from shared.errors import PermanentError

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class InvalidBlobId(PermanentError, ValueError):
    """Not a blob URI or not a sha256 digest; the same input fails every time."""


def parse_digest(sha256: str) -> str:
    """`sha256` itself when it is 64 lowercase hex characters, else `InvalidBlobId`."""
    if not isinstance(sha256, str) or _SHA256_HEX.fullmatch(sha256) is None:
        raise InvalidBlobId("blob id is not a sha256 digest (64 lowercase hex characters)")
    return sha256


def parse_uri(uri: str) -> str:
    """The digest in `blob://sha256/<hex>`, validated."""
    if not isinstance(uri, str) or not uri.startswith(BLOB_URI_PREFIX):
        raise InvalidBlobId("not a blob URI (blob://sha256/<hex>)")
    return parse_digest(uri.removeprefix(BLOB_URI_PREFIX))


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    uri: str
    path: Path


class BlobStore:
    """Blobs under one directory (the service context's `blob_dir`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        digest = parse_digest(sha256)
        path = self.root / "sha256" / digest[:2] / f"{digest}.png"
        # Defence in depth: whatever the digest check lets through must stay under the root
        # (a symlinked shard directory pointing elsewhere, say).
        base = (self.root / "sha256").resolve()
        if not path.resolve().is_relative_to(base):
            raise InvalidBlobId("blob path escapes the blob store")
        return path

    def resolve(self, uri: str) -> Path:
        """`blob://sha256/<hex>` -> the file that holds it."""
        return self.path_of(parse_uri(uri))

    def read(self, uri: str) -> bytes:
        """The bytes of a stored blob, checked against its digest."""
        digest = parse_uri(uri)
        data = self.path_of(digest).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise InvalidBlobId("stored blob does not match its digest")
        return data

    def put(self, data: bytes) -> StoredBlob:
        """Store `data` once; concurrent writers of the same bytes are harmless."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{digest}.{os.getpid()}.{id(data)}.tmp")
            with tmp.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # Atomic: readers see no file or the whole file, never a partial one.
            os.replace(tmp, path)
        return StoredBlob(sha256=digest, uri=f"{BLOB_URI_PREFIX}{digest}", path=path)
