"""Training speed of the reference study's recipe against ``finabsa train`` defaults, same model, data and epochs.

    python benchmarks/train_speed.py [--epochs 2] [--threads 2] [--model minilm]

(a) The reference recipe as the study's notebook ran it: the HF ``Trainer``, every input padded to 150 tokens,
    batch 16, LoRA r=4 on the query projection only, validation each epoch and test evaluation one example at a
    time. Its learning rate is not stated in the study; 5e-4 (finabsa's LoRA default) is used here.
(b) ``finabsa.train`` with its defaults (dynamic padding, length-grouped batches, LoRA r=16 on attention and
    feed-forward projections, batched evaluation) for the same number of epochs.

Both use the sentiment task (3 classes) on the same carved train/validation split of FiQA and score the same
150-row test split. Prints training samples/s, wall time per epoch, end-to-end wall time and test accuracy, and
the speed ratio (target: (b) >= 3x (a) at equal or better accuracy). Writes JSON to --output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, hardware, hardware_line, set_threads, write_json

from finabsa.run_layout import METRICS_FILE

REFERENCE_MAX_LENGTH = 150


def reference_recipe(config, data, epochs: int) -> dict:
    """The study's recipe on the given splits; returns timings and test accuracy."""
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from finabsa.models import load_tokenizer, resolve_model
    from finabsa.tasks import build_task

    task = build_task("sentiment")
    labels = task.build_labels(data.train)
    index = {label: i for i, label in enumerate(labels)}
    resolved = resolve_model(config.model.name)
    tokenizer = load_tokenizer(resolved)

    def encode(rows):
        encoded = tokenizer([e.sentence for e in rows], padding="max_length", truncation=True,
                            max_length=REFERENCE_MAX_LENGTH)
        return [{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
                 "labels": index[task.label_of(e)]} for i, e in enumerate(rows)]

    torch.manual_seed(config.training.seed)
    model = AutoModelForSequenceClassification.from_pretrained(resolved.location, num_labels=len(labels))
    model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.1,
                                             target_modules=["query"]))
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=16, per_device_eval_batch_size=1,
            num_train_epochs=epochs, learning_rate=5e-4, eval_strategy="epoch", save_strategy="no",
            logging_strategy="no", report_to=[], seed=config.training.seed, disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=encode(data.train),
                          eval_dataset=encode(data.validation))
        began = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - began
    model.eval()
    began = time.perf_counter()
    correct = 0
    with torch.no_grad():
        for feature, example in zip(encode(data.test), data.test):  # one example at a time, as the notebook did
            logits = model(input_ids=torch.tensor([feature["input_ids"]]),
                           attention_mask=torch.tensor([feature["attention_mask"]])).logits
            correct += labels[int(np.argmax(logits.numpy()))] == task.label_of(example)
    test_seconds = time.perf_counter() - began
    return {"train_seconds": train_seconds, "test_seconds": test_seconds,
            "test_accuracy": correct / len(data.test)}


def finabsa_defaults(config, epochs: int) -> dict:
    import json

    import finabsa

    with tempfile.TemporaryDirectory() as scratch:
        run_config = config.with_overrides({"training.epochs": epochs, "output": str(Path(scratch) / "run")})
        began = time.perf_counter()
        result = finabsa.train(run_config, progress=False)
        total = time.perf_counter() - began
        logs = [json.loads(line) for line in (result.run_dir / METRICS_FILE).read_text().splitlines()]
    summary = next(row for row in logs if "train_runtime" in row)
    return {"train_seconds": summary["train_runtime"], "total_seconds": total,
            "test_accuracy": result.report["after"]["accuracy"], "epochs_run": summary["epoch"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=str(REPO / "reports" / "bench" / "train_speed.json"))
    args = parser.parse_args(argv)

    threads = set_threads(args.threads)
    import finabsa
    from finabsa.data.prepare import load_task_data
    from finabsa.tasks import build_task

    config = finabsa.load_config(None, {"task.name": "sentiment", "model.name": args.model,
                                        "training.seed": args.seed,
                                        "training.early_stopping_patience": args.epochs + 1})
    data = load_task_data(build_task("sentiment"), config.data)
    info = hardware()
    print(f"{hardware_line(info)}\nsentiment on FiQA: {len(data.train)} train, {len(data.validation)} validation, "
          f"{len(data.test)} test rows; {args.epochs} epochs; model {args.model}", flush=True)

    began = time.perf_counter()
    reference = reference_recipe(config, data, args.epochs)
    reference["total_seconds"] = time.perf_counter() - began
    print(f"(a) reference recipe done in {reference['total_seconds']:.0f} s", flush=True)
    ours = finabsa_defaults(config, args.epochs)
    print(f"(b) finabsa train done in {ours['total_seconds']:.0f} s", flush=True)

    rows = []
    for name, result in (("(a) reference recipe", reference), ("(b) finabsa train defaults", ours)):
        samples = len(data.train) * args.epochs
        rows.append({"name": name, "train_samples_per_s": round(samples / result["train_seconds"], 2),
                     "seconds_per_epoch": round(result["train_seconds"] / args.epochs, 1),
                     "total_seconds": round(result["total_seconds"], 1),
                     "test_accuracy": round(100 * result["test_accuracy"], 2)})
    ratio = rows[1]["train_samples_per_s"] / rows[0]["train_samples_per_s"]
    print("| recipe | train samples/s | s/epoch (train + validation) | end to end s | test accuracy % |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {row['train_samples_per_s']} | {row['seconds_per_epoch']} | {row['total_seconds']} "
              f"| {row['test_accuracy']} |")
    print(f"speed ratio (b)/(a): {ratio:.2f}x (target >= 3x); accuracy difference "
          f"{rows[1]['test_accuracy'] - rows[0]['test_accuracy']:+.2f} points")
    path = write_json(Path(args.output), {"hardware": info, "threads": threads, "epochs": args.epochs,
                                           "rows": rows, "ratio": round(ratio, 2)})
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
