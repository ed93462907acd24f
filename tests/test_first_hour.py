"""A new user's first hour: damaged run folders and bad files get one clear line from every command, predict keeps
what the user gave it, evaluate scores a user's own file, and the README's commands still parse."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

import finabsa
from conftest import quick_config
from finabsa.cli import _parse, build_parser, main
from finabsa.errors import DataError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def good_run(tiny_data, tiny_bert, tmp_path_factory):
    import finabsa

    config = quick_config(tiny_data, tiny_bert, tmp_path_factory.mktemp("first_hour") / "run")
    return finabsa.train(config, progress=False).run_dir


def _remove(path: Path) -> None:
    path.unlink()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:10])


def _garble(path: Path) -> None:
    path.write_text("{not json")


DAMAGES = {
    "adapter weights missing": ("model/adapter_model.safetensors", _remove, r"damaged: model/ lacks "
                                                                            r"adapter_model.safetensors"),
    "adapter config missing": ("model/adapter_config.json", _remove, r"model/ lacks adapter_config.json"),
    "weights truncated": ("model/adapter_model.safetensors", _truncate, r"could not be read .*damaged"),
    "tokenizer missing": ("model/tokenizer.json", _remove, r"model/ lacks tokenizer.json"),
    "run.json garbled": ("run.json", _garble, r"run.json' is not readable JSON"),
    "config missing": ("config.yaml", _remove, r"incomplete: missing config.yaml.*--resume"),
}
COMMANDS = {
    "predict": lambda run, tmp: ["predict", str(run), "Shell shares rise"],
    "evaluate": lambda run, tmp: ["evaluate", str(run)],
    "export": lambda run, tmp: ["export", str(run), "--output", str(tmp / "export")],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_run_folder_gets_one_line_from_every_command(good_run, tmp_path, capsys, damage, command):
    run = tmp_path / "damaged"
    shutil.copytree(good_run, run)
    name, harm, message = DAMAGES[damage]
    harm(run / name)
    assert main(COMMANDS[command](run, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert re.search(message, err), err


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


BAD_FILES = [
    (["train", "--task", "sentiment"], ["headline", "label"], r"needs a sentiment score.*--label-column.*the file has "
                                                              r"the columns headline, label"),
    (["train", "--task", "aspect"], ["sentence", "target"], r"needs aspect paths.*--aspect-column.*columns sentence, "
                                                            r"target"),
    (["evaluate", "RUN", "--split", "all", "--text-column", "nothing"], ["headline", "score"],
     r"missing column\(s\) 'nothing'"),
]


@pytest.mark.parametrize("command, header, message", BAD_FILES)
def test_bad_files_name_the_columns_needed_and_found(good_run, tiny_bert, tmp_path, capsys, command, header, message):
    data = _csv(tmp_path / "mine.csv", header, [["Shell shares rise", "0.4"], ["BP fined", "-0.5"]] * 10)
    argv = [str(good_run) if part == "RUN" else part for part in command] + ["--data", str(data)]
    if command[0] == "train":
        argv += ["--model", str(tiny_bert), "--output", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and re.search(message, err), err


def _evaluate_own_file(run: Path, folder: Path, capsys, rows_per_class: int, *flags: str) -> tuple[str, dict, Path]:
    """``finabsa evaluate RUN --data mine.csv`` on a headline/mood file; what it printed, its report, the file."""
    rows = [[f"Shell shares rise {i}", "positive"] for i in range(rows_per_class)]
    rows += [[f"BP fined {i}", "negative"] for i in range(rows_per_class)]
    data = _csv(folder / "mine.csv", ["headline", "mood"], rows)
    output = folder / "report.json"
    assert main(["evaluate", str(run), "--data", str(data), "--text-column", "headline", "--label-column", "mood",
                 *flags, "--output", str(output)]) == 0
    return capsys.readouterr().out, json.loads(output.read_text()), data


def test_evaluate_scores_a_users_own_file_with_its_columns(good_run, tmp_path, capsys):
    printed, report, data = _evaluate_own_file(good_run, tmp_path, capsys, 6, "--split", "all", "--max-rows", "5")
    assert "scored 5 row(s) of split 'all'" in printed
    assert report["rows_scored"] == 5 and report["after"]["n"] == 5 and report["data"] == str(data)
    assert any("seeded sample of 5" in note for note in report["data_notes"])


def test_evaluate_scores_a_file_with_no_split_column_whole(good_run, tmp_path, capsys):
    printed, report, data = _evaluate_own_file(good_run, tmp_path, capsys, 4)
    assert "scored 8 row(s) of split 'all'" in printed
    assert report["split"] == "all" and any("has no split column" in note for note in report["data_notes"])
    with pytest.raises(DataError, match="has no split 'validation'; it has: train. Pick one of those with --split"):
        finabsa.evaluate(good_run, data=str(data), split="validation", text_column="headline", label_column="mood")


def test_evaluate_with_max_rows_samples_rather_than_taking_the_first_rows():
    from finabsa.data.prepare import scoring_examples
    from finabsa.data.records import Example
    from finabsa.tasks import build_task

    ordered = [Example(sentence=f"s{i}", label="positive") for i in range(50)] + \
              [Example(sentence=f"t{i}", label="negative") for i in range(50)]
    notes: list[str] = []
    chosen = scoring_examples(build_task("sentiment"), {"test": ordered}, "test", ["positive", "neutral", "negative"],
                              "count", notes, max_rows=20, seed=1)
    assert len(chosen) == 20 and {e.label for e in chosen} == {"positive", "negative"}


def test_predict_takes_options_between_the_run_and_the_texts(good_run, capsys):
    assert main(["predict", str(good_run), "--output-format", "csv", "Shell up", "BP down"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["text"] for row in rows] == ["Shell up", "BP down"]


def test_predict_keeps_input_columns_blank_lines_and_reads_a_long_text_in_parts(good_run, tmp_path, capsys,
                                                                                 monkeypatch):
    table = _csv(tmp_path / "in.csv", ["id", "headline"], [["a1", "Shell up"], ["a2", "word " * 200]])
    assert main(["predict", str(good_run), "--file", str(table), "--text-column", "headline"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in records] == [{"id": "a1"}, {"id": "a2"}]
    assert "notes" not in records[0] and not any("truncated" in r for r in records)
    assert records[1]["text"] == "word " * 200 and "read in 7 parts" in records[1]["notes"][-1]  # 29 words a part
    monkeypatch.setattr(sys, "stdin", io.StringIO("Shell up\n\nBP down\n"))
    assert main(["predict", str(good_run)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("error", "") for line in lines] == ["", "stdin, line 2: blank line: no text to analyse", ""]


def test_predictor_predict_returns_the_text_too(good_run):
    import finabsa

    assert finabsa.load(good_run).predict(["Shell up"])[0]["text"] == "Shell up"


def test_an_uncached_hub_id_fails_at_once_offline(monkeypatch):
    from finabsa import UnknownNameError
    from finabsa.models.hub import resolve_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnknownNameError, match=r"HF_HUB_OFFLINE is set and 'someone/no-such-model' is not in the "
                                               r"local hub cache"):
        resolve_model("someone/no-such-model")


def test_a_pipeline_of_missing_study_runs_points_at_the_quick_ones(good_run, tmp_path):
    from finabsa import RunFolderError
    from finabsa.inference.pipeline import Pipeline

    quick = tmp_path / "reports" / "study-x-quick" / "runs" / "sentiment" / "seed-1"
    shutil.copytree(good_run, quick)
    with pytest.raises(RunFolderError, match=r"The quick study wrote '.*study-x-quick/runs/sentiment/seed-1'"):
        Pipeline({"sentiment": tmp_path / "reports" / "study-x" / "runs" / "sentiment" / "seed-1"})


def test_runs_lists_and_compares_run_folders(good_run, tmp_path, capsys):
    assert main(["runs", str(good_run.parent)]) == 0
    listing = capsys.readouterr().out
    assert str(good_run) in listing and "complete" in listing and "accuracy" in listing
    other = tmp_path / "copy"
    shutil.copytree(good_run, other)
    assert main(["runs", str(good_run), str(other)]) == 0
    compared = capsys.readouterr().out.splitlines()
    assert str(other) in compared[0] and any(line.startswith("macro_f1") for line in compared)
    assert main(["runs", str(tmp_path / "nowhere")]) == 2


def test_export_refuses_an_export_folder_by_its_name(good_run, tmp_path, capsys):
    assert main(["export", str(good_run), "--output", str(tmp_path / "exp")]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "exp"), "--output", str(tmp_path / "again")]) == 2
    assert "is an export folder already" in capsys.readouterr().err


#: The pages a user reads commands from: the README's front page, the docs pages by topic, the contributor's page.
DOC_PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]


def _readme_commands() -> list[tuple[str, str]]:
    """Every `finabsa ...` command in the shell blocks of the README and the docs (continuation lines joined),
    with the page it is on."""
    commands = []
    for page in DOC_PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            block = block.replace("\\\n", " ")
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                match = re.search(r"(?:^|\s|/)finabsa (\w.*)$", line)
                if match and not line.startswith(("accelerate", "torchrun", "bash ")):
                    commands.append((page.name, match.group(1)))
    return commands


def test_the_readme_and_docs_commands_parse_with_the_cli_as_it_is():
    commands = _readme_commands()
    assert len(commands) >= 20 and {page for page, _ in commands} >= {"README.md", "tasks-and-models.md"}
    parser = build_parser()
    for page, command in commands:
        argv = [part for part in shlex.split(re.sub(r"\[[^\]]*\]", "", command)) if part]
        try:
            args = _parse(parser, argv)
        except SystemExit as exc:  # argparse reports a problem on stderr and exits non-zero (--help: zero)
            if exc.code:
                pytest.fail(f"{page}: command no longer parses: finabsa {command}")
            continue
        assert args.command == argv[0]


def test_the_readme_is_a_front_page_whose_links_resolve():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for page in DOC_PAGES:
        for target in re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
