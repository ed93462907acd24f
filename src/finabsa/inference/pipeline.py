"""One ABSA pipeline over several trained tasks: target, aspect and sentiment of each sentence in one record.

A pipeline file is a YAML mapping of task names to run folders (paths relative to the file)::

    target: runs/target
    aspect: runs/aspect
    sentiment: runs/sentiment

Any subset of tasks is allowed. Tasks whose predictions feed other tasks' input templates run first: a sentiment
model trained on ``"{sentence}" + "{target}"`` gets the target predicted by the target run, exactly as in training
it got the gold target. The batch predictor, ``finabsa predict --pipeline`` and ``finabsa serve`` all call
``Pipeline.analyze``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..data.records import Example, as_example
from ..errors import FinabsaError, RunFolderError
from ..models.predictor import Predictor
from ..models.text_parts import read_in_parts
from ..run_layout import EXPORT_FILE, MODEL_DIR, adapter_hash, is_export, read_json_file, read_run_info
from ..tasks import ExplanationHooks, PipelineHooks, task_names
from ..tasks.base import template_values
from .abstention import check_min_probability, withhold
from .documents import analyze_documents
from .explain import explain_predictions
from .loading import load
from .share import looks_like_hub_id, resolve_folder

__all__ = ["Pipeline", "read_pipeline_file"]

logger = logging.getLogger(__name__)


def read_pipeline_file(path: str | Path) -> dict[str, Path]:
    """Task name -> run folder from a pipeline YAML file; relative folders are resolved against the file's folder."""
    from ..config import read_yaml_mapping

    path = Path(path)
    mapping = read_yaml_mapping(
        path, "pipeline", "write a YAML file mapping task names to run folders, e.g. 'sentiment: runs/sentiment'"
    )
    runs: dict[str, Path] = {}
    problems = []
    for task, folder in mapping.items():
        if not isinstance(folder, str) or not folder.strip():
            problems.append(f"'{task}' must name a run folder (a path string); found {folder!r}")
            continue
        location = Path(folder).expanduser()
        if not location.is_absolute() and not (path.parent / location).exists() and looks_like_hub_id(folder):
            runs[str(task)] = location  # a Hub id of a pushed folder (finabsa push), resolved when loaded
            continue
        runs[str(task)] = location if location.is_absolute() else (path.parent / location)
    if problems:
        raise FinabsaError(f"pipeline file '{path}': " + "; ".join(problems) + ".")
    return runs


