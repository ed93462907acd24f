"""The architecture's promises: one home per constant, flags generated from the config, a declared head, the
resolved configuration saved, several tasks through the library as through the CLI."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

import finabsa
from conftest import quick_config
from finabsa.cli import build_parser, config_flags, main
from finabsa.config import SECTIONS, RunConfig
from finabsa.constants import DATA_FORMATS
from finabsa.data.sources import FORMATS
from finabsa.models.heads import head_for
from finabsa.tasks import HeadSpec, PipelineHooks, StudyHooks, Task, build_task, task_names


def test_data_formats_have_one_home():
    assert set(DATA_FORMATS) == set(FORMATS) | {"auto"}


def test_every_flagged_config_field_is_a_train_flag_that_sets_it():
    flags = config_flags()
    declared = [f"{section}.{f.name}" for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)
                if "flag" in f.metadata]
    assert sorted(flag.key for flag in flags) == sorted(declared) and len(flags) >= 20
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for flag in flags:
        assert flag.flag in help_text
        assert flag.field.metadata["help"].split()[0] in help_text  # the field's own help text is shown


def test_generated_flags_reach_the_config(capsys):
    assert main(["train", "--task", "aspect", "--epochs", "2", "--learning-rate", "0.001", "--target-modules",
                 "query,value", "--also-train", "a.csv", "--also-train", "b.csv", "--max-train-rows", "5",
                 "--set", "task.level=1", "--print-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["training"]["epochs"] == 2.0 and config["training"]["learning_rate"] == 0.001
    assert config["adapter"]["target_modules"] == ["query", "value"]
    assert config["data"]["also_train"] == ["a.csv", "b.csv"] and config["data"]["max_train_rows"] == 5
    assert config["task"] == {"name": "aspect", "options": {"level": 1}}


def test_print_config_shows_the_learning_rate_actually_used(capsys):
    assert main(["train", "--task", "sentiment", "--method", "full", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["training"]["learning_rate"] == 5e-5


@pytest.mark.parametrize("name", task_names())
def test_every_task_declares_its_head_and_answer_key(name):
    task = build_task(name)
    labels = task.build_labels([])
    head = task.head(labels)
    assert isinstance(head, HeadSpec) and isinstance(task.answer_key, str)
    assert isinstance(task, Task) and isinstance(task, PipelineHooks)
    # Generating heads have no classification head to train alone or to export to ONNX.
    assert head_for(head).generates == (name == "instruct" or getattr(task.options, "method", "") == "generate")


def test_pipeline_and_study_hooks_are_optional_protocols():
    assert not issubclass(Task, PipelineHooks) and not issubclass(Task, StudyHooks)
    assert isinstance(build_task("sentiment"), StudyHooks) and not isinstance(build_task("instruct"), StudyHooks)


def test_an_unknown_head_kind_is_refused_naming_the_registered_ones():
    from finabsa.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown head kind 'tree-classification'; expected one of: causal-lm"):
        head_for(HeadSpec("tree-classification", 3))


@pytest.mark.slow
def test_train_takes_several_tasks_and_saves_the_resolved_config(tiny_data, tiny_bert, tmp_path):
    config = quick_config(tiny_data, tiny_bert, tmp_path / "both")
    results = finabsa.train_tasks(config, ["sentiment", "aspect"], progress=False)
    assert [r.run_dir for r in results] == [tmp_path / "both" / "sentiment", tmp_path / "both" / "aspect"]
    assert [r.report["task"] for r in results] == ["sentiment", "aspect"]
    saved = RunConfig.from_dict(yaml.safe_load((results[0].run_dir / "config.yaml").read_text()))
    assert config.training.learning_rate is None and saved.training.learning_rate == 5e-4


@pytest.mark.slow
def test_the_example_task_in_the_docs_trains_saves_and_reloads(tiny_data, tiny_bert, tmp_path, monkeypatch):
    """The complete task shown in ``finabsa.tasks.base``'s docstring works as written."""
    import textwrap
    from dataclasses import dataclass, field

    import finabsa.tasks.base as base
    from finabsa.tasks import register_task
    from finabsa.tasks.metrics import classification_metrics

    doc = base.__doc__
    start = doc.index("    @dataclass")
    code = textwrap.dedent(doc[start:doc.index("``SequenceClassificationTask``")])
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # the toy task is unregistered afterwards
    namespace = {"dataclass": dataclass, "field": field, "register_task": register_task, "Task": Task,
                 "HeadSpec": HeadSpec, "classification_metrics": classification_metrics}
    exec(compile(code, "tasks/base.py docstring", "exec"), namespace)
    assert "length" in task_names()

    result = finabsa.train(quick_config(tiny_data, tiny_bert, tmp_path / "run", task="length"), progress=False)
    assert result.report["after"]["n"] == 15
    predictor = finabsa.load(result.run_dir)
    assert {p["label"] for p in predictor.predict(["Shell up", "Barclays shares slump on profit warning today"])} \
        <= {"long", "short"}
