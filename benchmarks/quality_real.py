"""Real labelled data through the command line, as a user would run it: ``synthts import`` the
given files (e.g. a UCR/UEA archive's TRAIN and TEST ``.ts`` files, which the import appends
into one dataset), ``synthts train`` a search, ``synthts evaluate`` the registered version, in
a fresh data folder, and print ONE JSON object with the verdict metric per class and pooled
(the classifier two-sample ``detector``: held-out accuracy, 0.5 = can't tell) and TSTR/TRTR.

No data ships with synthts and nothing is downloaded: pass files you have. The public
archives (timeseriesclassification.com) and the ``.ts`` files inside the sktime wheel on PyPI
(``sktime/datasets/data/GunPoint``, ``BasicMotions``, ...) are what the project measured with.

With ``--defaults`` it trains what a new user gets from ``synthts train --dataset X`` with no
flags (the search space and epochs the installed plugins declare for that data: both model
families), bounded by ``--time-limit``; the JSON then also holds the real-vs-real floor: the
same detector per class on two disjoint halves of the training series.

Series of unequal lengths (e.g. JapaneseVowels): ``lengths`` holds, per class, the median and
10th/90th percentiles of the training series' lengths beside those of sampled series.

Goals (issue #22): TSTR/TRTR >= 0.95 on the held-out series, the detector within 0.10 of its
real-vs-real floor, the memorisation guard passing.

Usage: python benchmarks/quality_real.py TRAIN_FILE [--holdout-file TEST_FILE | --holdout F]
           [--name gunpoint]
           [--defaults [--time-limit S]] [--arch A ...] [--trials 2] [--epochs 1000]
           [--set PARAM=VALUE ...]
           [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The search for small real sets: the conditional WGAN-GP with a conv backbone (smooth real
# series: the MLP's outputs are jagged), EMA, a projection critic, a cosine schedule and mean
# correction; no moment loss (on GunPoint TSTR/TRTR was 0.60-0.77 with it, 0.995-1.00 without).
# Through this script on GunPoint (1 trial, 800 epochs): TSTR/TRTR 0.990 with mean correction,
# 0.754 without.
DEFAULT_SET = ["backbone=conv", "conv_width=32", "noise_inputs=true",
               "conditioning=projection", "moment_weight=0", "lr_schedule=cosine",
               "batch_size=32", "n_critic=2", "beta2=0.9", "lr=0.0005",
               "ema_decay=[0.99, 0.995]", "mean_correction=true"]


def synthts(args: list[str], env: dict[str, str], *, may_fail: bool = False) -> str:
    """The command's stdout; a failure ends the benchmark unless ``may_fail`` (a training job
    cut short by its time limit fails, yet registers its best checkpoint so far)."""
    exe = Path(sys.executable).with_name("synthts")
    cmd = [str(exe) if exe.exists() else "synthts", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0 and not may_fail:
        sys.exit(f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def real_floor(data: Path, name: str) -> dict[str, float]:
    """The detector per class on two disjoint random halves of the training series (the
    held-out ones left out): what a perfect generator would score."""
    import numpy as np
    from synthts_metrics.detector import Detector

    from synthts_core.missing import fill
    from synthts_core.runtime import Runtime
    from synthts_core.services import holdout
    from synthts_core.settings import Settings

    with Runtime(Settings(data_dir=data, _env_file=None)) as rt:
        dataset = holdout.training_part(rt.storage.read_dataset(name))
    values = fill(dataset.values)  # missing points and padding filled alike on both halves
    out = {}
    for k, label in enumerate(dataset.meta.label_names):
        idx = np.random.default_rng(k).permutation(np.flatnonzero(dataset.labels == k))
        half = len(idx) // 2
        value = Detector().compute(values[idx[:half]], values[idx[half:2 * half]],
                                   np.random.default_rng(k))
        out[label] = round(float(value), 4)
    return out


def length_spread(data: Path, name: str, model: str, env: dict[str, str]) -> dict | None:
    """Series of unequal lengths: per class, the median and the 10th and 90th percentiles
    of the training series' lengths beside those of as many series sampled from ``model``
    (``synthts sample``, lengths drawn as a user gets them). None for equal lengths."""
    import numpy as np

    from synthts_core.runtime import Runtime
    from synthts_core.services import holdout
    from synthts_core.settings import Settings

    with Runtime(Settings(data_dir=data, _env_file=None)) as rt:
        dataset = holdout.training_part(rt.storage.read_dataset(name))
    if dataset.lengths is None:
        return None
    names = dataset.meta.label_names
    counts = ",".join(f"{label}={int((dataset.labels == k).sum())}"
                      for k, label in enumerate(names))
    out_file = data / "lengths-sample.npy"
    synthts(["sample", model, "--counts", counts, "--seed", "7", "-o", str(out_file)], env)
    generated = np.load(out_file.with_name(out_file.stem + ".lengths.npy"))
    labels = np.load(out_file.with_name(out_file.stem + ".labels.npy"))

    def stats(x: np.ndarray) -> dict[str, float]:
        p10, median, p90 = np.percentile(x, [10, 50, 90])
        return {"median": float(median), "p10": float(p10), "p90": float(p90)}

    return {label: {"real": stats(dataset.lengths[dataset.labels == k]),
                    "generated": stats(generated[labels == k])}
            for k, label in enumerate(names)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--holdout-file", dest="holdout_files", action="append", default=[],
                    help="real series kept out of training (e.g. the archive's TEST file): "
                    "TSTR and the memorisation guard are scored on them")
    ap.add_argument("--holdout", type=float, default=None,
                    help="fraction of the imported series kept out of training (import "
                    "--holdout), when the archive has no TEST file to hold out")
    ap.add_argument("--name", default="real")
    ap.add_argument("--arch", dest="archs", action="append", default=None,
                    help="architecture to train without --defaults (repeatable; default "
                    "cwgan_gp, with DEFAULT_SET unless --set is given)")
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--set", dest="sets", action="append", default=None,
                    help="search-space entry PARAM=VALUE (repeatable; replaces the defaults)")
    ap.add_argument("--keep", help="data folder to use and keep (default: a temporary one)")
    ap.add_argument("--defaults", action="store_true",
                    help="train as `synthts train --dataset X` does with no flags (the data's "
                    "default search over both families and its epochs); --trials still counts")
    ap.add_argument("--time-limit", type=int, default=None,
                    help="seconds the training job may take (train --time-limit)")
    args = ap.parse_args(argv)
    data = Path(args.keep).absolute() if args.keep else Path(tempfile.mkdtemp(prefix="synthts-real-"))
    env = {**os.environ, "SYNTHTS_DATA_DIR": str(data), "SYNTHTS_STORAGE": "",
           "SYNTHTS_MLFLOW_URI": "", "SYNTHTS_RAY_ADDRESS": ""}
    env = {k: v for k, v in env.items() if v != ""}
    try:
        started = time.perf_counter()
        held = [a for f in args.holdout_files for a in ("--holdout-file", f)]
        if args.holdout is not None:
            held += ["--holdout", str(args.holdout)]
        imported = json.loads(synthts(["import", *args.files, *held, "--name", args.name,
                                       "--json"], env))
        if args.defaults:
            train = ["train", "--dataset", args.name, "--trials", str(args.trials), "--quiet"]
        else:
            archs = args.archs or ["cwgan_gp"]
            train = ["train", "--dataset", args.name, "--trials", str(args.trials),
                     "--epochs", str(args.epochs), "--quiet"]
            train += [a for arch in archs for a in ("--arch", arch)]
            default_set = DEFAULT_SET if archs == ["cwgan_gp"] else []
            for entry in args.sets or default_set:
                train += ["--set", entry]
        if args.time_limit:
            train += ["--time-limit", str(args.time_limit)]
        trained = synthts(train, env, may_fail=bool(args.time_limit))
        train_s = time.perf_counter() - started
        model = re.search(r"registered (\S+) version (\d+)", trained)
        if model is None:
            sys.exit(f"no model was registered:\n{trained[-3000:]}")
        job = json.loads(synthts(["jobs", "list", "--json", "--limit", "1"], env))["items"][0]
        trials = [{"architecture": t["architecture"], "status": t["status"],
                   "detector": t.get("selection_score", t["metrics"].get("detector")),
                   "config": {k: t["config"][k] for k in ("lr", "batch_size", "backbone")
                              if k in t["config"]}}
                  for t in job["trials"]]
        report = json.loads(synthts(["evaluate", f"{model.group(1)}@{model.group(2)}", "--metrics",
                                     "detector,memorisation,tstr,mmd,feature_cosine",
                                     "--no-report",
                                     "--json"], env))
        out = {"dataset": args.name, "files": [Path(f).name for f in args.files],
               "shape": [imported["n_series"], imported["n_channels"], imported["length"]],
               "labels": imported["label_names"], "trials": args.trials,
               "model": model.group(1),
               "epochs": job["spec"]["epochs"], "trials_run": trials,
               "best_trial": job.get("best_trial"), "time_limit_s": args.time_limit,
               "search": "the data's defaults" if args.defaults else
               {"arch": args.archs or ["cwgan_gp"], "set": args.sets or (
                   DEFAULT_SET if not args.archs or args.archs == ["cwgan_gp"] else [])},
               "real_vs_real": real_floor(data, args.name),
               "lengths": length_spread(data, args.name, f"{model.group(1)}@{model.group(2)}",
                                        env),
               "train_s": round(train_s, 1),
               "metrics": {m["name"]: {"value": m["value"], "per_class": m["per_class"]}
                           for m in report["metrics"]},
               "verdict": report.get("verdict"),
               "unseen": report.get("unseen") or "none: tstr is on the training series",
               "goal": {"tstr": ">= 0.95 of TRTR, on the held-out series",
                        "detector": "within 0.10 of real_vs_real, per class",
                        "memorisation": "passes"}}
        print(json.dumps(out))
        return out
    finally:
        if not args.keep and data.name.startswith("synthts-real-") and \
                data.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
