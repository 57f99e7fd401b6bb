"""The papers' published numbers: configs/paper/published/*.yaml, one file per paper table.

Each file transcribes one table of a source paper (the ES paper, InfoBatch, Omission, AdaSelection)
and maps every published cell to the esrun config that reproduces it, or says why esrun cannot run
it. The format (top-level keys, then rows of cells):

    paper: es                 # es | infobatch | omission | adaselection
    title: "..."              # the paper's full title
    citation: "..."           # authors, venue or arXiv id, year
    table: "Table 2"          # as the paper names it
    caption: "..."
    metric: acc               # the summary.json metric: final_test_<metric> / best_test_<metric>
    scale: 100                # published number = esrun's value x scale
    when: final               # final | best
    higher_is_better: true
    tolerance: 0.5            # in the paper's units: |ours - published| <= tolerance reproduces it
    baseline: uniform         # a row id ("time saved" is measured against it), or null
    settings: {...}           # the paper's training settings, free-form
    notes: "..."
    rows:
      - id: es                # unique in the file
        label: "ES"           # as printed
        note: "..."           # optional
        cells:
          - column: "CIFAR-10"        # unique in the row
            value: 95.33              # a number, or null with a `note`
            std: 0.05                 # default null
            time_saved: 33.9          # percent, default null
            config: configs/paper/table2/cifar10_r18_es.yaml   # from the repository root
            match: {sampler.name: es, data.name: cifar10}      # dotted config keys -> resolved values
            runnable: true            # default true
            reason: null              # required (a non-empty string) when runnable is false
            note: null                # optional

Tables whose columns report different metrics (the ES paper's GLUE table: MCC for CoLA, Pearson for
STS-B; AdaSelection's accuracies and regression losses) may give `metric`, `scale`, `when`,
`higher_is_better` and `tolerance` on a row or a cell as well; load_table resolves them onto every
cell (cell, else row, else table), so a reader can always use cell["metric"], cell["scale"],
cell["when"], cell["higher_is_better"] and cell["tolerance"]. A cell's `config` is a path or a glob
when the published number is a mean over several configs (AdaSelection's mean over sampling rates);
config_paths(cell) expands it, and `match` then leaves out the keys that differ among them. A
non-runnable cell may still name a config and match (the config that would reproduce it).

load_table(path) checks one file and fills the defaults; load_all(folder) loads every *.yaml of a
folder; config_mismatches(cell, resolved_flat) compares a cell's `match` with a flattened resolved
config (runs.flatten of `esrun print-config` output, or of a run's config.resolved.yaml).
"""
import glob
import math
import os
import subprocess

import yaml

from .runs import flatten

PAPERS = ("es", "infobatch", "omission", "adaselection")
METRICS = ("acc", "acc5", "rmse", "mae", "mse", "r2", "mcc", "f1", "pearson", "spearman", "loss", "perplexity")
WHEN = ("final", "best")

TOP_KEYS = ("paper", "title", "citation", "table", "caption", "metric", "scale", "when", "higher_is_better",
            "tolerance", "baseline", "settings", "notes", "rows")
# Per-row / per-cell overrides of the table's metric settings (resolved onto every cell by load_table).
OVERRIDES = ("metric", "scale", "when", "higher_is_better", "tolerance")
ROW_KEYS = ("id", "label", "cells", "note") + OVERRIDES
CELL_KEYS = ("column", "value", "std", "time_saved", "config", "match", "runnable", "reason", "note") + OVERRIDES
CELL_DEFAULTS = {"std": None, "time_saved": None, "config": None, "match": None, "runnable": True, "reason": None,
                 "note": None}

_MISSING = object()


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _where(path, row=None, column=None):
    text = str(path)
    if row is not None:
        text += f": row '{row}'"
    if column is not None:
        text += f", column '{column}'"
    return text


def _fail(path, message, row=None, column=None):
    raise ValueError(f"{_where(path, row, column)}: {message}")


