"""Tests of scripts/report: a published table beside hand-made runs, as Markdown and HTML.

The hand-made runs' config.resolved.yaml holds the keys of a repository config (as esrun wrote them
before it resolved the sampler's defaults), and these reports compare them without esrun (only the
keys a cell's config file sets). ESRUN_BINARY, when set, is the built esrun: then runs made from its
`print-config` are reported with every resolved key compared. The HTML is also rendered in headless
Chromium when `chromium` is on PATH (skipped otherwise, or a failure with ESRUN_REQUIRE_BROWSER=1)."""
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import matplotlib.image
import yaml

# script_helpers first: it puts scripts/ on the import path, where esrunpy is.
from script_helpers import ESRUN, REPO, quiet, write

from esrunpy import report
from esrunpy.published import load_table
from esrunpy.runs import Run, find_runs

C10 = "configs/paper/table2/cifar10_r18_{}.yaml"
C100 = "configs/paper/table2/cifar100_r18_{}.yaml"
ES_DEFAULTS = {"name": "es", "meta_batch": 128, "mini_batch": 32, "ratio": 0.25, "beta1": 0.2, "beta2": 0.9,
               "anneal_epochs": 1}
IB3 = "configs/paper/infobatch_table3/cifar100_r18_{}.yaml"
IB1 = "configs/paper/infobatch_table1/cifar100_r18_infobatch_r{}.yaml"
PUBLISHED = os.path.join(REPO, "configs", "paper", "published")


