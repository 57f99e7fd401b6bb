"""Refactoring changes no result: short CPU runs of the quickstart, of every sampler, of every task and
of the paths around them (scoring files, resume, a mid-epoch checkpoint from before the redesign,
two data-parallel ranks) give the metrics recorded in tests/golden/expected/, bit for bit, times
aside. Fields added to metrics.jsonl since the recording (optimizer_steps) are additions: each
recorded field must be there, unchanged.

The expected files and the mid-epoch run directories were recorded with the esrun of the commit
before issue 29's redesign (9460bf3):

    ESRUN_BINARY=build/esrun python3 tests/scripts/test_behaviour_unchanged.py --record \
        --record-open-epoch open_epoch_infobatch_run --record-open-epoch open_epoch_two_ranks_run

accumulate_clip (fp32: bf16's kernels differ between CPU types whatever the pinning below) was
recorded later, with the esrun of ac69dea, which gives the 9460bf3 metrics in every other case.

Record again only for a change that is meant to change results, and say so in its commit. The
numbers are those of Debian's libtorch 1.13 on x86-64 CPUs with one thread (`threads=1` in every
case), so this tier runs with the Debian flavour only (the `scripts` label).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden")
EXPECTED = os.path.join(GOLDEN, "expected")
# Run directories that the esrun before the redesign stopped by SIGTERM in the middle of epoch 2
# (checkpoints/last.pt holds the open epoch in the old, positional format), kept to check that such
# checkpoints still resume: case name -> (folder, sampler config, ranks).
OPEN_EPOCH_RUNS = {
    "open_epoch_resume": ("open_epoch_run", "es", 1),
    "open_epoch_infobatch_resume": ("open_epoch_infobatch_run", "infobatch", 1),
    "open_epoch_two_ranks_resume": ("open_epoch_two_ranks_run", "es", 2),
}
BINARY = os.path.abspath(os.environ["ESRUN_BINARY"]) if os.environ.get("ESRUN_BINARY") else None
SMOKE = "configs/smoke"
ONE_THREAD = ["--set", "threads=1", "--set", "progress.mode=off"]
# The CPU kernels pinned to AVX2 (libtorch's own, oneDNN's and OpenBLAS's): left to choose, they
# pick by the machine's instruction set (AVX-512, AMX), and their results differ in the last bits,
# which a few epochs amplify. Pinned, every x86-64 machine with AVX2 gives the recorded numbers
# (checked on a Sapphire Rapids machine against expected files recorded on another type).
PINNED = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", DNNL_MAX_CPU_ISA="AVX2",
              OPENBLAS_CORETYPE="Haswell")

SAMPLERS = ["uniform", "es", "eswp", "loss", "order", "infobatch", "omission", "omission_batch", "adaselection",
            "selective_backprop", "ucb", "epsilon_greedy", "ka", "random_prune", "reduced_epochs", "es_noisy"]


def case_commands(work):
    """name -> list of esrun argument lists run in order in `work`; the last one's run directory
    (its --out or --resume) is the case's result."""
    cases = {
        "quickstart": [["--config", "configs/quickstart.yaml", "--set", "train.epochs=2",
                        "--set", "data.synthetic.train_size=1000", "--set", "data.synthetic.test_size=200"]],
    }
    for sampler in SAMPLERS:
        cases[f"sampler_{sampler}"] = [["--config", f"{SMOKE}/{sampler}.yaml"]]
    for sampler in ("es", "infobatch", "ka", "adaselection"):
        cases[f"regression_{sampler}"] = [["--config", f"{SMOKE}/regression_{sampler}.yaml"]]
    cases["static_prune_el2n"] = [
        ["score", "--config", f"{SMOKE}/uniform.yaml", "--method", "el2n", "--out", "scores/el2n.pt"],
        ["--config", f"{SMOKE}/uniform.yaml", "--set", "sampler.name=static_prune",
         "--set", "sampler.scores=scores/el2n.pt"]]
    cases["rho_loss"] = [
        ["score", "--config", f"{SMOKE}/uniform.yaml", "--method", "irreducible_loss", "--out", "scores/il.pt",
         "--set", "train.epochs=2"],
        ["--config", f"{SMOKE}/uniform.yaml", "--set", "sampler.name=rho_loss", "--set", "sampler.scores=scores/il.pt"]]
    cases["glue_sst2_transformer"] = [["--config", f"{SMOKE}/glue_sst2.yaml", "--set", "data.root=glue/SST-2"]]
    cases["text_lm_gpt"] = [["--config", "configs/text_lm_gpt_tiny.yaml", "--set", "data.root=text",
                             "--set", "data.tokenizer.vocab_size=64", "--set", "data.tokenizer.max_length=16",
                             "--set", "train.epochs=2"]]
    cases["accumulate_clip"] = [["--config", f"{SMOKE}/es.yaml", "--set", "train.accumulate=8",
                                 "--set", "train.clip_grad_norm=1.0"]]
    cases["stop_and_resume"] = [["--config", f"{SMOKE}/ka.yaml", "--stop-after-epochs", "2"],
                                ["--resume", "RUN"]]
    return cases


