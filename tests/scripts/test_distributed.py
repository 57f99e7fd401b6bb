"""Multi-process esrun runs over Gloo on loopback (run by ctest as part of the `scripts` test).

Each test starts real esrun processes with torchrun's variables, as scripts/launch, torchrun or
Slurm would, and needs ESRUN_BINARY (the built esrun)."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# script_helpers first: it puts scripts/ on the import path, where esrunpy is.
from script_helpers import ESRUN, REPO

from esrunpy.common import read_jsonl

SMOKE = os.path.join(REPO, "configs", "smoke")
INTERRUPTED = 3  # esrun's exit code after a graceful stop (lib/esrun/core/stop.h)
# A hang guard for the waits below, far above what a healthy run takes: reaching it fails the test
# instead of blocking CI, it is not a speed limit.
GUARD_S = 300


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ranks(world, args, cwd, port=None, timeout_s=60):
    """esrun with `args` as ranks 0..world-1 of one run; returns the Popen objects (stderr piped)."""
    port = port or free_port()
    processes = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        processes.append(subprocess.Popen(
            [ESRUN, "--set", "threads=1", "--set", f"distributed.timeout_s={timeout_s}", "--set", "out_root=runs"] + args,
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    return processes


def finish(processes):
    """Every rank's (exit code, stderr)."""
    results = []
    for p in processes:
        err = p.communicate(timeout=GUARD_S)[1]
        results.append((p.returncode, err))
    return results


def run_ranks(world, args, cwd):
    results = finish(start_ranks(world, args, cwd))
    for rank, (code, err) in enumerate(results):
        if code != 0:
            raise AssertionError(f"rank {rank} exited with {code}:\n{err}")
    return results