def make_run(root, name, config, seed, acc, train_time, sets=None, sampler=None, finished=True, summary=None):
    """A run of a repository config (its keys, then `sets`, as config.resolved.yaml) with known numbers:
    test accuracy `acc` at the end, evaluated at epochs 1 and 2 only; summary.json's "sampler" = `sampler`,
    and `summary` adds keys to it."""
    with open(os.path.join(REPO, config)) as f:
        tree = yaml.safe_load(f)
    tree["seed"] = seed
    for key, value in (sets or {}).items():
        node = tree
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path = os.path.join(root, name)
    write(os.path.join(path, "config.resolved.yaml"), json.dumps(tree))  # JSON is YAML
    records = [{"epoch": e, "test_acc": [None, acc - 0.02, acc][e], "samples_backward_total": 100 * (e + 1),
                "time": {"epoch_total": train_time / 3}} for e in range(3)]
    write(os.path.join(path, "metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in records))
    if finished:
        written = {"final_test_acc": acc, "best_test_acc": acc, "train_time_s": train_time, "metric": "acc",
                   **(summary or {})}
        if sampler:
            written["sampler"] = sampler
        write(os.path.join(path, "summary.json"), json.dumps(written))
    return path


def cell(column, value, config=None, match=None, **extra):
    return {"column": column, "value": value, "config": config, "match": match, **extra}


def c10(method, value, **extra):
    return cell("CIFAR-10", value, C10.format(method), {"sampler.name": method, "data.name": "cifar10",
                                                        "model.name": "resnet18"}, **extra)


def c100(method, value, **extra):
    return cell("CIFAR-100", value, C100.format(method), {"sampler.name": method, "data.name": "cifar100",
                                                          "model.name": "resnet18"}, **extra)


def published_table(rows, baseline="uniform"):
    return {"paper": "es", "title": "A test paper", "citation": "Someone et al., 2024", "table": "Table 2",
            "caption": "Test accuracy and time saved", "metric": "acc", "scale": 100, "when": "final",
            "higher_is_better": True, "tolerance": 0.5, "baseline": baseline,
            "settings": {"epochs": 200, "optimizer": {"name": "sgd", "lr": 0.05}}, "notes": "Made up numbers.",
            "rows": rows}


# Known numbers: each row of the CIFAR-10 column ends in another verdict.
ROWS = [
    {"id": "uniform", "label": "Uniform", "cells": [c10("uniform", 95.0, std=0.1), c100("uniform", 78.5)]},
    {"id": "es", "label": "ES", "cells": [c10("es", 95.33, std=0.05, time_saved=33.9), c100("es", 78.0)]},
    {"id": "eswp", "label": "ESWP", "cells": [c10("eswp", 95.0, time_saved=40.0),
                                              c100("eswp", None, note="not in the paper")]},
    {"id": "loss", "label": "Loss", "cells": [c10("loss", 94.0)]},
    {"id": "order", "label": "Ordered SGD", "cells": [c10("order", 94.5)]},
    {"id": "ka", "label": "KAKURENBO", "cells": [cell("CIFAR-10", 94.8, runnable=False, reason="no code")]},
    {"id": "ucb", "label": "UCB", "cells": [c10("ucb", 94.9)]},
]


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.runs = os.path.join(self.dir.name, "runs")
        self.table = self.write_table(ROWS)

    def tearDown(self):
        self.dir.cleanup()

    def write_table(self, rows, baseline="uniform"):
        return write(os.path.join(self.dir.name, "table.yaml"),
                     yaml.safe_dump(published_table(rows, baseline), sort_keys=False))

    def make_runs(self):
        r = self.runs
        make_run(r, "uniform/s0", C10.format("uniform"), 0, 0.951, 100.0)
        # esrun writes 5e-4, which PyYAML reads as a string; the config's 5.0e-4 is a float: the same value.
        make_run(r, "uniform/s1", C10.format("uniform"), 1, 0.949, 100.0, sets={"optimizer.weight_decay": "5e-4"})
        # One ES run relied on the policy's defaults, one spelled them out: summary.json says they agree.
        make_run(r, "es/s0", C10.format("es"), 0, 0.951, 60.0, sets={"sampler.beta1": None, "sampler.beta2": None},
                 sampler=ES_DEFAULTS)
        make_run(r, "es/s1", C10.format("es"), 1, 0.953, 70.0, sets={"sampler.beta1": 0.2, "sampler.beta2": 0.9},
                 sampler=ES_DEFAULTS)
        make_run(r, "es/s2", C10.format("es"), 2, 0.5, 10.0, finished=False)
        make_run(r, "eswp/s0", C10.format("eswp"), 0, 0.93, 50.0)
        make_run(r, "loss/s0", C10.format("loss"), 0, 0.95, 80.0)
        make_run(r, "ucb/s0", C10.format("ucb"), 0, 0.90, 40.0, sets={"train.epochs": 8})
        make_run(r, "es100/s0", C100.format("es"), 0, 0.78, 50.0)
        make_run(r, "svhn/s0", C10.format("uniform"), 0, 0.96, 100.0, sets={"data.name": "svhn"})

    def report(self, *extra, out=None, esrun=None):
        """Without esrun (a path where there is none): only the keys a cell's config file sets are compared."""
        out = out or os.path.join(self.dir.name, "out", "report")
        esrun = esrun or os.path.join(self.dir.name, "no-esrun")
        code, text = quiet(report.main, [self.runs, "--table", self.table, "--out", out, "--esrun", esrun, *extra])
        self.assertEqual(code, 0, text)
        self.stderr = text
        with open(out + ".md") as f:
            markdown = f.read()
        with open(out + ".html") as f:
            page = f.read()
        return out, markdown, page


class Verdicts(ReportTest):
    def test_known_runs_give_the_known_verdicts_and_numbers(self):
        self.make_runs()
        out, markdown, _ = self.report()
        for expected in [
                "| Uniform | CIFAR-10 | 95.00 ± 0.10 | 95.00 ± 0.14 | 2 | +0.00 | 0.0% | — | reproduced |  |",
                "| ES | CIFAR-10 | 95.33 ± 0.05 | 95.20 ± 0.14 | 2 | -0.13 | 35.0% | 33.9% | reproduced | "
                "1 unfinished run(s) left out |",
                "| ESWP | CIFAR-10 | 95.00 | 93.00 | 1 | -2.00 | 50.0% | 40.0% | not reproduced |  |",
                "| Loss | CIFAR-10 | 94.00 | 95.00 | 1 | +1.00 | 20.0% | — | exceeds |  |",
                "| Ordered SGD | CIFAR-10 | 94.50 | — | 0 | — | — | — | not run | "
                "config configs/paper/table2/cifar10_r18_order.yaml |",
                "| KAKURENBO | CIFAR-10 | 94.80 | — | 0 | — | — | — | not runnable | [2] |",
                # Another training length: no time saved against uniform, and the differing key is named.
                "| UCB | CIFAR-10 | 94.90 | 90.00 | 1 | -4.90 | — | — | different setting | "
                "train.epochs 8 (paper 200) |",
                "| Uniform | CIFAR-100 | 78.50 | — | 0 | — | — | — | not run |",
                # No uniform run of CIFAR-100: no time saved.
                "| ES | CIFAR-100 | 78.00 | 78.00 | 1 | +0.00 | — | — | reproduced |  |",
                "| ESWP | CIFAR-100 | — | — | 0 | — | — | — | not published | [1] |",
                # The table's reasons and notes are footnotes under the table.
                "[1] not in the paper  \n[2] no code  \n"]:
            self.assertIn(expected, markdown)
        self.assertIn("- **verdicts:** 3 reproduced, 1 exceeds, 1 not reproduced, 1 different setting, 2 not run, "
                      "1 not runnable, 1 not published", markdown)
        self.assertIn("- **paper settings:** epochs: 200; optimizer.name: sgd; optimizer.lr: 0.05", markdown)
        self.assertIn("## Not in this table\n\n- " + os.path.join(self.runs, "svhn", "s0"), markdown)
        for name in ("tradeoff.png", "curves.png"):
            self.assertIn(f"](report-files/{name})", markdown)
            with open(os.path.join(out + "-files", name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_summary_sampler_settings_overlay_the_config(self):
        self.make_runs()
        defaulted, spelled = Run(os.path.join(self.runs, "es", "s0")), Run(os.path.join(self.runs, "es", "s1"))
        self.assertEqual(defaulted.get("sampler.beta1"), 0.2)
        self.assertEqual(defaulted.get("sampler.mini_batch"), 32)
        self.assertEqual({k: v for k, v in defaulted.config.items() if k != "seed"},
                         {k: v for k, v in spelled.config.items() if k != "seed"})
        self.assertIsNone(Run(os.path.join(self.runs, "es", "s2")).get("sampler.beta1"))  # unfinished: no summary
        entries, _ = report.build(find_runs([self.runs]), load_table(self.table))
        es = next(e for e in entries if e.name == "es / CIFAR-10")
        self.assertEqual(len(es.finished), 2)
        self.assertEqual(len(es.runs), 3)

    def test_runs_of_one_cell_that_are_different_experiments_are_refused(self):
        make_run(self.runs, "a", C10.format("es"), 0, 0.95, 60.0)
        make_run(self.runs, "b", C10.format("es"), 1, 0.95, 60.0, sets={"optimizer.lr": 0.1})
        with self.assertRaises(report.ReportError) as caught:
            report.build(find_runs([self.runs]), load_table(self.table))
        self.assertIn("differ in optimizer.lr", str(caught.exception))
        self.assertIn("es / CIFAR-10", str(caught.exception))

    def test_a_run_matching_two_cells_is_an_error_naming_both(self):
        rows = [{"id": "uniform", "label": "Uniform", "cells": [c10("uniform", 95.0)]},
                {"id": "again", "label": "Again", "cells": [c10("uniform", 95.0)]}]
        make_run(self.runs, "u", C10.format("uniform"), 0, 0.95, 60.0)
        code, out = quiet(report.main, [self.runs, "--table", self.write_table(rows), "--out",
                                        os.path.join(self.dir.name, "r")])
        self.assertEqual(code, 2)
        self.assertIn(os.path.join(self.runs, "u"), out)
        self.assertIn("uniform / CIFAR-10, again / CIFAR-10", out)

    def test_loose_keys_place_a_cpu_sized_sweep_as_a_different_setting(self):
        small = {"model.name": "small_cnn", "train.epochs": 8}
        make_run(self.runs, "u", C10.format("uniform"), 0, 0.60, 100.0, sets=small)
        make_run(self.runs, "e", C10.format("es"), 0, 0.95, 60.0, sets=small)
        _, markdown, _ = self.report()
        self.assertIn("| ES | CIFAR-10 | 95.33 ± 0.05 | — | 0 | — | — | 33.9% | not run |", markdown)
        self.assertIn("## Not in this table", markdown)
        _, markdown, _ = self.report("--loose", "model.name")
        # Same problem as our uniform runs: time saved counts; never "reproduced", though within tolerance.
        self.assertIn("| ES | CIFAR-10 | 95.33 ± 0.05 | 95.00 | 1 | -0.33 | 40.0% | 33.9% | different setting | "
                      "model.name small_cnn (paper resnet18), train.epochs 8 (200) |", markdown)
        self.assertIn("| Uniform | CIFAR-10 | 95.00 ± 0.10 | 60.00 | 1 | -35.00 | 0.0% | — | different setting |",
                      markdown)
        self.assertNotIn("## Not in this table", markdown)
        self.assertIn("Matched ignoring model.name (--loose)", markdown)

    def test_a_baseline_printed_once_across_columns_serves_the_cells_on_its_problem(self):
        ib = "configs/paper/infobatch_table1/cifar10_r18_infobatch_r{}.yaml"
        match = {"sampler.name": "infobatch", "data.name": "cifar10", "model.name": "resnet18"}
        self.table = self.write_table([
            {"id": "uniform", "label": "Whole Dataset", "cells": [c10("uniform", 95.6) | {"column": "CIFAR10"}]},
            {"id": "infobatch", "label": "InfoBatch",
             "cells": [cell(f"CIFAR10 {r}", 95.1, ib.format(r), match | {"sampler.prune_ratio": r / 100})
                       for r in (50, 30)]}])
        make_run(self.runs, "u", C10.format("uniform"), 0, 0.956, 100.0)
        make_run(self.runs, "i50", ib.format(50), 0, 0.951, 60.0)
        make_run(self.runs, "i30", ib.format(30), 0, 0.955, 80.0)
        _, markdown, _ = self.report()
        self.assertIn("| InfoBatch | CIFAR10 50 | 95.10 | 95.10 | 1 | +0.00 | 40.0% | — | reproduced |", markdown)
        self.assertIn("| InfoBatch | CIFAR10 30 | 95.10 | 95.50 | 1 | +0.40 | 20.0% | — | reproduced |", markdown)

    def test_a_bad_table_file_or_a_folder_without_runs_exits_2_naming_it(self):
        make_run(self.runs, "u", C10.format("uniform"), 0, 0.95, 60.0)
        bad = write(os.path.join(self.dir.name, "bad.yaml"), "paper: es\nrows: []\n")
        code, out = quiet(report.main, [self.runs, "--table", bad])
        self.assertEqual(code, 2)
        self.assertIn(bad, out)
        empty = os.path.join(self.dir.name, "empty")
        os.makedirs(empty)
        for folder in (empty, os.path.join(self.dir.name, "nowhere")):
            code, out = quiet(report.main, [self.runs, folder, "--table", self.table])
            self.assertEqual(code, 2)
            self.assertIn(f"no run directories (config.resolved.yaml) under {folder}", out)

    def test_figures_are_skipped_with_a_note_without_data(self):
        make_run(self.runs, "svhn", C10.format("uniform"), 0, 0.96, 100.0, sets={"data.name": "svhn"})
        rows = [{"id": "uniform", "label": "Uniform", "cells": [c10("uniform", None, note="none printed")]}]
        self.table = self.write_table(rows)
        _, markdown, page = self.report()
        self.assertIn("No metric against time saved: no data.", markdown)
        self.assertIn("No learning curves: no data.", markdown)
        self.assertNotIn("<img", page)


class OldRunsAndDefaults(ReportTest):
    """Without esrun; the placement of runs that relied on a policy default."""

    def test_without_esrun_a_warning_and_the_header_say_only_the_config_files_keys_are_compared(self):
        make_run(self.runs, "u", C10.format("uniform"), 0, 0.95, 60.0)
        _, markdown, page = self.report()
        self.assertEqual(self.stderr.count("warning: without esrun ("), 1)
        self.assertIn("), only the keys a cell's config sets are compared\n", self.stderr)
        self.assertIn("- **configs compared:** raw: only the keys a cell's config file sets, without esrun", markdown)
        self.assertIn("<dt>configs compared</dt><dd>raw: only the keys", page)

    def test_a_table_1_ratio_is_not_placed_in_table_3s_infobatch_cell_but_a_run_that_left_it_null_is(self):
        """Table 3's InfoBatch configs leave prune_ratio to the policy's default (0.5), and `match` names it: a
        run of Table 1's r = 0.3 is not counted there, a run that did not record it (null, as esrun wrote runs
        before it resolved the defaults) is, as its config left it to the same default."""
        self.table = os.path.join(PUBLISHED, "infobatch_table3.yaml")
        make_run(self.runs, "t1_r30", IB1.format(30), 0, 0.788, 60.0)
        make_run(self.runs, "t3", IB3.format("infobatch"), 0, 0.789, 60.0, sets={"sampler.prune_ratio": None})
        make_run(self.runs, "t3_r30", IB3.format("infobatch"), 1, 0.788, 60.0, sets={"sampler.prune_ratio": 0.3})
        _, markdown, _ = self.report()
        self.assertIn("| Soft Pruning + Rescaling + Annealing | R-18 | 78.80 | 78.90 | 1 | +0.10 | — | — | "
                      "reproduced |", markdown)
        self.assertIn("## Not in this table\n\n- " + os.path.join(self.runs, "t1_r30") + "\n- " +
                      os.path.join(self.runs, "t3_r30") + "\n", markdown)


def resolved_run(root, name, config, seed, acc, train_time, sets=None, old=False):
    """A run as esrun writes it: config.resolved.yaml is `esrun print-config` of the config and `sets`, and
    summary.json's "sampler" its sampler settings; old: as esrun wrote runs before it resolved the policy's
    defaults (the keys print-config marks as a default or derived are null, and summary.json has no "sampler")."""
    command = [ESRUN, "print-config", "--config", config, "--set", f"seed={seed}"]
    for key, value in (sets or {}).items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    text = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
    if old:
        text = re.sub(r"^(\s*\w+): \S+  # (default \(|derived: ).*$", r"\1: ~", text, flags=re.M)
    settings = {k: v for k, v in yaml.safe_load(text)["sampler"].items() if v is not None}
    path = make_run(root, name, config, seed, acc, train_time, sampler=None if old else settings)
    write(os.path.join(path, "config.resolved.yaml"), text)
    return path


@unittest.skipUnless(ESRUN, "ESRUN_BINARY is not set: reports that compare configs as esrun resolves them are "
                            "not tested (set ESRUN_BINARY=build/esrun)")
class ResolvedConfigs(ReportTest):
    """A key a cell's config leaves to the policy's default is compared, as esrun resolves it."""

    def setUp(self):
        super().setUp()
        infobatch = {"sampler.name": "infobatch", "data.name": "cifar100", "model.name": "resnet18"}
        # `match` without prune_ratio (unlike configs/paper/published/infobatch_table3.yaml): the comparison
        # of the resolved configs alone must tell the runs apart.
        self.table = self.write_table([
            {"id": "infobatch", "label": "InfoBatch",
             "cells": [cell("R-18", 78.8, IB3.format("infobatch"), infobatch)]},
            {"id": "es", "label": "ES", "cells": [c10("es", 95.33)]}], baseline=None)

    def test_a_run_that_differs_in_a_key_the_config_leaves_to_its_default_is_a_different_setting(self):
        resolved_run(self.runs, "infobatch_r30", IB3.format("infobatch"), 0, 0.788, 60.0, {"sampler.prune_ratio": 0.3})
        resolved_run(self.runs, "es_no_anneal", C10.format("es"), 0, 0.9533, 60.0, {"sampler.anneal_epochs": 0})
        _, markdown, _ = self.report(esrun=ESRUN)
        self.assertIn("| InfoBatch | R-18 | 78.80 | 78.80 | 1 | +0.00 | — | — | different setting | "
                      "sampler.prune_ratio 0.3 (paper 0.5) |", markdown)
        self.assertIn("| ES | CIFAR-10 | 95.33 | 95.33 | 1 | +0.00 | — | — | different setting | "
                      "sampler.anneal_epochs 0 (paper 10) |", markdown)
        self.assertIn("- **configs compared:** resolved: every key of `", markdown)
        self.assertIn(" print-config` of the cell's config, policy defaults included", markdown)
        self.assertNotIn("warning", self.stderr)
        # Without esrun the defaults are not compared: the review's finding, "reproduced".
        _, markdown, _ = self.report()
        self.assertIn("| InfoBatch | R-18 | 78.80 | 78.80 | 1 | +0.00 | — | — | reproduced |  |", markdown)

    def test_a_run_that_spelled_the_defaults_out_is_reproduced(self):
        resolved_run(self.runs, "infobatch", IB3.format("infobatch"), 0, 0.788, 60.0, {"sampler.prune_ratio": 0.5})
        resolved_run(self.runs, "es", C10.format("es"), 0, 0.9533, 60.0,
                     {"sampler.beta1": 0.2, "sampler.beta2": 0.9, "sampler.anneal_epochs": 10, "device": "cuda",
                      "precision": "bf16", "distributed.timeout_s": 60, "score.repeats": 3})
        _, markdown, _ = self.report(esrun=ESRUN)
        self.assertIn("| InfoBatch | R-18 | 78.80 | 78.80 | 1 | +0.00 | — | — | reproduced |  |", markdown)
        self.assertIn("| ES | CIFAR-10 | 95.33 | 95.33 | 1 | +0.00 | — | — | reproduced |  |", markdown)

    def test_an_old_run_without_the_policy_defaults_is_not_a_different_setting_but_noted(self):
        resolved_run(self.runs, "infobatch", IB3.format("infobatch"), 0, 0.788, 60.0, old=True)
        # One old run and one new of the ES config: one experiment, averaged.
        resolved_run(self.runs, "es_old", C10.format("es"), 0, 0.9533, 60.0, old=True)
        resolved_run(self.runs, "es_new", C10.format("es"), 1, 0.9533, 60.0)
        self.assertIsNone(Run(os.path.join(self.runs, "es_old")).get("sampler.beta1"))
        _, markdown, _ = self.report(esrun=ESRUN)
        self.assertIn("| InfoBatch | R-18 | 78.80 | 78.80 | 1 | +0.00 | — | — | reproduced | "
                      "sampler.beta2, sampler.prune_ratio: not recorded by this run |", markdown)
        self.assertIn("| ES | CIFAR-10 | 95.33 | 95.33 ± 0.00 | 2 | +0.00 | — | — | reproduced | "
                      "sampler.mini_batch, sampler.beta1, sampler.beta2, sampler.anneal_epochs: not recorded by 1 of "
                      "the 2 runs |", markdown)

    def test_the_published_infobatch_table_3_with_old_and_new_runs(self):
        self.table = os.path.join(PUBLISHED, "infobatch_table3.yaml")
        resolved_run(self.runs, "t3_old", IB3.format("infobatch"), 0, 0.788, 60.0, old=True)
        resolved_run(self.runs, "t3_new", IB3.format("infobatch"), 1, 0.788, 60.0)
        resolved_run(self.runs, "t1_r30", IB1.format(30), 0, 0.788, 60.0)
        resolved_run(self.runs, "t1_r30_old", IB1.format(30), 1, 0.788, 60.0, old=True)
        _, markdown, _ = self.report(esrun=ESRUN)
        self.assertIn("| Soft Pruning + Rescaling + Annealing | R-18 | 78.80 | 78.80 ± 0.00 | 2 | +0.00 | — | — | "
                      "reproduced | sampler.beta2, sampler.prune_ratio: not recorded by 1 of the 2 runs |", markdown)
        self.assertIn("## Not in this table\n\n- " + os.path.join(self.runs, "t1_r30") + "\n- " +
                      os.path.join(self.runs, "t1_r30_old") + "\n", markdown)


ADA = "configs/paper/adaselection/{}.yaml"
LOSS = {"metric": "loss", "scale": 1, "higher_is_better": False, "tolerance": 0.1}


def ada(name, column, value, data, model, method, **extra):
    return cell(column, value, ADA.format(name), {"sampler.name": method, "data.name": data, "model.name": model},
                **extra)


class MeansOverConfigsAndCellMetrics(ReportTest):
    """AdaSelection's layout: a glob cell is the mean over sampling rates; a column reports a loss."""

    def setUp(self):
        super().setUp()
        self.table = self.write_table([
            {"id": "benchmark", "label": "Benchmark",
             "cells": [ada("cifar10_benchmark", "Cifar10", 92.0, "cifar10", "resnet18", "uniform"),
                       ada("linear_benchmark", "Regression", 1.0, "linear_synthetic", "mlp", "uniform", **LOSS)]},
            {"id": "ada", "label": "AdaSelection",
             "cells": [ada("cifar10_adaselection_rate*", "Cifar10", 90.0, "cifar10", "resnet18", "adaselection"),
                       ada("linear_adaselection_rate*", "Regression", 1.2, "linear_synthetic", "mlp", "adaselection",
                           **LOSS)]}], baseline="benchmark")
        r = self.runs
        for seed in (0, 1):
            make_run(r, f"bench/s{seed}", ADA.format("cifar10_benchmark"), seed, 0.92, 100.0)
            for k, rate in enumerate((10, 20, 30, 40, 50)):
                make_run(r, f"ada{rate}/s{seed}", ADA.format(f"cifar10_adaselection_rate{rate}"), seed,
                         0.88 + 0.01 * k + 0.002 * seed, 50.0 + 5 * k)
        make_run(r, "linear/s0", ADA.format("linear_benchmark"), 0, 0.0, 10.0, summary={"final_test_loss": 0.8})
        for rate in (10, 20, 30):
            make_run(r, f"linear{rate}/s0", ADA.format(f"linear_adaselection_rate{rate}"), 0, 0.0, 5.0,
                     summary={"final_test_loss": 0.8})

    def test_a_glob_cell_is_the_mean_over_its_configs_and_a_loss_column_is_lower_is_better(self):
        _, markdown, _ = self.report()
        self.assertIn("| row | column | metric | published | ours | n | Δ |", markdown)
        # Each seed's mean over the five rates: 90.00 and 90.20; time (50 + 60 + ... + 70) / 5 = 60 s.
        self.assertIn("| AdaSelection | Cifar10 | final test acc x 100 | 90.00 | 90.10 ± 0.14 | 10 | +0.10 | 40.0% "
                      "| — | reproduced | ours: the mean over 5 configs |", markdown)
        # A loss below the published one by more than the tolerance.
        self.assertIn("| Benchmark | Regression | final test loss | 1.00 | 0.80 | 1 | -0.20 | 0.0% | — | exceeds |",
                      markdown)
        # Three of the five rates: not the paper's mean.
        self.assertIn("| AdaSelection | Regression | final test loss | 1.20 | 0.80 | 3 | -0.40 | 50.0% | — | "
                      "different setting | no runs of linear_adaselection_rate40.yaml, "
                      "linear_adaselection_rate50.yaml; ours: the mean over 3 configs |",
                      markdown)
        self.assertIn("final test acc x 100, higher is better, reproduced when |ours − published| ≤ 0.5 (Cifar10); "
                      "final test loss, lower is better, reproduced when |ours − published| ≤ 0.1 (Regression)",
                      markdown)

    def test_two_experiments_on_one_config_of_a_glob_are_refused(self):
        make_run(self.runs, "ada10_lr/s0", ADA.format("cifar10_adaselection_rate10"), 0, 0.9, 50.0,
                 sets={"optimizer.lr": 0.1})
        with self.assertRaises(report.ReportError) as caught:
            report.build(find_runs([self.runs]), load_table(self.table))
        self.assertIn("differ in optimizer.lr", str(caught.exception))


class ParsedCells(html.parser.HTMLParser):
    """{(data-row, data-column): (data-verdict, text)} of the cells carrying them."""

    def __init__(self):
        super().__init__()
        self.cells, self.open, self.text = {}, None, ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-verdict" in attrs:
            self.open = (attrs["data-row"], attrs["data-column"], attrs["data-verdict"])
            self.text = ""

    def handle_data(self, data):
        if self.open:
            self.text += data

    def handle_endtag(self, tag):
        if self.open and tag == "td":
            row, column, verdict = self.open
            self.cells[(row, column)] = (verdict, self.text.strip())
            self.open = None


EXPECTED = {("uniform", "CIFAR-10"): "reproduced", ("es", "CIFAR-10"): "reproduced",
            ("eswp", "CIFAR-10"): "not reproduced", ("loss", "CIFAR-10"): "exceeds",
            ("order", "CIFAR-10"): "not run", ("ka", "CIFAR-10"): "not runnable",
            ("ucb", "CIFAR-10"): "different setting", ("uniform", "CIFAR-100"): "not run",
            ("es", "CIFAR-100"): "reproduced", ("eswp", "CIFAR-100"): "not published"}


class Html(ReportTest):
    def test_the_page_is_self_contained(self):
        self.make_runs()
        _, _, page = self.report()
        self.assertEqual(re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page), [])
        sources = re.findall(r"""<img[^>]*\ssrc="([^"]*)\"""", page)
        self.assertEqual(len(sources), 2)
        for source in sources:
            self.assertTrue(source.startswith("data:image/png;base64,"), source[:40])
        self.assertNotIn("<script", page)
        self.assertNotIn("<link", page)
        parsed = ParsedCells()
        parsed.feed(page)
        self.assertEqual({key: verdict for key, (verdict, _) in parsed.cells.items()}, EXPECTED)

    def chromium(self, *args):
        browser = shutil.which("chromium")
        if not browser:
            if os.environ.get("ESRUN_REQUIRE_BROWSER") == "1":
                self.fail("chromium is not on PATH and ESRUN_REQUIRE_BROWSER=1")
            self.skipTest("chromium is not on PATH")
        profile = tempfile.mkdtemp(dir=self.dir.name)
        done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        return done.stdout

    def test_the_page_renders_in_headless_chromium(self):
        self.make_runs()
        out, _, _ = self.report()
        url = "file://" + os.path.abspath(out + ".html")
        screenshot = os.path.join(self.dir.name, "page.png")
        self.chromium(f"--screenshot={screenshot}", "--window-size=1280,2000", url)
        pixels = matplotlib.image.imread(screenshot)[:, :, :3]
        self.assertEqual(pixels.shape[:2], (2000, 1280))
        self.assertGreater(pixels.std(), 0.05)
        colours = {tuple(p) for p in (pixels[::7, ::7] * 31).round().reshape(-1, 3).tolist()}
        self.assertGreater(len(colours), 20)  # text, verdict colours, the figures
        self.assertGreater((pixels.min(axis=2) < 0.9).mean(), 0.03)  # not a blank page
        for verdict in ("reproduced", "not reproduced", "different setting"):  # the verdicts' colours are drawn
            colour = [int(report.COLOURS[verdict][i:i + 2], 16) / 255 for i in (1, 3, 5)]
            self.assertGreater((abs(pixels - colour).max(axis=2) < 0.02).sum(), 100, verdict)
        parsed = ParsedCells()
        parsed.feed(self.chromium("--dump-dom", url))
        self.assertEqual(parsed.cells, {key: (verdict, verdict) for key, verdict in EXPECTED.items()})


class EqualTimeCells(html.parser.HTMLParser):
    """{(data-row, data-column): data-equal-time} of the cells carrying it."""

    def __init__(self):
        super().__init__()
        self.cells = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-equal-time" in attrs:
            self.cells[(attrs["data-row"], attrs["data-column"])] = attrs["data-equal-time"]


class EqualTime(ReportTest):
    """The runs of Verdicts plus a uniform ladder on CIFAR-10: steps budgets at 40 s and 70 s."""

    def make_ladder(self):
        self.make_runs()
        for seed, acc in ((0, 0.92), (1, 0.93)):
            make_run(self.runs, f"ladder1000/s{seed}", C10.format("uniform"), seed, acc, 40.0,
                     sets={"train.budget.steps": 1000})
        for seed in (0, 1):
            make_run(self.runs, f"ladder2000/s{seed}", C10.format("uniform"), seed, 0.94, 70.0,
                     sets={"train.budget.steps": 2000})

    def test_each_cell_gets_its_delta_at_equal_time_on_the_ladder(self):
        self.make_ladder()
        _, markdown, _ = self.report()
        self.assertIn("| time saved (paper) | Δ at equal time (95% CI) | verdict |", markdown)
        # ES at 65 s: uniform there is 92.5 + (94.0 - 92.5) * 25/30 = 93.75; ES 95.20: +1.45. The rungs
        # ran ES's seeds, so the interval is paired: per seed 95.1 - (92 + 5 * 94) / 6 = 1.433 and
        # 95.3 - (93 + 5 * 94) / 6 = 1.467, 1.45 ± t(0.975, 1) · 0.0236 / √2 = 1.45 ± 0.21.
        self.assertIn("| 35.0% | 33.9% | +1.45 [+1.24, +1.66] | reproduced |", markdown)
        self.assertIn("| Uniform | CIFAR-10 | 95.00 ± 0.10 | 95.00 ± 0.14 | 2 | +0.00 | 0.0% | — | +0.00 [+0.00, +0.00] |",
                      markdown)
        self.assertIn("| 50.0% | 40.0% | +0.00 | not reproduced |", markdown)  # ESWP at 50 s, one seed: no interval
        self.assertIn("| ES | CIFAR-100 | 78.00 | 78.00 | 1 | +0.00 | — | — | — | reproduced |", markdown)  # no ladder
        self.assertIn("interpolated linearly on the ladder", markdown)
        # The rungs are no cell's runs: listed as not in this table, and the uniform cell keeps its two.
        self.assertIn(os.path.join(self.runs, "ladder1000", "s0"), markdown.split("## Not in this table")[1])

    def test_a_cell_faster_than_the_ladder_reads_outside(self):
        self.make_ladder()
        make_run(self.runs, "loss/s1", C10.format("loss"), 1, 0.95, 0.0)  # loss at (80 + 0) / 2 = 40 s: on a rung
        make_run(self.runs, "fast/s0", C10.format("uniform"), 0, 0.5, 5.0, sets={"data.name": "svhn"})
        _, markdown, _ = self.report()
        self.assertIn("| Loss | CIFAR-10 | 94.00 | 95.00 ± 0.00 | 2 | +1.00 | 60.0% | — | +2.50", markdown)
        entries, _ = report.build(find_runs([self.runs]), load_table(self.table))
        eswp = next(e for e in entries if e.name == "eswp / CIFAR-10")
        eswp.time = 10.0
        eswp.equal_time = report.at_equal_time(eswp)
        self.assertIsNone(eswp.equal_time)
        self.assertEqual(report.equal_time_text(eswp), "outside ladder")

    def test_reference_time_replaces_the_wall_clock_with_costs(self):
        self.make_ladder()
        work = {"work": {"train_steps": {"128": 100}}}  # 100 steps of 128 rows: 10 s at 0.1 s each
        for run in find_runs([self.runs]):
            if run.finished:
                with open(os.path.join(run.path, "summary.json")) as f:
                    summary = json.load(f)
                summary.update(work)
                write(os.path.join(run.path, "summary.json"), json.dumps(summary))
        costs = write(os.path.join(self.dir.name, "bench.json"), json.dumps(
            {"batch": 128, "score_forward": {"seconds_per_step": 0.05},
             "train_step_by_rows": [{"rows": 128, "seconds_per_step": 0.1}]}))
        _, markdown, _ = self.report("--costs", costs)
        # Every run did the same work: no time saved, whatever its wall clock.
        self.assertIn("| ES | CIFAR-10 | 95.33 ± 0.05 | 95.20 ± 0.14 | 2 | -0.13 | 0.0% |", markdown)
        self.assertIn("Train time: reference time", markdown)

    def test_the_equal_time_column_reads_back_in_the_browser(self):
        self.make_ladder()
        out, _, page = self.report()
        parsed = EqualTimeCells()
        parsed.feed(page)
        self.assertEqual(parsed.cells[("es", "CIFAR-10")], "+1.45 [+1.24, +1.66]")
        browser = Html.chromium(self, "--dump-dom", "file://" + os.path.abspath(out + ".html"))
        rendered = EqualTimeCells()
        rendered.feed(browser)
        self.assertEqual(rendered.cells, parsed.cells)
        self.assertEqual(rendered.cells[("uniform", "CIFAR-100")], "—")


if __name__ == "__main__":
    unittest.main()
