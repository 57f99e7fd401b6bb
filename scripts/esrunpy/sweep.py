"""scripts/sweep: expands a sweep YAML into esrun jobs and runs them locally with N workers, or
writes a Slurm array job that runs the same jobs. Re-running skips finished runs (summary.json)
and resumes interrupted ones (checkpoints/last.pt).

Sweep YAML:
    name: small_policies              # the sweep folder is <out>/<name>
    out: runs/sweeps                  # optional (default runs/sweeps), relative to the current folder
    configs: [../cifar10_subset_small_cnn.yaml]   # base configs, relative to this file
    set: {train.epochs: 5}            # overrides for every job
    grid:                             # every combination of these values
      sampler.name: [uniform, es, eswp]
      # config: ../paper/table2/*.yaml  # the special key `config`: whole config files (globs allowed),
                                        # each applied after `configs`; the job is named by its stem
    # grid: [{config: [a.yaml], sampler.name: [es, eswp]}, {config: [b.yaml], sampler.name: [es]}]
                                      # or a list of grids: each expanded as above, their jobs together
    variants:                         # optional; each is crossed with the grid
      - {label: b0.25, set: {sampler.ratio: 0.25}}
    ladder:                           # optional: the uniform baseline ladder for equal-time comparisons
      - {label: steps2000, set: {train.budget.steps: 2000}}   # uniform, each schedule fully decayed
      - {label: half, set: {sampler.name: reduced_epochs, sampler.prune_ratio: 0.5}}
    seeds: [0, 1]
    score: [../paper/infobatch_table1/scoring/*.yaml]  # optional: esrun score configs (globs allowed),
                                      # applied after `configs` (then `set` and --set), run to completion
                                      # before the training jobs; each writes the file its score.out names
    calibrate: true                   # optional: esrun bench of each setting (a grid's keys but
                                      # sampler.name) first, one at a time, into <out>/<name>/costs/, for
                                      # scripts/tables --time reference --costs (locally, or by --scores-only
                                      # before a Slurm array)

A ladder entry is a uniform job (sampler.name: uniform unless its `set` names another) for every
combination of the grid's other keys, with the variants' settings left out; scripts/tables and
scripts/report then compare every method with uniform at its own train time, interpolated on the
ladder (the full-length uniform run of the grid is a rung too). Its jobs are named
<grid keys but sampler.name,>ladder,<label>.

Job folders: <out>/<name>/<key=value,...[,label]>/s<seed>; the log of each job is beside it
(<job folder>.log). <out>/<name>/summary.csv has one row per training job (as timm's summary.csv has
one per epoch), rewritten whenever a job ends: its status, the overrides that vary between jobs,
the headline metric's final and best values, times, and the sampler's effective settings.
"""
import argparse
import csv
import fcntl
import glob
import io
import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import yaml

from .common import REPO, default_esrun

INTERRUPTED = 3  # esrun's exit code after a graceful stop (checkpoint written)


class SweepError(Exception):
    pass


