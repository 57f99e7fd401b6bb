"""The GPU benchmark's table (docs/performance.md) from the folder scripts/bench_gpu.sh fills.

Reads gpu.txt, bench_<method>.json (`esrun bench`), run_<method>/ (esrun runs) and
reference_<method>.jsonl (scripts/reference/train_pytorch.py) at B = 512, and bench_<method>_B128.json
and run_<method>_B128/ at the papers' B = 128, and prints Markdown with every target of the GPU
issue next to the measured figure. Missing pieces are reported as missing, not
guessed. An epoch's train time is its time without evaluation; the first epoch (cuDNN autotuning,
allocator warm-up, DataLoader start) is left out of the medians when there are later ones.
"""
import argparse
import json
import os
import statistics
import sys

from . import common

ESRUN_METHODS = ("uniform", "es", "eswp")
REFERENCE_METHODS = ("uniform", "es")
# File-name tag and heading of each meta-batch setting; the reference runs only at the first.
SETTINGS = (("", "B = 512"), ("_B128", "B = 128 (the papers' setting)"))


class BenchError(Exception):
    pass


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise BenchError(f"{path}: {e}")


def read_jsonl(path):
    try:
        return common.read_jsonl(path)
    except (OSError, ValueError) as e:
        raise BenchError(f"{path}: {e}")


def steady(values):
    """Median over the epochs after the first (all of them when there is only one)."""
    if not values:
        raise BenchError("no epochs")
    return statistics.median(values[1:] if len(values) > 1 else values)


def esrun_run(folder):
    records = read_jsonl(os.path.join(folder, "metrics.jsonl"))
    if not records:
        raise BenchError(f"{folder}/metrics.jsonl: no epochs")
    seconds = [r["time"]["epoch_total"] - r["time"]["eval"] for r in records]
    summary_path = os.path.join(folder, "summary.json")
    acc = read_json(summary_path)["final_test_acc"] if os.path.exists(summary_path) else records[-1]["test_acc"]
    return {"epoch_s": steady(seconds), "images": records[-1]["epoch_dataset_size"], "acc": acc, "epochs": len(records)}


def reference_run(path):
    lines = read_jsonl(path)
    epochs = [r for r in lines if "epoch" in r and not r.get("summary")]
    if not epochs:
        raise BenchError(f"{path}: no epochs")
    return {"epoch_s": steady([r["train_seconds"] for r in epochs]), "acc": epochs[-1]["test_acc"],
            "epochs": len(epochs)}


def collect(folder, tag=""):
    """Everything of one setting found in the folder; a piece that is missing or unreadable becomes
    its error text."""
    found = {"esrun": {}, "reference": {}, "bench": {}, "errors": []}

    def attempt(kind, method, reader, path):
        if not os.path.exists(path):
            found["errors"].append(f"missing: {os.path.relpath(path, folder)}")
            return
        try:
            found[kind][method] = reader(path)
        except (BenchError, KeyError, TypeError) as e:
            found["errors"].append(f"unreadable: {os.path.relpath(path, folder)} ({e})")

    for method in ESRUN_METHODS:
        attempt("esrun", method, esrun_run, os.path.join(folder, f"run_{method}{tag}"))
        attempt("bench", method, read_json, os.path.join(folder, f"bench_{method}{tag}.json"))
    for method in REFERENCE_METHODS if not tag else ():
        attempt("reference", method, reference_run, os.path.join(folder, f"reference_{method}.jsonl"))
    return found


def gpu_line(folder):
    gpu = os.path.join(folder, "gpu.txt")
    if not os.path.exists(gpu):
        return "unknown"
    with open(gpu) as f:
        return "; ".join(f.read().split("\n")).strip("; ")


def verdict(ok):
    return "met" if ok else "**missed**"


def table(found, ratio, main_setting=True):
    """The rows of one setting; only the main one (B = 512) has the throughput target and the reference."""
    esrun, reference, bench = found["esrun"], found["reference"], found["bench"]
    lines = ["| figure | target | measured | |", "|---|---|---|---|"]

    def row(figure, target, measured, ok=None):
        lines.append(f"| {figure} | {target} | {measured} | {'' if ok is None else verdict(ok)} |")

    uniform_bench = bench.get("uniform")
    if uniform_bench:
        rate = uniform_bench["train_step"]["images_per_s"]
        if main_setting:
            row(f"uniform train step, images/s (B = {uniform_bench['batch']})", "≥ 30,000", f"{rate:,.0f}", rate >= 30000)
        else:
            row(f"uniform train step, images/s (B = {uniform_bench['batch']})", "", f"{rate:,.0f}")
        row("batch gather + augmentation, images/s", "", f"{uniform_bench['data']['images_per_s']:,.0f}")
        row("scoring forward, images/s", "", f"{uniform_bench['score_forward']['images_per_s']:,.0f}")
        row("F/T (scoring forward over train step)", "", f"{uniform_bench['forward_over_train']:.3f}")
    for method in ("es", "eswp"):
        share = bench.get(method, {}).get("policy_bookkeeping")
        if share:
            row(f"{method} bookkeeping share of the train step at n = {share['train_size']:,}", "< 1%",
                f"{100 * share['share_of_train_step']:.3f}% ({1e6 * share['seconds_per_step']:.0f} µs/step)",
                share["share_of_train_step"] < 0.01)
    if "uniform" in esrun:
        u = esrun["uniform"]
        row("esrun uniform epoch (train, no eval), s", "", f"{u['epoch_s']:.3f} ({u['images'] / u['epoch_s']:,.0f} images/s)")
        for method in ("es", "eswp"):
            if method in esrun:
                measured = esrun[method]["epoch_s"] / u["epoch_s"]
                if method == "es" and uniform_bench:
                    bound = 1.1 * (uniform_bench["forward_over_train"] + ratio)
                    row("ES epoch / uniform epoch", f"≤ 1.1 × (F/T + b/B) = {bound:.3f}", f"{measured:.3f}", measured <= bound)
                else:
                    row(f"{method.upper()} epoch / uniform epoch", "", f"{measured:.3f}")
    for method in REFERENCE_METHODS:
        if method in esrun and method in reference:
            speedup = reference[method]["epoch_s"] / esrun[method]["epoch_s"]
            row(f"{method}: reference epoch / esrun epoch", "≥ 1.5", f"{speedup:.2f} "
                f"({reference[method]['epoch_s']:.3f} s / {esrun[method]['epoch_s']:.3f} s)", speedup >= 1.5)
    for method in ESRUN_METHODS:
        if method in esrun:
            other = f", reference {100 * reference[method]['acc']:.2f}" if method in reference else ""
            row(f"{method}: final test accuracy (%) after {esrun[method]['epochs']} epochs",
                "equal to the reference" if main_setting else "", f"esrun {100 * esrun[method]['acc']:.2f}{other}")
    if found["errors"]:
        lines += ["", "Not measured:"] + [f"- {e}" for e in found["errors"]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the folder scripts/bench_gpu.sh wrote")
    parser.add_argument("--ratio", type=float, default=0.25, help="b/B of the ES runs")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.folder):
        print(f"bench_table: {args.folder}: not a folder", file=sys.stderr)
        return 2
    parts = [f"GPU: {gpu_line(args.folder)}\n"]
    for i, (tag, title) in enumerate(SETTINGS):
        parts.append(f"## {title}\n\n" + table(collect(args.folder, tag), args.ratio, main_setting=i == 0))
    sys.stdout.write("\n".join(parts))
    return 0
