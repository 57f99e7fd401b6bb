#!/usr/bin/env python3
"""Runs several policies on the same config and seed and prints one table: test accuracy,
back-propagated samples, scoring-forward samples, training time (evaluation excluded) and the time
saved against uniform. Markdown on stdout; --json writes the numbers.

    python3 scripts/compare_policies.py --config configs/cifar10_subset_small_cnn.yaml \
        --set train.epochs=10 [--policies uniform,es,...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ALL = ["uniform", "es", "eswp", "loss", "order", "infobatch", "omission", "adaselection", "selective_backprop",
       "ucb", "epsilon_greedy", "ka", "random_prune", "reduced_epochs"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--policies", default=",".join(ALL))
    parser.add_argument("--esrun", default=os.path.join(os.path.dirname(__file__), "..", "build", "esrun"))
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for policy in args.policies.split(","):
            out = os.path.join(tmp, policy)
            command = [args.esrun, "--config", args.config, "--out", out, "--set", f"sampler.name={policy}"]
            for s in args.set:
                command += ["--set", s]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            rows.append(dict(policy=policy, final_test_acc=summary["final_test_acc"], best_test_acc=summary["best_test_acc"],
                             samples_backward=summary["samples_backward_total"],
                             samples_forward=summary["samples_forward_total"], train_time_s=summary["train_time_s"],
                             epochs=summary["epochs"]))
            print(f"{policy} done", file=sys.stderr, flush=True)
    base = next((r for r in rows if r["policy"] == "uniform"), None)
    print("| policy | test acc % (best) | back-propagated | scoring forwards | train time s | time saved vs uniform |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        saved = f"{100 * (1 - r['train_time_s'] / base['train_time_s']):.1f}%" if base else "n/a"
        print(f"| {r['policy']} | {100 * r['final_test_acc']:.2f} ({100 * r['best_test_acc']:.2f}) | {r['samples_backward']} "
              f"| {r['samples_forward']} | {r['train_time_s']:.1f} | {saved} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
