"""scripts/report: one published paper table beside our runs, as Markdown and as one HTML page.

Reads esrun run directories (or folders holding them, such as a sweep's output folder) and one
published table (configs/paper/published/*.yaml, the format at the top of esrunpy/published.py),
puts every run in the cell whose `match` keys it has, and writes

    <out>.md      the report; its figures are PNG files in <out>-files/
    <out>.html    the same as one self-contained page (inline style, figures as data: URIs)

Per cell: the published value (± std); ours, the mean ± sample std over seeds of the finished runs
(n runs; no std for one) in the paper's units (summary.json's <when>_test_<metric> x scale, the
cell's, its row's or the table's); the difference ours − published; the training time saved
against our runs of the baseline row's cell in the same column (or, where that row has no cell
there as the paper prints its number once across columns, its cell with runs on the same problem),
when they solve the same problem (data.*, model.*, train.* equal; time = train_time_s +
extra_cost_s, as scripts/tables counts it), beside the paper's time saved; and a verdict:

    reproduced         |ours − published| <= the cell's tolerance
    exceeds            better than published by more than the tolerance
    not reproduced     worse than published by more than the tolerance
    different setting  our runs differ from the cell's config in a key that defines the experiment,
                       or in a --loose key (listed: ours, then the paper's), or a glob cell lacks
                       runs of some of its configs; the numbers are shown
    not run            no finished run matches the cell
    not runnable       esrun cannot run it (the table says why)
    not published      the paper prints no number there (the table's note says why)

Equal train time: when the runs hold a uniform ladder (uniform and reduced_epochs runs of a cell's
data and model at two or more training lengths; a uniform run with a train.budget is a rung only,
never a cell's run), a column "Δ at equal time (95% CI)" gives ours minus uniform's at our train
time, interpolated on the ladder and never extrapolated (esrunpy/equal_time.py), and the trade-off
figure draws the ladder as uniform's curve.

A cell's config is compared as esrun resolves it (`esrun print-config`: every key, the sampler's
policy defaults included; --esrun, default build/esrun), so a run that differs from the paper's config
in a key the config leaves to its default (InfoBatch's prune_ratio, ES's beta1 or annealing) is a
different setting. Not compared: the keys that never change what is trained (seed, threads, device,
logging, checkpoints, esrun score's settings, the ranks' backend and timeout, precision and other
execution settings) and paths. Without the esrun binary only the keys the cell's config file sets
are compared (a warning says so, as does the report). A finished run's sampler settings include the
policy's defaults, from summary.json; runs written before esrun recorded them have null sampler
settings, which are taken as unknown, not different, and named in the cell's details ("not recorded
by this run"), as are keys a run's config lacks (written by an older esrun). Such a run still goes
to a cell whose `match` names a sampler key it left null when the cell's config leaves that key to
the policy's default as well (InfoBatch Table 3's prune_ratio).
Runs of one cell that differ in another key are refused (never averaged), except that a cell whose
config is a glob (a published mean over several configs: AdaSelection's sampling rates) takes one
experiment per config and shows the mean over them. Figures: the metric against time saved (the
paper's cells hollow, ours filled) and our test metric per epoch (mean over seeds; the paper's
number dotted), one panel per column.

    scripts/report runs/sweeps/paper_table2 --table configs/paper/published/es_table2.yaml
    scripts/report runs/sweeps/paper_table5 --table configs/paper/published/es_table5.yaml --out reports/table5
    # a CPU-sized sweep (small_cnn for ResNet-18) placed in the paper's cells: never "reproduced"
    scripts/report runs/cpu/paper_table5 --table configs/paper/published/es_table5.yaml --loose model.name
"""
import argparse
import base64
import datetime
import html
import math
import os
import re
import sys

import matplotlib
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .common import REPO, default_esrun  # noqa: E402  (REPO: a cell's config is relative to it)
from .plot import curve, epoch_number  # noqa: E402
from .published import config_mismatches, config_paths, load_table, resolved_configs  # noqa: E402
from . import equal_time, reference_time  # noqa: E402
from .runs import (check_distinct_seeds, find_runs, flatten, format_value, ignored, mean_std, problem,  # noqa: E402
                   problem_at_any_length)

# Keys naming files or folders: where the data, weights or scores lie on this machine.
PATHS = ("data.root", "data.tokenizer.model", "model.torchscript.path", "sampler.scores", "score.out",
         "score.checkpoint")
# Keys that never change what a run trains, beyond runs.IGNORED: esrun score's settings (a scoring
# run's; the scores a run reads are sampler.scores), how the ranks of a multi-process run talk
# (distributed.sync_bn changes training and is compared) and how fast a run executes, as device and
# threads (precision too: docs/reproducing.md runs the configs' fp32 in bf16 on GPUs, as the papers'
# mixed precision).
EXECUTION = ("distributed.backend", "distributed.timeout_s", "distributed.check_sync", "precision",
             "channels_last", "cudnn_benchmark", "timing", "data.on_device", "data.loader.workers",
             "data.loader.prefetch")
