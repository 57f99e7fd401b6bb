"""esrun under a real Slurm: a scripts/sweep --slurm array run to completion, and a 2-task srun
data-parallel run equal to the same run started by scripts/launch.

Needs a running Slurm whose commands reach it (SLURM_CONF; scripts/slurm_cluster.sh starts a
one-node cluster on this machine, as .ci/run does) and ESRUN_BINARY; skipped otherwise, unless
ESRUN_REQUIRE_SLURM=1 makes a missing Slurm a failure (CI)."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from script_helpers import ESRUN, REPO, write

from esrunpy.common import read_jsonl
from test_distributed import free_port

# A hang guard for the waits below, far above what the tiny jobs take: reaching it fails the test
# instead of blocking CI, it is not a speed limit.
GUARD_S = 300


def slurm_reachable():
    try:
        return subprocess.run(["sinfo", "--noheader"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


REACHABLE = slurm_reachable()
if os.environ.get("ESRUN_REQUIRE_SLURM") == "1" and not REACHABLE:
    raise RuntimeError("ESRUN_REQUIRE_SLURM=1 but sinfo cannot reach a Slurm controller (is SLURM_CONF set and "
                       "scripts/slurm_cluster.sh start run?)")


def without_times(records):
    """Metrics records without their clocks, which differ between two runs of one experiment."""
    return [{k: v for k, v in record.items() if k != "time"} for record in records]


def wait_for_jobs(job_id):
    """Until no task of the Slurm job is pending or running."""
    deadline = time.monotonic() + GUARD_S
    while subprocess.run(["squeue", "--noheader", "--jobs", job_id], capture_output=True, text=True).stdout.strip():
        if time.monotonic() > deadline:
            subprocess.run(["scancel", job_id])
            raise AssertionError(f"Slurm job {job_id} did not end")
        time.sleep(0.5)


@unittest.skipUnless(ESRUN and REACHABLE, "needs ESRUN_BINARY and a reachable Slurm (scripts/slurm_cluster.sh)")
class RealSlurm(unittest.TestCase):
    def test_a_sweep_array_runs_every_job_to_completion(self):
        with tempfile.TemporaryDirectory(dir=os.environ.get("ESRUN_SLURM_TMP")) as root:
            path = write(os.path.join(root, "sweep.yaml"), textwrap.dedent(f"""
                name: tiny
                configs: [{os.path.join(REPO, 'configs', 'smoke', 'regression_uniform.yaml')}]
                set: {{train.epochs: 2}}
                grid: {{sampler.name: [uniform, es]}}
                seeds: [0]
                """))
            made = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "sweep"), path, "--out", root,
                                   "--esrun", ESRUN, "--slurm", "--cpus", "1"], capture_output=True, text=True)
            self.assertEqual(made.returncode, 0, made.stderr)
            submitted = subprocess.run(["sbatch", "--parsable", os.path.join(root, "tiny", "sweep.sbatch")],
                                       capture_output=True, text=True)
            self.assertEqual(submitted.returncode, 0, submitted.stderr)
            wait_for_jobs(submitted.stdout.strip().split(";")[0])
            with open(os.path.join(root, "tiny", "summary.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(sorted((r["sampler.name"], r["status"]) for r in rows),
                             [("es", "finished"), ("uniform", "finished")])

    def test_two_srun_tasks_train_as_the_same_run_under_scripts_launch(self):
        with tempfile.TemporaryDirectory(dir=os.environ.get("ESRUN_SLURM_TMP")) as root:
            command = [ESRUN, "--config", os.path.join(REPO, "configs", "smoke", "es.yaml"), "--set", "train.epochs=3",
                       "--set", "threads=1", "--set", "distributed.check_sync=true", "--set", "progress.mode=off"]
            env = dict(os.environ, MASTER_PORT=str(free_port()))
            srun = subprocess.run(["srun", "--ntasks=2", "--cpus-per-task=1", "--kill-on-bad-exit=1",
                                   f"--time={GUARD_S // 60}"] + command + ["--out", os.path.join(root, "srun")],
                                  capture_output=True, text=True, env=env, timeout=GUARD_S)
            self.assertEqual(srun.returncode, 0, srun.stderr)
            launch = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "launch"), "-n", "2", "--port",
                                     str(free_port()), "--"] + command + ["--out", os.path.join(root, "launch")],
                                    capture_output=True, text=True, timeout=GUARD_S)
            self.assertEqual(launch.returncode, 0, launch.stderr)
            with open(os.path.join(root, "srun", "summary.json")) as f:
                self.assertEqual(json.load(f)["world_size"], 2)  # one run of two ranks, from Slurm's variables
            by_srun = read_jsonl(os.path.join(root, "srun", "metrics.jsonl"))
            self.assertEqual(len(by_srun), 3)
            self.assertEqual(without_times(by_srun), without_times(read_jsonl(os.path.join(root, "launch",
                                                                                            "metrics.jsonl"))))


if __name__ == "__main__":
    unittest.main()
