"""scripts/tables: the papers' result tables from esrun run directories, as Markdown and CSV.

For each row (default: the sampling method) and column (default: the dataset), a test metric as
mean ± std over seeds, its difference to the baseline (default: uniform) in the same column, and
the training time saved against that baseline, from summary.json's train_time_s (evaluation
excluded) plus its extra_cost_s (the scoring run behind static pruning's or RHO-LOSS's scores file,
InfoBatch's Table 2 "extra cost"), shown in its own column when a run of the table has one. Other config keys that vary between runs of one cell are added to the row label, so
different experiments are never averaged together. Cells without finished runs say "missing".

Equal train time (esrunpy/equal_time.py): when a column has a uniform ladder, that is baseline runs
(and reduced_epochs runs) of the same problem at two or more training lengths (train.epochs,
train.budget.*, reduced_epochs' ratio), the table adds for every method its Δ against uniform at
the method's own train time (train_time_s + extra_cost_s), interpolated on the ladder and never
extrapolated ("outside ladder" otherwise), and 95% intervals for both Δs over seeds (the paired t
interval of per-seed differences where both sides ran the same seeds, else Welch's). A sweep declares
the ladder with its `ladder` key (scripts/sweep).

The default metric (--value task) is each run's own headline metric, summary.json's "metric"
(acc for summaries without one): GLUE's CoLA reports mcc, MRPC and QQP f1, STS-B pearson, the
others acc. The runs of one cell must agree on it. acc, acc5, f1, mcc, pearson and spearman are
shown x100 (as GLUE reports them); loss, rmse, mae, mse, r2 and perplexity as they are.

    scripts/tables runs/sweeps/small_policies                     # ES Table 2 style
    scripts/tables runs/... --cols data.name,data.label_noise.ratio  # ES Table 6: noise levels
    scripts/tables runs/... --csv results.csv
    scripts/tables runs/sweeps/paper_table4 --cols data.glue.task  # ES Table 4: each task's metric
    scripts/tables runs/sweeps/paper_table4 --cols data.glue.task --value acc  # accuracy everywhere
    scripts/tables runs/sweeps/paper_adaselection --value rmse    # regression: test RMSE (or r2, mae, mse)
"""
import csv
import datetime
import io
import os
import shlex
import sys

from . import equal_time, reference_time
from .runs import (argument_parser, check_distinct_seeds, find_runs, format_value, group, label, mean_std, problem,
                   problem_at_any_length)

MISSING = "missing"
TASK = "task"  # --value: each run's own headline metric
VALUES = ["acc", "acc5", "f1", "mcc", "pearson", "spearman", "loss", "rmse", "mae", "mse", "r2", "perplexity"]
# Shown x100: accuracies and F1 are percentages; GLUE reports MCC and correlations x100 as well.
SCALED = ("acc", "acc5", "f1", "mcc", "pearson", "spearman")


def unit(value):
    if value in ("acc", "acc5", "f1"):
        return " (%)"
    return " (x100)" if value in SCALED else ""


def headline(run):
    """The run's own metric; summaries written before esrun had GLUE carry none and mean acc."""
    return run.summary.get("metric", "acc")


def wall_time(run):
    return run.summary["train_time_s"]


def reference_clock(costs):
    """A run's reference time on `costs` (reference_time.Calibrations); an error for a run without its work
    or without a calibration."""
    def seconds(run):
        try:
            value = costs.seconds(run)
        except reference_time.CalibrationError as e:
            print(f"error: {run.path}: {e}", file=sys.stderr)
            raise SystemExit(2)
        if value is None:
            print(f"error: {run.path}/summary.json has no \"work\" (written by an esrun before it counted steps "
                  "and forwards); use --time wall", file=sys.stderr)
            raise SystemExit(2)
        return value
    return seconds