EXECUTION_PREFIXES = ("score.",)
RESOLVED = ("resolved: every key of `{} print-config` of the cell's config, policy defaults included "
            "(keys that never change what is trained, and paths, aside)")
RAW = ("raw: only the keys a cell's config file sets, without esrun to resolve it (a run that differs in a key the "
       "config leaves to its default is not noticed)")
VERDICTS = ("reproduced", "exceeds", "not reproduced", "different setting", "not run", "not runnable",
            "not published")
COLOURS = {"reproduced": "#1a7f37", "exceeds": "#0969da", "not reproduced": "#cf222e",
           "different setting": "#bf8700", "not run": "#6e7781", "not runnable": "#8c959f",
           "not published": "#8c959f"}
HEAD = ("row", "column", "published", "ours", "n", "Δ", "time saved (ours)", "time saved (paper)", "verdict",
        "details")
# A number in exponent form (5e-4, 1.0e5), which PyYAML reads as a string.
EXPONENT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
NUMERIC = ("published", "ours", "n", "Δ", "time saved (ours)", "time saved (paper)")
EQUAL_TIME = "Δ at equal time (95% CI)"
MARKERS = "osD^vP*X<>"
NONE = "—"


class ReportError(Exception):
    pass


class Entry:
    """One cell of the paper's table and our runs of it (every number in the paper's units)."""

    def __init__(self, row, cell):
        self.row, self.cell = row, cell
        self.runs = []  # every run matching the cell, finished or not
        self.finished = []
        self.groups = []  # the finished runs by experiment: one, or one per config of a glob
        self.missing = []  # the configs of a glob without finished runs
        self.ours = None  # (mean, std or None)
        self.time = None  # mean train_time_s + extra_cost_s
        self.differences = []  # [(key, ours, the paper's)]
        self.unrecorded = {}  # {key the config sets: paths of our runs that did not record it (an older esrun's)}
        self.defaulted = set()  # the sampler keys of `match` its configs leave to the policy's default
        self.delta = self.saved = self.verdict = None
        self.ladder = []  # equal_time.Rung of uniform (and reduced_epochs) runs on the same problem at any length
        self.equal_time = None  # (Δ, 95% interval or None) against the ladder at our train time
        self.base_time = None  # the baseline entry's time, against which time saved is counted

    @property
    def name(self):
        return f"{self.row['id']} / {self.cell['column']}"


