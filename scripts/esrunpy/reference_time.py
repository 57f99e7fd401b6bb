"""Reference time: a run's work costed on one calibration, so that runs compare even when the
machine was not quiet (Kaddour et al. 2023's reference system time, in spirit).

A run's summary.json holds its work: how many training steps it took at each number of rows, and
how many forward passes without gradient (scoring, refresh) at each number of rows
({"work": {"train_steps": {"64": 120, "16": 840}, "forwards": {"64": 840}}}). A calibration is the
JSON `esrun bench` prints for that model and data on a quiet machine: the training step's seconds at
b = B/8, ..., B rows (train_step_by_rows) and the scoring forward's at B. The reference time is

    sum over step sizes b of count(b) * step(b) + sum over forward sizes r of count(r) * forward(B) * r / B

with step(b) interpolated linearly between the measured sizes and proportional to b outside them.
It counts training and scoring only: no data loading, no policy bookkeeping, no evaluation.

Several calibrations (a sweep with `calibrate: true` writes one per setting into <sweep>/costs/) serve
runs of several models and datasets: each run takes the one whose "dataset" and "model" are its
data.name and model.name (a calibration without them, alone, serves every run).
"""
import json


class CalibrationError(Exception):
    pass


class Costs:
    def __init__(self, path):
        try:
            with open(path) as f:
                bench = json.load(f)
            self.batch = int(bench["batch"])
            self.forward = float(bench["score_forward"]["seconds_per_step"])
            self.steps = sorted((int(p["rows"]), float(p["seconds_per_step"])) for p in bench["train_step_by_rows"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CalibrationError(f"{path}: expected the JSON of `esrun bench` (batch, score_forward, "
                                   f"train_step_by_rows): {e}")
        if not self.steps:
            raise CalibrationError(f"{path}: train_step_by_rows is empty")
        self.path = path
        self.dataset, self.model = bench.get("dataset"), bench.get("model")

    def step_seconds(self, rows):
        (low_rows, low), (high_rows, high) = self.steps[0], self.steps[-1]
        if rows <= low_rows:
            return low * rows / low_rows
        if rows >= high_rows:
            return high * rows / high_rows
        for (a_rows, a), (b_rows, b) in zip(self.steps, self.steps[1:]):
            if a_rows <= rows <= b_rows:
                return a + (b - a) * (rows - a_rows) / (b_rows - a_rows)
        raise AssertionError("unreachable")

    def forward_seconds(self, rows):
        return self.forward * rows / self.batch


def reference_seconds(summary, costs):
    """The run's work costed with `costs`; None for a summary without "work" (an older esrun's)."""
    work = summary.get("work")
    if not work:
        return None
    return (sum(count * costs.step_seconds(int(rows)) for rows, count in work.get("train_steps", {}).items()) +
            sum(count * costs.forward_seconds(int(rows)) for rows, count in work.get("forwards", {}).items()))


class Calibrations:
    """One or more calibrations, each serving the runs of its dataset and model."""

    def __init__(self, paths):
        self.costs = [Costs(path) for path in paths]
        self.path = ", ".join(paths)
        anonymous = [c.path for c in self.costs if c.dataset is None or c.model is None]
        if anonymous and len(self.costs) > 1:
            raise CalibrationError(f"{anonymous[0]}: names no dataset and model, so it cannot be told apart from the "
                                   "other calibrations given with it")
        mine = [(c.dataset, c.model) for c in self.costs]
        if len(set(mine)) != len(mine):
            raise CalibrationError(f"{self.path}: two calibrations of one dataset and model")

    def for_run(self, config):
        """The calibration of a run (its flat config); an error naming what is missing."""
        if len(self.costs) == 1 and self.costs[0].dataset is None:
            return self.costs[0]
        wanted = (config.get("data.name"), config.get("model.name"))
        for costs in self.costs:
            if (costs.dataset, costs.model) == wanted:
                return costs
        raise CalibrationError(f"no calibration of dataset {wanted[0]} and model {wanted[1]} among {self.path}")

    def seconds(self, run):
        """The run's reference time (runs.Run); None for a summary without work."""
        return reference_seconds(run.summary, self.for_run(run.config))