class Cell:
    def __init__(self, runs, when, value, clock=wall_time):
        """value: a metric name, or TASK for the runs' own headline metric (which they must share);
        clock: a run's train time (wall_time, or reference_clock's)."""
        finished = [r for r in runs if r.finished]
        self.problem = problem(runs[0]) if runs else None
        self.n = len(finished)
        self.unfinished = len(runs) - self.n
        self.metric = value
        if value == TASK:
            named = {r.path: headline(r) for r in finished}
            if len(set(named.values())) > 1:
                where = os.path.commonpath([r.path for r in runs])
                print(f"error: the runs of one cell ({where}) report different metrics in summary.json: " +
                      ", ".join(f"{path}: {m}" for path, m in named.items()) +
                      "; keep them apart (--rows/--cols) or choose one with --value", file=sys.stderr)
                raise SystemExit(2)
            self.metric = next(iter(named.values()), None)
        metric = f"{when}_test_{self.metric}"
        scale = 100.0 if self.metric in SCALED else 1.0
        values = [r.summary.get(metric) for r in finished]
        if any(v is None for v in values):
            print(f"error: {metric} is null in a summary.json of {runs[0].path} (its task has no such metric); "
                  "choose another --value", file=sys.stderr)
            raise SystemExit(2)
        self.value = mean_std([scale * v for v in values]) if finished else None
        self.by_seed = {r.get("seed"): scale * v for r, v in zip(finished, values)}
        self.time = mean_std([clock(r) for r in finished]) if finished else None
        self.length_free_problem = problem_at_any_length(runs[0]) if runs else None
        # The scoring run behind a scores file (summaries before esrun scored have none).
        self.extra = mean_std([r.summary.get("extra_cost_s", 0.0) for r in finished]) if finished else None
        self.backward = (sum(r.summary["samples_backward_total"] for r in finished) / self.n) if finished else None
        # Micro-batch backward passes (train.accumulate); summaries before esrun counted them have none.
        passes = [r.summary.get("backward_passes_total") for r in finished]
        self.passes = sum(passes) / self.n if finished and None not in passes else None


def is_rung(row, baseline):
    """Whether a row's runs are rungs of the ladder (the baseline's, reduced_epochs'), not a method's."""
    return format_value(row[0]) in (baseline, "reduced_epochs")


def build(runs, rows, cols, baseline, when, value, clock=wall_time):
    """Returns (row_keys, col_keys, row list, col list, {(row, col): Cell}, {(row, col): baseline Cell})."""
    cells, row_keys, col_keys = group(runs, rows, cols)
    check_distinct_seeds(cells)
    row_values = sorted({r for r, _ in cells}, key=lambda v: tuple(format_value(x) for x in v))
    col_values = sorted({c for _, c in cells}, key=lambda v: tuple(format_value(x) for x in v))
    # The baseline cell of the same column solves the same problem (data, model, training length)
    # and reports the same metric.
    table = {(r, c): Cell(cells.get((r, c), []), when, value, clock) for r in row_values for c in col_values}
    base = {}
    for r in row_values:
        for c in col_values:
            candidates = [b for b in row_values if format_value(b[0]) == baseline and table[(b, c)].n > 0 and
                          table[(b, c)].problem == table[(r, c)].problem and
                          table[(b, c)].metric == table[(r, c)].metric]
            base[(r, c)] = table[(candidates[0], c)] if len(candidates) == 1 else None
    order = sorted(row_values, key=lambda v: (format_value(v[0]) != baseline,))
    # The uniform ladder of each cell: the baseline's (and reduced_epochs') finished cells of its
    # column on the same problem at any training length, with the same metric.
    ladder = {}
    for r in row_values:
        for c in col_values:
            cell = table[(r, c)]
            ladder[(r, c)] = [equal_time.Rung(rung.time[0] + rung.extra[0], rung.value[0], rung.value[1], rung.n, rung,
                                              rung.by_seed)
                              for b in row_values if is_rung(b, baseline)
                              for rung in [table[(b, c)]]
                              if rung.n > 0 and rung.length_free_problem == cell.length_free_problem and
                              rung.metric == cell.metric]
    return row_keys, col_keys, order, col_values, table, base, ladder


