"""Building, caching and loading the trained subjects.

A subject is built on first use (its parent first) and saved under
``~/.cache/neuron-claims/subjects/<name>-<key>/`` (``$XDG_CACHE_HOME`` moves it), written to a temporary folder and
renamed into place, so an interrupted build leaves nothing half-written. The key is a hash of the recipe, the
parent's key, the training data's hash and the versions of torch, transformers and tokenizers. A folder that does
not load back as the subject its manifest describes (weights, tokenizer, config or manifest damaged) is a miss:
reported once (harness.core.cache_damage), removed and built again under a file lock.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import tokenizers
import torch
import transformers
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from harness.core.cache_damage import describe, discard, report_damaged
from harness.core.models import LoadedModel, wrap_model
from harness.subjects.corpus import Corpus, load_corpus
from harness.subjects.recipe import SUBJECTS, Recipe
from harness.subjects.tokenizer import train_tokenizer
from harness.subjects.training import new_model, train

MANIFEST = "subject.json"


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuron-claims" / "subjects"


def lineage(name: str, recipes: dict[str, Recipe] = SUBJECTS) -> list[Recipe]:
    """The recipes from the root subject trained from scratch to ``name``."""
    chain = [recipes[name]]
    while chain[0].parent is not None:
        chain.insert(0, recipes[chain[0].parent])
    return chain


def subject_key(chain: list[Recipe], data_hashes: list[str]) -> str:
    """Hash of every recipe from the root to the subject (less the time estimate, which decides nothing), the
    data each trained on and the library versions."""
    recipes = [{k: v for k, v in asdict(r).items() if k != "expected_minutes"} for r in chain]
    payload = {"recipes": recipes, "data": data_hashes, "torch": torch.__version__,
               "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def state_digest(model: torch.nn.Module) -> str:
    """sha256 over the state dict's names, dtypes, shapes and bytes: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build(recipe: Recipe, corpus: Corpus, parent_dir: Path | None = None, *,
          progress: bool = True) -> tuple[transformers.PreTrainedModel, PreTrainedTokenizerBase, dict[str, object]]:
    """Train ``recipe`` on ``corpus`` (from scratch, or from ``parent_dir`` holding its parent); no caching."""
    documents = corpus.documents
    if recipe.parent is None:
        tokenizer = train_tokenizer((f"{d.prompt} {d.answer}" for d in documents), recipe.architecture.vocab_size)
        model = new_model(recipe.architecture, tokenizer, recipe.seed)
    else:
        if parent_dir is None:
            raise ValueError(f"{recipe.name} starts from {recipe.parent}: pass the folder it was saved in")
        tokenizer = AutoTokenizer.from_pretrained(parent_dir)
        model = AutoModelForCausalLM.from_pretrained(parent_dir, dtype=torch.float32)
    log = train(model, tokenizer, documents, recipe, progress=progress)
    manifest = {"name": recipe.name, "recipe": asdict(recipe), "data_hash": corpus.data_hash,
                "data_source": corpus.source,
                "documents": len(documents), "parameters": sum(p.numel() for p in model.parameters()),
                "torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "training": asdict(log), "state_digest": state_digest(model)}
    return model, tokenizer, manifest


@functools.lru_cache(maxsize=8)
def _corpus(data_dir: str | None, who: str, items: tuple[tuple[str, int], ...]) -> Corpus:
    return load_corpus(data_dir, who, dict(items))


def corpus_of(recipe: Recipe, data_dir: Path | str | None) -> Corpus:
    """The documents ``recipe`` trains on (read once per process)."""
    return _corpus(None if data_dir is None else str(data_dir), recipe.name, recipe.items)


def subject_dir(name: str, data_dir: Path | str | None = None, *, cache_dir: Path | None = None,
                recipes: dict[str, Recipe] = SUBJECTS) -> Path:
    """Where subject ``name`` built from ``data_dir`` is (or would be) cached; reads the data, trains nothing."""
    chain = lineage(name, recipes)
    key = subject_key(chain, [corpus_of(recipe, data_dir).data_hash for recipe in chain])
    return (cache_dir or cache_root()) / f"{name}-{key}"


def why_unusable(folder: Path) -> str | None:
    """Why the subject cached in ``folder`` cannot be used, or None when it loads as its manifest describes it:
    weights (safetensors only, never a pickle) bit for bit those the manifest's digest names, and a tokenizer."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
        AutoTokenizer.from_pretrained(folder)
    except Exception as error:  # any of its files may hold any bytes, and each loader raises its own errors
        return describe(error)
    if not isinstance(manifest, dict) or manifest.get("state_digest") != state_digest(model):
        return f"its weights are not those its {MANIFEST} names"
    return None


def ensure_subject(name: str, data_dir: Path | str | None = None, *, cache_dir: Path | None = None,
                   recipes: dict[str, Recipe] = SUBJECTS, progress: bool = True) -> Path:
    """The cache folder of subject ``name``, building it (and its parent first) when it is missing or damaged; under
    a file lock, so that processes needing it together build it once."""
    target = subject_dir(name, data_dir, cache_dir=cache_dir, recipes=recipes)
    if target.exists() and why_unusable(target) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if target.exists():
            problem = why_unusable(target)
            if problem is None:
                return target  # built by another process meanwhile
            report_damaged("trained-subject", target, problem)
            discard(target)
        _build_into(target, recipes[name], data_dir, cache_dir=cache_dir, recipes=recipes, progress=progress)
    return target


def _build_into(target: Path, recipe: Recipe, data_dir: Path | str | None, *, cache_dir: Path | None,
                recipes: dict[str, Recipe], progress: bool) -> None:
    """Build ``recipe`` (its parent first, when not cached) into the folder ``target``, atomically."""
    parent_dir = None if recipe.parent is None else ensure_subject(
        recipe.parent, data_dir, cache_dir=cache_dir, recipes=recipes, progress=progress)
    corpus = corpus_of(recipe, data_dir)
    if progress:
        print(f"neuron-claims: building {recipe.name} (first use, {recipe.steps} steps): about "
              f"{recipe.expected_minutes:g} min on {recipe.threads} CPU thread(s); cached in {target}",
              file=sys.stderr, flush=True)
    model, tokenizer, manifest = build(recipe, corpus, parent_dir, progress=progress)
    manifest["key"] = target.name.rsplit("-", 1)[-1]
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    os.rename(tmp, target)


def load_subject(name: str, *, data_dir: Path | str | None = None, dtype: torch.dtype = torch.float32,
                 device: str = "cpu", site: str = "down_proj_input", cache_dir: Path | None = None,
                 recipes: dict[str, Recipe] = SUBJECTS) -> LoadedModel:
    """Subject ``name`` in eval mode, built first when its cache folder is missing or damaged."""
    folder = ensure_subject(name, data_dir, cache_dir=cache_dir, recipes=recipes)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, use_safetensors=True).to(device)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    key = folder.name.rsplit("-", 1)[-1]
    return wrap_model(model, tokenizer, name=name, site=site, model_id=name, revision=key)


def subject_identity(name: str, data_dir: Path | str | None = None) -> dict[str, object]:
    """What decides a subject's weights beyond its name: its cache key (reads the data, trains nothing)."""
    return {"subject_key": subject_dir(name, data_dir).name.rsplit("-", 1)[-1]}
