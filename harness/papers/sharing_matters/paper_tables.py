"""The paper's reported numbers (Sharing Matters, arXiv 2406.09265), keyed as its tables are."""

from __future__ import annotations

XNLI_LANGS = ("en", "de", "es", "fr", "ru", "th", "tr", "vi", "zh")
KE_LANGS = ("en", "de", "es", "fr", "pt", "th", "tr", "ru", "vi", "zh")


def _row(langs: tuple[str, ...], *values: float) -> dict[str, float]:
    return dict(zip(langs, values, strict=True))


TABLE2_BLOOMZ_XNLI = {  # Table 2
    "baseline": _row(XNLI_LANGS, 53.8, 41.8, 50.3, 49.0, 47.6, 40.9, 34.9, 50.5, 51.1),
    "w/o all-shared": _row(XNLI_LANGS, 16.7, 3.50, 10.1, 10.0, 6.6, 9.0, 1.4, 12.1, 14.5),
    "w/o specific": _row(XNLI_LANGS, 53.7, 41.7, 50.3, 48.9, 47.4, 40.6, 35.3, 50.4, 49.3),
    "w/o partial-shared": _row(XNLI_LANGS, 52.9, 40.4, 49.7, 47.6, 49.2, 40.3, 36.1, 50.0, 50.0),
}
TABLE6_LLAMA_XNLI = {  # Table 6
    "baseline": _row(XNLI_LANGS, 59.1, 47.6, 50.1, 47.0, 49.1, 41.4, 40.2, 51.6, 46.1),
    "w/o all-shared": _row(XNLI_LANGS, 3.0, 3.6, 4.4, 1.9, 4.7, 6.9, 3.6, 13.5, 4.8),
    "w/o specific": _row(XNLI_LANGS, 59.2, 47.3, 49.9, 47.0, 49.1, 41.9, 40.1, 51.4, 46.2),
    "w/o partial-shared": _row(XNLI_LANGS, 59.1, 48.4, 51.5, 47.9, 49.7, 42.9, 41.5, 50.8, 48.0),
}
TABLE5_BLOOMZ_KE_ALL_EN = {  # Table 5: cross-lingual KE, ALL (edit) -> EN (test), as its caption says
    "baseline": _row(KE_LANGS, 96.23, 46.84, 36.88, 40.38, 35.80, 4.71, 28.13, 0.67, 40.92, 10.63),
    "w/o all-shared": _row(KE_LANGS, 15.21, 9.69, 5.52, 4.98, 7.67, 0.54, 2.42, 0.00, 7.67, 2.96),
    "w/o specific": _row(KE_LANGS, 96.23, 46.84, 36.74, 40.24, 35.53, 4.71, 29.21, 0.67, 40.65, 11.84),
    "w/o partial-shared": _row(KE_LANGS, 68.78, 44.95, 35.40, 37.01, 34.19, 5.11, 25.44, 0.67, 39.84, 8.48),
}
TABLE3_BLOOMZ_XNLI = {  # Table 3
    "baseline": TABLE2_BLOOMZ_XNLI["baseline"],
    "co. specific": _row(XNLI_LANGS, 53.0, 42.7, 50.8, 50.1, 46.9, 40.1, 34.4, 51.0, 51.3),
    "co. partial-shared": _row(XNLI_LANGS, 53.2, 41.8, 51.0, 49.3, 49.4, 41.5, 36.8, 50.7, 51.2),
    "co. specific and partial-shared": _row(XNLI_LANGS, 52.6, 42.1, 51.6, 49.4, 48.2, 41.7, 36.4, 50.7, 51.7),
}
# Table 4 (and Table 1): effective scores of all-shared neurons, max and min, KE EN (edit) -> ALL (test)
TABLE4_ALL_SHARED_KE_EN_ALL = {"en": (1.85, -0.94), "de": (1.03, -0.60), "es": (1.15, -0.84), "fr": (1.06, -0.78),
                               "ru": (0.70, -0.45), "th": (0.50, -0.90), "tr": (0.82, -0.51), "vi": (0.86, -0.68),
                               "zh": (0.52, -0.42), "pt": (1.14, -0.83)}


def ablation_table(model_id: str, task: str) -> dict[str, dict[str, float]]:
    """The paper's deactivation table for this model family and task: Table 5 is the ALL->EN direction of KE (the
    paper gives none for EN->ALL), Table 6 Llama-2's XNLI, Table 2 BLOOMZ's XNLI (the reference otherwise)."""
    family = "llama" if "llama" in model_id.lower() else "bloomz"
    return ABLATION_TABLES.get((family, task), ABLATION_TABLES.get(("bloomz", task), {}))


# (model family, task) -> the paper's deactivation table; BLOOMZ's is the reference for other families
ABLATION_TABLES = {("bloomz", "xnli"): TABLE2_BLOOMZ_XNLI, ("llama", "xnli"): TABLE6_LLAMA_XNLI,
                   ("bloomz", "editing-all-en"): TABLE5_BLOOMZ_KE_ALL_EN}
# §1 (Neuron attribution): BLOOMZ, German XNLI; the paper gives "less than 30%" for the neurons (an upper bound)
CORRECT_OUTPUT_SHARE = {("xnli", "de"): {"all-shared share of the push toward the gold token %": 91.6,
                                         "all-shared share of the neurons %": 30.0}}


def row_change(table: dict[str, dict[str, float]], row: str) -> dict[str, float]:
    """How a row of a paper's accuracy table differs from its baseline, in points, per language both give (empty
    when the table lacks the row)."""
    values, base = table.get(row, {}), table.get("baseline", {})
    return {lang: values[lang] - base[lang] for lang in values if lang in base}


def deactivation_summary(table: dict[str, dict[str, float]], row: str) -> dict[str, float]:
    """A deactivation row as the one-type deactivation claims read it: the mean drop over languages (points) and
    the share of languages whose accuracy it does not raise (Table 2, w/o specific: 0.26 points, 8 of 9)."""
    change = row_change(table, row)
    if not change:
        return {}
    return {"mean drop (points)": -sum(change.values()) / len(change),
            "languages not higher": sum(c <= 0 for c in change.values()) / len(change)}


def conversion_summary(table: dict[str, dict[str, float]], row: str) -> dict[str, float]:
    """A conversion row as the conversion claims read it: the mean change over languages (points) and the share of
    languages it does not lower (Table 3, co. specific: +0.04 points, 5 of 9; co. partial-shared: +0.56, 8 of 9)."""
    change = row_change(table, row)
    if not change:
        return {}
    return {"mean change (points)": sum(change.values()) / len(change),
            "languages not worse": sum(c >= 0 for c in change.values()) / len(change)}