def _check_metric_settings(settings, fail):
    """Checks whichever of metric, scale, when, higher_is_better, tolerance `settings` holds."""
    if "metric" in settings and settings["metric"] not in METRICS:
        fail(f"`metric` must be one of {', '.join(METRICS)}, not {settings['metric']!r}")
    if "scale" in settings and (not _is_number(settings["scale"]) or settings["scale"] <= 0):
        fail(f"`scale` must be a positive number, not {settings['scale']!r}")
    if "when" in settings and settings["when"] not in WHEN:
        fail(f"`when` must be final or best, not {settings['when']!r}")
    if "higher_is_better" in settings and not isinstance(settings["higher_is_better"], bool):
        fail("`higher_is_better` must be true or false")
    if "tolerance" in settings and (not _is_number(settings["tolerance"]) or settings["tolerance"] < 0):
        fail(f"`tolerance` must be a non-negative number, not {settings['tolerance']!r}")


def _check_cell(path, row_id, index, cell):
    if not isinstance(cell, dict):
        _fail(path, f"cell {index} is not a mapping", row_id)
    column = cell.get("column")
    if not isinstance(column, str) or not column:
        _fail(path, f"cell {index} needs `column` (a non-empty string)", row_id)
    fail = lambda message: _fail(path, message, row_id, column)  # noqa: E731
    unknown = sorted(set(cell) - set(CELL_KEYS))
    if unknown:
        fail(f"unknown key(s) {', '.join(unknown)} (a cell has {', '.join(CELL_KEYS)})")
    if "value" not in cell:
        fail("missing key `value` (a number, or null with a `note`)")
    _check_metric_settings(cell, fail)
    out = dict(CELL_DEFAULTS)
    out.update(cell)
    if out["value"] is None:
        if not isinstance(out["note"], str) or not out["note"].strip():
            fail("`value: null` needs a `note` saying why the cell is empty")
    elif not _is_number(out["value"]):
        fail(f"`value` must be a number or null, not {out['value']!r}")
    for key in ("std", "time_saved"):
        if out[key] is not None and not _is_number(out[key]):
            fail(f"`{key}` must be a number or null, not {out[key]!r}")
    if out["note"] is not None and not isinstance(out["note"], str):
        fail("`note` must be a string")
    if not isinstance(out["runnable"], bool):
        fail(f"`runnable` must be true or false, not {out['runnable']!r}")
    if out["reason"] is not None and (not isinstance(out["reason"], str) or not out["reason"].strip()):
        fail("`reason` must be a non-empty string or null")
    if out["config"] is not None and (not isinstance(out["config"], str) or not out["config"].strip()):
        fail("`config` must be a path (a string) or null")
    if out["match"] is not None:
        if not isinstance(out["match"], dict) or not out["match"]:
            fail("`match` must be a non-empty mapping of dotted config keys to values, or null")
        for key in out["match"]:
            if not isinstance(key, str) or not key:
                fail(f"`match` key {key!r} is not a dotted config key")
        if "sampler.name" not in out["match"]:
            fail("`match` must include sampler.name")
    if out["runnable"]:
        if out["config"] is None:
            fail("a runnable cell needs `config` (or `runnable: false` with a `reason`)")
        if out["match"] is None:
            fail("a runnable cell needs `match` (the config keys that identify its runs)")
    elif out["reason"] is None:
        fail("`runnable: false` needs a `reason`")
    return out


