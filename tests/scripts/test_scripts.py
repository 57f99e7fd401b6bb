"""Tests of scripts/sweep, scripts/tables and scripts/plot (run by ctest as the `scripts` test).

ESRUN_BINARY, when set, is the built esrun: then a real two-worker sweep runs on tiny CIFAR files
these tests write."""
import contextlib
import csv
import importlib.util
import io
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

import yaml

# script_helpers first: it puts scripts/ on the import path, where the scripts and esrunpy are.
from script_helpers import ESRUN, REPO, SCRIPTS, quiet, write

import compare_policies
from esrunpy import benchtable, common, plot, sweep, tables

CONFIGS = os.path.join(REPO, "configs")


def make_run(root, name, sampler, seed, acc, train_time, data="cifar10", finished=True, noisy=None, extra=None,
             summary=None):
    """A hand-made run directory with known numbers; `summary` adds keys to summary.json."""
    path = os.path.join(root, name)
    config = {"name": name, "seed": seed, "data": {"name": data, "root": "/x"}, "sampler": {"name": sampler},
              "train": {"epochs": 2}, "threads": 4}
    for key, value in (extra or {}).items():
        node = config
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    write(os.path.join(path, "config.resolved.yaml"), json.dumps(config))  # JSON is YAML
    lines = []
    for epoch in range(2):
        record = {"epoch": epoch, "test_acc": acc - 0.1 * (1 - epoch), "samples_backward_total": 100 * (epoch + 1),
                  "time": {"epoch_total": train_time / 2 + 1}}
        if noisy is not None:
            record["noisy_backward_fraction"] = noisy
        lines.append(json.dumps(record))
    write(os.path.join(path, "metrics.jsonl"), "\n".join(lines) + "\n")
    if finished:
        write(os.path.join(path, "summary.json"), json.dumps(
            {"final_test_acc": acc, "best_test_acc": acc, "train_time_s": train_time, "samples_backward_total": 200,
             **(summary or {})}))
    return path


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