def has_ladder(ladder):
    return any(equal_time.is_ladder(rungs) for rungs in ladder.values())


def interval_of_delta(cell, base):
    if cell.value is None or base is None:
        return None
    if cell is base:  # the baseline against itself: the same runs
        return 0.0, 0.0
    differences = equal_time.paired(cell.by_seed, [(1.0, base.by_seed)])
    if differences is not None:
        return equal_time.paired_interval(differences)
    return equal_time.welch_interval(cell.value[0] - base.value[0],
                                     [(1.0, cell.value[1], cell.n), (-1.0, base.value[1], base.n)])


def equal_time_delta(cell, rungs):
    """(Δ, interval) at the cell's train time on its ladder; None outside it."""
    if cell.value is None:
        return None
    if not equal_time.is_ladder(rungs):
        return None
    if any(rung.source is cell for rung in rungs):  # a rung against its own ladder: itself
        return 0.0, (0.0, 0.0)
    return equal_time.delta_at_equal_time(cell.value[0], cell.value[1], cell.n, cell.time[0] + cell.extra[0], rungs,
                                          cell.by_seed)


def format_interval(interval):
    return "n/a" if interval is None else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def column_metrics(rows, cols, table):
    """{col: the metric of its finished cells, or None where they differ}. A column without finished
    cells takes the table's metric when the table has one."""
    everywhere = shown_metrics(table.values())
    out = {}
    for c in cols:
        metrics = shown_metrics([table[(r, c)] for r in rows]) or everywhere
        out[c] = metrics[0] if len(metrics) == 1 else None
    return out


def shown_metrics(cells):
    """The metrics of the finished cells (an explicit --value: that one, finished or not), in VALUES order."""
    metrics = {cell.metric for cell in cells if cell.n > 0} or {cell.metric for cell in cells} - {None}
    return sorted(metrics, key=lambda m: (VALUES.index(m) if m in VALUES else len(VALUES), m))


def delta(cell, base):
    if cell.value is None or base is None:
        return None
    return cell.value[0] - base.value[0]


def saved(cell, base):
    """Against the baseline's train time, each with its extra cost (scoring) added."""
    if cell.time is None or base is None or base.time[0] + base.extra[0] <= 0:
        return None
    return 100.0 * (1.0 - (cell.time[0] + cell.extra[0]) / (base.time[0] + base.extra[0]))