def validate(table, path="<table>"):
    """Checks a parsed table (a dict) and returns a copy with the defaults filled in."""
    if not isinstance(table, dict):
        _fail(path, "the file is not a YAML mapping")
    missing = [key for key in TOP_KEYS if key not in table]
    if missing:
        _fail(path, f"missing key(s) {', '.join(missing)}")
    unknown = sorted(set(table) - set(TOP_KEYS))
    if unknown:
        _fail(path, f"unknown key(s) {', '.join(unknown)} (a table has {', '.join(TOP_KEYS)})")
    if table["paper"] not in PAPERS:
        _fail(path, f"`paper` must be one of {', '.join(PAPERS)}, not {table['paper']!r}")
    for key in ("title", "citation", "table", "caption", "notes"):
        if not isinstance(table[key], str) or not table[key].strip():
            _fail(path, f"`{key}` must be a non-empty string")
    _check_metric_settings(table, lambda message: _fail(path, message))
    if not isinstance(table["settings"], dict):
        _fail(path, "`settings` must be a mapping")
    if not isinstance(table["rows"], list) or not table["rows"]:
        _fail(path, "`rows` must be a non-empty list")
    out = dict(table)
    out["path"] = str(path)
    rows, ids = [], set()
    for index, row in enumerate(table["rows"]):
        if not isinstance(row, dict):
            _fail(path, f"row {index} is not a mapping")
        row_id = row.get("id")
        if not isinstance(row_id, str) or not row_id:
            _fail(path, f"row {index} needs `id` (a non-empty string)")
        if row_id in ids:
            _fail(path, "duplicate row id", row_id)
        ids.add(row_id)
        unknown = sorted(set(row) - set(ROW_KEYS))
        if unknown:
            _fail(path, f"unknown key(s) {', '.join(unknown)} (a row has {', '.join(ROW_KEYS)})", row_id)
        if not isinstance(row.get("label"), str) or not row["label"]:
            _fail(path, "missing `label` (the row's name as printed)", row_id)
        if row.get("note") is not None and not isinstance(row["note"], str):
            _fail(path, "`note` must be a string", row_id)
        _check_metric_settings(row, lambda message: _fail(path, message, row_id))
        if not isinstance(row.get("cells"), list) or not row["cells"]:
            _fail(path, "`cells` must be a non-empty list", row_id)
        cells, columns = [], set()
        for cell_index, cell in enumerate(row["cells"]):
            checked = _check_cell(path, row_id, cell_index, cell)
            if checked["column"] in columns:
                _fail(path, "duplicate column in the row", row_id, checked["column"])
            columns.add(checked["column"])
            for key in OVERRIDES:
                if key not in cell:
                    checked[key] = row[key] if key in row else table[key]
            cells.append(checked)
        rows.append(dict(row, note=row.get("note"), cells=cells))
    out["rows"] = rows
    if table["baseline"] is not None and table["baseline"] not in ids:
        _fail(path, f"`baseline` {table['baseline']!r} is not a row id (ids: {', '.join(sorted(ids))})")
    return out


def load_table(path):
    """Parses and checks one published-table file; raises ValueError naming the file, row and column."""
    try:
        with open(path) as f:
            table = yaml.safe_load(f)
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error}") from None
    return validate(table, path)


def load_all(folder):
    """Every *.yaml / *.yml of a folder (not recursive), sorted by file name."""
    names = sorted(n for n in os.listdir(folder) if n.endswith((".yaml", ".yml")))
    return [load_table(os.path.join(folder, n)) for n in names]


def cells(table):
    """(row, cell) for every cell of a loaded table, in file order."""
    for row in table["rows"]:
        for cell in row["cells"]:
            yield row, cell


def config_paths(cell, root="."):
    """The config files a cell names (its `config` path, or every file its glob matches, sorted),
    relative to root as written; [] when it names none or nothing matches."""
    config = cell.get("config")
    if not config:
        return []
    if glob.has_magic(config):
        return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, config)))
    return [config] if os.path.exists(os.path.join(root, config)) else []


def _normalise(value):
    if isinstance(value, list):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_normalise(v) for v in value)
    return value


def _equal(expected, got):
    expected, got = _normalise(expected), _normalise(got)
    if isinstance(expected, tuple) or isinstance(got, tuple):
        return (isinstance(expected, tuple) and isinstance(got, tuple) and len(expected) == len(got)
                and all(_equal(a, b) for a, b in zip(expected, got)))
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and expected == got
    if _is_number(expected) and _is_number(got):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
    return expected == got


def config_mismatches(cell, resolved_flat):
    """[(key, expected, got)] for every `match` key whose value differs in resolved_flat (a dict of
    dotted keys to values, lists as lists or tuples); a key absent from resolved_flat is got = None."""
    found = []
    for key, expected in (cell.get("match") or {}).items():
        got = resolved_flat.get(key, _MISSING)
        if got is _MISSING:
            if expected is not None:
                found.append((key, expected, None))
        elif not _equal(expected, got):
            found.append((key, expected, got))
    return found


def resolved_configs(esrun, configs, cwd=None):
    """The flattened output of `esrun print-config --config CONFIG` (run from cwd) for each of
    configs, in their order: one `print-config --each` for all (the binary starts once)."""
    command = [esrun, "print-config", "--each"]
    for config in configs:
        command += ["--config", config]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"esrun print-config failed ({done.returncode}): {done.stderr.strip()}")
    documents = list(yaml.safe_load_all(done.stdout))
    if len(documents) != len(configs):
        raise ValueError(f"esrun print-config --each printed {len(documents)} documents for {len(configs)} configs")
    return [flatten(document or {}) for document in documents]