def files_under(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


def metrics(run_dir):
    return read_jsonl(os.path.join(run_dir, "metrics.jsonl"))


def wait_for_metrics(run_dir, processes):
    """Until the run has written its first epoch's metrics (training is under way)."""
    deadline = time.monotonic() + GUARD_S
    while not (os.path.exists(os.path.join(run_dir, "metrics.jsonl")) and metrics(run_dir)):
        for p in processes:
            if p.poll() is not None:
                raise AssertionError(f"a rank exited with {p.returncode} before training: {p.communicate()[1]}")
        if time.monotonic() > deadline:
            raise AssertionError("no epoch finished")
        time.sleep(0.05)


@unittest.skipUnless(ESRUN, "ESRUN_BINARY is not set")
class DataParallel(unittest.TestCase):
    # The policies of configs/smoke, each with its per-sample state.
    POLICIES = ["uniform", "es", "eswp", "infobatch", "ka", "ucb", "omission", "omission_batch", "loss", "order",
                "selective_backprop", "adaselection", "random_prune", "reduced_epochs", "epsilon_greedy"]

    def test_every_policy_keeps_identical_state_on_two_and_three_ranks(self):
        # distributed.check_sync compares, after every epoch, a checksum of the policy's state (its
        # per-sample scores, weights, queues and random stream) and of the model across the ranks,
        # and fails the run naming the ranks that diverged.
        for world, policies in ((2, self.POLICIES), (3, ["es", "infobatch", "selective_backprop", "ka"])):
            for policy in policies:
                with self.subTest(world=world, policy=policy), tempfile.TemporaryDirectory() as root:
                    run_ranks(world, ["--config", os.path.join(SMOKE, f"{policy}.yaml"), "--set", "train.epochs=3",
                                      "--set", "distributed.check_sync=true", "--out", "runs/run"], root)
                    records = metrics(os.path.join(root, "runs", "run"))
                    self.assertEqual(len(records), 2 if policy == "reduced_epochs" else 3)
                    self.assertGreaterEqual(records[-1]["time"]["gather"], 0)

    def test_two_and_three_ranks_match_one_with_the_same_global_batch(self):
        # An MLP without BatchNorm or dropout: the ranks' gradients sum to the single process's up to
        # the order of float additions, so the runs agree to ~1e-6 relative (they are not
        # bit-identical). A model with BatchNorm normalises over each rank's share of the batch
        # instead and gives another (equally valid) trajectory, so it is not compared here.
        config = ["--config", os.path.join(SMOKE, "regression_es.yaml"), "--set", "train.epochs=4"]
        finals = {}
        for world in (1, 2, 3):
            with tempfile.TemporaryDirectory() as root:
                run_ranks(world, config + ["--out", "runs/run"], root)
                with open(os.path.join(root, "runs", "run", "summary.json")) as f:
                    summary = json.load(f)
                self.assertEqual(summary["world_size"], world)
                finals[world] = summary
        for world in (2, 3):
            for key in ("final_test_loss", "final_test_rmse", "samples_backward_total"):
                self.assertAlmostEqual(finals[world][key], finals[1][key], delta=1e-5 * abs(finals[1][key]),
                                       msg=f"{key}, {world} ranks")

    def test_sync_bn_normalises_over_every_ranks_rows(self):
        # small_cnn has BatchNorm: per rank, each normalises over its half of the batch and the first
        # epoch already differs from one process's; synchronised, it matches one process up to float
        # rounding. Three ranks with micro-batches of 7 rows run empty passes on some ranks (their
        # shares of 64 are 22, 21, 21), which must still take part in every collective.
        config = ["--config", os.path.join(SMOKE, "uniform.yaml"), "--set", "train.epochs=1"]
        first = {}
        for name, world, extra in (("alone", 1, []), ("per_rank", 2, []),
                                   ("synchronised", 2, ["--set", "distributed.sync_bn=true"])):
            with tempfile.TemporaryDirectory() as root:
                run_ranks(world, config + extra + ["--out", "runs/run"], root)
                first[name] = metrics(os.path.join(root, "runs", "run"))[0]["train_loss"]
        self.assertAlmostEqual(first["synchronised"], first["alone"], delta=1e-5 * first["alone"])
        self.assertGreater(abs(first["per_rank"] - first["alone"]), 1e-4 * first["alone"])
        with tempfile.TemporaryDirectory() as root:
            run_ranks(3, config + ["--set", "distributed.sync_bn=true", "--set", "train.accumulate=7",
                                   "--set", "distributed.check_sync=true", "--out", "runs/run"], root)
        # Synchronised scoring forwards (ES) and KAKURENBO's refresh pass keep the replicas in step.
        for policy in ("es", "ka"):
            with self.subTest(policy=policy), tempfile.TemporaryDirectory() as root:
                run_ranks(2, ["--config", os.path.join(SMOKE, f"{policy}.yaml"), "--set", "train.epochs=3",
                              "--set", "distributed.sync_bn=true", "--set", "distributed.check_sync=true",
                              "--out", "runs/run"], root)

    def test_nccl_on_a_cpu_run_is_refused_naming_the_key(self):
        # Debian's libtorch has no NCCL; the PyTorch flavour has it but this run's device is the CPU.
        with tempfile.TemporaryDirectory() as root:
            results = finish(start_ranks(2, ["--config", os.path.join(SMOKE, "uniform.yaml"), "--set", "device=cpu",
                                             "--set", "distributed.backend=nccl"], root))
            for code, err in results:
                self.assertEqual(code, 2, err)
                self.assertIn("distributed.backend (--set distributed.backend=nccl): nccl", err)
            self.assertEqual(files_under(root), [])

    def test_rank_zero_alone_writes(self):
        with tempfile.TemporaryDirectory() as root:
            run_ranks(3, ["--config", os.path.join(SMOKE, "es.yaml"), "--set", "train.epochs=3",
                          "--set", "checkpoint.every=1"], root)
            written = files_under(root)
            run_dirs = {os.path.dirname(path) for path in written if path.endswith("config.resolved.yaml")}
            self.assertEqual(len(run_dirs), 1, written)
            run_dir = run_dirs.pop()
            # last.prev.pt: the checkpoint before last.pt (a hard link), written by rank 0 as well.
            self.assertEqual(written, sorted(os.path.join(run_dir, name) for name in (
                "checkpoints/last.prev.pt", "checkpoints/last.pt", "config.resolved.yaml", "evaluations.jsonl",
                "metrics.jsonl", "summary.json")))

    def test_a_killed_rank_makes_the_others_fail_naming_it(self):
        with tempfile.TemporaryDirectory() as root:
            processes = start_ranks(2, ["--config", os.path.join(SMOKE, "regression_es.yaml"), "--set",
                                        "train.epochs=100000", "--out", "runs/run"], root, timeout_s=30)
            wait_for_metrics(os.path.join(root, "runs", "run"), processes)
            processes[1].kill()
            (code, err), _ = finish(processes)
            # (In real processes: a thread that simulates a dead rank leaves libtorch's Gloo state
            # unusable for the rest of that process.) The survivor exits as on any esrun error.
            self.assertEqual(code, 2, err)
            self.assertIn("distributed: rank 0", err)
            self.assertIn("rank 1 stopped answering", err)

    def test_sigterm_to_one_rank_stops_all_with_one_checkpoint_that_resumes(self):
        config = ["--config", os.path.join(SMOKE, "regression_es.yaml"), "--set", "train.epochs=40"]
        with tempfile.TemporaryDirectory() as root:
            run_dir = os.path.join(root, "runs", "run")
            processes = start_ranks(2, config + ["--out", "runs/run"], root)
            wait_for_metrics(run_dir, processes)
            processes[1].send_signal(signal.SIGTERM)  # as Slurm's pre-emption would, to one task
            results = finish(processes)
            self.assertEqual([code for code, _ in results], [INTERRUPTED, INTERRUPTED], results)
            self.assertIn("stopped by SIGTERM", results[0][1] + results[1][1])
            # One checkpoint (and the one before it, kept as last.prev.pt, unless the signal came
            # before the first epoch's was written), by rank 0 alone.
            checkpoints = sorted(glob.glob(os.path.join(root, "**", "*.pt"), recursive=True))
            self.assertIn(os.path.join(run_dir, "checkpoints", "last.pt"), checkpoints)
            self.assertLessEqual(set(checkpoints), {os.path.join(run_dir, "checkpoints", name)
                                                    for name in ("last.prev.pt", "last.pt")})
            interrupted_epochs = len(metrics(run_dir))
            self.assertLess(interrupted_epochs, 40)

            refused = finish(start_ranks(3, ["--resume", "runs/run"], root))
            self.assertEqual(refused[0][0], 2)
            self.assertIn("checkpointed by 2 process(es), and this one has 3", refused[0][1])

            run_ranks(2, ["--resume", "runs/run"], root)
            resumed = metrics(run_dir)
            run_ranks(2, config + ["--out", "runs/straight"], root)
            straight = metrics(os.path.join(root, "runs", "straight"))
            self.assertEqual(len(resumed), 40)
            # No BatchNorm, dropout streams per rank in the checkpoint: the same numbers.
            self.assertEqual([r["train_loss"] for r in resumed], [r["train_loss"] for r in straight])
            self.assertEqual(resumed[-1]["test_loss"], straight[-1]["test_loss"])


if __name__ == "__main__":
    unittest.main()
