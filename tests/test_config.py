from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from finabsa import ConfigError, RunConfig, load_config

CONFIGS = sorted(p for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")
                 if not p.name.startswith(("study-", "pipeline-")))


def test_defaults_are_valid():
    config = RunConfig().validate()
    assert config.task.name == "sentiment" and config.model.name == "minilm" and config.adapter.method == "lora"
    assert config.resolved_learning_rate() == 5e-4


@pytest.mark.parametrize("preset", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_presets_load_and_validate(preset):
    load_config(preset).validate()


def test_every_problem_is_reported_at_once():
    config = RunConfig.from_dict({
        "adapter": {"method": "qlora", "rank": 0},
        "training": {"epochs": 0, "batch_size": 0},
        "task": {"name": "aspect", "level": 7},
    })
    with pytest.raises(ConfigError, match=r"5 problem") as info:
        config.validate()
    text = str(info.value)
    for fragment in ("adapter.method", "adapter.rank", "training.epochs", "training.batch_size", "level"):
        assert fragment in text


def test_unknown_keys_are_rejected_with_known_names():
    with pytest.raises(ConfigError, match=r"unknown setting 'training.epoch'; known: epochs"):
        RunConfig.from_dict({"training": {"epoch": 3}})


def test_wrong_types_are_rejected():
    with pytest.raises(ConfigError, match=r"'training.batch_size' must be int; found 'big'"):
        RunConfig.from_dict({"training": {"batch_size": "big"}})


def test_unknown_task_option_names_the_task_options():
    config = RunConfig.from_dict({"task": {"name": "sentiment", "levle": 2}})
    with pytest.raises(ConfigError, match=r"task 'sentiment' has no option 'levle'"):
        config.validate()


def test_misspelt_task_gets_a_suggestion():
    with pytest.raises(ConfigError, match=r"found 'sentimnt' \(did you mean 'sentiment'\?\)"):
        RunConfig.from_dict({"task": "sentimnt"}).validate()


def test_overrides_use_dotted_names_and_yaml_values():
    config = RunConfig().with_overrides({"training.epochs": "3", "task.name": "aspect", "task.level": "1",
                                         "adapter.target_modules": "[query, value]"})
    assert config.training.epochs == 3.0
    assert config.task.name == "aspect" and config.task.options == {"level": 1}
    assert config.adapter.target_modules == ["query", "value"]
    config.validate()


def test_bad_override_is_reported_with_other_problems():
    with pytest.raises(ConfigError, match=r"unknown setting 'foo.bar'") as info:
        RunConfig().with_overrides({"foo.bar": "1", "training.epochs": "-1"})
    assert "training.epochs must be > 0" in str(info.value)


def test_a_head_learning_rate_is_checked_with_the_other_rates():
    config = RunConfig().with_overrides({"training.head_learning_rate": "0.001", "adapter.method": "full"})
    assert config.training.head_learning_rate == 1e-3
    with pytest.raises(ConfigError, match=r"training.head_learning_rate must be in \(0, 1\) or null; found 2.0"):
        RunConfig().with_overrides({"training.head_learning_rate": "2"}).validate()


def test_yaml_round_trip(tmp_path):
    config = RunConfig.from_dict({"task": {"name": "target", "method": "generate"}, "training": {"seed": 7}})
    path = tmp_path / "config.yaml"
    config.save(path)
    again = load_config(path)
    assert again == config
    assert yaml.safe_load(path.read_text())["task"] == {"name": "target", "options": {"method": "generate"}}


def test_missing_config_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"config file '.*nope.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_template_overrides_stay_text():
    config = RunConfig().with_overrides({"task.pair_template": "{target}", "task.text_template": "{sentence}"})
    assert config.task.options == {"pair_template": "{target}", "text_template": "{sentence}"}
    config.validate()


def test_mapping_overrides_are_read_as_mappings():
    """``--set 'data.source_repeat={fiqa: 3}'`` gives a mapping, ``{}`` an empty one; ``{target}`` (a template, a
    name mapped to nothing) stays text."""
    config = RunConfig().with_overrides({"task.name": "joint", "data.source_repeat": "{fiqa: 3}",
                                         "task.source_conventions": "[fiqa, sentfin]",
                                         "task.targets_per_sentence": "{fiqa: 1}"})
    assert config.data.source_repeat == {"fiqa": 3}
    assert config.task.options["targets_per_sentence"] == {"fiqa": 1}
    config.validate()
    assert RunConfig().with_overrides({"data.source_repeat": "{}"}).data.source_repeat == {}


def test_non_text_template_is_a_config_problem():
    with pytest.raises(ConfigError, match=r"pair_template must be a string"):
        RunConfig.from_dict({"task": {"name": "sentiment", "pair_template": {"target": None}}}).validate()


def test_learning_differences_name_what_a_run_learns_and_leave_folders_and_checkpoints_out():
    from finabsa.config import learning_differences

    saved = load_config(None, {"task.name": "joint", "training.epochs": 3, "output": "runs/a"})
    same = load_config(None, {"task.name": "joint", "training.epochs": 3, "output": "runs/b", "overwrite": True,
                              "training.checkpoint_minutes": 1, "training.checkpoint_steps": 7,
                              "training.keep_checkpoints": 5})
    assert learning_differences(saved, same) == []
    other = load_config(None, {"task.name": "joint", "training.epochs": 4, "task.swap_share": 0.2,
                               "adapter.method": "full"})
    assert learning_differences(saved, other) == [
        "adapter.method: 'lora' -> 'full'",
        "task.options.swap_share: None -> 0.2",
        "training.epochs: 3.0 -> 4.0",
        "training.learning_rate: 0.0005 -> 5e-05",  # resolved: each method's default rate is what its run used
    ]