def markdown(row_keys, col_keys, rows, cols, table, base, ladder, baseline, when, costs=None):
    head = ["method" if row_keys[0] == "sampler.name" else row_keys[0]]
    per_column = column_metrics(rows, cols, table)
    extra = any(cell.extra and cell.extra[0] > 0 for cell in table.values())
    timed = has_ladder(ladder)
    for c in cols:
        name, value = label(col_keys, c), per_column[c]
        # A column whose cells report different metrics names the metric in each cell.
        head += [f"{name} {value}{unit(value)}" if value else f"{name} metric", f"{name} Δ vs {baseline}"]
        head += [f"{name} extra cost (s)"] if extra else []
        head += [f"{name} time saved"]
        head += [f"{name} Δ 95% CI", f"{name} Δ at equal time (95% CI)"] if timed else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out = [label(row_keys, r)]
        for c in cols:
            cell, b = table[(r, c)], base[(r, c)]
            if cell.value is None:
                out += [MISSING] * (3 + extra + 2 * timed)
                continue
            spread = f" ± {cell.value[1]:.2f}" if cell.value[1] is not None else ""
            named = "" if per_column[c] else f"{cell.metric}{unit(cell.metric)} "
            shown = f"{named}{cell.value[0]:.2f}{spread} (n={cell.n})"
            d, s = delta(cell, b), saved(cell, b)
            out += [shown, MISSING if d is None else f"{d:+.2f}"]
            out += [f"{cell.extra[0]:.1f}"] if extra else []
            out += [MISSING if s is None else f"{s:.1f}%"]
            if timed:
                at = equal_time_delta(cell, ladder[(r, c)])
                laddered = equal_time.is_ladder(ladder[(r, c)])
                out += [MISSING if b is None else format_interval(interval_of_delta(cell, b)),
                        "no ladder" if not laddered else "outside ladder" if at is None else
                        f"{at[0]:+.2f} {format_interval(at[1])}"]
        lines.append("| " + " | ".join(out) + " |")
    unfinished = sum(cell.unfinished for cell in table.values())
    metrics = shown_metrics(table.values())
    if len(metrics) == 1:
        what = f"Test {metrics[0]}: {when} test {metrics[0]}"
    else:
        scaled = [m for m in metrics if m in SCALED]
        what = (f"Test metric: each run's own (summary.json's \"metric\"), {when} test " + ", ".join(metrics) +
                (f"; {', '.join(scaled)} x100" if scaled else ""))
    notes = [f"{what}, mean ± sample std over seeds (n = seeds; no std for one). "
             f"Δ and time saved: against {baseline} on the same data, model and training length (data.*, model.*, "
             f"train.* equal), time saved = 1 − (train time + extra cost) / {baseline}'s (evaluation excluded); "
             "missing where no such baseline finished."]
    if costs:
        notes.append(f"Train time: reference time, each run's training steps and forwards costed with {costs.path} "
                     "(esrun bench on a quiet machine), not the wall clock.")
    if extra:
        notes.append("Extra cost: the wall time of the scoring run behind a scores file (esrun score: static pruning's "
                     "scores, RHO-LOSS's irreducible-loss model), as InfoBatch's Table 2 counts it.")
    if timed:
        clock = "reference time" if costs else "wall clock"
        notes.append(f"Δ at equal time: against {baseline} given the method's train time (train time + extra cost, "
                     f"{clock}), interpolated linearly on the ladder of {baseline} and reduced_epochs runs of the same "
                     "data and model at other training lengths, never extrapolated (outside ladder: the method's time "
                     "lies outside the ladder's times). 95% CI over seeds: the paired t interval of per-seed differences "
                     "where both sides ran the same seeds, else Welch's t interval (n/a with one seed).")
    if unfinished:
        notes.append(f"{unfinished} run(s) without summary.json (unfinished) are left out.")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def csv_text(row_keys, col_keys, rows, cols, table, base, ladder, value="acc"):
    """value TASK: the columns are value_mean, value_std, delta_value and a column `metric`. Then the
    mean number of backward passes (micro-batches with train.accumulate), empty for runs whose
    summary.json does not count them; the mean extra cost (scoring) in seconds; the 95% interval of
    the Δ; and the Δ at equal time with its interval (empty outside the ladder or without one)."""
    name = "value" if value == TASK else value
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(row_keys + col_keys + ["n", "unfinished", f"{name}_mean", f"{name}_std", f"delta_{name}",
                                           "train_time_s_mean", "train_time_s_std", "time_saved_pct",
                                           "samples_backward_mean"] + (["metric"] if value == TASK else []) +
                    ["backward_passes_mean", "extra_cost_s_mean", f"delta_{name}_lo", f"delta_{name}_hi",
                     f"delta_{name}_equal_time", f"delta_{name}_equal_time_lo", f"delta_{name}_equal_time_hi"])
    blank = lambda v, f="{:.4f}": "" if v is None else f.format(v)  # noqa: E731
    for r in rows:
        for c in cols:
            cell, b = table[(r, c)], base[(r, c)]
            writer.writerow([format_value(v) for v in r] + [format_value(v) for v in c] + [
                cell.n, cell.unfinished, blank(cell.value and cell.value[0]), blank(cell.value and cell.value[1]),
                blank(delta(cell, b)), blank(cell.time and cell.time[0]), blank(cell.time and cell.time[1]),
                blank(saved(cell, b), "{:.2f}"), blank(cell.backward, "{:.0f}")] +
                ([cell.metric or ""] if value == TASK else []) + [blank(cell.passes, "{:.0f}"),
                                                                  blank(cell.extra and cell.extra[0], "{:.2f}")] +
                [blank(v) for v in interval_of_delta(cell, b) or (None, None)] +
                [blank(v) for v in flat_equal_time(equal_time_delta(cell, ladder[(r, c)]))])
    return out.getvalue()