def without_times(record):
    return {k: v for k, v in record.items() if k != "time"}


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [without_times(json.loads(line)) for line in f if line.strip()]


def esrun(args, cwd):
    result = subprocess.run([BINARY] + args + ONE_THREAD, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=PINNED)
    if result.returncode != 0:
        raise AssertionError(f"esrun {' '.join(args)} exited with {result.returncode}:\n{result.stderr}")


def prepare(work):
    """Links the repository's configs and writes the text fixtures the cases read."""
    os.symlink(os.path.join(ROOT, "configs"), os.path.join(work, "configs"))
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_glue_fixture.py"), os.path.join(work, "glue")],
                   check=True, stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(work, "text"))
    for split, tsv in (("train", "train.tsv"), ("test", "dev.tsv")):
        with open(os.path.join(work, "glue", "SST-2", tsv)) as f:
            sentences = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
        with open(os.path.join(work, "text", f"{split}.txt"), "w") as f:
            f.write("\n".join(sentences * 4) + "\n")


def run_case(name, commands, work):
    """Runs one case in its own folder below `work`; its metrics without times."""
    folder = os.path.join(work, name)
    os.makedirs(folder)
    for entry in os.listdir(work):
        if entry in ("configs", "glue", "text"):
            os.symlink(os.path.join(work, entry), os.path.join(folder, entry))
    run_dir = os.path.join(folder, "run")
    for args in commands:
        if args[:1] == ["--resume"]:
            esrun(["--resume", run_dir], folder)
        elif args[:1] == ["score"]:
            esrun(args, folder)
        else:
            esrun(args + ["--out", run_dir], folder)
    return read_metrics(run_dir)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launched(ranks, args):
    """esrun with `args` as one process, or as `ranks` processes through scripts/launch."""
    command = [BINARY] + args + ONE_THREAD
    if ranks > 1:
        command = [sys.executable, os.path.join(ROOT, "scripts", "launch"), "-n", str(ranks), "--port", str(free_port()),
                   "--"] + command
    return command


def resume_open_epoch(work, folder, ranks):
    """Resumes a copy of a pre-redesign run directory stopped mid-epoch."""
    run_dir = os.path.join(work, folder)
    shutil.copytree(os.path.join(GOLDEN, folder), run_dir)
    result = subprocess.run(launched(ranks, ["--resume", run_dir]), cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=PINNED)
    if result.returncode != 0:
        raise AssertionError(f"resuming {folder} exited with {result.returncode}:\n{result.stderr}")
    return read_metrics(run_dir)


def run_two_ranks(work):
    """sampler es over two Gloo ranks (scripts/launch)."""
    folder = os.path.join(work, "two_ranks")
    os.makedirs(folder)
    run_dir = os.path.join(folder, "run")
    result = subprocess.run(launched(2, ["--config", os.path.join(ROOT, SMOKE, "es.yaml"), "--out", run_dir]),
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=PINNED)
    if result.returncode != 0:
        raise AssertionError(f"two ranks exited with {result.returncode}:\n{result.stderr}")
    return read_metrics(run_dir)


