"""scripts/tables: the papers' result tables from esrun run directories, as Markdown and CSV.

For each row (default: the sampling method) and column (default: the dataset), the test accuracy
as mean ± std over seeds, its difference to the baseline (default: uniform) in the same column, and
the training time saved against that baseline, from summary.json's train_time_s (evaluation
excluded). Other config keys that vary between runs of one cell are added to the row label, so
different experiments are never averaged together. Cells without finished runs say "missing".

    scripts/tables runs/sweeps/small_policies                     # ES Table 2 style
    scripts/tables runs/... --cols data.name,data.label_noise.ratio  # ES Table 6: noise levels
    scripts/tables runs/... --csv results.csv
    scripts/tables runs/sweeps/paper_adaselection --value rmse    # regression: test RMSE (or r2, mae, mse)
"""
import csv
import io
import sys

from .runs import argument_parser, check_distinct_seeds, find_runs, format_value, group, label, mean_std, problem

MISSING = "missing"


class Cell:
    def __init__(self, runs, metric):
        finished = [r for r in runs if r.finished]
        self.problem = problem(runs[0]) if runs else None
        self.n = len(finished)
        self.unfinished = len(runs) - self.n
        scale = 100.0 if metric.endswith(("_acc", "_acc5")) else 1.0  # accuracies in percent
        values = [r.summary.get(metric) for r in finished]
        if any(v is None for v in values):
            print(f"error: {metric} is null in a summary.json of {runs[0].path} (its task has no such metric); "
                  "choose another --value", file=sys.stderr)
            raise SystemExit(2)
        self.acc = mean_std([scale * v for v in values]) if finished else None
        self.time = mean_std([r.summary["train_time_s"] for r in finished]) if finished else None
        self.backward = (sum(r.summary["samples_backward_total"] for r in finished) / self.n) if finished else None


def build(runs, rows, cols, baseline, metric):
    """Returns (row_keys, col_keys, row list, col list, {(row, col): Cell}, {(row, col): baseline Cell})."""
    cells, row_keys, col_keys = group(runs, rows, cols)
    check_distinct_seeds(cells)
    row_values = sorted({r for r, _ in cells}, key=lambda v: tuple(format_value(x) for x in v))
    col_values = sorted({c for _, c in cells}, key=lambda v: tuple(format_value(x) for x in v))
    # The baseline cell of the same column solves the same problem (data, model, training length).
    table = {(r, c): Cell(cells.get((r, c), []), metric) for r in row_values for c in col_values}
    base = {}
    for r in row_values:
        for c in col_values:
            candidates = [b for b in row_values if format_value(b[0]) == baseline and table[(b, c)].n > 0 and
                          table[(b, c)].problem == table[(r, c)].problem]
            base[(r, c)] = table[(candidates[0], c)] if len(candidates) == 1 else None
    order = sorted(row_values, key=lambda v: (format_value(v[0]) != baseline,))
    return row_keys, col_keys, order, col_values, table, base


def delta(cell, base):
    if cell.acc is None or base is None:
        return None
    return cell.acc[0] - base.acc[0]


def saved(cell, base):
    if cell.time is None or base is None or base.time[0] <= 0:
        return None
    return 100.0 * (1.0 - cell.time[0] / base.time[0])


def markdown(row_keys, col_keys, rows, cols, table, base, baseline, metric):
    head = ["method" if row_keys[0] == "sampler.name" else row_keys[0]]
    value = metric.split("_test_")[1]
    for c in cols:
        name = label(col_keys, c)
        head += [f"{name} {value}{' (%)' if value.startswith('acc') else ''}", f"{name} Δ vs {baseline}",
                 f"{name} time saved"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out = [label(row_keys, r)]
        for c in cols:
            cell, b = table[(r, c)], base[(r, c)]
            if cell.acc is None:
                out += [MISSING, MISSING, MISSING]
                continue
            spread = f" ± {cell.acc[1]:.2f}" if cell.acc[1] is not None else ""
            acc = f"{cell.acc[0]:.2f}{spread} (n={cell.n})"
            d, s = delta(cell, b), saved(cell, b)
            out += [acc, MISSING if d is None else f"{d:+.2f}", MISSING if s is None else f"{s:.1f}%"]
        lines.append("| " + " | ".join(out) + " |")
    unfinished = sum(cell.unfinished for cell in table.values())
    notes = [f"Test {value}: {metric.replace('_', ' ')}, mean ± sample std over seeds (n = seeds; no std for one). "
             f"Δ and time saved: against {baseline} on the same data, model and training length (data.*, model.*, "
             f"train.* equal), time saved = 1 − train time / {baseline}'s train time (evaluation excluded); "
             "missing where no such baseline finished."]
    if unfinished:
        notes.append(f"{unfinished} run(s) without summary.json (unfinished) are left out.")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def csv_text(row_keys, col_keys, rows, cols, table, base, value="acc"):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(row_keys + col_keys + ["n", "unfinished", f"{value}_mean", f"{value}_std", f"delta_{value}", "train_time_s_mean",
                                           "train_time_s_std", "time_saved_pct", "samples_backward_mean"])
    blank = lambda v, f="{:.4f}": "" if v is None else f.format(v)  # noqa: E731
    for r in rows:
        for c in cols:
            cell, b = table[(r, c)], base[(r, c)]
            writer.writerow([format_value(v) for v in r] + [format_value(v) for v in c] + [
                cell.n, cell.unfinished, blank(cell.acc and cell.acc[0]), blank(cell.acc and cell.acc[1]),
                blank(delta(cell, b)), blank(cell.time and cell.time[0]), blank(cell.time and cell.time[1]),
                blank(saved(cell, b), "{:.2f}"), blank(cell.backward, "{:.0f}")])
    return out.getvalue()


def main(argv=None):
    parser = argument_parser("scripts/tables", __doc__, "rows", "columns")
    parser.add_argument("--baseline", default="uniform", help="value of the first row key for the baseline row")
    parser.add_argument("--metric", choices=["final", "best"], default="final",
                        help="the last evaluation, or the best one by the task's test_score")
    parser.add_argument("--value", choices=["acc", "acc5", "loss", "rmse", "mae", "mse", "r2"], default="acc",
                        help="the test metric in the cells (regression: rmse, mae, mse, r2)")
    parser.add_argument("--csv", help="also write the table as CSV to this file ('-' for stdout)")
    args = parser.parse_args(argv)
    runs = find_runs(args.runs)
    if not runs:
        print(f"error: no run directories (config.resolved.yaml) under {', '.join(args.runs)}", file=sys.stderr)
        return 2
    metric = f"{args.metric}_test_{args.value}"
    built = build(runs, args.rows.split(","), args.cols.split(","), args.baseline, metric)
    print(markdown(*built, args.baseline, metric), end="")
    if args.csv:
        text = csv_text(*built, args.value)
        if args.csv == "-":
            print("\n" + text, end="")
        else:
            with open(args.csv, "w") as f:
                f.write(text)
    return 0
