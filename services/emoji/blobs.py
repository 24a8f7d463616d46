"""Content-addressed, write-once storage of sticker PNGs.

A blob lives at `<blob_dir>/sha256/<first two hex>/<hex>.png` and is named by the sha256 of its
bytes, so storing the same image twice is a no-op and a stored file is never rewritten. Its
URI is `blob://sha256/<hex>`; `path_of` maps the URI back to the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from services.emoji.constants import BLOB_URI_PREFIX


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
        return self.root / "sha256" / sha256[:2] / f"{sha256}.png"

    def resolve(self, uri: str) -> Path:
        """`blob://sha256/<hex>` -> the file that holds it."""
        if not uri.startswith(BLOB_URI_PREFIX):
            raise ValueError(f"not a blob URI: {uri!r}")
        return self.path_of(uri.removeprefix(BLOB_URI_PREFIX))

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