def yaml_value(value):
    """A value as esrun's --set parses it (YAML flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip()
    return text.removesuffix("...").strip()  # a scalar document ends with "..."


def path_safe(text):
    return "".join(c if c.isalnum() or c in "._=-+," else "_" for c in text)


class Job:
    def __init__(self, name, seed, sets, run_dir, config=None):
        self.name, self.seed, self.sets, self.run_dir, self.config = name, seed, sets, run_dir, config

    @property
    def log(self):
        return self.run_dir + ".log"

    @property
    def title(self):
        return f"{self.name}/s{self.seed}"

    def all_configs(self, configs):
        """The sweep's base configs, then this job's own config file (if any)."""
        return list(configs) + ([self.config] if self.config else [])

    def overrides(self, configs):
        """What defines this job, recorded beside the run (sweep_job.json); a job without a seed (scoring,
        calibration) records none."""
        out = {"configs": self.all_configs(configs), "set": [[k, yaml_value(v)] for k, v in self.sets]}
        if self.seed is not None:
            out["seed"] = self.seed
        return out

    def recorded(self):
        try:
            with open(os.path.join(self.run_dir, "sweep_job.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def record(self, configs):
        os.makedirs(self.run_dir, exist_ok=True)
        with open(os.path.join(self.run_dir, "sweep_job.json"), "w") as f:
            json.dump(self.overrides(configs), f, indent=1)

    def status(self):
        if os.path.exists(os.path.join(self.run_dir, "summary.json")):
            return "finished"
        if os.path.exists(os.path.join(self.run_dir, "checkpoints", "last.pt")):
            return "interrupted"
        return "new"

    # Where the job's standard output goes instead of its log (a calibration's JSON), and what its
    # successful end does with it.
    stdout_path = None

    def finished_with(self, code):
        pass

    def command(self, esrun, configs, extra_sets=()):
        cmd = [esrun]
        for config in self.all_configs(configs):
            cmd += ["--config", config]
        for key, value in list(self.sets) + [("seed", self.seed)] + list(extra_sets):
            cmd += ["--set", f"{key}={yaml_value(value)}"]
        if self.status() == "interrupted":
            cmd += ["--resume", self.run_dir]
        else:
            cmd += ["--out", self.run_dir]
        return cmd


class ScoreJob(Job):
    """esrun score with one scoring config: it writes the file its score.out names, its scoring runs
    beside it in <file without extension>-runs/ (that folder is the job's)."""

    def __init__(self, config, sets):
        try:
            with open(config) as f:
                spec = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            raise SweepError(f"{config}: cannot read the scoring config: {e}")
        out = (spec.get("score") or {}).get("out")
        if not isinstance(out, str) or not out:
            raise SweepError(f"{config}: score.out: a sweep's scoring config names the scores file it writes")
        self.file = os.path.abspath(out)
        super().__init__(os.path.splitext(os.path.basename(config))[0], None, sets,
                         os.path.splitext(self.file)[0] + "-runs", config)

    @property
    def title(self):
        return f"score {self.name}"

    def status(self):
        """As esrun score sees it: a folder without a trained part (its checks failed) starts afresh."""
        try:
            with open(os.path.join(self.run_dir, "score.json")) as f:
                done = json.load(f).get("done")
        except (OSError, ValueError):
            done = None
        if done and os.path.exists(self.file):
            return "finished"
        parts = glob.glob(os.path.join(self.run_dir, "part-*.pt")) + \
            glob.glob(os.path.join(self.run_dir, "part-*", "checkpoints", "last.pt"))
        return "interrupted" if done is not None and parts else "new"

    def command(self, esrun, configs, extra_sets=()):
        cmd = [esrun, "score"]
        if self.status() == "interrupted":
            cmd += ["--resume", self.run_dir]
        else:
            for config in self.all_configs(configs):
                cmd += ["--config", config]
        for key, value in list(self.sets) + list(extra_sets):
            cmd += ["--set", f"{key}={yaml_value(value)}"]
        return cmd


class CalibrationJob(Job):
    """esrun bench on one setting of the sweep (its data and model, the jobs' threads): the per-row costs
    that scripts/tables and scripts/report turn each run's work into a reference time with. Written to
    <sweep folder>/costs/<setting>.json; run one at a time before the training jobs."""

    def __init__(self, name, sets, root, config):
        self.file = os.path.join(root, "costs", name + ".json")
        super().__init__(name, None, sets, os.path.join(root, "costs", name), config)

    @property
    def title(self):
        return f"calibrate {self.name}"

    @property
    def stdout_path(self):
        return self.file + ".partial"

    def finished_with(self, code):
        if code == 0:
            os.replace(self.stdout_path, self.file)

    def status(self):
        try:
            with open(self.file) as f:
                return "finished" if "train_step_by_rows" in json.load(f) else "new"
        except (OSError, ValueError):
            return "new"

    def command(self, esrun, configs, extra_sets=()):
        cmd = [esrun, "bench"]
        for config in self.all_configs(configs):
            cmd += ["--config", config]
        for key, value in list(self.sets) + [(k, v) for k, v in extra_sets if k != "progress.mode"]:
            cmd += ["--set", f"{key}={yaml_value(value)}"]
        return cmd


def combinations(grid):
    """(config file or None, {key: value} of the other keys) for every combination of a grid's values."""
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        chosen = dict(zip(keys, combo))
        yield chosen.pop("config", None), chosen


def name_parts(config, chosen):
    """A job's name parts: its config file's stem, then key=value of each chosen key."""
    return ([os.path.splitext(os.path.basename(config))[0]] if config else []) + \
        [f"{k}={yaml_value(v)}" for k, v in chosen.items()]


class Sweep:
    def __init__(self, path, out=None, extra_sets=()):
        self.path = os.path.abspath(path)
        try:
            with open(path) as f:
                spec = yaml.safe_load(f) or {}
        except OSError as e:
            raise SweepError(f"{path}: cannot read the sweep file: {e.strerror}")
        except yaml.YAMLError as e:
            raise SweepError(f"{path}: not valid YAML: {e}")
        known = {"name", "out", "configs", "set", "grid", "variants", "ladder", "seeds", "score", "calibrate"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise SweepError(f"{path}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
        self.name = spec.get("name") or os.path.splitext(os.path.basename(path))[0]
        here = os.path.dirname(self.path)
        self.configs = [os.path.normpath(os.path.join(here, c)) for c in self._list(spec, "configs", str)]
        for config in self.configs:
            if not os.path.exists(config):
                raise SweepError(f"{path}: configs: '{config}' does not exist")
        self.sets = list(self._dict(spec, "set").items()) + list(extra_sets)
        grids = spec.get("grid") or {}
        if isinstance(grids, dict):
            grids = [grids]
        if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
            raise SweepError(f"{path}: grid: expected a mapping of key.path: [values], or a list of such mappings, "
                             f"got {grids!r}")
        self.grids = [self._grid(grid, here, f"grid[{i}]" if len(grids) > 1 else "grid")
                      for i, grid in enumerate(grids)]
        self.variants = []
        for i, variant in enumerate(self._list(spec, "variants", dict)):
            if set(variant) - {"label", "set"} or "label" not in variant:
                raise SweepError(f"{path}: variants[{i}]: expected {{label: ..., set: {{key: value}}}}")
            self.variants.append((str(variant["label"]), list((variant.get("set") or {}).items())))
        self.ladder = []
        for i, rung in enumerate(self._list(spec, "ladder", dict)):
            if set(rung) - {"label", "set"} or "label" not in rung or not isinstance(rung.get("set") or {}, dict):
                raise SweepError(f"{path}: ladder[{i}]: expected {{label: ..., set: {{key: value}}}}")
            self.ladder.append((str(rung["label"]), list((rung.get("set") or {}).items())))
        self.seeds = self._list(spec, "seeds", int) or [0]
        self.score_configs = []
        for pattern in self._list(spec, "score", str):
            matched = sorted(glob.glob(os.path.join(here, pattern)))
            if not matched:
                raise SweepError(f"{path}: score: '{pattern}' matches no file")
            self.score_configs += [os.path.normpath(m) for m in matched]
        self.calibrate = spec.get("calibrate", False)
        if not isinstance(self.calibrate, bool):
            raise SweepError(f"{path}: calibrate: expected true or false, got {self.calibrate!r}")
        root = out or spec.get("out") or os.path.join("runs", "sweeps")
        self.root = os.path.abspath(os.path.join(root, self.name))

    def _grid(self, grid, here, where):
        """One grid's values, its `config` globs expanded."""
        for key, values in grid.items():
            if key == "config" and isinstance(values, str):
                values = grid[key] = [values]
            if not isinstance(values, list) or not values:
                raise SweepError(f"{self.path}: {where}.{key}: expected a non-empty list of values, got {values!r}")
        if "config" in grid:
            files = []
            for pattern in grid["config"]:
                matched = sorted(glob.glob(os.path.join(here, pattern)))
                if not matched:
                    raise SweepError(f"{self.path}: {where}.config: '{pattern}' matches no file")
                files += [os.path.normpath(m) for m in matched]
            grid["config"] = files
        return grid

    def _list(self, spec, key, kind):
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            raise SweepError(f"{self.path}: {key}: expected a list of {kind.__name__}, got {value!r}")
        return value

    def _dict(self, spec, key):
        value = spec.get(key) or {}
        if not isinstance(value, dict):
            raise SweepError(f"{self.path}: {key}: expected a mapping of key.path: value, got {value!r}")
        return value

    def score_jobs(self):
        """The scoring jobs, run before the training jobs (the sweep's `set` applies to them too)."""
        jobs = [ScoreJob(config, self.sets) for config in self.score_configs]
        files = [j.file for j in jobs]
        if len(set(files)) != len(files):
            raise SweepError(f"{self.path}: score: two scoring configs write the same score.out")
        return jobs

    def settings(self, grids=None):
        """[(name, config, sets)]: each combination of a grid's keys but sampler.name, once (one problem
        of the sweep: the ladder's and the calibration's unit), of `grids` (default: all)."""
        out, seen = [], set()
        for grid in self.grids if grids is None else grids:
            for config, chosen in combinations(grid):
                chosen.pop("sampler.name", None)
                name = path_safe(",".join(name_parts(config, chosen)))
                if name not in seen:
                    seen.add(name)
                    out.append((name, config, list(chosen.items())))
        return out

    def calibration_jobs(self):
        """With `calibrate: true`, one esrun bench per setting (see CalibrationJob)."""
        if not self.calibrate:
            return []
        return [CalibrationJob(name or "base", self.sets + sets, self.root, config)
                for name, config, sets in self.settings()]

    def jobs(self):
        """Each grid x variants x seeds, then its ladder, grid after grid, in a stable order."""
        variants = self.variants or [(None, [])]
        jobs, seen = [], set()
        for grid in self.grids:
            for config, chosen in combinations(grid):
                for variant_label, variant_sets in variants:
                    parts = name_parts(config, chosen) + ([variant_label] if variant_label else [])
                    name = path_safe(",".join(parts)) or "base"
                    # The grid's values come after `set`, a variant's after both.
                    sets = self.sets + list(chosen.items()) + variant_sets
                    for seed in self.seeds:
                        jobs.append(Job(name, seed, sets, os.path.join(self.root, name, f"s{seed}"), config))
            jobs += self.ladder_jobs(self.settings([grid]), seen)
        names = [(j.name, j.seed) for j in jobs]
        if len(set(names)) != len(names):
            raise SweepError(f"{self.path}: two jobs have the same name; give the variants and ladder entries "
                             "distinct labels (and the grids distinct values)")
        return jobs

    def ladder_jobs(self, settings, seen):
        """Uniform at each ladder entry's length, once per setting (seen: the ladder jobs' names so far, of
        every grid)."""
        jobs = []
        for setting, config, chosen in settings:
            for rung_label, rung_sets in self.ladder:
                name = path_safe(",".join(([setting] if setting else []) + ["ladder", rung_label]))
                if name in seen:
                    continue
                seen.add(name)
                sets = self.sets + chosen + [("sampler.name", "uniform")] + rung_sets
                for seed in self.seeds:
                    jobs.append(Job(name, seed, sets, os.path.join(self.root, name, f"s{seed}"), config))
        return jobs


SUMMARY_FIELDS = ("best_epoch", "epochs", "train_time_s", "extra_cost_s", "wall_time_s", "samples_backward_total",
                  "config_hash")


def summary_rows(jobs, root):
    """One dict per job for summary.csv (see the module docstring)."""
    varying = [k for k in dict.fromkeys(k for j in jobs for k, _ in j.sets)
               if len({yaml_value(dict(j.sets).get(k)) for j in jobs}) > 1]
    rows = []
    for job in jobs:
        sets = dict(job.sets)
        row = {"job": job.name, "seed": job.seed, "status": job.status(), "run_dir": os.path.relpath(job.run_dir, root)}
        row.update({k: yaml_value(sets[k]) if k in sets else "" for k in varying})
        summary = {}
        if row["status"] == "finished":
            try:
                with open(os.path.join(job.run_dir, "summary.json")) as f:
                    summary = json.load(f)
            except (OSError, ValueError):
                row["status"] = "unreadable summary.json"
        metric = summary.get("metric", "acc" if summary else "")
        row.update({"metric": metric, "final_test": summary.get(f"final_test_{metric}", ""),
                    "best_test": summary.get(f"best_test_{metric}", "")})
        row.update({k: summary.get(k, "") for k in SUMMARY_FIELDS})
        for key, value in summary.get("sampler", {}).items():
            row["sampler." + key] = yaml_value(value) if isinstance(value, (list, bool)) else value
        rows.append(row)
    return rows


def write_summary_csv(sweep, jobs):
    """<sweep folder>/summary.csv, replaced atomically. Slurm tasks may end at once: each reads the
    jobs' states and replaces the file under a lock, so the last writer saw every earlier end. A
    failure to write it is a warning: the runs themselves are written."""
    try:
        os.makedirs(sweep.root, exist_ok=True)
        with open(os.path.join(sweep.root, ".summary.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            rows = summary_rows(jobs, sweep.root)
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), restval="",
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            handle, temporary = tempfile.mkstemp(dir=sweep.root, prefix=".summary.csv.")
            with os.fdopen(handle, "w") as f:
                f.write(text.getvalue())
            os.replace(temporary, os.path.join(sweep.root, "summary.csv"))
    except OSError as error:
        print(f"sweep: warning: could not write {os.path.join(sweep.root, 'summary.csv')}: {error}", file=sys.stderr)


def run_local(sweep, jobs, workers, threads, esrun, devices, dry_run=False):
    """Runs the jobs that are not finished, `workers` at a time. Returns {job name/seed: outcome}."""
    stale = [j for j in jobs if j.status() != "new" and j.recorded() not in (None, j.overrides(sweep.configs))]
    if stale:
        raise SweepError(f"{len(stale)} job folder(s) hold runs made with other configs or overrides than this sweep now "
                         f"gives, e.g. {stale[0].run_dir} (see its sweep_job.json); use another --out, or remove them")
    todo = [j for j in jobs if j.status() != "finished"]
    outcome = {j.title: "skipped (finished)" for j in jobs if j.status() == "finished"}
    print(f"sweep {sweep.name}: {len(jobs)} jobs, {len(jobs) - len(todo)} finished, "
          f"{sum(j.status() == 'interrupted' for j in todo)} to resume, {len(todo)} to run with {workers} workers "
          f"x {threads} threads -> {sweep.root}", flush=True)
    if dry_run:
        for job in todo:
            print(shlex.join(job.command(esrun, sweep.configs, [("threads", threads)])))
        return outcome

    stop = {"signal": None}

    def on_signal(number, _frame):
        if stop["signal"] is None:
            print(f"\nsweep: {signal.Signals(number).name}: asking running jobs to checkpoint and stop; "
                  "re-run the sweep to resume them", file=sys.stderr, flush=True)
        stop["signal"] = number
        for process, _, _ in running:
            if process.poll() is None:
                process.send_signal(number)

    running = []  # (process, job, slot)
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    free = list(range(workers))
    queue = list(todo)
    started = time.time()
    try:
        while queue or running:
            while queue and free and stop["signal"] is None:
                job, slot = queue.pop(0), free.pop(0)
                extra = [("threads", threads), ("progress.mode", "lines")]
                if devices:
                    extra.append(("device", devices[slot % len(devices)]))
                os.makedirs(os.path.dirname(job.run_dir), exist_ok=True)
                resuming = job.status() == "interrupted"
                command = job.command(esrun, sweep.configs, extra)
                job.record(sweep.configs)
                with open(job.log, "a") as log:
                    log.write(f"$ {shlex.join(command)}\n")
                    log.flush()
                    if job.stdout_path:
                        with open(job.stdout_path, "w") as out:
                            process = subprocess.Popen(command, stdout=out, stderr=log, env=env,
                                                       start_new_session=True)
                    else:
                        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                                   start_new_session=True)
                print(f"[{time.time() - started:7.1f}s] {'resume' if resuming else 'start '} {job.title}", flush=True)
                running.append((process, job, slot))
            if queue and stop["signal"] is not None:
                for job in queue:
                    outcome[job.title] = "not started (stopped)"
                queue = []
            time.sleep(0.2)
            for entry in list(running):
                process, job, slot = entry
                code = process.poll()
                if code is None:
                    continue
                running.remove(entry)
                job.finished_with(code)
                free.append(slot)
                free.sort()
                result = {0: "finished", INTERRUPTED: "interrupted (checkpointed)"}.get(code, f"failed (exit {code})")
                outcome[job.title] = result
                print(f"[{time.time() - started:7.1f}s] {result:<10} {job.title}"
                      + ("" if code in (0, INTERRUPTED) else f"  (see {job.log})"), flush=True)
                if not isinstance(job, (ScoreJob, CalibrationJob)):
                    write_summary_csv(sweep, jobs)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(f"sweep {sweep.name}: wall time {time.time() - started:.1f}s", flush=True)
    return outcome


def slurm_script(sweep, jobs, args):
    """The sbatch file of a Slurm array job whose task i runs job i (skip/resume included)."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={sweep.name}", f"#SBATCH --array=0-{len(jobs) - 1}"
             + (f"%{args.max_parallel}" if args.max_parallel else ""),
             f"#SBATCH --output={os.path.join(sweep.root, 'logs', 'slurm-%A_%a.out')}",
             f"#SBATCH --cpus-per-task={args.cpus}", f"#SBATCH --time={args.time}",
             # Slurm sends SIGUSR1 to the batch shell this many seconds before the time limit; the
             # task forwards it to esrun, which checkpoints and exits 3.
             f"#SBATCH --signal=B:USR1@{args.signal_seconds}"]
    if args.partition:
        lines.append(f"#SBATCH --partition={args.partition}")
    if args.gpus:
        lines.append(f"#SBATCH --gpus={args.gpus}")
    ranks_per_node = max(1, args.gpus_per_node)
    distributed = args.nodes > 1 or ranks_per_node > 1
    if distributed:
        # One esrun per GPU (per node without GPUs), started by srun: each reads its rank from
        # SLURM_PROCID and rank 0's host from SLURM_NODELIST.
        lines += [f"#SBATCH --nodes={args.nodes}", f"#SBATCH --ntasks-per-node={ranks_per_node}"]
        if args.gpus_per_node:
            lines.append(f"#SBATCH --gpus-per-node={args.gpus_per_node}")
    if args.mem:
        lines.append(f"#SBATCH --mem={args.mem}")
    if args.requeue:
        lines.append("#SBATCH --requeue")
    task = [sys.executable if args.python is None else args.python, os.path.join(REPO, "scripts", "sweep"),
            sweep.path, "--out", os.path.dirname(sweep.root), "--esrun", os.path.abspath(args.esrun)]
    for item in args.set:
        task += ["--set", item]
    if args.requeue:
        task.append("--requeue")
    if distributed:
        task.append("--srun")
    lines += ["", f"cd {shlex.quote(REPO)}"]
    if distributed:
        # The rendezvous port, per job, so that two jobs sharing a node do not collide.
        lines.append("export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))")
    lines += [
              f"exec {shlex.join(task)} --run-index \"$SLURM_ARRAY_TASK_ID\" --threads \"$SLURM_CPUS_PER_TASK\"", ""]
    return "\n".join(lines)


def run_index(sweep, jobs, index, threads, esrun, requeue, srun=False):
    """One Slurm array task: the job's status decides run, resume or nothing; signals are forwarded
    to esrun. With --requeue, an interrupted job puts its array task back in the queue. With
    `srun`, esrun runs as one process per task of the allocation (a multi-node or multi-GPU job);
    srun passes the signals on to each."""
    if not 0 <= index < len(jobs):
        raise SweepError(f"--run-index {index}: the sweep has jobs 0..{len(jobs) - 1}")
    job = jobs[index]
    if job.status() != "new" and job.recorded() not in (None, job.overrides(sweep.configs)):
        raise SweepError(f"{job.run_dir} holds a run made with other configs or overrides (see its sweep_job.json)")
    if job.status() == "finished":
        print(f"{job.name}/s{job.seed}: finished already ({job.run_dir}/summary.json)")
        return 0
    command = job.command(esrun, sweep.configs, [("threads", threads), ("progress.mode", "lines")])
    if srun:
        command = ["srun", "--kill-on-bad-exit=1"] + command
    job.record(sweep.configs)
    print("$ " + shlex.join(command), flush=True)
    # Slurm's `--signal=B:USR1@...` reaches only the batch shell, which is this process (exec): pass
    # it on. scancel and the time limit send SIGTERM to every process of the job, esrun included,
    # so forwarding those as well would arrive at esrun as a second signal (exit at once).
    child = {}
    signal.signal(signal.SIGUSR1, lambda number, _frame: child and child["process"].send_signal(number))
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda _number, _frame: None)
    child["process"] = process = subprocess.Popen(command)
    while True:
        try:
            code = process.wait()
            break
        except InterruptedError:
            continue
    write_summary_csv(sweep, jobs)
    if code == INTERRUPTED and requeue and os.environ.get("SLURM_ARRAY_JOB_ID"):
        task = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', index)}"
        print(f"interrupted: requeueing {task}", flush=True)
        subprocess.call(["scontrol", "requeue", task])
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="the sweep YAML")
    parser.add_argument("--out", help="parent folder of the sweep folder (default: the file's `out`, else runs/sweeps)")
    parser.add_argument("--esrun", default=default_esrun(), help="the esrun binary (default build/esrun)")
    parser.add_argument("--list", action="store_true", help="print the jobs with their status and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the commands that would run")
    parser.add_argument("--scores-only", action="store_true",
                        help="run only the sweep's calibrations (`calibrate`) and scoring jobs (`score`), e.g. before "
                             "submitting the training array to Slurm")
    parser.add_argument("--workers", type=int, default=1, help="local jobs at a time")
    parser.add_argument("--threads", type=int, help="threads per job (default: cores / workers)")
    parser.add_argument("--devices", help="comma-separated devices handed to workers in turn, e.g. cuda:0,cuda:1")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for every job, after the sweep's `set` and before its grid (e.g. a CPU-sized variant); repeatable")
    slurm = parser.add_argument_group("Slurm")
    slurm.add_argument("--slurm", action="store_true", help="write <sweep folder>/sweep.sbatch instead of running")
    slurm.add_argument("--partition")
    slurm.add_argument("--time", default="04:00:00", help="per-task time limit (default 04:00:00)")
    slurm.add_argument("--gpus", type=int, default=0, help="GPUs per task (a single-process job)")
    slurm.add_argument("--nodes", type=int, default=1, help="nodes per job; with --gpus-per-node, one esrun per GPU "
                       "(a data-parallel run, docs/distributed.md)")
    slurm.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node, one esrun process each")
    slurm.add_argument("--cpus", type=int, default=8, help="CPUs per task (also esrun's threads)")
    slurm.add_argument("--mem", help="memory per task, e.g. 32G")
    slurm.add_argument("--max-parallel", type=int, help="at most this many tasks at once (%%N)")
    slurm.add_argument("--signal-seconds", type=int, default=120,
                       help="SIGUSR1 this many seconds before the time limit (default 120)")
    slurm.add_argument("--requeue", action="store_true", help="requeue a task that was stopped by the signal")
    slurm.add_argument("--python", help="python for the array tasks (default: this one)")
    parser.add_argument("--run-index", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--srun", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        extra = []
        for item in args.set:
            if "=" not in item:
                raise SweepError(f"--set {item}: expected key.path=value")
            key, value = item.split("=", 1)
            extra.append((key, yaml.safe_load(value)))
        sweep = Sweep(args.sweep, args.out, extra)
        jobs = sweep.jobs()
        scoring = sweep.score_jobs()
        calibrations = sweep.calibration_jobs()
        threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.workers))
        if args.workers < 1:
            raise SweepError(f"--workers: expected at least 1, got {args.workers}")
        if args.list:
            for job in scoring + calibrations:
                print(f"   -  {job.status():<11}  {job.title} -> {job.file}")
            for i, job in enumerate(jobs):
                print(f"{i:4d}  {job.status():<11}  {job.name}/s{job.seed}")
            return 0
        if args.run_index is not None:
            return run_index(sweep, jobs, args.run_index, threads, args.esrun, args.requeue, args.srun)
        if not os.path.exists(args.esrun):
            raise SweepError(f"--esrun: '{args.esrun}' does not exist; build esrun first (scripts/setup.sh)")
        if args.nodes < 1 or args.gpus_per_node < 0:
            raise SweepError(f"--nodes {args.nodes} --gpus-per-node {args.gpus_per_node}: expected at least one "
                             "node and no negative GPU count")
        if args.gpus and (args.nodes > 1 or args.gpus_per_node):
            raise SweepError("--gpus is for single-process jobs; a multi-process job takes --nodes and --gpus-per-node")
        waiting = [j for j in scoring if j.status() != "finished"]
        if args.slurm and waiting and not args.scores_only:
            raise SweepError(f"{len(waiting)} scoring job(s) of `score` have not written their scores files (e.g. "
                             f"{waiting[0].file}), which the training jobs read: run scripts/sweep {args.sweep} "
                             "--scores-only first")
        if args.slurm and not args.scores_only:
            os.makedirs(os.path.join(sweep.root, "logs"), exist_ok=True)
            path = os.path.join(sweep.root, "sweep.sbatch")
            with open(path, "w") as f:
                f.write(slurm_script(sweep, jobs, args))
            print(f"wrote {path} ({len(jobs)} array tasks); submit with: sbatch {path}")
            return 0
        devices = args.devices.split(",") if args.devices else []
        outcome = {}
        if calibrations:
            # One at a time, before any other job: each measures a machine as quiet as it gets.
            outcome = run_local(sweep, calibrations, 1, threads, args.esrun, devices, args.dry_run)
        if scoring:
            outcome.update(run_local(sweep, scoring, args.workers, threads, args.esrun, devices, args.dry_run))
        scored = not any(v.startswith(("failed", "interrupted", "not started")) for v in outcome.values())
        if not args.scores_only and scored:
            outcome.update(run_local(sweep, jobs, args.workers, threads, args.esrun, devices, args.dry_run))
            if not args.dry_run:
                write_summary_csv(sweep, jobs)
        failed = [k for k, v in outcome.items() if v.startswith("failed")]
        stopped = [k for k, v in outcome.items() if v.startswith(("interrupted", "not started"))]
        if failed:
            print(f"{len(failed)} job(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        return INTERRUPTED if stopped else 0
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