def run_all(work):
    """Every case's metrics: {name: [records]}."""
    prepare(work)
    cases = case_commands(work)
    jobs = {name: (run_case, (name, commands, work)) for name, commands in cases.items()}
    jobs["two_ranks"] = (run_two_ranks, (work,))
    for name, (folder, _, ranks) in OPEN_EPOCH_RUNS.items():
        if os.path.isdir(os.path.join(GOLDEN, folder)):
            jobs[name] = (resume_open_epoch, (work, folder, ranks))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(function, *args) for name, (function, args) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def record_open_epoch_run(folder, sampler, ranks):
    """Makes tests/golden/<folder>/: a run stopped by SIGTERM in the middle of epoch 2."""
    import signal
    import time
    with tempfile.TemporaryDirectory() as work:
        run_dir = os.path.join(work, "run")
        process = subprocess.Popen(
            launched(ranks, ["--config", os.path.join(ROOT, SMOKE, f"{sampler}.yaml"),
                             "--set", "data.synthetic.train_size=4096", "--set", "train.epochs=3", "--out", run_dir]),
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=PINNED)
        metrics = os.path.join(run_dir, "metrics.jsonl")
        while not (os.path.exists(metrics) and os.path.getsize(metrics) > 0):
            time.sleep(0.05)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        err = process.communicate()[1]
        if process.returncode != 3 or "in epoch 2" not in err:
            raise SystemExit(f"expected a stop in epoch 2 (exit 3), got {process.returncode}:\n{err}")
        target = os.path.join(GOLDEN, folder)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(os.path.join(target, "checkpoints"))
        for name in ("config.resolved.yaml", "metrics.jsonl", "checkpoints/last.pt"):
            shutil.copy(os.path.join(run_dir, name), os.path.join(target, name))


@unittest.skipUnless(BINARY, "ESRUN_BINARY is not set")
class BehaviourUnchanged(unittest.TestCase):
    def test_every_case_gives_the_recorded_metrics_apart_from_times(self):
        with tempfile.TemporaryDirectory() as work:
            results = run_all(work)
        expected_names = sorted(f[:-len(".jsonl")] for f in os.listdir(EXPECTED) if f.endswith(".jsonl"))
        self.assertEqual(sorted(results), expected_names)
        for name in expected_names:
            with self.subTest(case=name):
                with open(os.path.join(EXPECTED, f"{name}.jsonl")) as f:
                    expected = [json.loads(line) for line in f if line.strip()]
                # Fields added since the recording are additions, not changes: the recorded ones compare.
                got = [{k: v for k, v in record.items() if k in recorded} for record, recorded in zip(results[name], expected)]
                self.assertEqual(len(results[name]), len(expected))
                self.assertEqual(got, expected)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write tests/golden/expected/ with ESRUN_BINARY")
    parser.add_argument("--record-open-epoch", action="append", default=[], metavar="FOLDER",
                        help="also make tests/golden/FOLDER/ anew (a mid-epoch checkpoint; FOLDER as in "
                             "OPEN_EPOCH_RUNS); repeatable")
    args, rest = parser.parse_known_args()
    if not (args.record or args.record_open_epoch):
        unittest.main(argv=[sys.argv[0]] + rest)
        return
    if not BINARY:
        raise SystemExit("set ESRUN_BINARY to the esrun binary")
    for folder in args.record_open_epoch:
        (_, sampler, ranks), = [v for v in OPEN_EPOCH_RUNS.values() if v[0] == folder]
        record_open_epoch_run(folder, sampler, ranks)
    with tempfile.TemporaryDirectory() as work:
        results = run_all(work)
    os.makedirs(EXPECTED, exist_ok=True)
    for name, records in results.items():
        with open(os.path.join(EXPECTED, f"{name}.jsonl"), "w") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in records)
    print(f"recorded {len(results)} cases in {EXPECTED}")


if __name__ == "__main__":
    main()