class SweepExpansion(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.base = write(os.path.join(self.dir.name, "base.yaml"), "name: base\n")

    def tearDown(self):
        self.dir.cleanup()

    def sweep_file(self, text):
        return write(os.path.join(self.dir.name, "sweep.yaml"), textwrap.dedent(text))

    def fake_esrun(self, subcommands):
        """(path, calls file) of a stand-in esrun: it appends its arguments to the calls file, runs
        `subcommands` (Python over `args`, exiting for those it handles), and otherwise is a run that
        writes its summary.json."""
        calls = os.path.join(self.dir.name, "calls.txt")
        fake = write(os.path.join(self.dir.name, "fake_esrun"), f"#!{sys.executable}\nimport json, os, sys\n"
                     f"args = sys.argv[1:]\nwith open({calls!r}, 'a') as f:\n    f.write(' '.join(args) + '\\n')\n" +
                     textwrap.dedent(subcommands) +
                     "run_dir = args[args.index('--out') + 1]\nos.makedirs(run_dir, exist_ok=True)\n"
                     "open(os.path.join(run_dir, 'summary.json'), 'w').write('{}')\n")
        os.chmod(fake, 0o755)
        return fake, calls

    def test_a_ladder_adds_uniform_jobs_per_combination_of_the_other_grid_keys(self):
        path = self.sweep_file("""
            name: demo
            configs: [base.yaml]
            grid:
              sampler.name: [uniform, es, infobatch]
              data.label_noise.ratio: [0.0, 0.2]
            ladder:
              - {label: steps100, set: {train.budget.steps: 100}}
              - {label: half, set: {sampler.name: reduced_epochs, sampler.prune_ratio: 0.5}}
            seeds: [0, 1]
            """)
        jobs = sweep.Sweep(path, out=self.dir.name).jobs()
        ladder = [j for j in jobs if ",ladder," in j.name]
        self.assertEqual(len(jobs), 3 * 2 * 2 + 2 * 2 * 2)  # the grid, then 2 rungs x 2 noise levels x 2 seeds
        self.assertEqual(sorted({j.name for j in ladder}), [
            "data.label_noise.ratio=0.0,ladder,half", "data.label_noise.ratio=0.0,ladder,steps100",
            "data.label_noise.ratio=0.2,ladder,half", "data.label_noise.ratio=0.2,ladder,steps100"])
        steps = dict(next(j for j in ladder if j.name.endswith("steps100")).sets)
        self.assertEqual(steps["sampler.name"], "uniform")
        self.assertEqual(steps["train.budget.steps"], 100)
        half = next(j for j in ladder if j.name.endswith("half")).command("esrun", [])
        self.assertLess(half.index("sampler.name=uniform"), half.index("sampler.name=reduced_epochs"))  # the last wins

    def test_a_list_of_grids_expands_each_with_its_own_ladder(self):
        for name in ("a.yaml", "b.yaml"):
            write(os.path.join(self.dir.name, name), "name: x\n")
        path = self.sweep_file("""
            grid:
              - {config: [a.yaml], sampler.name: [uniform, es, eswp]}
              - {config: [b.yaml], sampler.name: [uniform, infobatch]}
            ladder: [{label: half, set: {sampler.name: reduced_epochs, sampler.prune_ratio: 0.5}}]
            seeds: [0]
            """)
        names = [j.name for j in sweep.Sweep(path, out=self.dir.name).jobs()]
        # Each grid's jobs, then its ladder; no product across the grids.
        self.assertEqual(names, ["a,sampler.name=uniform", "a,sampler.name=es", "a,sampler.name=eswp", "a,ladder,half",
                                 "b,sampler.name=uniform", "b,sampler.name=infobatch", "b,ladder,half"])
        bad = self.sweep_file("grid: [{sampler.name: [es]}, {sampler.name: []}]\n")
        with self.assertRaises(sweep.SweepError) as caught:
            sweep.Sweep(bad, out=self.dir.name)
        self.assertIn("grid[1].sampler.name", str(caught.exception))

    def test_calibrate_benches_each_setting_once_before_the_runs(self):
        for name in ("a.yaml", "b.yaml"):
            write(os.path.join(self.dir.name, name), "name: x\n")
        path = self.sweep_file("""
            set: {threads: 1}
            grid:
              - {config: [a.yaml], sampler.name: [uniform, es]}
              - {config: [b.yaml], sampler.name: [uniform]}
            calibrate: true
            """)
        s = sweep.Sweep(path, out=self.dir.name)
        calibrations = s.calibration_jobs()
        self.assertEqual([j.file for j in calibrations], [os.path.join(s.root, "costs", "a.json"),
                                                           os.path.join(s.root, "costs", "b.json")])
        self.assertEqual(calibrations[0].command("esrun", [])[:4], ["esrun", "bench", "--config",
                                                                     os.path.join(self.dir.name, "a.yaml")])
        # A stand-in esrun: bench prints its JSON on stdout (then fails for b); a run writes its summary.
        fake, calls = self.fake_esrun(f"""
            if args[0] == "bench":
                print(json.dumps({{"batch": 8, "train_step_by_rows": []}}))
                print("benching", file=sys.stderr)
                sys.exit(1 if "b.yaml" in " ".join(args) else 0)
            """)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", fake, "--workers", "2"])
        self.assertEqual(code, 1)  # b's calibration failed: no run starts
        self.assertIn("failed (exit 1) calibrate b", out)
        self.assertEqual(calibrations[0].status(), "finished")
        self.assertEqual(calibrations[1].status(), "new")
        self.assertFalse(os.path.exists(calibrations[1].file))  # a failed bench leaves no costs file
        with open(calibrations[0].file) as f:
            self.assertEqual(json.load(f)["batch"], 8)  # stdout only; stderr went to the log
        with open(calibrations[0].log) as f:
            self.assertIn("benching", f.read())
        with open(calls) as f:
            self.assertEqual([line.split()[0] for line in f.read().splitlines()], ["bench", "bench"])

    def test_a_ladder_entry_without_a_label_is_an_error(self):
        path = self.sweep_file("""
            configs: [base.yaml]
            ladder: [{set: {train.budget.steps: 100}}]
            """)
        with self.assertRaises(sweep.SweepError) as caught:
            sweep.Sweep(path, out=self.dir.name)
        self.assertIn("ladder[0]", str(caught.exception))

    def test_grid_times_variants_times_seeds_with_stable_names(self):
        path = self.sweep_file("""
            name: demo
            configs: [base.yaml]
            set: {train.epochs: 3}
            grid:
              sampler.name: [uniform, es]
              data.label_noise.ratio: [0.0, 0.2, 0.4]
            variants:
              - {label: small, set: {sampler.ratio: 0.25}}
              - {label: large, set: {sampler.ratio: 0.5}}
            seeds: [0, 1, 2]
            """)
        s = sweep.Sweep(path, out=self.dir.name)
        jobs = s.jobs()
        self.assertEqual(len(jobs), 2 * 3 * 2 * 3)
        self.assertEqual(len({j.run_dir for j in jobs}), len(jobs))
        self.assertEqual(jobs[0].name, "sampler.name=uniform,data.label_noise.ratio=0.0,small")
        self.assertEqual(jobs[0].run_dir, os.path.join(self.dir.name, "demo", jobs[0].name, "s0"))
        command = jobs[-1].command("esrun", s.configs, [("threads", 2)])
        self.assertEqual(command[:3], ["esrun", "--config", self.base])
        for expected in ["train.epochs=3", "sampler.name=es", "data.label_noise.ratio=0.4", "sampler.ratio=0.5",
                         "seed=2", "threads=2"]:
            self.assertIn(expected, command)
        self.assertEqual(command[-2:], ["--out", jobs[-1].run_dir])

    def test_grid_over_whole_config_files_names_jobs_by_file(self):
        for name in ["c10_uniform", "c10_es"]:
            write(os.path.join(self.dir.name, "table", name + ".yaml"), "name: x\n")
        path = self.sweep_file("configs: [base.yaml]\ngrid: {config: table/*.yaml}\nseeds: [0]\n")
        s = sweep.Sweep(path, out=self.dir.name, extra_sets=[("train.epochs", 1)])
        jobs = s.jobs()
        self.assertEqual([j.name for j in jobs], ["c10_es", "c10_uniform"])
        command = jobs[0].command("esrun", s.configs)
        self.assertEqual(command[1:5], ["--config", self.base, "--config",
                                        os.path.join(self.dir.name, "table", "c10_es.yaml")])
        self.assertIn("train.epochs=1", command)

    def test_every_shipped_sweep_file_expands(self):
        folder = os.path.join(CONFIGS, "sweeps")
        for name in sorted(os.listdir(folder)):
            jobs = sweep.Sweep(os.path.join(folder, name), out=self.dir.name).jobs()
            self.assertGreater(len(jobs), 0, name)
            for job in jobs:
                for config in job.command("esrun", [])[1:]:
                    if config.endswith(".yaml"):
                        self.assertTrue(os.path.exists(config), config)

    def test_no_grid_runs_the_base_once_per_seed(self):
        jobs = sweep.Sweep(self.sweep_file("configs: [base.yaml]\nseeds: [3, 4]\n"), out=self.dir.name).jobs()
        self.assertEqual([(j.name, j.seed) for j in jobs], [("base", 3), ("base", 4)])

    def test_bad_sweep_files_name_the_file_and_key(self):
        for text, expected in [("grid: {sampler.name: es}\n", "grid.sampler.name: expected a non-empty list"),
                               ("seeds: [a]\n", "seeds: expected a list of int"),
                               ("configs: [nowhere.yaml]\n", "does not exist"),
                               ("grdi: {}\n", "unknown key(s) grdi"),
                               ("variants: [{set: {a: 1}}]\n", "variants[0]"),
                               ("grid: {config: [none/*.yaml]}\n", "matches no file")]:
            with self.assertRaises(sweep.SweepError) as caught:
                sweep.Sweep(self.sweep_file(text), out=self.dir.name).jobs()
            self.assertIn("sweep.yaml", str(caught.exception))
            self.assertIn(expected, str(caught.exception))

    def test_skip_finished_resume_interrupted_and_start_new(self):
        path = self.sweep_file("configs: [base.yaml]\ngrid: {sampler.name: [uniform, es, eswp]}\nseeds: [0]\n")
        s = sweep.Sweep(path, out=self.dir.name)
        finished, interrupted, new = s.jobs()
        write(os.path.join(finished.run_dir, "summary.json"), "{}")
        write(os.path.join(interrupted.run_dir, "checkpoints", "last.pt"), "x")
        self.assertEqual([j.status() for j in s.jobs()], ["finished", "interrupted", "new"])
        self.assertEqual(interrupted.command("esrun", s.configs)[-2:], ["--resume", interrupted.run_dir])
        self.assertEqual(new.command("esrun", s.configs)[-2:], ["--out", new.run_dir])

        # A stand-in for esrun records its arguments and finishes the run it was given.
        calls = os.path.join(self.dir.name, "calls.txt")
        fake = write(os.path.join(self.dir.name, "fake_esrun"), textwrap.dedent(f"""\
            #!{sys.executable}
            import os, sys
            args = sys.argv[1:]
            with open({calls!r}, "a") as f:
                f.write(" ".join(args) + "\\n")
            flag = "--resume" if "--resume" in args else "--out"
            run_dir = args[args.index(flag) + 1]
            os.makedirs(run_dir, exist_ok=True)
            open(os.path.join(run_dir, "summary.json"), "w").write("{{}}")
            """))
        os.chmod(fake, 0o755)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", fake, "--workers", "2"])
        self.assertEqual(code, 0, out)
        with open(calls) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 2)  # the finished job was skipped
        self.assertTrue(any("--resume " + interrupted.run_dir in line for line in lines))
        self.assertTrue(any("--out " + new.run_dir in line for line in lines))
        self.assertTrue(all("threads=" in line for line in lines))
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", fake])
        self.assertIn("3 finished", out)
        with open(calls) as f:
            self.assertEqual(len(f.read().splitlines()), 2)  # nothing ran again
        with open(os.path.join(s.root, "summary.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(r["job"], r["status"], r["sampler.name"]) for r in rows],
                         [(j.name, "finished", n) for j, n in zip(s.jobs(), ["uniform", "es", "eswp"])])

    def test_a_finished_run_made_with_other_overrides_is_not_taken_as_done(self):
        path = self.sweep_file("configs: [base.yaml]\nset: {train.epochs: 2}\nseeds: [0]\n")
        job = sweep.Sweep(path, out=self.dir.name).jobs()[0]
        job.record(sweep.Sweep(path, out=self.dir.name).configs)
        write(os.path.join(job.run_dir, "summary.json"), "{}")
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", sys.executable, "--set", "train.epochs=9"])
        self.assertEqual(code, 2)
        self.assertIn("other configs or overrides", out)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", sys.executable])
        self.assertEqual(code, 0, out)
        self.assertIn("1 finished", out)

    def test_scoring_jobs_run_to_completion_before_the_training_jobs(self):
        write(os.path.join(self.dir.name, "scoring", "el2n.yaml"), f"score: {{method: el2n, out: {self.dir.name}/s/el2n.pt}}\n")
        path = self.sweep_file("configs: [base.yaml]\nset: {train.epochs: 2}\nscore: [scoring/*.yaml]\n"
                               "grid: {sampler.name: [uniform, static_prune]}\nseeds: [0]\n")
        s = sweep.Sweep(path, out=self.dir.name)
        (job,) = s.score_jobs()
        self.assertEqual(job.file, os.path.join(self.dir.name, "s", "el2n.pt"))
        self.assertEqual(job.run_dir, os.path.join(self.dir.name, "s", "el2n-runs"))
        self.assertEqual(job.command("esrun", s.configs)[:4], ["esrun", "score", "--config", s.configs[0]])
        self.assertIn("train.epochs=2", job.command("esrun", s.configs))
        # The Slurm array waits for the scores files.
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", sys.executable, "--slurm"])
        self.assertEqual(code, 2)
        self.assertIn("--scores-only first", out)
        # A stand-in esrun: `score` writes its folder's score.json and the file; a run its summary.
        fake, calls = self.fake_esrun(f"""
            if args[0] == "score":
                os.makedirs({job.run_dir!r}, exist_ok=True)
                open({job.file!r}, "w").write("scores")
                json.dump({{"done": True}}, open(os.path.join({job.run_dir!r}, "score.json"), "w"))
                sys.exit(0)
            """)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", fake, "--scores-only"])
        self.assertEqual(code, 0, out)
        with open(calls) as f:
            self.assertEqual([line.split()[0] for line in f.read().splitlines()], ["score"])
        self.assertEqual(job.status(), "finished")
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", fake])
        self.assertEqual(code, 0, out)
        with open(calls) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 3)  # the finished scoring is skipped, then the two runs
        # A scoring that failed keeps the training jobs from starting.
        failing = write(os.path.join(self.dir.name, "failing"), f"#!{sys.executable}\nimport sys\nsys.exit(2)\n")
        os.chmod(failing, 0o755)
        os.remove(job.file)
        os.remove(os.path.join(job.run_dir, "score.json"))
        code, out = quiet(sweep.main, [path, "--out", os.path.join(self.dir.name, "other"), "--esrun", failing])
        self.assertEqual(code, 1)
        self.assertIn("failed (exit 2) score el2n", out)
        self.assertNotIn("start  uniform", out)

    def test_a_failing_job_is_reported_and_the_sweep_exits_non_zero(self):
        path = self.sweep_file("configs: [base.yaml]\nseeds: [0]\n")
        fake = write(os.path.join(self.dir.name, "failing"), f"#!{sys.executable}\nimport sys\nsys.exit(2)\n")
        os.chmod(fake, 0o755)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", fake])
        self.assertEqual(code, 1)
        self.assertIn("failed (exit 2)", out)

    def test_slurm_array_script_runs_each_job_by_index(self):
        path = self.sweep_file("name: cluster\nconfigs: [base.yaml]\ngrid: {sampler.name: [uniform, es]}\nseeds: [0, 1]\n")
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", sys.executable, "--slurm",
                                       "--partition", "gpu", "--time", "02:00:00", "--gpus", "1", "--cpus", "6",
                                       "--max-parallel", "2", "--requeue"])
        self.assertEqual(code, 0, out)
        with open(os.path.join(self.dir.name, "cluster", "sweep.sbatch")) as f:
            script = f.read()
        for expected in ["#SBATCH --array=0-3%2", "#SBATCH --partition=gpu", "#SBATCH --time=02:00:00",
                         "#SBATCH --gpus=1", "#SBATCH --cpus-per-task=6", "#SBATCH --signal=B:USR1@120",
                         "#SBATCH --requeue", "--run-index \"$SLURM_ARRAY_TASK_ID\"", "--requeue"]:
            self.assertIn(expected, script)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--list"])
        self.assertIn("   3  new          sampler.name=es/s1", out)

    def test_slurm_multi_node_jobs_start_one_esrun_per_gpu_with_srun(self):
        path = self.sweep_file("name: big\nconfigs: [base.yaml]\nseeds: [0]\n")
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", sys.executable, "--slurm",
                                       "--nodes", "2", "--gpus-per-node", "4"])
        self.assertEqual(code, 0, out)
        with open(os.path.join(self.dir.name, "big", "sweep.sbatch")) as f:
            script = f.read()
        for expected in ["#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4",
                         "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))", " --srun"]:
            self.assertIn(expected, script)
        # The array task runs esrun under srun (a stand-in srun records its arguments).
        bin_dir = os.path.join(self.dir.name, "bin")
        record = os.path.join(self.dir.name, "srun-args")
        write(os.path.join(bin_dir, "srun"), f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {record}\n")
        os.chmod(os.path.join(bin_dir, "srun"), 0o755)
        old_path = os.environ["PATH"]
        os.environ["PATH"] = bin_dir + os.pathsep + old_path
        try:
            code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", "/opt/esrun", "--run-index", "0",
                                           "--srun", "--threads", "3"])
        finally:
            os.environ["PATH"] = old_path
        self.assertEqual(code, 0, out)
        with open(record) as f:
            args = f.read().split("\n")
        self.assertEqual(args[:2], ["--kill-on-bad-exit=1", "/opt/esrun"])
        self.assertIn("threads=3", args)
        code, out = quiet(sweep.main, [path, "--out", self.dir.name, "--esrun", sys.executable, "--slurm",
                                       "--nodes", "2", "--gpus", "1"])
        self.assertEqual(code, 2)
        self.assertIn("--gpus is for single-process jobs", out)