def flat_equal_time(at):
    """(Δ, low, high) of equal_time_delta's result, None where absent."""
    if at is None:
        return None, None, None
    return (at[0],) + (at[1] if at[1] is not None else (None, None))


LOWER_IS_BETTER = ("loss", "rmse", "mae", "mse", "perplexity")


def row_name(row_keys, r):
    """A row's label without the keys this row's method has no value for (key=null)."""
    return ", ".join(part for part in label(row_keys, r).split(", ") if not part.endswith("=null"))


def cost_of(cell):
    return cell.time[0] + cell.extra[0]


def to_quality_text(cell, rungs, higher):
    """Uniform's train time to reach the cell's quality, and the share of it the method saves."""
    found = equal_time.time_to_quality(rungs, cell.value[0], higher)
    if found is None:
        return MISSING
    kind, seconds = found
    share = 100.0 * (1.0 - cost_of(cell) / seconds) if seconds > 0 else None
    saved_text = "" if share is None else f"{share:.0f}%"
    if kind == "at":
        return f"{seconds:.1f} s (saves {saved_text})"
    if kind == "beyond":
        return f"> {seconds:.1f} s, longer than the ladder (saves > {saved_text})"
    return f"≤ {seconds:.1f} s (the shortest rung is as good already)"


def section(row_keys, col_keys, rows, c, table, base, ladder, baseline, other=None):
    """One column of the table (a setting) as a Markdown table of its methods with their verdicts.
    other: (cells, ladders) of the same table on the wall clock when this one is on reference time, for
    the wall clock's time and verdict."""
    metric = column_metrics(rows, [c], table)[c]
    higher = metric not in LOWER_IS_BETTER
    cells = [(r, table[(r, c)]) for r in rows if table[(r, c)].n > 0]
    if not cells:
        return ""
    problem_keys = dict(cells[0][1].problem)
    clocks = ["train time, reference (s)", "train time, wall (s)"] if other else ["train time (s)"]
    head = ["method", f"{metric}{unit(metric)}"] + clocks + [
        f"time saved vs {baseline}", f"Δ vs {baseline} (95% CI)", "Δ at equal time (95% CI)",
        f"{baseline}'s time to this quality", "verdict"] + (["verdict (wall clock)"] if other else [])
    model = problem_keys.get("model.name")
    lines = [f"### {label(col_keys, c)}: {metric}{', ' + model if model else ''} "
             f"({'higher' if higher else 'lower'} is better)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, cell in cells:
        rungs = ladder[(r, c)]
        at = equal_time_delta(cell, rungs)
        spread = f" ± {cell.value[1]:.2f}" if cell.value[1] is not None else ""
        d, saved_share = delta(cell, base[(r, c)]), saved(cell, base[(r, c)])
        interval = interval_of_delta(cell, base[(r, c)])
        out = [row_name(row_keys, r), f"{cell.value[0]:.2f}{spread} (n={cell.n})", f"{cost_of(cell):.1f}"]
        if other:
            out.append(f"{cost_of(other[0][(r, c)]):.1f}")
        out += [MISSING if saved_share is None else f"{saved_share:.1f}%",
                MISSING if d is None else f"{d:+.2f} {format_interval(interval)}",
                "outside ladder" if at is None else f"{at[0]:+.2f} {format_interval(at[1])}"]
        if is_rung(r, baseline):
            out += ["—", "rung of the ladder"] + (["—"] if other else [])
        else:
            out += [to_quality_text(cell, rungs, higher), equal_time.verdict(cost_of(cell), at, rungs, higher)]
            if other:
                other_cell, other_rungs = other[0][(r, c)], other[1][(r, c)]
                out.append(equal_time.verdict(cost_of(other_cell), equal_time_delta(other_cell, other_rungs),
                                              other_rungs, higher))
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def tradeoff_figure(row_keys, rows, c, table, ladder, baseline, path, title, ylabel, clock):
    """Quality against train time in one setting: uniform's ladder as a curve, each method a point
    (± std over seeds on both axes). False (nothing written) without a finished cell."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cells = [(r, table[(r, c)]) for r in rows if table[(r, c)].n > 0]
    if not cells:
        return False
    figure, panel = plt.subplots(figsize=(7.5, 4.8))
    rungs = sorted(next((rungs for r, _ in cells for rungs in [ladder[(r, c)]] if equal_time.is_ladder(rungs)), []),
                   key=lambda rung: rung.time)
    if rungs:
        panel.errorbar([rung.time for rung in rungs], [rung.mean for rung in rungs],
                       yerr=[rung.std or 0.0 for rung in rungs], fmt="--o", color="0.35", capsize=3, zorder=1,
                       label=f"{baseline} ladder")
    colours, markers = plt.get_cmap("tab20").colors, "sD^vP*X<>ph"
    methods = [(r, cell) for r, cell in cells if not is_rung(r, baseline)]
    for i, (r, cell) in enumerate(methods):
        panel.errorbar(cost_of(cell), cell.value[0], xerr=cell.time[1] or 0.0, yerr=cell.value[1] or 0.0,
                       fmt=markers[i % len(markers)], color=colours[i % len(colours)], markersize=7, capsize=3,
                       label=row_name(row_keys, r), zorder=2)
    panel.set_title(title)
    panel.set_xlabel(f"train time (s, {clock})")
    panel.set_ylabel(ylabel)
    panel.grid(alpha=0.3)
    if panel.get_legend_handles_labels()[0]:
        panel.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def machine():
    """This machine in words: CPU model and cores (Linux), for a document's header."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    return f"{model or 'unknown CPU'}, {os.cpu_count()} cores"


def about(path):
    """The leading comment block of a sweep file, as text."""
    text = []
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            text.append(line[1:].strip())
    return " ".join(text)


def document(built, other, args, costs, command):
    """The Markdown document of --out: a header, then one section per column with every method's verdict."""
    row_keys, col_keys, rows, cols, table, base, ladder = built
    clock = ("reference time (each run's training steps and forwards costed with " + costs.path + ")"
             if costs else "wall clock (summary.json's train_time_s + extra_cost_s)")
    parts = [f"# {args.title}", ""]
    if args.about:
        parts += [about(args.about), ""]
    parts += [f"Generated by `{command}` on {datetime.date.today().isoformat()}; machine: {args.machine or machine()}.",
              "",
              f"Train time: {clock}; evaluation is never counted. Each method is compared with {args.baseline} at "
              f"equal epochs (Δ vs {args.baseline}, time saved: {args.baseline} trained as many epochs) and at equal "
              f"train time: Δ at equal time is its quality minus {args.baseline}'s at its train time, interpolated "
              f"on the ladder of {args.baseline} runs at "
              "shorter lengths (reduced_epochs: each schedule fully decayed), never extrapolated; the time to this "
              f"quality reads the ladder the other way. 95% CI over seeds: the paired t interval of the per-seed "
              "differences where both sides ran the same seeds (a seed fixes the data split, subset, noise and "
              "initial weights for every method), else Welch's. Verdict: the method "
              "saves time at equal quality when the interval of its Δ at equal time lies on the better side of 0; "
              "otherwise it does not." + (" The wall clock's time and verdict are beside them: the wall clocks of runs "
                                           "sharing a machine are noisy, and reference time leaves out data loading "
                                           "and the policies' own bookkeeping." if other else ""), ""]
    folder = os.path.splitext(args.out)[0] + "-files"
    for c in cols:
        parts.append(section(row_keys, col_keys, rows, c, table, base, ladder, args.baseline,
                             (other[4], other[6]) if other else None))
        metric = column_metrics(rows, [c], table)[c]
        name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in label(col_keys, c)) + ".png"
        os.makedirs(folder, exist_ok=True)
        if tradeoff_figure(row_keys, rows, c, table, ladder, args.baseline, os.path.join(folder, name),
                           label(col_keys, c), f"test {metric}{unit(metric)}", "reference" if costs else "wall clock"):
            parts.append(f"![{label(col_keys, c)}: {metric} against train time]"
                         f"({os.path.basename(folder)}/{name})\n")
    unfinished = sum(cell.unfinished for cell in table.values())
    if unfinished:
        parts.append(f"{unfinished} run(s) without summary.json (unfinished) are left out.\n")
    return "\n".join(parts)


