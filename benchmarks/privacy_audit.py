"""The privacy audit on the seed's harmonics (ten classes, 200 series per class x 256 points, the
main job's size): does it fail a model that memorises and pass the main job's model? Prints ONE
JSON object with, per model:

  mia    the membership-inference attack's AUC (distance to the closest synthetic series:
         training series are the members, a fresh draw of the same spec the non-members;
         0.5 = the attacker learns nothing), pooled with its 95 % interval and p-value, its
         true-positive rate at 10 % false positives, and per class (worst class named)
  dcr    distance to the closest training series, synthetic -> training against unseen ->
         training (medians, share of synthetic-unseen pairs where the synthetic series is the
         closer, the memorisation guard's p-value), pooled and the worst class
  nnaa   nearest-neighbour adversarial accuracy against the training and the unseen series
         and the privacy loss (their difference), pooled and the worst class (pooled sets are
         subsampled to 500 each, which breaks up copies and their originals: the per-class
         figures, 200 a set, are the ones the audit judges)
  audit  the verdict's privacy audit: passed, its summary, classes failing / inconclusive

for (a) a memorising model: the training series handed back with noise of std 0.05 (a quarter
of the data's own); (b) the main job's model: the GAN plugin's main-job configuration
(``quality_harmonics.BEST``) trained from the plugin within ``--budget-s`` on the training
series (the family the main job registers on this data; no Ray, no storage); (c) an honest
generator: a fresh draw of the same spec (what a perfect model would give). ``--small-gan``
adds a real GAN made to memorise: the same configuration trained ``--small-epochs`` epochs on
10 series per class (its audit scored on those 10 members and 10 non-members per class).

Usage: python benchmarks/privacy_audit.py [--budget-s 240] [--epochs 250] [--skip-gan]
       [--small-gan] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

AUDIT = ["mia", "nnaa", "memorisation"]


def registries():
    from synthts_core.plugins import make_plugin_manager

    return make_plugin_manager().registries


def audit(regs, train: np.ndarray, labels: np.ndarray, names: list[str], synthetic: np.ndarray,
          unseen: np.ndarray, unseen_labels: np.ndarray, seed: int) -> dict:
    """The audit through the evaluation engine (``compare`` and ``verdict``), summarised."""
    from synthts_core.domain import Dataset
    from synthts_core.services import evaluation

    real = Dataset.build("train", train, labels, names)
    held = Dataset.build("unseen", unseen, unseen_labels, names)
    started = time.perf_counter()
    results = evaluation.compare(regs, real, synthetic, labels, AUDIT, seed=seed, holdout=held,
                                 holdout_text="a fresh draw of the spec")
    audit_s = time.perf_counter() - started
    by = {r.name: r for r in results}
    verdict = evaluation.verdict(regs, results).privacy
    mia, nnaa, mem = by["mia"], by["nnaa"], by["memorisation"]
    per_mia, per_nnaa = mia.details["per_class_details"], nnaa.details["per_class_details"]
    per_mem = mem.details["per_class_details"]
    worst_mia = max(mia.per_class, key=mia.per_class.get)
    worst_nnaa = max(nnaa.per_class, key=nnaa.per_class.get)
    worst_dcr = min(mem.per_class, key=mem.per_class.get)

    def r4(x):
        return None if x is None or not np.isfinite(x) else round(float(x), 4)

    def dcr(d: dict) -> dict:
        return {"synthetic_to_train_median": d["dcr_synthetic_median"],
                "unseen_to_train_median": d["dcr_unseen_median"],
                "synthetic_closer_share": d["closer_share_dcr"], "p_dcr": d["p_dcr"],
                "guard_p_value": d.get("guard_p_value")}

    failing = [c.label for c in verdict.classes
               if any(g.passed is False for v in (verdict, *verdict.guards)
                      for g in v.classes if g.label == c.label)]
    return {
        "mia": {"auc": r4(mia.value), "ci": [r4(v) for v in mia.details["ci"]],
                "p_value": mia.details["p_value"],
                "tpr_at_10pct_fpr": mia.details["tpr_at_10pct_fpr"],
                "per_class_min": r4(min(mia.per_class.values())),
                "per_class_max": r4(mia.per_class[worst_mia]), "worst_class": worst_mia,
                "worst_class_ci": [r4(v) for v in per_mia[worst_mia]["ci"]]},
        "dcr": {"pooled": dcr({**mem.details, "guard_p_value": r4(mem.value)}),
                "worst_class": worst_dcr,
                "worst": dcr({**per_mem[worst_dcr], "guard_p_value": mem.per_class[worst_dcr]})},
        "nnaa": {"privacy_loss": r4(nnaa.value), "aa_train": nnaa.details["aa_train"],
                 "aa_test": nnaa.details["aa_test"], "p_value": nnaa.details["p_value"],
                 "worst_class": worst_nnaa, "worst_class_loss": r4(nnaa.per_class[worst_nnaa]),
                 "worst_class_aa": [per_nnaa[worst_nnaa]["aa_train"],
                                    per_nnaa[worst_nnaa]["aa_test"]]},
        "audit": {"passed": verdict.passed, "summary": verdict.summary,
                  "classes_failing": failing,
                  "classes_inconclusive": [c.label for c in verdict.classes
                                           if c.label not in failing and any(
                                               g.passed is None
                                               for v in (verdict, *verdict.guards)
                                               for g in v.classes if g.label == c.label)]},
        "audit_s": round(audit_s, 2),
    }


def train_gan(real: np.ndarray, labels: np.ndarray, budget_s: float, epochs: int,
              seed: int) -> tuple[np.ndarray, dict]:
    """The main job's GAN configuration trained on ``real`` within the budget; as many series
    per class as ``real`` has, in real units."""
    import torch
    from quality_harmonics import BEST, train

    torch.set_num_threads(1)  # as quality_harmonics: these small networks lose when shared
    model, (offset, scale), train_s, done = train(BEST, real, labels, budget_s, epochs, "cpu",
                                                  seed)
    synthetic = np.asarray(model.generate(len(labels), labels=labels, seed=seed + 1))
    return (synthetic * scale + offset).astype(np.float32), {
        "config": BEST, "train_s": round(train_s, 1), "epochs": done}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=240.0,
                    help="training time limit of the main job's GAN (default 240 s)")
    ap.add_argument("--epochs", type=int, default=250,
                    help="epochs its learning-rate schedule spans (the main job's 250)")
    ap.add_argument("--skip-gan", action="store_true", help="only (a) and (c): no training")
    ap.add_argument("--small-gan", action="store_true",
                    help="also train the GAN on 10 series per class (a real model made to "
                         "memorise)")
    ap.add_argument("--small-epochs", type=int, default=2000)
    ap.add_argument("--small-budget-s", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from quality_harmonics import harmonics

    regs = registries()
    count, length = 200, 256
    real, labels, names = harmonics(count, length, args.seed)
    unseen, unseen_labels, _ = harmonics(count, length, args.seed + 1000)  # a fresh draw
    honest, _, _ = harmonics(count, length, args.seed + 2000)
    rng = np.random.default_rng(args.seed)
    copies = (real + rng.normal(0.0, 0.05, real.shape)).astype(np.float32)
    out: dict = {"data": {"classes": len(names), "series_per_class": count, "length": length,
                          "unseen": "a fresh draw of the same spec, 200 per class"},
                 "thresholds": {"mia": 0.55, "nnaa": 0.1, "alpha": "0.01 / classes judged"}}
    out["memorising_model"] = {"model": "training series + noise of std 0.05",
                               **audit(regs, real, labels, names, copies, unseen,
                                       unseen_labels, args.seed)}
    if not args.skip_gan:
        synthetic, info = train_gan(real, labels, args.budget_s, args.epochs, args.seed)
        out["main_job_gan"] = {"model": "cwgan_gp, the main job's configuration", **info,
                               **audit(regs, real, labels, names, synthetic, unseen,
                                       unseen_labels, args.seed)}
    if args.small_gan:
        keep = np.concatenate([np.flatnonzero(labels == k)[:10] for k in range(len(names))])
        few, few_labels = real[keep], labels[keep]
        held = np.concatenate([np.flatnonzero(unseen_labels == k)[:10]
                               for k in range(len(names))])
        synthetic, info = train_gan(few, few_labels, args.small_budget_s, args.small_epochs,
                                    args.seed)
        out["gan_on_10_per_class"] = {
            "model": "cwgan_gp, the main job's configuration, on 10 series per class", **info,
            **audit(regs, few, few_labels, names, synthetic, unseen[held],
                    unseen_labels[held], args.seed)}
    out["honest_generator"] = {"model": "a fresh draw of the same spec",
                               **audit(regs, real, labels, names, honest, unseen,
                                       unseen_labels, args.seed)}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