class Pipeline:
    """Several task models loaded once, answering one record per sentence.

    ``runs`` maps task names to run folders, export folders (``finabsa export``) or loaded ``Predictor`` objects.
    ``batch_size`` is the number of sentences per forward pass; inputs are sorted by length inside ``analyze`` and
    returned in order. ``merge`` folds each LoRA adapter into its base weights at load (faster, same labels);
    ``runtime`` (``torch``, ``onnx``, ``onnx-int8``) picks the runtime of export folders.
    """

    def __init__(self, runs: Mapping[str, str | Path | Predictor], batch_size: int = 32, runtime: str = "torch",
                 merge: bool = True, min_probability: float | None = None):
        if not runs:
            raise FinabsaError("a pipeline needs at least one task; give e.g. {'sentiment': 'runs/sentiment'}.")
        unknown = [name for name in runs if name not in task_names()]
        if unknown:
            raise FinabsaError(
                f"unknown task(s) in pipeline: {', '.join(map(str, unknown))}; expected task names among "
                f"{', '.join(task_names())}, each mapped to a run folder."
            )
        if batch_size < 1:
            raise FinabsaError(f"batch size must be >= 1; found {batch_size}.")
        self.batch_size = batch_size
        self.merge = merge
        #: Answers less probable than this are labelled 'uncertain' (``finabsa.inference.abstention``); None: all.
        self.min_probability = check_min_probability(min_probability)
        self.predictors: dict[str, Predictor] = {}
        #: Each task's pipeline hooks (its inputs, what it provides, its part of the record).
        self.hooks: dict[str, PipelineHooks] = {}
        for name, run in runs.items():
            if isinstance(run, Predictor):
                predictor = run
            else:
                # A run folder on an ONNX runtime is exported once into the export cache (finabsa.inference.export).
                predictor = _load_entry(name, Path(resolve_folder(run)), batch_size, runtime, merge)
            predictor.batch_size = batch_size
            trained_for = predictor.task.name
            if not isinstance(predictor.task, PipelineHooks):
                raise FinabsaError(f"task '{trained_for}' ('{predictor.run_dir}') cannot take part in a pipeline: it "
                                   "does not implement finabsa.tasks.PipelineHooks.")
            if trained_for != name:
                raise RunFolderError(
                    f"pipeline entry '{name}' points at '{predictor.run_dir}', a run trained for task "
                    f"'{trained_for}'; map '{trained_for}' to it, or point '{name}' at a {name} run."
                )
            self.predictors[name] = predictor
            self.hooks[name] = predictor.task
        self.order = self._order()

    @classmethod
    def from_file(cls, path: str | Path, batch_size: int = 32, runtime: str = "torch", merge: bool = True,
                  min_probability: float | None = None) -> Pipeline:
        """Load the run folders a pipeline YAML file names."""
        return cls(read_pipeline_file(path), batch_size=batch_size, runtime=runtime, merge=merge,
                   min_probability=min_probability)

    @classmethod
    def from_path(cls, path: str | Path, batch_size: int = 32, runtime: str = "torch", merge: bool = True,
                  min_probability: float | None = None) -> Pipeline:
        """A pipeline file, or one run or export folder (or the Hub id of one) as a pipeline of its own task."""
        folder = resolve_folder(path)
        if not folder.is_dir():
            return cls.from_file(path, batch_size=batch_size, runtime=runtime, merge=merge,
                                 min_probability=min_probability)
        info = read_json_file(folder / EXPORT_FILE, "export folder") if is_export(folder) else read_run_info(folder)
        return cls({str(info["task"]): folder}, batch_size=batch_size, runtime=runtime, merge=merge,
                   min_probability=min_probability)

    def _order(self) -> list[str]:
        """Providers before the tasks whose templates need their fields; a missing provider is an error."""
        provided_by = {field: name for name, hooks in self.hooks.items() for field in hooks.provides()}
        order: list[str] = []
        for name, predictor in self.predictors.items():
            missing = sorted(self.hooks[name].needs() - provided_by.keys())
            if missing:
                raise FinabsaError(
                    f"the {name} run '{predictor.run_dir}' reads {', '.join(missing)} in its input template, "
                    f"and no task in this pipeline predicts {'it' if len(missing) == 1 else 'them'}; add a run "
                    "that does (target for 'target'; aspect at level full for 'aspects'), or use a "
                    f"{name} run trained on the sentence alone."
                )
        remaining = list(self.predictors)
        while remaining:
            ready = [n for n in remaining if all(provided_by[f] in order for f in self.hooks[n].needs())]
            order.extend(ready)
            remaining = [n for n in remaining if n not in ready]
        return order

    @property
    def tasks(self) -> list[str]:
        return list(self.order)

    def describe(self) -> dict[str, Any]:
        """What is loaded: per task, its run folder, variant, labels, base model, method and adapter hash."""
        models = {}
        for name in self.order:
            predictor = self.predictors[name]
            config = predictor.info.get("config")
            run_dir = Path(predictor.run_dir) if predictor.run_dir else None
            weights = run_dir / MODEL_DIR if run_dir and (run_dir / MODEL_DIR).is_dir() else run_dir
            models[name] = {
                "run": str(run_dir) if run_dir else None,
                "variant": predictor.task.describe(),
                "options": predictor.task.resolved_options(),
                "labels": predictor.labels,
                "base_model": predictor.info.get("base_model"),
                "method": predictor.info.get("method") or (config.adapter.method if config is not None else None),
                "runtime": predictor.info.get("runtime", "torch"),
                "merged": self.merge,
                "adapter_sha256": adapter_hash(weights) if weights else None,
            }
        return {"tasks": list(self.order), "batch_size": self.batch_size, "models": models}

    def predict_tasks(self, examples: list[Example], progress: bool = False,
                      explain: bool = False) -> dict[str, list[dict | None]]:
        """Each task's raw predictions for ``examples``, in order (None where a task's input was not found);
        earlier tasks fill the fields later tasks read, exactly as in ``analyze``. ``explain`` adds ``reasons``
        to the answers of every task that explains them (``finabsa.inference.explain``)."""
        examples = list(examples)
        answers: dict[str, list[dict | None]] = {}
        for name in self.order:
            predictor = self.predictors[name]
            task = self.hooks[name]
            needs = task.needs()
            # A sentence for which an earlier task found nothing to fill this task's template gets no answer.
            ready = [i for i, e in enumerate(examples) if all(template_values(e)[field] for field in needs)]
            predictions = predictor.predict_examples([examples[i] for i in ready], progress=progress, desc=name)
            if explain and isinstance(task, ExplanationHooks):
                explain_predictions(predictor, [examples[i] for i in ready], predictions)
            answers[name] = [None] * len(examples)
            for i, prediction in zip(ready, predictions):
                answers[name][i] = prediction
                examples[i] = task.fill(examples[i], prediction)
        return answers

    def analyze(self, inputs: Iterable[str | dict | Example], progress: bool = False,
                explain: bool = False) -> list[dict[str, Any]]:
        """One record per input, in input order: ``{text, targets, aspect, sentiment}`` for the loaded tasks.

        Inputs are sentences, or mappings with ``text`` (or ``sentence``) and optionally a given ``target`` or
        ``aspects``, which are used instead of predicted ones where a template needs them.
        """
        return withhold(self.raw_records(inputs, progress=progress, explain=explain), self.min_probability)

    def raw_records(self, inputs: Iterable[str | dict | Example], progress: bool = False,
                    explain: bool = False) -> list[dict[str, Any]]:
        """``analyze``'s records before ``min_probability`` withholds any answer. A text over the models'
        ``max_length`` is read in parts split at sentence boundaries, and answered in one record
        (``finabsa.models.text_parts``), never cut."""
        examples = [as_example(item, i) for i, item in enumerate(inputs)]
        return read_in_parts(examples, lambda batch: self._records(batch, progress, explain), *self.token_budget())

    def _records(self, examples: list[Example], progress: bool, explain: bool) -> list[dict[str, Any]]:
        answers = self.predict_tasks(examples, progress=progress, explain=explain)
        records: list[dict[str, Any]] = [{"text": e.sentence} for e in examples]
        for name in self.order:
            task = self.hooks[name]
            for record, answer in zip(records, answers[name]):
                if answer is not None and answer.get("truncated"):
                    record.setdefault("notes", []).append(f"{name}: {answer['truncated']}")
                if answer is None:
                    part = {**task.unanswered_record(), "notes": [
                        f"no {name}: its input needs {', '.join(sorted(task.needs()))}, which was not found"]}
                else:
                    part = task.record(answer)
                notes = part.pop("notes", [])
                if notes:
                    record.setdefault("notes", []).extend(notes)
                record.update(part)
        return records

    def analyze_documents(self, documents: Iterable[str | dict | Example], progress: bool = False) -> list[dict]:
        """One answer per document (``finabsa.inference.documents``): its sentences found, analysed together in
        one batched pass, and each entity answered once over the document, with its mentions' offsets."""
        offsets_of, max_tokens = self.token_budget()
        answers = analyze_documents(documents, lambda sentences: self.raw_records(sentences, progress=progress),
                                    offsets_of, max_tokens)
        return withhold(answers, self.min_probability)

    def token_budget(self) -> tuple[Callable[[str], list[tuple[int, int]]], int]:
        """A text's token offsets and the most tokens a sentence may have: the shortest ``max_length`` among the
        tasks, less room for the special tokens. (A task whose template adds a predicted target or aspects to the
        sentence may still see that pair cut, and says so in a note: the added text is not known beforehand.)"""
        shortest = min(self.predictors.values(), key=lambda predictor: predictor.max_length)
        return shortest.token_budget()


def _load_entry(name: str, run: Path, batch_size: int, runtime: str, merge: bool) -> Predictor:
    """Load one pipeline entry; a missing folder whose ``--quick`` study twin exists says so."""
    try:
        return load(run, batch_size, runtime=runtime, merge=merge)
    except RunFolderError as exc:
        twin = _quick_twin(run)
        if run.exists() or twin is None:
            raise
        raise RunFolderError(f"pipeline entry '{name}': {exc} The quick study wrote '{twin}': point the pipeline "
                             "file there, or run the full study.") from None


def _quick_twin(run: Path) -> Path | None:
    """``reports/study-x-quick/...`` for a missing ``reports/study-x/...`` that a ``--quick`` study wrote."""
    parts = run.parts
    for i in range(len(parts) - 1):
        twin = Path(*parts[:i], parts[i] + "-quick", *parts[i + 1:])
        if twin.exists():
            return twin
    return None