def main(argv=None):
    parser = argument_parser("scripts/tables", __doc__, "rows", "columns")
    parser.add_argument("--baseline", default="uniform", help="value of the first row key for the baseline row")
    parser.add_argument("--metric", choices=["final", "best"], default="final",
                        help="the last evaluation, or the best one by the task's test_score")
    parser.add_argument("--value", choices=[TASK] + VALUES, default=TASK,
                        help="the test metric in the cells: task = each run's own (summary.json's \"metric\", acc "
                             "when absent; GLUE: CoLA mcc, MRPC/QQP f1, STS-B pearson); regression: rmse, mae, "
                             "mse, r2; causal_lm: perplexity")
    parser.add_argument("--csv", help="also write the table as CSV to this file ('-' for stdout)")
    parser.add_argument("--out", help="also write a Markdown document to this file: one table per column (setting) "
                                      "with each method's time to uniform's quality and a verdict (saves time at "
                                      "equal quality, or not), with --costs on both clocks, and a figure of quality "
                                      "against train time per setting in OUT-files/")
    parser.add_argument("--title", default="Same quality in less time?", help="--out: the document's title")
    parser.add_argument("--about", metavar="SWEEP_YAML", help="--out: open the document with this sweep file's "
                                                               "leading comment (what the runs are)")
    parser.add_argument("--machine", help="--out: the machine the runs were made on (default: this one's CPU and "
                                          "cores)")
    parser.add_argument("--time", choices=["wall", "reference"], default="wall",
                        help="train time for time saved and equal time: summary.json's wall clock, or the runs' work "
                             "costed with --costs (the same for a run repeated on a busy machine)")
    parser.add_argument("--costs", nargs="+", metavar="BENCH_JSON",
                        help="with --time reference: the JSON of `esrun bench` for each model and data of the runs, "
                             "measured on a quiet machine (a sweep with `calibrate: true` writes them to "
                             "<sweep>/costs/*.json)")
    args = parser.parse_args(argv)
    costs = None
    if args.time == "reference":
        if not args.costs:
            print("error: --time reference needs --costs FILE (the JSON of esrun bench)", file=sys.stderr)
            return 2
        try:
            costs = reference_time.Calibrations(args.costs)
        except reference_time.CalibrationError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    runs = find_runs(args.runs)
    if not runs:
        print(f"error: no run directories (config.resolved.yaml) under {', '.join(args.runs)}", file=sys.stderr)
        return 2
    built = build(runs, args.rows.split(","), args.cols.split(","), args.baseline, args.metric, args.value,
                  reference_clock(costs) if costs else wall_time)
    print(markdown(*built, args.baseline, args.metric, costs), end="")
    if args.out:
        other = build(runs, args.rows.split(","), args.cols.split(","), args.baseline, args.metric, args.value,
                      wall_time) if costs else None
        command = shlex.join(["scripts/tables"] + (argv if argv is not None else sys.argv[1:]))
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        text = document(built, other, args, costs, command)
        with open(args.out, "w") as f:
            f.write(text)
    if args.csv:
        text = csv_text(*built, args.value)
        if args.csv == "-":
            print("\n" + text, end="")
        else:
            with open(args.csv, "w") as f:
                f.write(text)
    return 0
