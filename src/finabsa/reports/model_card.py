"""Model cards: the ``README.md`` of every run and export folder, in the Hugging Face Hub's format.

YAML metadata (``base_model``, ``library_name``, ``license``, ``datasets``, ``tags``, ``pipeline_tag`` and a
``model-index`` of the run's own test and held-out results) that ``huggingface_hub.ModelCard`` and
``metadata_load`` parse, then what a person needs before using the model: what it does, the data and heads it was
trained with, its limitations (the sources' conventions, the balanced test split, the calibration) and how to load
it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..models.hub import MODEL_HUB_IDS

__all__ = ["model_card"]

#: Hub ids (or names) of the data sets finabsa reads, by their folder name.
DATASETS = {"fiqa2018": "pauri32/fiqa-2018", "official": "FiQA-2018 Task 1 (official JSON)", "sentfin": "SEntFiN-v1.1",
            "financial_phrasebank": "takala/financial_phrasebank"}
#: Data sets whose licence restricts what a model trained on them may be used for: the card's ``license`` becomes
#: theirs, and its limitations say so. (FiQA states no licence; SEntFiN is MIT.)
RESTRICTED_DATASETS = {
    "takala/financial_phrasebank": ("cc-by-nc-sa-3.0",
                                    "Financial PhraseBank, CC BY-NC-SA 3.0: non-commercial, share-alike"),
}
#: The metrics a card lists, with their names on the Hub.
CARD_METRICS = {"accuracy": "accuracy", "macro_f1": "f1", "exact_match": "exact_match", "pair_f1": "f1",
                "target_f1": "f1", "sentiment_accuracy": "accuracy", "sentiment_macro_f1": "f1",
                "aspect_level2_accuracy": "accuracy"}


def _datasets(config: dict[str, Any]) -> list[str]:
    data = config.get("data") or {}
    paths = [data.get("path") or "fiqa2018"] + [e["path"] if isinstance(e, dict) else e
                                                 for e in data.get("also_train") or []]
    return list(dict.fromkeys(DATASETS.get(Path(str(p)).name, Path(str(p)).name) for p in paths))


def _results(name: str, task: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """``model-index`` results: the run's test split and every held-out set, with the metrics they have."""
    sets = {"test split": report.get("after") or {}, **(report.get("held_out_tests") or {})}
    results = []
    for set_name, metrics in sets.items():
        listed = [{"type": CARD_METRICS[m], "value": round(float(metrics[m]), 4), "name": m}
                  for m in CARD_METRICS if isinstance(metrics.get(m), (int, float))]
        if listed:
            results.append({"task": {"type": "text-classification", "name": task},
                            "dataset": {"type": "financial-news", "name": set_name}, "metrics": listed})
    return [{"name": name, "results": results}] if results else []


def model_card(info: dict[str, Any], config: dict[str, Any], report: dict[str, Any], labels: list[str], name: str,
               pipeline_tag: str) -> str:
    """The ``README.md`` of a run (or export) folder named ``name`` from its ``run.json`` (``info``), resolved
    configuration (as a mapping), ``report.json``, label list and the Hub's pipeline tag of its head."""
    base = str(info.get("base_model") or "")
    task = str(info.get("task"))
    datasets = _datasets(config)
    restricted = [RESTRICTED_DATASETS[d] for d in datasets if d in RESTRICTED_DATASETS]
    metadata = {
        "base_model": MODEL_HUB_IDS.get(base, base),
        "library_name": "finabsa",
        # The weights learned from every training sentence (labelled or, through a teacher, not): a data set's
        # non-commercial licence binds the model too.
        "license": restricted[0][0] if restricted else "apache-2.0",
        "datasets": datasets,
        "tags": ["finabsa", "financial-sentiment", "aspect-based-sentiment-analysis", str(info.get("method")), task],
        "pipeline_tag": pipeline_tag,
        "model-index": _results(name, task, report),
    }
    return "\n".join(["---", yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
                      *_body(info, config, report, labels, name, [terms for _, terms in restricted])]) + "\n"


def _body(info: dict[str, Any], config: dict[str, Any], report: dict[str, Any], labels: list[str],
          name: str, licences: list[str]) -> list[str]:
    after = report.get("after") or {}
    headline = ", ".join(f"{m} {after[m]:.3f}" for m in report.get("headline_metrics", [])[:4]
                         if isinstance(after.get(m), (int, float)))
    temperatures = (info.get("calibration") or {}).get("temperatures") or {}
    calibrated = ("calibrated on the validation split by temperature scaling ("
                  + ", ".join(f"{head} {t:.2f}" for head, t in temperatures.items()) + ")") if temperatures \
        else "not calibrated"
    options = info.get("task_options") or {}
    conventions = (f"This model learned each of {', '.join(options['source_conventions'])} with its own convention "
                   f"and answers your text as '{options.get('answer_as') or options['source_conventions'][0]}' "
                   "does.") if options.get("source_conventions") else "Expect the convention of the training data."
    if options.get("answer_kinds"):
        conventions += (f" Your text is answered with targets of these kinds only: {', '.join(options['answer_kinds'])}"
                        " (each answered target says its kind).")
    return [
        f"# {name}", "",
        f"A finabsa model for aspect-based financial sentiment analysis: {info.get('task_description')}, "
        f"fine-tuned from `{info.get('base_model')}` with {info.get('method')} (seed {info.get('seed')}).", "",
        "## Intended use", "",
        "Financial headlines and short posts in English: which companies a sentence is about, the sentiment toward "
        "each, and the aspect. Research and decision support, not trading advice: check the answers that matter, "
        "and use `--min-probability` to withhold the uncertain ones.", "",
        "## Training data and heads", "",
        f"Data sets: {', '.join(_datasets(config))}. Rows: {info.get('rows')}.",
        *[f"- {note}" for note in report.get("data_notes", [])[:8]], "",
        f"Labels: {', '.join(labels[:12])}{' ...' if len(labels) > 12 else ''}.", "",
        "## Evaluation", "",
        f"After fine-tuning, on the test split: {headline or 'see report.json'}; the held-out sets are in the "
        "metadata above and in `report.md`.", "",
        "## Limitations", "",
        "- Sources disagree on what a target is: FiQA marks the one or two entities a sentence is about, SEntFiN "
        f"every entity (indices, regulators and commodities too). {conventions}",
        "- The FiQA test split is class-balanced (50/50/50) while real news is not: read macro-F1 beside accuracy.",
        "- On news from a source it never trained on the model is much weaker than on its own test splits (the "
        "study's cross-source table measures it).",
        f"- Probabilities: {calibrated}.",
        *[f"- Training data licence: {terms}. The weights learned from these sentences, so the same terms apply to "
          "this model; check them before any commercial use." for terms in licences],
        "", "## How to load", "", "```python", "import finabsa", "",
        f'predictor = finabsa.load("{name}")  # a local folder, or the Hub id this folder was pushed to',
        'predictor.predict(["Tesco shares surge while Sainsbury slumps"])', "```", "",
        f"Trained with finabsa {info.get('versions', {}).get('finabsa')}.",
    ]
