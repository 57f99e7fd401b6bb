"""scripts/plot: the papers' figures from esrun run directories, as PNG files.

    acc_vs_time.png      test accuracy against wall-clock time (evaluation included)
    acc_vs_backprop.png  test accuracy against back-propagated samples (ES Figure 6)
    noisy_fraction.png   share of noisy-label samples among those back-propagated, per epoch
                         (ES Figure 3b analog; only when some run has label noise)

One curve per row label (default: the sampling method; other varying keys are added as in
scripts/tables), the mean over seeds with a band of ± one std; one panel per column value
(default: the dataset).

    scripts/plot runs/sweeps/small_policies --out plots/
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .runs import argument_parser, check_distinct_seeds, find_runs, group, label, mean_std  # noqa: E402


def curve(runs, x_of, y_of):
    """Mean x and mean ± std y at each epoch that every run has a y for."""
    series = []
    for run in runs:
        points = {}
        for i, record in enumerate(run.metrics):
            y = y_of(run.metrics, i)
            if y is not None:
                points[record["epoch"]] = (x_of(run.metrics, i), y)
        series.append(points)
    epochs = sorted(set.intersection(*(set(s) for s in series))) if series else []
    xs, ys, spread = [], [], []
    for e in epochs:
        xs.append(sum(s[e][0] for s in series) / len(series))
        mean, std = mean_std([s[e][1] for s in series])
        ys.append(mean)
        spread.append(std)
    return xs, ys, spread


def wall_time(metrics, i):
    return sum(r["time"]["epoch_total"] for r in metrics[: i + 1])


def backprop(metrics, i):
    return metrics[i]["samples_backward_total"]


def epoch_number(metrics, i):
    return metrics[i]["epoch"] + 1


def test_acc(metrics, i):
    value = metrics[i].get("test_acc")
    return None if value is None else 100.0 * value


def noisy(metrics, i):
    value = metrics[i].get("noisy_backward_fraction")
    return None if value is None else 100.0 * value


FIGURES = [
    ("acc_vs_time.png", wall_time, test_acc, "wall-clock time (s)", "test accuracy (%)"),
    ("acc_vs_backprop.png", backprop, test_acc, "back-propagated samples", "test accuracy (%)"),
    ("noisy_fraction.png", epoch_number, noisy, "epoch", "noisy samples among back-propagated (%)"),
]


def plot(runs, rows, cols, out):
    cells, row_keys, col_keys = group(runs, rows, cols)
    check_distinct_seeds(cells)
    col_values = sorted({c for _, c in cells}, key=str)
    row_values = sorted({r for r, _ in cells}, key=str)
    os.makedirs(out, exist_ok=True)
    written = []
    for name, x_of, y_of, xlabel, ylabel in FIGURES:
        if not any(y_of(run.metrics, i) is not None for run in runs for i in range(len(run.metrics))):
            continue
        figure, axes = plt.subplots(1, len(col_values), figsize=(5.5 * len(col_values), 4.2), squeeze=False)
        for panel, c in zip(axes[0], col_values):
            for r in row_values:
                members = cells.get((r, c))
                if not members:
                    continue
                xs, ys, spread = curve(members, x_of, y_of)
                if not xs:
                    continue
                line, = panel.plot(xs, ys, marker="o", markersize=3, label=f"{label(row_keys, r)} (n={len(members)})")
                if len(members) > 1 and all(s is not None for s in spread):
                    panel.fill_between(xs, [y - s for y, s in zip(ys, spread)], [y + s for y, s in zip(ys, spread)],
                                       color=line.get_color(), alpha=0.2)
            panel.set_title(label(col_keys, c))
            panel.set_xlabel(xlabel)
            panel.set_ylabel(ylabel)
            panel.grid(alpha=0.3)
            panel.legend(fontsize=8)
        figure.tight_layout()
        path = os.path.join(out, name)
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written


def main(argv=None):
    parser = argument_parser("scripts/plot", __doc__, "curves", "panels")
    parser.add_argument("--out", default="plots", help="folder for the PNG files (default plots)")
    parser.add_argument("--unfinished", action="store_true", help="also plot runs without summary.json")
    args = parser.parse_args(argv)
    found = find_runs(args.runs)
    runs = [run for run in found if run.metrics and (run.finished or args.unfinished)]
    if not runs:
        print(f"error: no finished run directories under {', '.join(args.runs)} (--unfinished plots running ones)",
              file=sys.stderr)
        return 2
    if len(runs) < len(found):
        print(f"left out {len(found) - len(runs)} unfinished run(s); --unfinished includes them (curves then stop at "
              "the shortest run of each method)")
    for path in plot(runs, args.rows.split(","), args.cols.split(","), args.out):
        print(f"wrote {path}")
    return 0
