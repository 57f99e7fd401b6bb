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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esrunpy.common import default_esrun, registered  # noqa: E402


def every_policy(esrun):
    """The samplers the binary has (`esrun list samplers`), uniform first as the baseline the others
    are compared with, the rest in the binary's order. Left out: those that read a scores file, which
    `esrun score` must write first (their help says so), as this script runs one config per policy."""
    names = [name for name, help_text in registered(esrun, "samplers") if "esrun score" not in help_text]
    return sorted(names, key=lambda name: name != "uniform")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--policies", help="comma-separated samplers (default: every sampler `esrun list samplers` "
                                           "names, less those that need an `esrun score` file)")
    parser.add_argument("--esrun", default=default_esrun())
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.policies is None:
        try:
            policies = every_policy(args.esrun)
        except (OSError, ValueError) as error:
            print(f"error: cannot list the samplers with {args.esrun}: {error}", file=sys.stderr)
            return 2
    else:
        policies = args.policies.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for policy in policies:
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
