"""Reading esrun run directories: config.resolved.yaml, metrics.jsonl and summary.json.

A run is found by its config.resolved.yaml; a finished run's config also takes the sampler's
effective settings from summary.json ("sampler": {"beta1": 0.2, ...} is sampler.beta1: 0.2). Runs
are grouped into table rows and columns by config keys; keys that never change what is trained
(seed, paths, threads, logging) are ignored, and any other key that varies inside a group is added
to the row label, so that different experiments are never averaged together.
"""
import argparse
import json
import math
import os

import yaml

from .common import read_jsonl

# Keys that do not define the experiment: where and how it ran, and how it was logged.
IGNORED = ("seed", "name", "out_root", "threads", "device", "data.root", "data.label_noise.seed",
           "train.eval_every", "train.eval_batch", "train.on_nan")
IGNORED_PREFIXES = ("checkpoint.", "progress.", "logging.", "eval.")


def flatten(tree, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}; lists become tuples (hashable)."""
    flat = {}
    for key, value in tree.items():
        path = prefix + str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = tuple(value) if isinstance(value, list) else value
    return flat


class Run:
    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "config.resolved.yaml")) as f:
            self.config = flatten(yaml.safe_load(f) or {})
        metrics = os.path.join(path, "metrics.jsonl")
        self.metrics = read_jsonl(metrics) if os.path.exists(metrics) else []
        summary = os.path.join(path, "summary.json")
        self.summary = None
        if os.path.exists(summary):
            with open(summary) as f:
                self.summary = json.load(f)
            # The sampler's effective settings (summaries before esrun wrote them have none): a run
            # that relied on a policy's default and one that spelled it out then have one config.
            self.config.update(flatten({"sampler": self.summary.get("sampler") or {}}))

    @property
    def finished(self):
        return self.summary is not None

    def get(self, key):
        return self.config.get(key)


def argument_parser(prog, description, rows_help, cols_help):
    """The arguments scripts/tables and scripts/plot share: run folders and the row/column keys."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories or folders holding them")
    parser.add_argument("--rows", default="sampler.name", help=f"comma-separated config keys of the {rows_help}")
    parser.add_argument("--cols", default="data.name", help=f"comma-separated config keys of the {cols_help}")
    return parser


def find_runs(paths):
    """Every run directory under the given folders (or the folders themselves), sorted by path."""
    found = []
    for root in paths:
        if not os.path.isdir(root):
            raise SystemExit(f"error: '{root}' is not a folder")
        for folder, subfolders, files in os.walk(root):
            if "config.resolved.yaml" in files:
                found.append(Run(folder))
                subfolders[:] = []  # a run directory holds no other runs
    return sorted(found, key=lambda run: run.path)


def ignored(key):
    return key in IGNORED or key.startswith(IGNORED_PREFIXES)


def format_value(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return "null" if value is None else str(value)


def label(keys, values):
    """A row or column label: the first key's value, then key=value (last key component) for the rest."""
    rest = [f"{k.split('.')[-1]}={format_value(v)}" for k, v in zip(keys[1:], values[1:])]
    return ", ".join([format_value(values[0])] + rest)


def group(runs, rows, cols):
    """Groups runs into cells {(row_values, col_values): [runs]}, returning (cells, row_keys, col_keys).
    row_keys is `rows` plus every other key that varies among runs sharing a cell's row and column
    values (seed and the IGNORED keys aside)."""
    base = {}
    for run in runs:
        base.setdefault((tuple(run.get(k) for k in rows), tuple(run.get(k) for k in cols)), []).append(run)
    extra = []
    for members in base.values():
        keys = sorted({k for r in members for k in r.config} - set(rows) - set(cols))
        for key in keys:
            if not ignored(key) and key not in extra and len({members[0].get(key)} | {r.get(key) for r in members}) > 1:
                extra.append(key)
    row_keys = list(rows) + extra
    cells = {}
    for run in runs:
        cells.setdefault((tuple(run.get(k) for k in row_keys), tuple(run.get(k) for k in cols)), []).append(run)
    return cells, row_keys, list(cols)


def mean_std(values):
    """Mean and sample standard deviation (None for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


# The problem a run solves (data, labels and their noise, model, training length): a method is
# compared with the baseline only on the same problem. Optimizer and schedule settings may differ
# (the papers tune the learning rate per method).
PROBLEM_PREFIXES = ("data.", "model.", "train.")


def problem(run):
    return tuple(sorted((k, v) for k, v in run.config.items() if k.startswith(PROBLEM_PREFIXES) and not ignored(k)))


# How long a run trains: the keys in which the rungs of a uniform ladder differ.
LENGTH_KEYS = ("train.epochs",)
LENGTH_PREFIXES = ("train.budget.",)


def problem_at_any_length(run):
    """The problem without its training length: what a method and the rungs of its ladder share."""
    return tuple((k, v) for k, v in problem(run) if k not in LENGTH_KEYS and not k.startswith(LENGTH_PREFIXES))


def check_distinct_seeds(cells):
    """Two runs of one cell with the same seed (a copy, a re-run elsewhere) would count twice."""
    for members in cells.values():
        seen = {}
        for run in members:
            if run.get("seed") in seen:
                raise SystemExit(f"error: {seen[run.get('seed')]} and {run.path} are the same experiment with the same "
                                 "seed; keep one of them (or pass only one folder)")
            seen[run.get("seed")] = run.path