def plain(value):
    """A config value as YAML 1.2 reads it: PyYAML reads 5e-4 (as esrun writes it) as a string."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    return float(value) if isinstance(value, str) and EXPONENT.fullmatch(value) else value


def plain_config(config):
    return {k: plain(v) for k, v in config.items()}


def defines_experiment(key):
    return not ignored(key) and key not in PATHS and key not in EXECUTION and not key.startswith(EXECUTION_PREFIXES)


def experiment(config):
    """A flat config without the keys that do not define the experiment (where and how it ran, logging, paths)."""
    return {k: plain(v) for k, v in config.items() if defines_experiment(k)}


def shown(path):
    """A path as the user would type it: relative to the repository when inside it."""
    inside = os.path.relpath(os.path.abspath(path), REPO)
    return path if inside.startswith(os.pardir) else inside


class Configs:
    """The experiment-defining settings of the configs cells name, each config read once: resolved by
    `esrun print-config` (esrun: the binary), or as its file sets them (esrun None)."""

    def __init__(self, esrun=None):
        self.esrun, self.cache = esrun, {}

    def prefetch(self, paths):
        """Resolves the configs not yet read, all with one print-config (the binary starts once)."""
        paths = sorted(set(paths) - set(self.cache))
        if self.esrun and paths:
            self.cache.update(zip(paths, self.resolve(paths)))

    def resolve(self, paths):
        try:
            return [experiment(flat) for flat in resolved_configs(self.esrun, paths, cwd=REPO)]
        except (OSError, ValueError) as error:
            which = paths[0] if len(paths) == 1 else f"{len(paths)} configs"  # esrun's message names the file
            raise ReportError(f"cannot resolve {which} with {self.esrun}: {error}") from None

    def raw(self, path):
        with open(os.path.join(REPO, path)) as f:
            return experiment(flatten(yaml.safe_load(f) or {}))

    def settings(self, path):
        if path not in self.cache:
            self.cache[path] = self.resolve([path])[0] if self.esrun else self.raw(path)
        return self.cache[path]

    def describe(self):
        return RESOLVED.format(shown(self.esrun)) if self.esrun else RAW


def file_keys(path):
    """The keys a config file sets, flattened."""
    with open(os.path.join(REPO, path)) as f:
        return flatten(yaml.safe_load(f) or {})


def defaulted(cell):
    """The sampler keys of the cell's `match` that each of its config files leaves to the policy's default
    (`match` gives the value esrun resolves). A run that did not record such a key (null: runs before esrun
    wrote the policy's defaults) left it to the same policy's default, so it is not told apart by it."""
    files = [file_keys(path) for path in config_paths(cell, REPO)]
    return {k for k in cell["match"] if k.startswith("sampler.") and files and all(f.get(k) is None for f in files)}


def matches(config, entry, loose):
    wanted = {k: plain(v) for k, v in entry.cell["match"].items()
              if k not in loose and not (k in entry.defaulted and config.get(k) is None)}
    return not config_mismatches({"match": wanted}, config)


def rung_only(run):
    """A uniform run with a train.budget: a rung of an equal-time ladder, never a cell's run."""
    return run.get("sampler.name") == "uniform" and any(
        k.startswith("train.budget.") and v is not None for k, v in run.config.items())


def place(runs, entries, loose):
    """Puts each run in the entry whose match it has; returns the runs of no entry."""
    unmatched = []
    for entry in entries:
        entry.defaulted = defaulted(entry.cell) if entry.cell["match"] else set()
    for run in runs:
        if rung_only(run):
            unmatched.append(run)
            continue
        config = plain_config(run.config)
        hits = [e for e in entries if e.cell["match"] and matches(config, e, loose)]
        if len(hits) > 1:
            raise ReportError(f"run {run.path} matches several cells ({', '.join(e.name for e in hits)}); "
                              "their `match` keys must tell them apart (fewer --loose keys)")
        (hits[0].runs if hits else unmatched).append(run)
    return unmatched


def first_difference(a, b):
    """(key, a's value, b's value) of the first experiment-defining key where two runs differ, or None; a
    key one of them did not record (unrecorded()) is no difference."""
    a, b = experiment(a.config), experiment(b.config)
    found = config_mismatches({"match": a}, b) + [(k, x, y) for k, y, x in config_mismatches({"match": b}, a)]
    found = [(k, x, y) for k, x, y in found if not unrecorded(k, a) and not unrecorded(k, b)]
    return found[0] if found else None


def by_experiment(runs):
    """The runs grouped by experiment (seeds apart)."""
    groups = []
    for run in runs:
        group = next((g for g in groups if first_difference(g[0], run) is None), None)
        if group:
            group.append(run)
        else:
            groups.append([run])
    return groups


def cell_paths(table, entry):
    """The config files the cell names (a path or a glob); [None] for a cell without one."""
    if not entry.cell["config"]:
        return [None]
    paths = config_paths(entry.cell, REPO)
    if not paths:
        raise ReportError(f"{table['path']}: cell {entry.name}: config {entry.cell['config']} names no file")
    return paths


def config_settings(table, entry, configs):
    """[(path, its experiment-defining keys)] for each config the cell names: resolved by esrun, or
    the keys the file sets (configs: Configs); [(None, {})] for a cell without one."""
    return [(path, configs.settings(path) if path else {}) for path in cell_paths(table, entry)]


def unrecorded(key, config):
    """Whether a run's config does not say what it ran with: a null sampler key (runs before esrun wrote the
    policy's defaults into config.resolved.yaml and summary.json) or a key an older esrun did not have."""
    return key not in config or (key.startswith("sampler.") and config[key] is None)


def compare(wanted, group):
    """([(key, wanted, a run's)] where runs of the group differ, {key: the runs that did not record it})."""
    differ, unknown = [], {}
    for run in group:
        config = plain_config(run.config)
        for key, expected, got in config_mismatches({"match": wanted}, config):
            if unrecorded(key, config):
                unknown.setdefault(key, []).append(run)
            elif key not in {k for k, _, _ in differ}:
                differ.append((key, expected, got))
    return differ, unknown


def assign(table, entry, loose, configs):
    """Maps each experiment of the entry to the config it differs least from, one experiment a config
    (two on one config are different experiments, never averaged); fills groups, differences, unrecorded
    and missing."""
    settings, placed = config_settings(table, entry, configs), {}
    loosened = {k: plain(v) for k, v in entry.cell["match"].items() if k in loose}
    for group in by_experiment(entry.finished):
        check_distinct_seeds({entry.name: group})
        path, (differ, unknown) = min(((path, compare({**wanted, **loosened}, group)) for path, wanted in settings),
                                      key=lambda found: len(found[1][0]))
        if path in placed:
            other = placed[path][0]
            key, a, b = first_difference(other, group[0])
            raise ReportError(f"the runs of cell {entry.name} differ in {key} ({format_value(a)} in {other.path}, "
                              f"{format_value(b)} in {group[0].path}): they are different experiments; give the "
                              "cell's `match` that key, or pass one sweep's folder")
        placed[path] = group
        entry.groups.append(group)
        known = {key for key, _, _ in entry.differences}
        entry.differences += [(key, got, expected) for key, expected, got in differ if key not in known]
        for key, runs in unknown.items():
            entry.unrecorded.setdefault(key, set()).update(run.path for run in runs)
    entry.missing = [path for path, _ in settings if path not in placed]


def averaged(groups, value):
    """The mean over experiments of value(run), with the sample std over seeds of each seed's mean over
    the experiments (for one experiment, over its seeds) when every experiment has the same seeds."""
    by_seed = [{run.get("seed"): value(run) for run in group} for group in groups]
    if all(set(seeds) == set(by_seed[0]) for seeds in by_seed):
        return mean_std([sum(seeds[s] for seeds in by_seed) / len(by_seed) for s in by_seed[0]])
    return sum(sum(seeds.values()) / len(seeds) for seeds in by_seed) / len(by_seed), None


def cost(run, costs=None):
    """Train time plus extra cost: wall clock, or with `costs` (reference_time.Calibrations) the run's work
    costed on that calibration."""
    if costs is None:
        seconds = run.summary["train_time_s"]
    else:
        try:
            seconds = costs.seconds(run)
        except reference_time.CalibrationError as e:
            raise ReportError(f"{run.path}: {e}")
        if seconds is None:
            raise ReportError(f"{os.path.join(run.path, 'summary.json')} has no \"work\" (written by an esrun before "
                              "it counted steps and forwards); use --time wall")
    return seconds + (run.summary.get("extra_cost_s") or 0.0)


def measure(entry, costs=None):
    cell = entry.cell
    key = f"{cell['when']}_test_{cell['metric']}"
    for run in entry.finished:
        if run.summary.get(key) is None:
            raise ReportError(f"{os.path.join(run.path, 'summary.json')} has no {key}, the metric of cell "
                              f"{entry.name}")
    entry.ours = averaged(entry.groups, lambda run: cell["scale"] * run.summary[key])
    entry.time = averaged(entry.groups, lambda run: cost(run, costs))[0]
    if cell["value"] is not None:
        entry.delta = entry.ours[0] - cell["value"]


def problems(entry):
    return {problem(run) for run in entry.finished}


def ladder(entry, runs, costs=None):
    """The entry's uniform ladder: every finished uniform or reduced_epochs run (placed in a cell or
    not) on the entry's problem at any training length, one rung per experiment (length, prune
    ratio, optimizer, ...), in the cell's metric and units."""
    cell = entry.cell
    key = f"{cell['when']}_test_{cell['metric']}"
    shared = {problem_at_any_length(run) for run in entry.finished}
    if len(shared) != 1:
        return []
    candidates = [run for run in runs
                  if run.finished and run.get("sampler.name") in ("uniform", "reduced_epochs") and
                  run.summary.get(key) is not None and problem_at_any_length(run) in shared]
    rungs = {}  # one rung per experiment: its training length, optimizer, schedule, ... (seeds together)
    for run in candidates:
        rungs.setdefault(tuple(sorted(experiment(run.config).items())), []).append(run)
    out = []
    for members in rungs.values():
        value = mean_std([cell["scale"] * run.summary[key] for run in members])
        out.append(equal_time.Rung(sum(cost(run, costs) for run in members) / len(members), value[0], value[1], len(members),
                                   members, by_seed(entry, members)))
    return out


def by_seed(entry, runs):
    """{seed: the cell's value} of runs of one experiment, for paired intervals."""
    cell = entry.cell
    return {run.get("seed"): cell["scale"] * run.summary[f"{cell['when']}_test_{cell['metric']}"] for run in runs}


def at_equal_time(entry):
    """(Δ, interval) against the ladder at our train time; a rung's own runs are Δ 0."""
    if entry.ours is None or not equal_time.is_ladder(entry.ladder):
        return None
    if any(set(map(id, rung.source)) & set(map(id, entry.finished)) for rung in entry.ladder):
        return 0.0, (0.0, 0.0)  # our runs are a rung: the ladder at our time is ourselves
    n = sum(len(group) for group in entry.groups) // max(1, len(entry.groups))
    # Paired over seeds only for one experiment: a glob cell's value is a mean over several.
    ours = by_seed(entry, entry.groups[0]) if len(entry.groups) == 1 else None
    return equal_time.delta_at_equal_time(entry.ours[0], entry.ours[1], n, entry.time, entry.ladder, ours)


def baseline(entry, bases):
    """The baseline row's entry of the same column (else of any column: a number the paper prints
    once across columns) whose runs solve the same problem as the entry's (as scripts/tables)."""
    same_column = [b for b in bases if b.cell["column"] == entry.cell["column"]]
    found = [b for b in same_column or bases if b.finished and len(problems(b)) == 1 and problems(b) == problems(entry)]
    return found[0] if len(found) == 1 else None


def time_saved(entry, base):
    """Percent saved against the baseline's time."""
    if entry.time is None or base is None or base.time <= 0:
        return None
    return 100.0 * (1.0 - entry.time / base.time)


def judge(entry):
    cell = entry.cell
    if not cell["runnable"]:
        return "not runnable"
    if cell["value"] is None:
        return "not published"
    if not entry.finished:
        return "not run"
    if entry.differences or entry.missing:
        return "different setting"
    if abs(entry.delta) <= cell["tolerance"] + 1e-9:
        return "reproduced"
    better = entry.delta > 0 if cell["higher_is_better"] else entry.delta < 0
    return "exceeds" if better else "not reproduced"


def build(runs, table, loose=(), esrun=None, costs=None):
    """Returns (entries in the table's order, the runs of no cell). esrun: the binary whose print-config
    resolves the cells' configs; None compares only the keys the config files set. costs: a
    reference_time.Costs to count reference time instead of the wall clock."""
    entries = [Entry(row, cell) for row in table["rows"] for cell in row["cells"]]
    unmatched = place(runs, entries, set(loose))
    configs = Configs(esrun)
    for entry in entries:
        entry.finished = [run for run in entry.runs if run.finished]
    configs.prefetch(path for entry in entries if entry.finished for path in cell_paths(table, entry) if path)
    for entry in entries:
        if entry.finished:
            assign(table, entry, set(loose), configs)
            measure(entry, costs)
    bases = [e for e in entries if e.row["id"] == table["baseline"]]
    for entry in entries:
        base = baseline(entry, bases)
        entry.saved = time_saved(entry, base)
        entry.base_time = base.time if base else None
        entry.verdict = judge(entry)
        if entry.finished:
            entry.ladder = ladder(entry, runs, costs)
            entry.equal_time = at_equal_time(entry)
    return entries, unmatched


def timed(entries):
    """Whether some cell has a ladder of two or more lengths: then the report has the equal-time column."""
    return any(equal_time.is_ladder(e.ladder) for e in entries)


def equal_time_text(entry):
    if not entry.finished or not equal_time.is_ladder(entry.ladder):
        return NONE
    if entry.equal_time is None:
        return "outside ladder"
    delta, interval = entry.equal_time
    return f"{delta:+.2f}" + ("" if interval is None else f" [{interval[0]:+.2f}, {interval[1]:+.2f}]")


def number(value, std=None, form="{:.2f}"):
    if value is None:
        return NONE
    return form.format(value) + ("" if std is None else " ± " + form.format(std))


def remarks(entry):
    """The table's own words on a cell (why it cannot run, its note): footnotes of the report."""
    reason = entry.cell["reason"] if entry.verdict == "not runnable" else None
    return [text for text in (reason, entry.cell["note"]) if text]


def footnotes(entries):
    """{text: number}, numbered in the order the cells cite them."""
    return {text: i for i, text in enumerate(dict.fromkeys(t for e in entries for t in remarks(e)), 1)}


def details(entry, cited):
    cell, parts = entry.cell, []
    if entry.verdict == "not runnable":
        parts.append(f"[{cited[cell['reason']]}]")
    if entry.verdict == "not run" and cell["config"]:
        parts.append(f"config {cell['config']}")
    if entry.differences:
        parts.append(", ".join(f"{key} {format_value(ours)} ({'paper ' if i == 0 else ''}{format_value(paper)})"
                               for i, (key, ours, paper) in enumerate(entry.differences)))
    if entry.unrecorded:
        keys = list(entry.unrecorded)
        keys = keys if len(keys) <= 8 else keys[:6] + [f"{len(keys) - 6} more keys"]
        lacking, total = len(set.union(*entry.unrecorded.values())), len(entry.finished)
        runs = "this run" if total == 1 else "these runs" if lacking == total else f"{lacking} of the {total} runs"
        parts.append(f"{', '.join(keys)}: not recorded by {runs}")
    if entry.missing:
        parts.append(f"no runs of {', '.join(os.path.basename(path) for path in entry.missing)}")
    if len(entry.groups) > 1:
        parts.append(f"ours: the mean over {len(entry.groups)} configs")
    unfinished = len(entry.runs) - len(entry.finished)
    if unfinished:
        parts.append(f"{unfinished} unfinished run(s) left out")
    if cell["note"]:
        parts.append(f"[{cited[cell['note']]}]")
    return "; ".join(parts)


def mixed(entries):
    """Whether the cells report different metrics (then a metric column names each one's)."""
    return len({metric_label(e.cell) for e in entries}) > 1


def head(entries):
    names = HEAD[:2] + (("metric",) if mixed(entries) else ()) + HEAD[2:]
    if timed(entries):
        at = names.index("time saved (paper)") + 1
        names = names[:at] + (EQUAL_TIME,) + names[at:]
    return names


def line(entry, with_metric, cited, with_equal_time=False):
    """The entry's fields, as head() names them; cited: footnotes()."""
    cell = entry.cell
    return [entry.row["label"], cell["column"]] + ([metric_label(cell)] if with_metric else []) + [
        number(cell["value"], cell["std"]), number(*entry.ours) if entry.ours else NONE, str(len(entry.finished)),
        number(entry.delta, form="{:+.2f}"), number(entry.saved, form="{:.1f}%"),
        number(cell["time_saved"], form="{:.1f}%")] + ([equal_time_text(entry)] if with_equal_time else []) + [
        entry.verdict, details(entry, cited)]


def panels(count):
    """A figure with `count` panels, at most three a line."""
    across = min(3, count)
    down = math.ceil(count / across)
    figure, axes = plt.subplots(down, across, figsize=(5.2 * across, 4.2 * down), squeeze=False)
    axes = list(axes.flat)
    for spare in axes[count:]:
        spare.set_visible(False)
    return figure, axes[:count]


def styles(entries):
    """{row id: (colour, marker)} in the table's row order."""
    ids = list(dict.fromkeys(e.row["id"] for e in entries))
    palette = plt.get_cmap("tab10")
    return {row: (palette(i % 10), MARKERS[i % len(MARKERS)]) for i, row in enumerate(ids)}


def by_column(entries):
    columns = {}
    for entry in entries:
        columns.setdefault(entry.cell["column"], []).append(entry)
    return columns


def paper_point(table, entry):
    """(time saved, value) of the paper's cell; the baseline row saves nothing by definition."""
    saved = entry.cell["time_saved"]
    if saved is None and entry.row["id"] == table["baseline"]:
        saved = 0.0
    return None if saved is None or entry.cell["value"] is None else (saved, entry.cell["value"])


def tradeoff_figure(table, entries, path):
    """The metric against time saved; False (nothing written) when no cell has both."""
    columns, style = by_column(entries), styles(entries)
    if not any(paper_point(table, e) or (e.ours and e.saved is not None) for e in entries):
        return False
    figure, axes = panels(len(columns))
    for panel, (column, members) in zip(axes, columns.items()):
        for entry in members:
            colour, marker = style[entry.row["id"]]
            point = paper_point(table, entry)
            if point:
                panel.scatter(*point, s=110, marker=marker, facecolors="none", edgecolors=[colour], linewidths=1.5,
                              zorder=3)  # around our point where they coincide
            if entry.ours and entry.saved is not None:
                panel.errorbar(entry.saved, entry.ours[0], yerr=entry.ours[1], fmt=marker, color=colour, markersize=7,
                               capsize=3)
            if point or (entry.ours and entry.saved is not None):
                panel.plot([], [], marker, color=colour, label=entry.row["label"])
        # Uniform's curve: its ladder of training lengths, as time saved against the full run.
        laddered = next((e for e in members if equal_time.is_ladder(e.ladder) and e.base_time), None)
        if laddered:
            rungs = sorted(laddered.ladder, key=lambda r: r.time)
            panel.plot([100.0 * (1.0 - r.time / laddered.base_time) for r in rungs], [r.mean for r in rungs], "--",
                       color="0.45", label="uniform ladder", zorder=1)
        label_panel(panel, column, "time saved (%)", metric_label(members[0].cell))
    save_figure(figure, "hollow: published, filled: ours (± std over seeds)", path)
    return True


def curves_figure(table, entries, path):
    """Our test metric per epoch, mean over seeds with ± std; False (nothing written) without any."""
    columns, style = by_column(entries), styles(entries)
    drawn = {id(e): curve(e.finished, epoch_number, per_epoch(e.cell)) for e in entries if e.finished}
    if not any(xs for xs, _, _ in drawn.values()):
        return False
    figure, axes = panels(len(columns))
    for panel, (column, members) in zip(axes, columns.items()):
        for entry in members:
            xs, ys, spread = drawn.get(id(entry), ([], [], []))
            if not xs:
                continue
            colour = style[entry.row["id"]][0]
            panel.plot(xs, ys, marker="o", markersize=3, color=colour,
                       label=f"{entry.row['label']} (n={len(entry.finished)})")
            if all(s is not None for s in spread):
                panel.fill_between(xs, [y - s for y, s in zip(ys, spread)], [y + s for y, s in zip(ys, spread)],
                                   color=colour, alpha=0.2)
            if entry.cell["value"] is not None:
                panel.axhline(entry.cell["value"], color=colour, linestyle=":", linewidth=1)
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        label_panel(panel, column, "epoch", metric_label(members[0].cell, per_epoch=True))
    save_figure(figure, "ours per epoch (mean ± std over seeds); dotted: published", path)
    return True


def label_panel(panel, title, xlabel, ylabel):
    panel.set_title(title)
    panel.set_xlabel(xlabel)
    panel.set_ylabel(ylabel)
    panel.grid(alpha=0.3)
    if panel.get_legend_handles_labels()[0]:
        panel.legend(fontsize=8)


def save_figure(figure, title, path):
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def per_epoch(cell):
    """The cell's test metric in a metrics.jsonl record, in the paper's units (None where not evaluated)."""
    key = f"test_{cell['metric']}"
    return lambda metrics, i: None if metrics[i].get(key) is None else cell["scale"] * metrics[i][key]


FIGURES = [("tradeoff.png", "metric against time saved", tradeoff_figure),
           ("curves.png", "learning curves", curves_figure)]


def figures(table, entries, folder):
    """[(caption, PNG path or None when there was nothing to draw)]."""
    os.makedirs(folder, exist_ok=True)
    out = []
    for name, caption, draw in FIGURES:
        path = os.path.join(folder, name)
        if draw(table, entries, path):
            out.append((caption, path))
        else:
            out.append((caption, None))
            if os.path.exists(path):
                os.remove(path)  # an earlier report's
    return out


def metric_label(cell, per_epoch=False):
    scale = "" if cell["scale"] == 1 else f" x {format_value(cell['scale'])}"
    return f"{'' if per_epoch else cell['when'] + ' '}test {cell['metric']}{scale}"


def describe(cell):
    better = "higher" if cell["higher_is_better"] else "lower"
    return (f"{metric_label(cell)}, {better} is better, reproduced when |ours − published| ≤ "
            f"{format_value(cell['tolerance'])}")


def verdict_counts(entries):
    return ", ".join(f"{sum(e.verdict == v for e in entries)} {v}" for v in VERDICTS
                     if any(e.verdict == v for e in entries))


def header(table, entries, folders, runs, esrun=None):
    """[(name, text)] for the top of the report."""
    settings = "; ".join(f"{k}: {format_value(v)}" for k, v in flatten(table["settings"]).items())
    finished = sum(run.finished for run in runs)
    kinds = {}
    for entry in entries:
        kinds.setdefault(describe(entry.cell), []).append(entry.cell["column"])
    metric = "; ".join(kind if len(kinds) == 1 else f"{kind} ({', '.join(dict.fromkeys(columns))})"
                       for kind, columns in kinds.items())
    baseline = next((row["label"] for row in table["rows"] if row["id"] == table["baseline"]), None)
    return [("paper", f"{table['title']}. {table['citation']}"),
            ("table", f"{table['table']}: {table['caption']}"),
            ("paper settings", settings or NONE),
            ("metric", metric),
            ("time saved", f"against our runs of {baseline}" if baseline else "no baseline row"),
            ("configs compared", Configs(esrun).describe()),
            ("runs", f"{', '.join(folders)} ({len(runs)} runs, {finished} finished)"),
            ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
            ("verdicts", verdict_counts(entries))]


def notes(table, loose, entries=()):
    out = [table["notes"]] + [f"{row['label']}: {row['note']}" for row in table["rows"] if row["note"]]
    out.append("Configs compared: a sampler setting a run left null (runs before esrun recorded the policy's "
               "defaults) or a key its config lacks (an older esrun) is unknown, not a difference, and named in the "
               "details (not recorded). Such a run is placed in a cell whose `match` names that sampler key only "
               "when the cell's config leaves it to the policy's default too.")
    out.append("Ours: mean ± sample std over seeds of the finished runs (n runs; no std for one), in the paper's "
               "units (summary.json's metric times the scale, as the metric line says). Where the paper's number "
               "is a mean over several configs (a glob), ours is the mean over those configs' runs, its std over "
               "seeds of each seed's mean. Time saved (ours): 1 − (train time + extra cost) / the baseline row's, "
               "our runs of the same column (or, where the baseline row has no cell in that column, of its cell "
               "with such runs) on the same data, model and training length; — without such runs.")
    if loose:
        out.append(f"Matched ignoring {', '.join(sorted(loose))} (--loose): such cells are a different setting.")
    if timed(entries):
        out.append("Δ at equal time: ours minus uniform's at our train time (train time + extra cost; the wall clock "
                   "unless a note says reference time), "
                   "interpolated linearly on the ladder of uniform and reduced_epochs runs of the same data and model "
                   "at other training lengths (uniform runs with a train.budget are rungs only, in no cell), never "
                   "extrapolated (outside ladder otherwise); 95% CI over seeds: the paired t interval of per-seed "
                   "differences where both sides ran the same seeds, else Welch's t interval. The trade-off "
                   "figure draws the ladder as uniform's curve.")
    return out


def markdown_cell(text):
    return " ".join(text.split()).replace("|", "\\|")


def markdown(title, meta, entries, drawn, note_lines, unmatched, files):
    """files: the figures' folder relative to the Markdown file."""
    names, cited = head(entries), footnotes(entries)
    out = [f"# {title}", ""]
    out += [f"- **{name}:** {text}" for name, text in meta] + ["", "## Cells", ""]
    out += ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    out += ["| " + " | ".join(markdown_cell(v) for v in line(e, mixed(entries), cited, timed(entries))) + " |"
            for e in entries]
    out += ([""] if cited else []) + [f"[{number}] {' '.join(text.split())}  " for text, number in cited.items()]
    out += ["", "## Figures", ""]
    for caption, path in drawn:
        out += [f"![{caption}]({files}/{os.path.basename(path)})" if path else f"No {caption}: no data.", ""]
    out += ["## Notes", ""] + [f"- {text}" for text in note_lines]
    if unmatched:
        out += ["", "## Not in this table", ""] + [f"- {run.path}" + ("" if run.finished else " (unfinished)")
                                                   for run in unmatched]
    return "\n".join(out) + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; } dt { font-weight: 600; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #d0d7de; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; white-space: nowrap; } td.column { white-space: nowrap; }
td.verdict { color: #fff; font-weight: 600; white-space: nowrap; }
img { max-width: 100%; border: 1px solid #d0d7de; } figcaption { color: #57606a; }
p.footnote { font-size: .85em; color: #57606a; margin: .3em 0; }
""" + "".join(f'td.verdict[data-verdict="{v}"] {{ background: {c}; }}\n' for v, c in COLOURS.items())


def html_cell(name, text, entry):
    e = html.escape
    if name == "verdict":
        return (f'<td class="verdict" data-row="{e(entry.row["id"])}" data-column="{e(entry.cell["column"])}" '
                f'data-verdict="{e(entry.verdict)}">{e(text)}</td>')
    if name == EQUAL_TIME:
        return (f'<td class="num" data-row="{e(entry.row["id"])}" data-column="{e(entry.cell["column"])}" '
                f'data-equal-time="{e(text)}">{e(text)}</td>')
    kind = "num" if name in NUMERIC else "column" if name == "column" else ""
    return f'<td class="{kind}">{e(text)}</td>' if kind else f"<td>{e(text)}</td>"


def html_page(title, meta, entries, drawn, note_lines, unmatched):
    e = html.escape
    names, cited = head(entries), footnotes(entries)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           f"<style>{STYLE}</style></head><body>", f"<h1>{e(title)}</h1>", "<dl>"]
    out += [f"<dt>{e(name)}</dt><dd>{e(text)}</dd>" for name, text in meta]
    out += ["</dl>", "<h2>Cells</h2>", "<table><thead><tr>" + "".join(f"<th>{e(n)}</th>" for n in names) +
            "</tr></thead><tbody>"]
    for entry in entries:
        values = line(entry, mixed(entries), cited, timed(entries))
        out.append("<tr>" + "".join(html_cell(n, v, entry) for n, v in zip(names, values)) + "</tr>")
    out += ["</tbody></table>"] + [f'<p class="footnote">[{number}] {e(text)}</p>' for text, number in cited.items()]
    out += ["<h2>Figures</h2>"]
    for caption, path in drawn:
        if path:
            with open(path, "rb") as f:
                data = base64.b64encode(f.read()).decode()
            out.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{e(caption)}</figcaption></figure>")
        else:
            out.append(f"<p>No {e(caption)}: no data.</p>")
    out += ["<h2>Notes</h2>", "<ul>"] + [f"<li>{e(text)}</li>" for text in note_lines] + ["</ul>"]
    if unmatched:
        out += ["<h2>Not in this table</h2>", "<ul>"]
        out += [f"<li>{e(run.path)}{'' if run.finished else ' (unfinished)'}</li>" for run in unmatched] + ["</ul>"]
    return "\n".join(out + ["</body></html>"]) + "\n"


def write_report(runs, table, folders, out, title=None, loose=(), esrun=None, costs=None):
    """Writes <out>.md, <out>.html and <out>-files/; returns the entries. esrun, costs: as build()."""
    entries, unmatched = build(runs, table, loose, esrun, costs)
    title = title or f"{table['table']} of {table['title']}: published and ours"
    drawn = figures(table, entries, out + "-files")
    meta, note_lines = header(table, entries, folders, runs, esrun), notes(table, loose, entries)
    if costs:
        note_lines.append(f"Train time: reference time, each run's training steps and forwards costed with "
                          f"{costs.path} (esrun bench on a quiet machine), not the wall clock.")
    with open(out + ".md", "w") as f:
        f.write(markdown(title, meta, entries, drawn, note_lines, unmatched, os.path.basename(out) + "-files"))
    with open(out + ".html", "w") as f:
        f.write(html_page(title, meta, entries, drawn, note_lines, unmatched))
    return entries


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories or folders holding them")
    parser.add_argument("--table", required=True, help="a published table (configs/paper/published/*.yaml)")
    parser.add_argument("--out", default="report", help="writes OUT.md, OUT.html and OUT-files/ (default report)")
    parser.add_argument("--title", help="the report's title (default: the table and the paper's title)")
    parser.add_argument("--loose", default="", help="comma-separated match keys to ignore when placing runs "
                                                    "(e.g. model.name for a CPU-sized sweep); such cells read "
                                                    "'different setting'")
    parser.add_argument("--esrun", default=default_esrun(),
                        help="the esrun binary that resolves the cells' configs (default build/esrun); without it "
                             "only the keys a config file sets are compared")
    parser.add_argument("--costs", nargs="+", metavar="BENCH_JSON",
                        help="count train time as reference time: each run's training steps and forwards costed with "
                             "the JSON of `esrun bench` for its model and data (measured on a quiet machine; a sweep "
                             "with `calibrate: true` writes them to <sweep>/costs/*.json), the same for a run repeated "
                             "on a busy machine; default: the wall clock")
    args = parser.parse_args(argv)
    try:
        table = load_table(args.table)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    runs = []
    for folder in args.runs:
        found = find_runs([folder]) if os.path.isdir(folder) else []
        if not found:
            print(f"error: no run directories (config.resolved.yaml) under {folder}", file=sys.stderr)
            return 2
        runs += [run for run in found if run.path not in {r.path for r in runs}]
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    esrun = os.path.abspath(args.esrun) if os.path.isfile(args.esrun) and os.access(args.esrun, os.X_OK) else None
    if esrun is None:
        print(f"warning: without esrun ({shown(args.esrun)}), only the keys a cell's config sets are compared",
              file=sys.stderr)
    try:
        costs = reference_time.Calibrations(args.costs) if args.costs else None
        entries = write_report(sorted(runs, key=lambda r: r.path), table, args.runs, args.out, args.title,
                               [k for k in args.loose.split(",") if k], esrun, costs)
    except (ReportError, reference_time.CalibrationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}.md, {args.out}.html and {args.out}-files/ ({verdict_counts(entries)})")
    return 0
