"""Tests of the papers' published numbers (configs/paper/published/*.yaml) and of scripts/esrunpy/published.py
(run by ctest as part of the `scripts` test).

ESRUN_BINARY, when set, is the built esrun: then every config a published cell names is resolved with
`esrun print-config` and compared with the cell's `match`."""
import os
import subprocess
import tempfile
import textwrap
import unittest

import yaml

# script_helpers first: it puts scripts/ on the import path, where esrunpy is.
from script_helpers import ESRUN, REPO

from esrunpy import published
from esrunpy.runs import flatten

PUBLISHED = os.path.join(REPO, "configs", "paper", "published")

EXPECTED = {("es", "Table 2"), ("es", "Table 3"), ("es", "Table 4"), ("es", "Table 5"), ("es", "Table 6"),
            ("infobatch", "Table 1"), ("infobatch", "Table 3"), ("omission", "Table 3"), ("omission", "Table 4"),
            ("adaselection", "Table 4")}


def where(table, row, cell):
    return f"{os.path.relpath(table['path'], REPO)}: row '{row['id']}', column '{cell['column']}'"


class PublishedTables(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tables = published.load_all(PUBLISHED)

    def test_every_file_parses_and_the_expected_tables_are_there(self):
        files = sorted(n for n in os.listdir(PUBLISHED) if n.endswith((".yaml", ".yml")))
        self.assertEqual(len(self.tables), len(files))
        found = [(t["paper"], t["table"]) for t in self.tables]
        self.assertEqual(len(found), len(set(found)), f"two files transcribe the same table: {sorted(found)}")
        self.assertEqual(EXPECTED - set(found), set(), "published tables missing")

    def test_every_file_opens_with_a_description_naming_its_source_table(self):
        for table in self.tables:
            with open(table["path"]) as f:
                first = f.readline()
            self.assertTrue(first.startswith("# ") and "Transcribed from" in first and table["table"] in first,
                            f"{table['path']}: the first line should be '# <description>. Transcribed from <paper>, "
                            f"{table['table']}.'")

    def test_every_cell_has_resolved_defaults_and_metric_settings(self):
        for table in self.tables:
            for row, cell in published.cells(table):
                for key in ("std", "time_saved", "reason", "runnable", "metric", "scale", "when", "higher_is_better",
                            "tolerance"):
                    self.assertIn(key, cell, where(table, row, cell))
                self.assertIn(cell["metric"], published.METRICS, where(table, row, cell))

    def test_runnable_cells_name_configs_that_exist(self):
        for table in self.tables:
            for row, cell in published.cells(table):
                if cell["runnable"] or cell["config"]:
                    self.assertTrue(published.config_paths(cell, REPO),
                                    f"{where(table, row, cell)}: config {cell['config']} does not exist")

    def test_cells_that_cannot_run_say_why(self):
        for table in self.tables:
            for row, cell in published.cells(table):
                if not cell["runnable"]:
                    self.assertTrue(isinstance(cell["reason"], str) and len(cell["reason"]) > 20,
                                    f"{where(table, row, cell)}: runnable: false needs a concrete reason")

    def test_every_published_value_is_a_number_or_explained(self):
        for table in self.tables:
            for row, cell in published.cells(table):
                if cell["value"] is None:
                    self.assertTrue(cell["note"], where(table, row, cell))
                else:
                    self.assertIsInstance(cell["value"], (int, float), where(table, row, cell))


@unittest.skipUnless(ESRUN,
                     "ESRUN_BINARY is not set: the published cells' `match` is not checked against "
                     "`esrun print-config` (set ESRUN_BINARY=build/esrun)")
class PublishedCellsMatchTheirConfigs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tables = published.load_all(PUBLISHED)
        configs = sorted({path for table in cls.tables for _, cell in published.cells(table)
                          for path in published.config_paths(cell, REPO)})
        # One `print-config --each` for all: the binary starts once, not once per config.
        cls.resolved = dict(zip(configs, published.resolved_configs(ESRUN, configs, cwd=REPO)))

    def test_match_equals_the_resolved_config_of_every_named_config(self):
        problems = []
        for table in self.tables:
            for row, cell in published.cells(table):
                for path in published.config_paths(cell, REPO):
                    for key, expected, got in published.config_mismatches(cell, self.resolved[path]):
                        problems.append(f"{where(table, row, cell)}: {path}: {key} is {got!r}, match says {expected!r}")
        self.assertEqual(problems, [])

    def test_match_keys_are_config_keys(self):
        for table in self.tables:
            for row, cell in published.cells(table):
                for path in published.config_paths(cell, REPO):
                    for key in cell["match"] or {}:
                        self.assertIn(key, self.resolved[path], f"{where(table, row, cell)}: {key} is not a config key")

    def test_no_cell_matches_the_config_of_another_cell_of_its_table(self):
        """Otherwise the runs of one cell would be counted in another (e.g. an ablation row without its key)."""
        problems = []
        for table in self.tables:
            named = [(row, cell, set(published.config_paths(cell, REPO))) for row, cell in published.cells(table)]
            for row, cell, mine in named:
                if not cell["match"]:
                    continue
                for other_row, other, theirs in named:
                    for path in theirs - mine:
                        if not published.config_mismatches(cell, self.resolved[path]):
                            problems.append(f"{where(table, row, cell)}: match also fits {path} "
                                            f"(row '{other_row['id']}', column '{other['column']}')")
        self.assertEqual(problems, [])


GOOD = textwrap.dedent("""\
    # A hand-made table. Transcribed from nothing, Table 9.
    paper: es
    title: "A title"
    citation: "Someone, 2025"
    table: "Table 9"
    caption: "A caption"
    metric: acc
    scale: 100
    when: final
    higher_is_better: true
    tolerance: 0.5
    baseline: uniform
    settings: {epochs: 2}
    notes: "made up for the test"
    rows:
      - id: uniform
        label: Baseline
        cells:
          - {column: "C-10", value: 95.4, config: configs/a.yaml, match: {sampler.name: uniform}}
      - id: es
        label: ES
        cells:
          - {column: "C-10", value: 95.0, time_saved: 10, config: configs/b.yaml, match: {sampler.name: es}}
          - {column: "CoLA", value: 58.4, metric: mcc, tolerance: 1.5, runnable: false, reason: "no config"}
    """)


class LoadTable(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, text, name="table.yaml"):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def rejected(self, text, *fragments):
        path = self.write(text)
        with self.assertRaises(ValueError) as caught:
            published.load_table(path)
        message = str(caught.exception)
        for fragment in (path,) + fragments:
            self.assertIn(fragment, message)
        return message

    def test_a_good_file_loads_with_defaults_and_per_cell_metric_settings(self):
        table = published.load_table(self.write(GOOD))
        uniform, es = table["rows"]
        self.assertEqual(uniform["cells"][0]["std"], None)
        self.assertEqual(uniform["cells"][0]["time_saved"], None)
        self.assertEqual(uniform["cells"][0]["runnable"], True)
        self.assertEqual(uniform["cells"][0]["reason"], None)
        self.assertEqual(uniform["cells"][0]["metric"], "acc")
        self.assertEqual(es["cells"][1]["metric"], "mcc")
        self.assertEqual(es["cells"][1]["tolerance"], 1.5)
        self.assertEqual(es["cells"][1]["scale"], 100)

    def test_a_missing_key_is_named_with_the_file(self):
        self.rejected(GOOD.replace("metric: acc\n", ""), "metric")

    def test_a_duplicate_row_id_names_the_file_and_the_row(self):
        self.rejected(GOOD.replace("- id: es", "- id: uniform"), "row 'uniform'", "duplicate")

    def test_a_runnable_cell_without_config_names_the_file_row_and_column(self):
        self.rejected(GOOD.replace("config: configs/b.yaml, ", ""), "row 'es'", "column 'C-10'", "config")

    def test_a_runnable_cell_without_match_is_rejected(self):
        self.rejected(GOOD.replace(", match: {sampler.name: es}", ""), "row 'es'", "column 'C-10'", "match")

    def test_a_cell_that_cannot_run_needs_a_reason(self):
        self.rejected(GOOD.replace(', reason: "no config"', ""), "row 'es'", "column 'CoLA'", "reason")

    def test_the_baseline_must_be_a_row(self):
        self.rejected(GOOD.replace("baseline: uniform", "baseline: full"), "baseline")
        published.load_table(self.write(GOOD.replace("baseline: uniform", "baseline: null")))

    def test_bad_metric_when_and_types_are_rejected(self):
        self.rejected(GOOD.replace("metric: acc", "metric: accuracy"), "metric")
        self.rejected(GOOD.replace("when: final", "when: last"), "when")
        self.rejected(GOOD.replace("value: 95.0", "value: '95.0'"), "row 'es'", "value")
        self.rejected(GOOD.replace("metric: mcc", "metric: matthews"), "row 'es'", "column 'CoLA'", "metric")

    def test_a_null_value_needs_a_note(self):
        self.rejected(GOOD.replace("value: 95.0", "value: null"), "row 'es'", "note")
        published.load_table(self.write(GOOD.replace("value: 95.0", "value: null, note: 'a dash in the paper'")))

    def test_match_must_name_the_sampler(self):
        self.rejected(GOOD.replace("match: {sampler.name: es}", "match: {data.name: cifar10}"), "sampler.name")

    def test_unknown_keys_are_rejected(self):
        self.rejected(GOOD.replace("time_saved: 10", "time_save: 10"), "row 'es'", "time_save")

    def test_load_all_reads_every_yaml_of_a_folder(self):
        self.write(GOOD, "a.yaml")
        self.write(GOOD.replace('table: "Table 9"', 'table: "Table 8"'), "b.yaml")
        self.assertEqual([t["table"] for t in published.load_all(self.dir.name)], ["Table 9", "Table 8"])


class ConfigMismatches(unittest.TestCase):
    def test_equal_values_of_other_types_or_containers_match(self):
        cell = {"match": {"sampler.name": "es", "sampler.ratio": 0.25, "train.epochs": 200,
                          "sampler.candidates": ["big_loss", "uniform"]}}
        resolved = flatten({"sampler": {"name": "es", "ratio": 0.25, "candidates": ["big_loss", "uniform"]},
                            "train": {"epochs": 200.0}})
        self.assertEqual(published.config_mismatches(cell, resolved), [])

    def test_different_and_missing_values_are_listed(self):
        cell = {"match": {"sampler.name": "es", "sampler.beta1": 0.2, "data.label_noise.ratio": 0.4,
                          "sampler.rescale": True}}
        resolved = {"sampler.name": "es", "sampler.beta1": None, "sampler.rescale": 1}
        self.assertEqual(published.config_mismatches(cell, resolved),
                         [("sampler.beta1", 0.2, None), ("data.label_noise.ratio", 0.4, None),
                          ("sampler.rescale", True, 1)])

    def test_config_paths_expand_a_glob(self):
        with tempfile.TemporaryDirectory() as root:
            for name in ("x_rate10.yaml", "x_rate20.yaml", "y_rate10.yaml"):
                open(os.path.join(root, name), "w").close()
            self.assertEqual(published.config_paths({"config": "x_rate*.yaml"}, root), ["x_rate10.yaml", "x_rate20.yaml"])
            self.assertEqual(published.config_paths({"config": "y_rate10.yaml"}, root), ["y_rate10.yaml"])
            self.assertEqual(published.config_paths({"config": "z.yaml"}, root), [])
            self.assertEqual(published.config_paths({"config": None}, root), [])


@unittest.skipUnless(ESRUN, "ESRUN_BINARY is not set")
class PrintConfigEach(unittest.TestCase):
    """`esrun print-config --each`, which resolved_configs uses: one document per config, as if each
    were printed alone."""

    def esrun(self, *arguments):
        return subprocess.run([ESRUN, *arguments], cwd=REPO,
                              capture_output=True, text=True)

    def test_each_document_is_that_config_printed_alone_with_the_same_sets_in_the_given_order(self):
        configs = ["configs/cifar10_es.yaml", "configs/quickstart.yaml", "configs/bike_mlp.yaml"]
        each = self.esrun("print-config", "--each", "--set", "seed=7", *[a for c in configs for a in ("--config", c)])
        self.assertEqual(each.returncode, 0, each.stderr)
        alone = []
        for config in configs:
            done = self.esrun("print-config", "--set", "seed=7", "--config", config)
            self.assertEqual(done.returncode, 0, done.stderr)
            alone.append(f"--- # {config}\n" + done.stdout)
        self.assertEqual(each.stdout, "".join(alone))
        self.assertEqual(published.resolved_configs(ESRUN, configs, cwd=REPO),
                         [flatten(yaml.safe_load(self.esrun("print-config", "--config", c).stdout)) for c in configs])

    def test_a_bad_config_among_them_exits_2_naming_its_file(self):
        with tempfile.TemporaryDirectory() as root:
            bad = os.path.join(root, "bad.yaml")
            with open(bad, "w") as f:
                f.write("train:\n  epochs: -2\n")
            done = self.esrun("print-config", "--each", "--config", "configs/quickstart.yaml", "--config", bad)
            self.assertEqual(done.returncode, 2)
            self.assertIn(f"train.epochs ({bad}:2)", done.stderr)
            with self.assertRaisesRegex(ValueError, "bad.yaml"):
                published.resolved_configs(ESRUN, ["configs/quickstart.yaml", bad], cwd=REPO)

    def test_each_without_a_config_or_with_defaults_exits_2(self):
        done = self.esrun("print-config", "--each")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--config", done.stderr)
        self.assertEqual(self.esrun("print-config", "--each", "--defaults").returncode, 2)


if __name__ == "__main__":
    unittest.main()
