"""Mirroring the public facts/editing sources into a local cache (file:// stands in for the network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.tasks import FIXTURE_DATA, MissingDataError, load_task
from harness.tasks.remote import SOURCES, mirror


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize(("task", "folder"), [("facts", "mpararel"), ("editing", "mzsre")])
def test_a_url_gives_the_same_examples_as_the_local_folder(task: str, folder: str, private_cache: Path) -> None:
    local = load_task(task, data_dir=FIXTURE_DATA / folder, languages=["en", "de", "zh"])
    mirrored = load_task(task, data_dir=(FIXTURE_DATA / folder).as_uri(), languages=["en", "de", "zh"])
    assert mirrored == local
    assert list(private_cache.rglob("*.json*"))  # the files now live in the cache
    again = load_task(task, data_dir=(FIXTURE_DATA / folder).as_uri(), languages=["en", "de", "zh"])
    assert again == local


def test_a_missing_remote_file_is_one_clear_error() -> None:
    with pytest.raises(MissingDataError, match="could not fetch .*patterns/xx/P36.jsonl"):
        mirror("facts", (FIXTURE_DATA / "mpararel").as_uri(), ["patterns/xx/P36.jsonl"])


def test_offline_settings_forbid_network_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(MissingDataError, match="editing: offline"):
        load_task("editing")
    assert SOURCES["editing"].startswith("https://") and "975a9e90698d" in SOURCES["editing"]
