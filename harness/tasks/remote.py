"""Public sources of the facts and editing data, mirrored file by file into a local cache on first use.

The default sources are the exact commits that ``../shared/data`` was copied from (GitHub raw files). Any base
URL urllib reads works (``file://`` too, which the tests use). Offline settings (``HF_DATASETS_OFFLINE`` or
``HF_HUB_OFFLINE``) forbid network URLs with a clear error instead of a hang.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from harness.tasks.examples import MissingDataError, hub_offline

SOURCES = {
    "facts": "https://raw.githubusercontent.com/coastalcph/mpararel/"
             "7153b7bdc86901fbe23d0c2909a4f2d4609b09d9/data/mpararel_reviewed",
    "editing": "https://raw.githubusercontent.com/weixuan-wang123/ReMaKE/"
               "975a9e90698d0e9021e44d49809c0ee24b2710a5/data/MzsRE",
}
URL_SCHEMES = ("http://", "https://", "file://")


def is_url(data_dir: Path | str | None) -> bool:
    return isinstance(data_dir, str) and data_dir.startswith(URL_SCHEMES)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuron-claims" / "data"


def mirror(task: str, base_url: str | None, files: Iterable[str]) -> Path:
    """A local folder holding ``files`` (paths relative to ``base_url``), downloading the missing ones atomically."""
    base_url = (base_url or SOURCES[task]).rstrip("/")
    if hub_offline() and not base_url.startswith("file://"):
        raise MissingDataError(f"{task}: offline (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE) and no local data_dir; "
                               f"pass a local copy of {base_url} as data_dir (--data-dir)")
    folder = cache_root() / task / hashlib.sha256(base_url.encode()).hexdigest()[:16]
    for relative in files:
        target = folder / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        url = f"{base_url}/{relative}"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except OSError as error:
            raise MissingDataError(f"{task}: could not fetch {url}: {error}") from None
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return folder