class Tables(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        root = self.dir.name
        make_run(root, "u0", "uniform", 0, 0.90, 100.0)
        make_run(root, "u1", "uniform", 1, 0.92, 100.0)
        make_run(root, "e0", "es", 0, 0.91, 60.0)
        make_run(root, "e1", "es", 1, 0.93, 60.0)
        make_run(root, "e2", "es", 2, 0.50, 10.0, finished=False)
        make_run(root, "c0", "es", 0, 0.70, 50.0, data="cifar100")

    def tearDown(self):
        self.dir.cleanup()

    def test_known_numbers_give_the_known_table(self):
        code, out = quiet(tables.main, [self.dir.name, "--csv", "-"])
        self.assertEqual(code, 0, out)
        self.assertIn("| method | cifar10 acc (%) | cifar10 Δ vs uniform | cifar10 time saved | cifar100 acc (%) |", out)
        self.assertIn("| uniform | 91.00 ± 1.41 (n=2) | +0.00 | 0.0% | missing | missing | missing |", out)
        self.assertIn("| es | 92.00 ± 1.41 (n=2) | +1.00 | 40.0% | 70.00 (n=1) | missing | missing |", out)
        self.assertIn("1 run(s) without summary.json (unfinished) are left out.", out)
        self.assertIn("es,cifar10,2,1,92.0000,1.4142,1.0000,60.0000,0.0000,40.00,200", out)
        self.assertIn("es,cifar100,1,0,70.0000,,,50.0000,,,200", out)
        self.assertNotIn("extra cost (s)", out)  # no run of the table has one

    def test_the_csv_ends_with_mean_backward_passes_where_summaries_count_them(self):
        root = self.dir.name
        make_run(root, "p0", "es", 0, 0.90, 30.0, data="svhn", summary={"backward_passes_total": 60})
        make_run(root, "p1", "es", 1, 0.90, 30.0, data="svhn", summary={"backward_passes_total": 80})
        code, out = quiet(tables.main, [root, "--csv", "-"])
        self.assertEqual(code, 0, out)
        self.assertIn("samples_backward_mean,metric,backward_passes_mean,extra_cost_s_mean,", out)
        self.assertIn("es,svhn,2,0,90.0000,0.0000,,30.0000,0.0000,,200,acc,70,0.00,", out)
        self.assertIn("es,cifar100,1,0,70.0000,,,50.0000,,,200,acc,,0.00,", out)  # an older summary: no count

    def test_the_scoring_cost_is_an_extra_cost_column_and_counts_in_time_saved(self):
        root = self.dir.name
        for seed in (0, 1):
            make_run(root, f"s{seed}", "static_prune", seed, 0.89, 50.0, extra={"sampler.scores": "el2n.pt"},
                     summary={"extra_cost_s": 30.0})
        code, out = quiet(tables.main, [root, "--csv", "-"])
        self.assertEqual(code, 0, out)
        self.assertIn("| method | cifar10 acc (%) | cifar10 Δ vs uniform | cifar10 extra cost (s) | cifar10 time saved |", out)
        # 1 - (50 + 30) / (100 + 0) = 20%
        self.assertIn("| static_prune | 89.00 ± 0.00 (n=2) | -2.00 | 30.0 | 20.0% |", out)
        self.assertIn("| uniform | 91.00 ± 1.41 (n=2) | +0.00 | 0.0 | 0.0% |", out)
        self.assertIn("Extra cost: the wall time of the scoring run", out)
        self.assertIn("static_prune,cifar10,2,0,89.0000,0.0000,-2.0000,50.0000,0.0000,20.00,200,acc,,30.00,", out)

    def test_keys_that_differ_within_a_cell_split_the_row(self):
        make_run(self.dir.name, "long", "es", 0, 0.95, 120.0, extra={"train.epochs": 4})
        make_run(self.dir.name, "ulong", "uniform", 0, 0.94, 200.0, extra={"train.epochs": 4})
        code, out = quiet(tables.main, [self.dir.name])
        self.assertIn("| es, epochs=4 | 95.00 (n=1) | +1.00 | 40.0% |", out)
        self.assertIn("| es, epochs=2 | 92.00 ± 1.41 (n=2) | +1.00 | 40.0% |", out)

    def test_no_baseline_on_another_problem(self):
        with tempfile.TemporaryDirectory() as root:
            make_run(root, "es", "es", 0, 0.80, 30.0, extra={"model.name": "small_cnn", "train.epochs": 100})
            make_run(root, "uniform", "uniform", 0, 0.85, 90.0, extra={"model.name": "resnet18", "train.epochs": 200})
            code, out = quiet(tables.main, [root])
            self.assertIn("| es | 80.00 (n=1) | missing | missing |", out)

    def test_the_same_run_twice_is_refused(self):
        import shutil
        shutil.copytree(os.path.join(self.dir.name, "e0"), os.path.join(self.dir.name, "copy_of_e0"))
        with self.assertRaises(SystemExit) as caught:
            quiet(tables.main, [self.dir.name])
        self.assertIn("same seed", str(caught.exception))

    def test_no_runs_is_an_error(self):
        empty = os.path.join(self.dir.name, "empty")
        os.makedirs(empty)
        code, out = quiet(tables.main, [empty])
        self.assertEqual(code, 2)
        self.assertIn("no run directories", out)


class EqualTimeTables(unittest.TestCase):
    """A uniform ladder (steps budgets of 100 and 200, and the full run) against es and ka."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        root = self.dir.name
        for seed, acc in ((0, 0.80), (1, 0.82)):
            make_run(root, f"u100-{seed}", "uniform", seed, acc, 25.0, extra={"train.budget.steps": 100})
        for seed, acc in ((0, 0.86), (1, 0.88)):
            make_run(root, f"u200-{seed}", "uniform", seed, acc, 50.0, extra={"train.budget.steps": 200})
        for seed, acc in ((0, 0.90), (1, 0.92)):
            make_run(root, f"u-{seed}", "uniform", seed, acc, 100.0)
        for seed, acc in ((2, 0.91), (3, 0.93)):  # not the ladder's seeds: Welch intervals
            make_run(root, f"es-{seed}", "es", seed, acc, 60.0)
        make_run(root, "ka-0", "ka", 0, 0.95, 10.0)  # faster than the ladder's shortest rung

    def tearDown(self):
        self.dir.cleanup()

    def test_the_equal_time_delta_is_interpolated_on_the_ladder_with_its_interval(self):
        code, out = quiet(tables.main, [self.dir.name, "--csv", "-"])
        self.assertEqual(code, 0, out)
        self.assertIn("| method | cifar10 acc (%) | cifar10 Δ vs uniform | cifar10 time saved | cifar10 Δ 95% CI | "
                      "cifar10 Δ at equal time (95% CI) |", out)
        # At 60 s uniform is 0.8 * 87 + 0.2 * 91 = 87.8 (between the 50 s and 100 s rungs): Δ = +4.2.
        # Its variance: es's 2/2, the rungs' 2/2 weighted 0.8² and 0.2²: 1.68, ν = 2, t = 4.303.
        # At equal epochs against the full run: +1.00 ± 4.303 · √2.
        self.assertIn("| es, steps=null | 92.00 ± 1.41 (n=2) | +1.00 | 40.0% | [-5.08, +7.08] | +4.20 [-1.38, +9.78] |",
                      out)
        self.assertIn("| ka, steps=null | 95.00 (n=1) | +4.00 | 90.0% | n/a | outside ladder |", out)
        self.assertIn("interpolated linearly on the ladder", out)
        self.assertIn("es,null,cifar10,2,0,92.0000,1.4142,1.0000,60.0000,0.0000,40.00,200,acc,,0.00,-5.0849,7.0849,"
                      "4.2000,-1.3769,9.7769\n", out)

    def test_a_rung_is_its_own_point_on_the_ladder(self):
        code, out = quiet(tables.main, [self.dir.name])
        self.assertIn("| uniform, steps=200 | 87.00 ± 1.41 (n=2) | +0.00 | 0.0% | [+0.00, +0.00] | +0.00 [+0.00, +0.00] |",
                      out)

    def test_without_a_ladder_the_table_has_no_equal_time_columns(self):
        with tempfile.TemporaryDirectory() as root:
            make_run(root, "u", "uniform", 0, 0.9, 100.0)
            make_run(root, "e", "es", 0, 0.9, 50.0)
            code, out = quiet(tables.main, [root])
            self.assertNotIn("equal time", out)

    def test_reference_time_is_the_work_costed_with_a_calibration(self):
        from esrunpy import reference_time
        costs_path = write(os.path.join(self.dir.name, "bench.json"), json.dumps({
            "batch": 64, "score_forward": {"seconds_per_step": 0.2},
            "train_step_by_rows": [{"rows": 8, "seconds_per_step": 0.1}, {"rows": 32, "seconds_per_step": 0.25},
                                   {"rows": 64, "seconds_per_step": 0.4}]}))
        costs = reference_time.Costs(costs_path)
        self.assertAlmostEqual(costs.step_seconds(16), 0.15)  # between 8 and 32 rows
        self.assertAlmostEqual(costs.step_seconds(128), 0.8)  # beyond the largest: proportional
        # 10 steps of 64 rows, 40 of 16 and 40 forwards of 64: 10 * 0.4 + 40 * 0.15 + 40 * 0.2 = 18 s.
        work = {"work": {"train_steps": {"64": 10, "16": 40}, "forwards": {"64": 40}}}
        self.assertAlmostEqual(reference_time.reference_seconds(work, costs), 18.0)
        self.assertIsNone(reference_time.reference_seconds({}, costs))
        with tempfile.TemporaryDirectory() as root:
            # Two seeds of one experiment, the second on a busy machine: twice the wall time, the same work.
            for seed, wall in ((0, 20.0), (1, 40.0)):
                make_run(root, f"es{seed}", "es", seed, 0.9, wall, summary=work)
                make_run(root, f"u{seed}", "uniform", seed, 0.9, 30.0,
                         summary={"work": {"train_steps": {"64": 90}}})
            code, out = quiet(tables.main, [root, "--time", "reference", "--costs", costs_path, "--csv", "-"])
            self.assertEqual(code, 0, out)
            # es: 18 s against uniform's 90 * 0.4 = 36 s, on both seeds: std 0, 50% saved.
            self.assertIn("es,cifar10,2,0,90.0000,0.0000,0.0000,18.0000,0.0000,50.00,", out)
            self.assertIn("Train time: reference time", out)
            code, out = quiet(tables.main, [root, "--time", "reference"])
            self.assertEqual(code, 2)
            make_run(root, "old", "es", 5, 0.9, 10.0)  # no work recorded
            with self.assertRaises(SystemExit):
                quiet(tables.main, [root, "--time", "reference", "--costs", costs_path])

    def test_each_run_takes_the_calibration_of_its_dataset_and_model(self):
        def bench(name, dataset, model, seconds):
            return write(os.path.join(self.dir.name, name), json.dumps({
                "batch": 64, "dataset": dataset, "model": model, "score_forward": {"seconds_per_step": 0.1},
                "train_step_by_rows": [{"rows": 64, "seconds_per_step": seconds}]}))
        cnn = bench("cnn.json", "cifar10", "small_cnn", 0.5)
        mlp = bench("mlp.json", "csv_table", "mlp", 0.01)
        with tempfile.TemporaryDirectory() as root:
            make_run(root, "u", "uniform", 0, 0.9, 30.0, extra={"model.name": "small_cnn"},
                     summary={"work": {"train_steps": {"64": 100}}})
            make_run(root, "r", "uniform", 0, 0.9, 30.0, data="csv_table", extra={"model.name": "mlp"},
                     summary={"work": {"train_steps": {"64": 100}}})
            code, out = quiet(tables.main, [root, "--time", "reference", "--costs", cnn, mlp, "--csv", "-"])
            self.assertEqual(code, 0, out)
            self.assertIn("uniform,cifar10,1,0,90.0000,,0.0000,50.0000,", out)  # 100 steps x 0.5 s
            self.assertIn("uniform,csv_table,1,0,90.0000,,0.0000,1.0000,", out)  # 100 steps x 0.01 s
            with self.assertRaises(SystemExit) as caught:
                quiet(tables.main, [root, "--time", "reference", "--costs", cnn])
            self.assertEqual(caught.exception.code, 2)  # the csv_table run has no calibration
        anonymous = write(os.path.join(self.dir.name, "anonymous.json"), json.dumps({
            "batch": 64, "score_forward": {"seconds_per_step": 0.1},
            "train_step_by_rows": [{"rows": 64, "seconds_per_step": 0.5}]}))
        from esrunpy import reference_time
        with self.assertRaises(reference_time.CalibrationError):
            reference_time.Calibrations([cnn, anonymous])

    def test_the_document_gives_each_method_a_verdict_with_uniforms_time_to_its_quality(self):
        out_path = os.path.join(self.dir.name, "evaluation.md")
        # order and selective_backprop ran the ladder's seeds: paired intervals. At 60 s uniform is
        # 0.8 * 86 + 0.2 * 90 = 86.8 for seed 0, 88.8 for seed 1.
        for seed, acc in ((0, 0.95), (1, 0.96)):  # 8.2 and 7.2 above: 7.7 ± 12.706 · 0.5
            make_run(self.dir.name, f"ob-{seed}", "order", seed, acc, 60.0)
        for seed, acc in ((0, 0.84), (1, 0.86)):  # 2.8 below at both seeds
            make_run(self.dir.name, f"sb-{seed}", "selective_backprop", seed, acc, 60.0)
        code, out = quiet(tables.main, [self.dir.name, "--out", out_path, "--machine", "a test box"])
        self.assertEqual(code, 0, out)
        with open(out_path) as f:
            text = f.read()
        self.assertIn("machine: a test box", text)
        self.assertIn("### cifar10: acc (higher is better)", text)
        # es: 92 at 60 s against uniform's 87.8 there, interval [-1.38, +9.78] holds 0. Uniform reaches
        # 92 beyond its longest rung (91 at 100 s): es saves more than 40%.
        self.assertIn("| es | 92.00 ± 1.41 (n=2) | 60.0 | 40.0% | +1.00 [-5.08, +7.08] | +4.20 [-1.38, +9.78] | "
                      "> 100.0 s, longer than the ladder (saves > 40%) | does not save time: level with uniform "
                      "given the same time (the interval holds 0) |", text)
        self.assertIn("| order | 95.50 ± 0.71 (n=2) | 60.0 | 40.0% | +4.50 [-1.85, +10.85] | +7.70 [+1.35, +14.05] | "
                      "> 100.0 s, longer than the ladder (saves > 40%) | saves time at equal quality |", text)
        # selective_backprop: 85 at 60 s; uniform is 85 at 25 + (85 - 81) / (87 - 81) * 25 = 41.7 s.
        self.assertIn("| selective_backprop | 85.00 ± 1.41 (n=2) | 60.0 | 40.0% | -6.00 [-6.00, -6.00] | "
                      "-2.80 [-2.80, -2.80] | 41.7 s (saves -44%) | does not save time: worse than uniform given "
                      "the same time |", text)
        self.assertIn("| ka | 95.00 (n=1) | 10.0 | 90.0% | +4.00 n/a | outside ladder | > 100.0 s, longer than the "
                      "ladder (saves > 90%) | no verdict: faster than the ladder's shortest rung |", text)
        self.assertIn("| uniform, steps=100 | 81.00 ± 1.41 (n=2) | 25.0 |", text)
        # Quality against train time, beside the document.
        self.assertIn("![cifar10: acc against train time](evaluation-files/cifar10.png)", text)
        self.assertGreater(png_size(os.path.join(self.dir.name, "evaluation-files", "cifar10.png"))[0], 0)
        self.assertIn("rung of the ladder", text)

    def test_verdicts_read_a_lower_is_better_metric_the_other_way(self):
        from esrunpy import equal_time
        rungs = [equal_time.Rung(10.0, 700.0, 10.0, 3), equal_time.Rung(20.0, 600.0, 10.0, 3)]
        self.assertEqual(equal_time.verdict(15.0, (-60.0, (-80.0, -40.0)), rungs, higher_is_better=False),
                         "saves time at equal quality")
        self.assertTrue(equal_time.verdict(15.0, (60.0, (40.0, 80.0)), rungs, higher_is_better=False)
                        .startswith("does not save time: worse"))
        self.assertTrue(equal_time.verdict(25.0, None, rungs, False).startswith("does not save time: it trains longer"))
        self.assertEqual(equal_time.time_to_quality(rungs, 650.0, higher_is_better=False), ("at", 15.0))
        self.assertEqual(equal_time.time_to_quality(rungs, 550.0, higher_is_better=False), ("beyond", 20.0))
        self.assertEqual(equal_time.time_to_quality(rungs, 750.0, higher_is_better=False), ("within", 10.0))

    def test_the_t_quantiles_and_the_interpolation_are_the_textbooks(self):
        from esrunpy import equal_time
        for df, t in ((1, 12.7062), (2, 4.3027), (10, 2.2281), (1000, 1.9623)):
            self.assertAlmostEqual(equal_time.t_quantile(0.975, df), t, places=3)
        rungs = [equal_time.Rung(10.0, 50.0, None, 1), equal_time.Rung(30.0, 70.0, None, 1)]
        self.assertEqual(equal_time.at_time(rungs, 15.0)[0], 55.0)
        self.assertIsNone(equal_time.at_time(rungs, 31.0))  # never extrapolated
        self.assertIsNone(equal_time.at_time(rungs[:1], 10.0))  # one rung is no ladder


def make_glue_run(root, name, sampler, seed, task, metric, value, acc=0.7, train_time=100.0):
    """A GLUE run whose summary.json has the headline metric `metric` (final and best) = value."""
    return make_run(root, name, sampler, seed, acc, train_time, data="glue", extra={"data.glue.task": task},
                    summary={"metric": metric, f"final_test_{metric}": value, f"best_test_{metric}": value})


class TaskMetricTables(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        root = self.dir.name
        make_glue_run(root, "cola_u0", "uniform", 0, "cola", "mcc", 0.40)
        make_glue_run(root, "cola_u1", "uniform", 1, "cola", "mcc", 0.44)
        make_glue_run(root, "cola_e0", "es", 0, "cola", "mcc", 0.45, train_time=60.0)
        make_glue_run(root, "sst2_u0", "uniform", 0, "sst2", "acc", 0.90)
        make_glue_run(root, "sst2_e0", "es", 0, "sst2", "acc", 0.88, train_time=50.0)

    def tearDown(self):
        self.dir.cleanup()

    def test_each_column_shows_its_tasks_own_metric_x100(self):
        code, out = quiet(tables.main, [self.dir.name, "--cols", "data.glue.task", "--csv", "-"])
        self.assertEqual(code, 0, out)
        self.assertIn("| method | cola mcc (x100) | cola Δ vs uniform | cola time saved | sst2 acc (%) |", out)
        self.assertIn("| uniform | 42.00 ± 2.83 (n=2) | +0.00 | 0.0% | 90.00 (n=1) | +0.00 | 0.0% |", out)
        self.assertIn("| es | 45.00 (n=1) | +3.00 | 40.0% | 88.00 (n=1) | -2.00 | 50.0% |", out)
        self.assertIn("final test acc, mcc; acc, mcc x100", out)
        self.assertIn("sampler.name,data.glue.task,n,unfinished,value_mean,value_std,delta_value,", out)
        self.assertIn("es,cola,1,0,45.0000,,3.0000,60.0000,,40.00,200,mcc", out)
        self.assertIn("es,sst2,1,0,88.0000,,-2.0000,50.0000,,50.00,200,acc", out)

    def test_a_column_mixing_metrics_names_the_metric_in_each_cell(self):
        code, out = quiet(tables.main, [self.dir.name])  # one column, data.name = glue; task splits the rows
        self.assertEqual(code, 0, out)
        self.assertIn("| method | glue metric | glue Δ vs uniform | glue time saved |", out)
        self.assertIn("| uniform, task=cola | mcc (x100) 42.00 ± 2.83 (n=2) | +0.00 | 0.0% |", out)
        self.assertIn("| es, task=sst2 | acc (%) 88.00 (n=1) | -2.00 | 50.0% |", out)

    def test_an_explicit_value_overrides_the_tasks_metric(self):
        code, out = quiet(tables.main, [self.dir.name, "--cols", "data.glue.task", "--value", "acc"])
        self.assertEqual(code, 0, out)
        self.assertIn("| method | cola acc (%) | cola Δ vs uniform | cola time saved | sst2 acc (%) |", out)
        self.assertIn("| uniform | 70.00 ± 0.00 (n=2) | +0.00 | 0.0% | 90.00 (n=1) |", out)
        self.assertIn("Test acc: final test acc, mean", out)

    def test_summaries_without_a_metric_count_as_acc(self):
        make_run(self.dir.name, "cola_e1", "es", 1, 0.7, 60.0, data="glue", extra={"data.glue.task": "cola"},
                 summary={"final_test_mcc": 0.5})
        with self.assertRaises(SystemExit) as caught, contextlib.redirect_stderr(io.StringIO()) as err:
            tables.main([self.dir.name, "--cols", "data.glue.task"])
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("different metrics", err.getvalue())
        self.assertIn(os.path.join(self.dir.name, "cola_e1") + ": acc", err.getvalue())

    def test_runs_of_one_cell_with_different_metrics_exit_2_naming_the_cell(self):
        make_glue_run(self.dir.name, "cola_e1", "es", 1, "cola", "acc", 0.7)
        with self.assertRaises(SystemExit) as caught, contextlib.redirect_stderr(io.StringIO()) as err:
            tables.main([self.dir.name, "--cols", "data.glue.task"])
        self.assertEqual(caught.exception.code, 2)
        message = err.getvalue()
        self.assertIn(f"the runs of one cell ({self.dir.name}) report different metrics", message)
        self.assertIn(os.path.join(self.dir.name, "cola_e0") + ": mcc", message)
        self.assertIn(os.path.join(self.dir.name, "cola_e1") + ": acc", message)
        self.assertIn("--value", message)

    def test_a_value_the_task_lacks_exits_2(self):
        make_run(self.dir.name, "stsb_u0", "uniform", 0, 0.0, 1.0, data="glue", extra={"data.glue.task": "stsb"},
                 summary={"metric": "pearson", "final_test_pearson": 0.8, "final_test_acc": None})
        code, out = quiet(tables.main, [self.dir.name, "--cols", "data.glue.task"])
        self.assertEqual(code, 0, out)
        self.assertIn("stsb pearson (x100)", out)
        with self.assertRaises(SystemExit) as caught, contextlib.redirect_stderr(io.StringIO()) as err:
            tables.main([self.dir.name, "--cols", "data.glue.task", "--value", "acc"])
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("final_test_acc is null", err.getvalue())


# GLUE's layouts: folder -> {file: (header or None for headerless, columns)}.
GLUE_LAYOUTS = {
    "CoLA": {"train.tsv": (None, 4), "dev.tsv": (None, 4)},
    "SST-2": {f: ("sentence\tlabel", 2) for f in ("train.tsv", "dev.tsv")},
    "MRPC": {f: ("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", 5) for f in ("train.tsv", "dev.tsv")},
    "QQP": {f: ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", 6) for f in ("train.tsv", "dev.tsv")},
    "STS-B": {f: ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore", 10)
              for f in ("train.tsv", "dev.tsv")},
    "MNLI": {"train.tsv": ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                           "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label", 12),
             **{f: ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\t"
                    "gold_label", 16) for f in ("dev_matched.tsv", "dev_mismatched.tsv")}},
    "QNLI": {f: ("index\tquestion\tsentence\tlabel", 4) for f in ("train.tsv", "dev.tsv")},
    "RTE": {f: ("index\tsentence1\tsentence2\tlabel", 4) for f in ("train.tsv", "dev.tsv")},
    "WNLI": {f: ("index\tsentence1\tsentence2\tlabel", 4) for f in ("train.tsv", "dev.tsv")},
}
# folder -> (column of the label, its values); MNLI's gold_label is the last column.
GLUE_LABELS = {"CoLA": (1, {"0", "1"}), "SST-2": (1, {"0", "1"}), "MRPC": (0, {"0", "1"}), "QQP": (5, {"0", "1"}),
               "MNLI": (-1, {"entailment", "neutral", "contradiction"}),
               "QNLI": (3, {"entailment", "not_entailment"}), "RTE": (3, {"entailment", "not_entailment"}),
               "WNLI": (3, {"0", "1"})}


class GlueFixture(unittest.TestCase):
    def make(self, out, *args):
        subprocess.run([sys.executable, os.path.join(SCRIPTS, "make_glue_fixture.py"), out, *args], check=True,
                       stdout=subprocess.DEVNULL)

    def read_tree(self, root):
        tree = {}
        for folder, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), "rb") as f:
                    tree[os.path.relpath(os.path.join(folder, name), root)] = f.read()
        return tree

    def test_every_task_is_written_in_glues_layout_with_the_row_counts(self):
        with tempfile.TemporaryDirectory() as root:
            self.make(root)
            self.assertEqual(sorted(os.listdir(root)), sorted(GLUE_LAYOUTS))
            for folder, files in GLUE_LAYOUTS.items():
                self.assertEqual(sorted(os.listdir(os.path.join(root, folder))), sorted(files), folder)
                for name, (header, columns) in files.items():
                    with open(os.path.join(root, folder, name), newline="") as f:
                        lines = f.read().split("\n")
                    self.assertEqual(lines.pop(), "", f"{folder}/{name} ends with a newline")
                    if header is not None:
                        self.assertEqual(lines.pop(0), header, f"{folder}/{name}")
                    self.assertEqual(len(lines), 96 if name == "train.tsv" else 32, f"{folder}/{name}")
                    rows = [line.split("\t") for line in lines]
                    self.assertEqual({len(row) for row in rows}, {columns}, f"{folder}/{name}")
                    if folder in GLUE_LABELS:
                        column, values = GLUE_LABELS[folder]
                        self.assertEqual({row[column] for row in rows}, values, f"{folder}/{name}")
                    elif folder == "STS-B":
                        self.assertTrue(all(0.0 <= float(row[-1]) <= 5.0 for row in rows))
                    if folder == "CoLA":  # the author's mark: '*' exactly for the unacceptable
                        self.assertTrue(all((row[2] == "*") == (row[1] == "0") for row in rows))

    def test_the_fixture_is_deterministic_and_rows_sets_its_size(self):
        with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
            self.make(first)
            self.make(second)
            self.assertEqual(self.read_tree(first), self.read_tree(second))
            self.make(second, "--rows", "30")
            with open(os.path.join(second, "RTE", "train.tsv")) as f:
                self.assertEqual(len(f.read().splitlines()), 31)
            with open(os.path.join(second, "MNLI", "dev_mismatched.tsv")) as f:
                self.assertEqual(len(f.read().splitlines()), 11)

    def test_the_glue_smoke_configs_read_the_fixtures_folders(self):
        folder = os.path.join(CONFIGS, "smoke")
        names = sorted(n for n in os.listdir(folder) if n.startswith("glue_"))
        self.assertEqual(len(names), 9)
        for name in names:
            with open(os.path.join(folder, name)) as f:
                config = yaml.safe_load(f)
            self.assertEqual(config["data"]["name"], "glue")
            self.assertEqual(config["data"]["glue"]["task"], name[len("glue_"):-len(".yaml")])
            self.assertIn(os.path.relpath(config["data"]["root"], "runs/glue_fixture"), GLUE_LAYOUTS, name)


class Table4Configs(unittest.TestCase):
    def test_every_table4_config_has_its_tasks_lr_and_meta_batch(self):
        expected = {"cola": (1e-5, 16), "sst2": (1e-5, 32), "qnli": (1e-5, 32), "qqp": (1e-5, 32),
                    "mnli": (1e-5, 32), "mrpc": (1e-5, 16), "rte": (2e-5, 16), "stsb": (2e-5, 16)}
        methods = ("uniform", "es", "eswp", "loss", "order", "infobatch", "ka", "ucb")
        for pretrained in (False, True):
            folder = os.path.join(CONFIGS, "paper", "table4", *(["pretrained"] if pretrained else []))
            names = sorted(n for n in os.listdir(folder) if n.endswith(".yaml"))
            self.assertEqual(names, sorted(f"{t}_{m}.yaml" for t in expected for m in methods))
            for task, (lr, batch) in expected.items():
                for method in methods:
                    name = f"{task}_{method}.yaml"
                    with open(os.path.join(folder, name)) as f:
                        config = yaml.safe_load(f)
                    self.assertEqual(config["name"], f"table4_{task}_{method}" + ("_pretrained" if pretrained else ""))
                    self.assertEqual(config["data"]["glue"]["task"], task, name)
                    self.assertIn(os.path.basename(config["data"]["root"]), GLUE_LAYOUTS, name)
                    if pretrained:
                        # ALBERT-base-v2's own weights and SentencePiece model, from one export.
                        self.assertEqual(config["model"], {"name": "torchscript",
                                                           "torchscript": {"path": "exports/albert-base-v2/model.pt"}})
                        self.assertEqual(config["data"]["tokenizer"]["model"], "exports/albert-base-v2/spiece.model")
                    else:
                        self.assertEqual(config["model"], {"name": "transformer", "preset": "albert-base"}, name)
                    self.assertEqual(float(config["optimizer"]["lr"]), lr, name)
                    self.assertEqual(config["sampler"]["meta_batch"], batch, name)
                    self.assertEqual(config["sampler"]["name"], method, name)
                    self.assertEqual(config["sampler"].get("ratio"),
                                     0.25 if method in ("es", "eswp", "loss", "order") else None, name)
                    self.assertEqual(config["train"]["epochs"], 10, name)


class Plots(unittest.TestCase):
    def test_plots_are_valid_png_files(self):
        with tempfile.TemporaryDirectory() as root:
            for seed in (0, 1):
                make_run(root, f"u{seed}", "uniform", seed, 0.9, 100.0, noisy=0.2)
                make_run(root, f"e{seed}", "es", seed, 0.91, 60.0, noisy=0.1 + 0.01 * seed)
            code, out = quiet(plot.main, [root, "--out", os.path.join(root, "plots")])
            self.assertEqual(code, 0, out)
            for name in ["acc_vs_time.png", "acc_vs_backprop.png", "noisy_fraction.png"]:
                width, height = png_size(os.path.join(root, "plots", name))
                self.assertGreater(width, 100)
                self.assertGreater(height, 100)

    def test_noisy_fraction_only_with_label_noise(self):
        with tempfile.TemporaryDirectory() as root:
            make_run(root, "u0", "uniform", 0, 0.9, 100.0)
            code, out = quiet(plot.main, [root, "--out", os.path.join(root, "plots")])
            self.assertEqual(code, 0, out)
            self.assertEqual(sorted(os.listdir(os.path.join(root, "plots"))), ["acc_vs_backprop.png", "acc_vs_time.png"])


def make_bench_folder(root):
    """What scripts/bench_gpu.sh leaves behind, with known numbers: at B = 512 F/T = 0.5 and ES takes
    0.7x uniform's epoch; at B = 128 F/T = 0.6, uniform trains 10,000 images/s and ES takes 0.95x."""
    write(os.path.join(root, "gpu.txt"), "NVIDIA H200, 143771 MiB, 580.159.03\ntorch 2.11.0 cuda 13.0\n")
    for tag, batch, rate, ft, es_scale in (("", 512, 40000.0, 0.5, 0.7), ("_B128", 128, 10000.0, 0.6, 0.95)):
        for method, seconds in (("uniform", 0.0), ("es", 40e-6), ("eswp", 2e-3)):
            write(os.path.join(root, f"bench_{method}{tag}.json"), json.dumps({
                "batch": batch, "data": {"images_per_s": 200000.0}, "score_forward": {"images_per_s": 80000.0},
                "train_step": {"images_per_s": rate}, "forward_over_train": ft,
                "policy_bookkeeping": {"seconds_per_step": seconds, "share_of_train_step": seconds / 0.0128,
                                       "train_size": 1280000}}))
        uniform = [3.0, 1.0, 1.0, 1.2]
        for method, epoch_s in (("uniform", uniform), ("es", [es_scale * s for s in uniform]),
                                ("eswp", [1.5, 0.5, 0.6, 0.5])):
            records = [{"epoch": e, "epoch_dataset_size": 50000, "test_acc": 0.5 + 0.1 * e,
                        "time": {"epoch_total": seconds + 0.25, "eval": 0.25}} for e, seconds in enumerate(epoch_s)]
            write(os.path.join(root, f"run_{method}{tag}", "metrics.jsonl"), "\n".join(map(json.dumps, records)) + "\n")
    for method, epoch_s in (("uniform", [9.0, 2.0, 2.0, 2.0]), ("es", [9.0, 1.0, 1.0, 1.0])):
        lines = [{"epoch": e, "train_seconds": seconds, "test_acc": 0.5 + 0.1 * e} for e, seconds in enumerate(epoch_s)]
        lines.append({"summary": True, "train_time_s": sum(epoch_s), "final_test_acc": 0.8})
        write(os.path.join(root, f"reference_{method}.jsonl"), "\n".join(map(json.dumps, lines)) + "\n")


class BenchTable(unittest.TestCase):
    def test_known_numbers_give_the_known_verdicts(self):
        with tempfile.TemporaryDirectory() as root:
            make_bench_folder(root)
            code, out = quiet(benchtable.main, [root])
            self.assertEqual(code, 0, out)
            self.assertIn("GPU: NVIDIA H200, 143771 MiB, 580.159.03; torch 2.11.0 cuda 13.0", out)
            self.assertIn("| uniform train step, images/s (B = 512) | ≥ 30,000 | 40,000 | met |", out)
            self.assertIn("| es bookkeeping share of the train step at n = 1,280,000 | < 1% | 0.312% (40 µs/step) | met |", out)
            self.assertIn("| eswp bookkeeping share of the train step at n = 1,280,000 | < 1% | 15.625% (2000 µs/step) | **missed** |", out)
            # medians without the first epoch: uniform 1.0 s, ES 0.7 s; bound 1.1 * (0.5 + 0.25)
            self.assertIn("| esrun uniform epoch (train, no eval), s |  | 1.000 (50,000 images/s) |  |", out)
            self.assertIn("| ES epoch / uniform epoch | ≤ 1.1 × (F/T + b/B) = 0.825 | 0.700 | met |", out)
            self.assertIn("| ESWP epoch / uniform epoch |  | 0.500 |  |", out)
            self.assertIn("| uniform: reference epoch / esrun epoch | ≥ 1.5 | 2.00 (2.000 s / 1.000 s) | met |", out)
            self.assertIn("| es: reference epoch / esrun epoch | ≥ 1.5 | 1.43 (1.000 s / 0.700 s) | **missed** |", out)
            self.assertIn("| es: final test accuracy (%) after 4 epochs | equal to the reference | esrun 80.00, reference 80.00 |", out)
            b128 = out[out.index("## B = 128 (the papers' setting)"):]
            self.assertIn("| uniform train step, images/s (B = 128) |  | 10,000 |  |", b128)
            self.assertIn("| ES epoch / uniform epoch | ≤ 1.1 × (F/T + b/B) = 0.935 | 0.950 | **missed** |", b128)
            self.assertNotIn("reference", b128)
            self.assertNotIn("Not measured", out)

    def test_missing_and_broken_pieces_are_listed_not_guessed(self):
        with tempfile.TemporaryDirectory() as root:
            make_bench_folder(root)
            os.remove(os.path.join(root, "reference_es.jsonl"))
            write(os.path.join(root, "bench_eswp.json"), "{not json")
            shutil.rmtree(os.path.join(root, "run_es_B128"))
            code, out = quiet(benchtable.main, [root])
            self.assertEqual(code, 0, out)
            self.assertIn("- missing: run_es_B128", out)
            self.assertIn("- missing: reference_es.jsonl", out)
            self.assertIn("- unreadable: bench_eswp.json", out)
            b512 = out[:out.index("## B = 128")]
            self.assertNotIn("es: reference epoch", b512)
            self.assertNotIn("eswp bookkeeping", b512)

    def test_the_gpu_benchmark_script_parses(self):
        subprocess.run(["bash", "-n", os.path.join(SCRIPTS, "bench_gpu.sh")], check=True)


def write_fake_lister(path, lists, calls=None, fail=None):
    """A stand-in for esrun: `list KIND` prints `lists` (kind -> [(name, help)]) as esrun prints them
    (every kind for a bare `list`), or fails printing `fail` when given; a run appends its arguments
    to `calls` and writes the summary.json compare_policies reads."""
    return write(path, textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, sys
        args, fail = sys.argv[1:], {fail!r}
        if args[:1] == ["list"]:
            if fail is not None:
                sys.exit(fail)  # exit status 1, the message on stderr
            for kind, entries in {lists!r}.items():
                if args[1:] in ([], [kind]):
                    print(kind + ":")
                    for name, help_text in entries:
                        print(f"  {{name:<18}} {{help_text}}")
            sys.exit(0)
        with open({calls!r}, "a") as f:
            f.write(" ".join(args) + "\\n")
        out = args[args.index("--out") + 1]
        os.makedirs(out)
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump({{"final_test_acc": 0.5, "best_test_acc": 0.6, "samples_backward_total": 100,
                       "samples_forward_total": 400, "train_time_s": 10.0, "epochs": 2}}, f)
        """))


# As `esrun list samplers` names them (sorted): a name as long as the column, one longer, and two that
# read a scores file from `esrun score`.
SAMPLERS = [("a_policy_named_past_the_column", "made up: the name runs over the 18 columns"),
            ("es", "Evolved Sampling: b of each meta-batch B by decoupled EMA of the loss"),
            ("rho_loss", "RHO-LOSS: largest training loss - irreducible loss (esrun score)"),
            ("selective_backprop", "Selective-Backprop: backward on samples by loss percentile"),
            ("static_prune", "static pruning: a fixed (1-r) of the data chosen by a scores file (esrun score)"),
            ("uniform", "baseline: all n samples each epoch, shuffled, meta-batches of B trained whole")]


class CommonHelpers(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def test_read_jsonl_gives_the_records_in_order_without_blank_lines(self):
        path = write(os.path.join(self.dir.name, "metrics.jsonl"), '{"epoch": 0}\n\n  \n{"epoch": 1}\n')
        self.assertEqual(common.read_jsonl(path), [{"epoch": 0}, {"epoch": 1}])
        self.assertEqual(common.read_jsonl(write(os.path.join(self.dir.name, "empty.jsonl"), "")), [])
        with self.assertRaises(ValueError):
            common.read_jsonl(write(os.path.join(self.dir.name, "cut.jsonl"), '{"epoch": 0}\n{"epo'))
        with self.assertRaises(OSError):
            common.read_jsonl(os.path.join(self.dir.name, "missing.jsonl"))

    def test_registered_reads_one_kind_of_esrun_list(self):
        fake = write_fake_lister(os.path.join(self.dir.name, "fake_esrun"),
                                 {"models": [("mlp", "a multilayer perceptron")], "samplers": SAMPLERS,
                                  "scorers": [("el2n", "EL2N scores")]})
        os.chmod(fake, 0o755)
        self.assertEqual(common.registered(fake, "samplers"), SAMPLERS)
        self.assertEqual(common.registered(fake, "models"), [("mlp", "a multilayer perceptron")])
        with self.assertRaisesRegex(ValueError, "no 'datasets:' list"):
            common.registered(fake, "datasets")

    def test_the_default_binary_is_build_esrun_of_the_repository(self):
        self.assertTrue(os.path.isfile(os.path.join(common.REPO, "CMakeLists.txt")))
        self.assertEqual(common.default_esrun(), os.path.join(common.REPO, "build", "esrun"))


class ComparePolicies(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.calls = os.path.join(self.dir.name, "calls.txt")

    def tearDown(self):
        self.dir.cleanup()

    def fake(self, fail=None):
        fake = write_fake_lister(os.path.join(self.dir.name, "fake_esrun"), {"samplers": SAMPLERS}, self.calls, fail)
        os.chmod(fake, 0o755)
        return fake

    def compare(self, *args):
        out = os.path.join(self.dir.name, "rows.json")
        code, text = quiet(compare_policies.main, ["--config", "base.yaml", "--json", out, *args])
        self.assertIn(code, (None, 0), text)
        with open(out) as f:
            return [row["policy"] for row in json.load(f)], text

    def test_by_default_every_sampler_the_binary_lists_runs_uniform_first(self):
        policies, text = self.compare("--esrun", self.fake())
        # The binary's order, the baseline first; the two that need an `esrun score` file left out.
        self.assertEqual(policies, ["uniform", "a_policy_named_past_the_column", "es", "selective_backprop"])
        with open(self.calls) as f:
            self.assertEqual([line.split("sampler.name=")[1].split()[0] for line in f], policies)
        self.assertIn("| selective_backprop | 50.00 (60.00) | 100 | 400 | 10.0 | 0.0% |", text)

    def test_named_policies_run_without_asking_the_binary(self):
        fake = self.fake(fail="esrun: no listing today")
        self.assertEqual(self.compare("--esrun", fake, "--policies", "es,uniform")[0], ["es", "uniform"])

    def test_a_missing_or_failing_binary_is_an_error_naming_it(self):
        missing = os.path.join(self.dir.name, "no_esrun")
        code, text = quiet(compare_policies.main, ["--config", "base.yaml", "--esrun", missing])
        self.assertEqual(code, 2)
        self.assertIn(f"error: cannot list the samplers with {missing}:", text)
        failing = self.fake(fail="esrun: out of luck")
        code, text = quiet(compare_policies.main, ["--config", "base.yaml", "--esrun", failing])
        self.assertEqual(code, 2)
        self.assertIn(f"error: cannot list the samplers with {failing}: esrun list samplers failed (1): "
                      "esrun: out of luck", text)
        self.assertFalse(os.path.exists(self.calls))  # nothing ran


@unittest.skipUnless(ESRUN, "ESRUN_BINARY is not set")
class RealListing(unittest.TestCase):
    def test_compare_policies_finds_the_built_samplers(self):
        policies = compare_policies.every_policy(ESRUN)
        self.assertEqual(policies[0], "uniform")
        self.assertTrue({"es", "eswp", "infobatch", "selective_backprop"} <= set(policies), policies)
        # Those that read an `esrun score` file cannot run from a config alone.
        self.assertFalse({"static_prune", "rho_loss"} & set(policies), policies)
        self.assertTrue({"static_prune", "rho_loss"} <= {name for name, _ in common.registered(ESRUN, "samplers")})


def write_tiny_cifar10(root, per_batch=32, test=32):
    rng = random.Random(0)
    for name, count in [(f"data_batch_{b}.bin", per_batch) for b in range(1, 6)] + [("test_batch.bin", test)]:
        with open(write(os.path.join(root, name), ""), "wb") as f:
            for i in range(count):
                f.write(bytes([i % 10]) + bytes(rng.randrange(256) for _ in range(3072)))


@unittest.skipUnless(ESRUN, "ESRUN_BINARY is not set")
class RealSweep(unittest.TestCase):
    def test_two_workers_run_then_skip_and_the_table_and_plots_follow(self):
        with tempfile.TemporaryDirectory() as root:
            write_tiny_cifar10(os.path.join(root, "cifar"))
            path = write(os.path.join(root, "sweep.yaml"), textwrap.dedent(f"""
                name: tiny
                set:
                  data: {{name: cifar10, root: {os.path.join(root, 'cifar')}}}
                  model: {{name: small_cnn, width: 4}}
                  train.epochs: 2
                  sampler.meta_batch: 32
                grid: {{sampler.name: [uniform, es]}}
                calibrate: true
                seeds: [0, 1]
                """))
            args = [path, "--out", root, "--esrun", ESRUN, "--workers", "2"]
            code, out = quiet(sweep.main, args)
            self.assertEqual(code, 0, out)
            self.assertIn("4 to run with 2 workers x", out)
            code, out = quiet(sweep.main, args)
            self.assertIn("4 finished", out)
            # summary.csv: a row per run with its metric, times and the sampler's effective settings.
            with open(os.path.join(root, "tiny", "summary.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(sorted((r["sampler.name"], r["seed"]) for r in rows),
                             [("es", "0"), ("es", "1"), ("uniform", "0"), ("uniform", "1")])
            for row in rows:
                self.assertEqual((row["status"], row["metric"], row["epochs"]), ("finished", "acc", "2"))
                self.assertTrue(0.0 <= float(row["final_test"]) <= 1.0)
                self.assertGreater(float(row["train_time_s"]), 0.0)
                self.assertTrue(os.path.isfile(os.path.join(root, "tiny", row["run_dir"], "summary.json")))
                es = row["sampler.name"] == "es"
                # es's defaults as the runs used them: beta (0.2, 0.9), b = 0.25 * 32, no annealing in 2 epochs.
                self.assertEqual((row["sampler.beta1"], row["sampler.beta2"], row["sampler.mini_batch"],
                                  row["sampler.anneal_epochs"]), ("0.2", "0.9", "8", "0") if es else ("", "", "", ""))
            code, out = quiet(tables.main, [os.path.join(root, "tiny")])
            self.assertEqual(code, 0, out)
            self.assertRegex(out, r"\| uniform \| \d+\.\d\d ± \d+\.\d\d \(n=2\) \| \+0\.00 \| 0\.0% \|")
            self.assertRegex(out, r"\| es \| \d+\.\d\d ± \d+\.\d\d \(n=2\) \| [+-]\d+\.\d\d \| -?\d+\.\d% \|")
            # The calibration esrun bench wrote before the runs costs their work: reference time.
            costs = os.path.join(root, "tiny", "costs", "base.json")
            code, out = quiet(tables.main, [os.path.join(root, "tiny"), "--time", "reference", "--costs", costs,
                                            "--out", os.path.join(root, "tiny.md")])
            self.assertEqual(code, 0, out)
            self.assertIn("Train time: reference time", out)
            with open(os.path.join(root, "tiny.md")) as f:
                self.assertIn("| train time, reference (s) | train time, wall (s) |", f.read())
            code, out = quiet(plot.main, [os.path.join(root, "tiny"), "--out", os.path.join(root, "plots")])
            self.assertEqual(code, 0, out)
            png_size(os.path.join(root, "plots", "acc_vs_time.png"))

    def test_a_sweep_scores_then_trains_static_pruning_and_the_table_shows_the_extra_cost(self):
        with tempfile.TemporaryDirectory() as root:
            write_tiny_cifar10(os.path.join(root, "cifar"))
            scores = os.path.join(root, "scores", "forgetting.pt")
            write(os.path.join(root, "scoring.yaml"), f"score: {{method: forgetting, out: {scores}}}\n")
            path = write(os.path.join(root, "sweep.yaml"), textwrap.dedent(f"""
                name: static
                set:
                  data: {{name: cifar10, root: {os.path.join(root, 'cifar')}}}
                  model: {{name: small_cnn, width: 4}}
                  train.epochs: 2
                  sampler.meta_batch: 32
                score: [scoring.yaml]
                variants:
                  - {{label: uniform, set: {{sampler.name: uniform}}}}
                  - {{label: forgetting_r50, set: {{sampler.name: static_prune, sampler.scores: {scores}, sampler.prune_ratio: 0.5}}}}
                seeds: [0]
                """))
            code, out = quiet(sweep.main, [path, "--out", root, "--esrun", ESRUN])
            self.assertEqual(code, 0, out)
            self.assertTrue(os.path.exists(scores))
            code, out = quiet(tables.main, [os.path.join(root, "static")])
            self.assertEqual(code, 0, out)
            self.assertIn("extra cost (s)", out)
            row = re.search(r"\| static_prune \| \d+\.\d\d \(n=1\) \| [+-]\d+\.\d\d \| (\d+\.\d) \| -?\d+\.\d% \|", out)
            self.assertIsNotNone(row, out)
            with open(os.path.join(root, "static", "forgetting_r50", "s0", "summary.json")) as f:
                self.assertGreater(json.load(f)["extra_cost_s"], 0)
            self.assertIn("| uniform | ", out)


@unittest.skipUnless(ESRUN and importlib.util.find_spec("crc32c"),
                     "needs ESRUN_BINARY and Debian's python3-crc32c (scripts/setup.sh test installs it)")
class TensorBoardFiles(unittest.TestCase):
    def test_a_runs_event_files_pass_an_independent_crc32c_check_and_hold_every_epoch(self):
        import tfevents
        with tempfile.TemporaryDirectory() as root:
            write_tiny_cifar10(os.path.join(root, "cifar"))
            run_dir = os.path.join(root, "run")
            done = subprocess.run([ESRUN, "--set", f"data={{name: cifar10, root: {root}/cifar}}",
                                   "--set", "model={name: small_cnn, width: 4}", "--set", "train.epochs=2",
                                   "--set", "logging.tensorboard=true", "--set", "threads=2", "--out", run_dir],
                                  capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            files = [f for f in os.listdir(run_dir) if f.startswith("events.out.tfevents.")]
            self.assertEqual(len(files), 1)
            events = tfevents.events(os.path.join(run_dir, files[0]))
            self.assertEqual(events[0]["file_version"], "brain.Event:2")
            self.assertEqual([e["step"] for e in events[1:]], [1, 2])
            lines = common.read_jsonl(os.path.join(run_dir, "metrics.jsonl"))
            for event, line in zip(events[1:], lines):
                scalars = dict(event["scalars"])
                self.assertAlmostEqual(scalars["train/loss"], line["train_loss"], places=5)
                self.assertAlmostEqual(scalars["test/acc"], line["test_acc"], places=5)
                self.assertIn("time/epoch_total", scalars)
            # A flipped byte fails the independent check, naming the record's offset.
            path = os.path.join(run_dir, files[0])
            with open(path, "r+b") as f:
                f.seek(60)
                byte = f.read(1)
                f.seek(60)
                f.write(bytes([byte[0] ^ 0xFF]))
            with self.assertRaisesRegex(tfevents.BadFile, "the record at byte 40 has a bad data CRC"):
                tfevents.events(path)


class StandsOnItsOwn(unittest.TestCase):
    def test_no_tracked_file_outside_tests_and_ci_names_the_team_folder(self):
        """A clone has no ../shared: docs, configs, scripts and code name only what the repository holds
        (the test data tier and CI name it through ESRUN_DATA_DIR)."""
        root = REPO
        try:
            listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            self.skipTest("not a git checkout")
        offenders = []
        for name in listed.decode().split("\0"):
            if not name or name.startswith(("tests/", ".ci/")):
                continue
            try:
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError):
                continue
            if "../shared" in text or "/work/shared" in text:
                offenders.append(name)
        self.assertEqual(offenders, [], "tracked files that name the team's shared folder")
        for page in ("docs/methods.md", "docs/data.md"):
            self.assertTrue(os.path.exists(os.path.join(root, page)), page)


class Launch(unittest.TestCase):
    LAUNCH = os.path.join(SCRIPTS, "launch")

    def test_every_process_gets_torchruns_variables(self):
        with tempfile.TemporaryDirectory() as root:
            probe = ("import os, sys; open(os.path.join(sys.argv[1], os.environ['RANK']), 'w').write("
                     "' '.join(os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')))")
            done = subprocess.run([sys.executable, self.LAUNCH, "-n", "3", "--port", "29611", "--",
                                   sys.executable, "-c", probe, root])
            self.assertEqual(done.returncode, 0)
            for rank in range(3):
                with open(os.path.join(root, str(rank))) as f:
                    self.assertEqual(f.read(), f"{rank} 3 {rank} 127.0.0.1 29611")

    def test_a_failing_rank_stops_the_others_and_sets_the_exit_code(self):
        script = "import os, sys, time; sys.exit(5) if os.environ['RANK'] == '1' else time.sleep(60)"
        done = subprocess.run([sys.executable, self.LAUNCH, "-n", "2", "--", sys.executable, "-c", script],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 5)
        self.assertIn("rank 1 exited with 5", done.stderr)


if __name__ == "__main__":
    unittest.main()
