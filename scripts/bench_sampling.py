#!/usr/bin/env python3
"""Times uniform, es and eswp on the same model, data and seed, and compares each phase to uniform.

    python3 scripts/bench_sampling.py --config configs/cifar10_subset_small_cnn.yaml \
        --epochs 3 [--set model.name=resnet18 ...]

Every epoch selects (sampler.anneal_epochs=0), so all epochs are comparable. Per policy it reads
metrics.jsonl and reports per-epoch phase seconds (data, score_forward, select, train_step) and the
training time (evaluation excluded) relative to uniform. The ideal ES ratio is F/T + b/B, with F the
scoring forward's seconds per meta-batch (from the es run) and T uniform's train-step seconds per
meta-batch (from the uniform run); ESWP's ideal is that times (1 - r). `select` is the policies'
bookkeeping; its share of the step is reported too.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esrunpy.common import default_esrun, read_jsonl  # noqa: E402

PHASES = ("data", "score_forward", "select", "train_step")


def run(esrun, args, policy, out):
    command = [esrun, "--config", args.config, "--out", out, "--set", f"train.epochs={args.epochs}",
               "--set", f"sampler.name={policy}", "--set", f"sampler.meta_batch={args.meta_batch}"]
    if policy != "uniform":
        command += ["--set", f"sampler.ratio={args.ratio}", "--set", "sampler.anneal_epochs=0"]
    for s in args.set:
        command += ["--set", s]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if args.quiet else None)
    records = read_jsonl(os.path.join(out, "metrics.jsonl"))
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    # The first epoch warms up allocators and caches: leave it out when there are more.
    timed = records[1:] if len(records) > 1 else records
    per_epoch = {p: sum(r["time"][p] for r in timed) / len(timed) for p in PHASES}
    per_epoch["train"] = sum(r["time"]["epoch_total"] - r["time"]["eval"] for r in timed) / len(timed)
    steps = [math.ceil(r["epoch_dataset_size"] / args.meta_batch) for r in timed]
    return dict(per_epoch=per_epoch, steps=sum(steps) / len(steps), summary=summary,
                samples_backward=timed[-1]["samples_backward"], epoch_dataset_size=timed[-1]["epoch_dataset_size"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[], help="extra esrun --set, repeatable")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--meta-batch", type=int, default=128)
    parser.add_argument("--ratio", type=float, default=0.25, help="b/B")
    parser.add_argument("--prune-ratio", type=float, default=0.2, help="ESWP's r (its default)")
    parser.add_argument("--esrun", default=default_esrun())
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help="hide esrun's log")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in ("uniform", "es", "eswp"):
            results[policy] = run(args.esrun, args, policy, os.path.join(tmp, policy))
            if policy == "eswp":
                args.set.append(f"sampler.prune_ratio={args.prune_ratio}")

    uniform = results["uniform"]
    forward_per_step = results["es"]["per_epoch"]["score_forward"] / results["es"]["steps"]
    train_per_step = uniform["per_epoch"]["train_step"] / uniform["steps"]
    f_over_t = forward_per_step / train_per_step
    ideal = {"uniform": 1.0, "es": f_over_t + args.ratio, "eswp": (f_over_t + args.ratio) * (1 - args.prune_ratio)}
    print(f"F/T = {f_over_t:.3f}  (scoring forward {forward_per_step * 1e3:.1f} ms, uniform train step "
          f"{train_per_step * 1e3:.1f} ms per meta-batch of {args.meta_batch})")
    header = f"{'policy':8} {'train s':>8} {'ratio':>6} {'ideal':>6} {'r/ideal':>7} " + \
             " ".join(f"{p:>13}" for p in PHASES) + f" {'select %':>8} {'bp/epoch':>8} {'test acc':>8}"
    print(header)
    report = {"f_over_t": f_over_t, "b_over_B": args.ratio, "policies": {}}
    for policy, r in results.items():
        e = r["per_epoch"]
        ratio = e["train"] / uniform["per_epoch"]["train"]
        step_work = e["score_forward"] + e["train_step"]
        select_share = 100 * e["select"] / step_work if step_work > 0 else 0.0
        print(f"{policy:8} {e['train']:8.2f} {ratio:6.3f} {ideal[policy]:6.3f} {ratio / ideal[policy]:7.3f} " +
              " ".join(f"{e[p]:13.3f}" for p in PHASES) +
              f" {select_share:8.2f} {r['samples_backward']:8d} {100 * r['summary']['final_test_acc']:8.2f}")
        report["policies"][policy] = dict(per_epoch_seconds=e, ratio_to_uniform=ratio, ideal_ratio=ideal[policy],
                                          select_percent_of_step=select_share,
                                          final_test_acc=r["summary"]["final_test_acc"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
