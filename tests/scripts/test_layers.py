"""The layer rules of lib/esrun/, apps/ and tests/, written once (LAYERS below) and checked on every include.

Each folder of lib/esrun/ may include its own headers and those of the folders LAYERS lists for it;
apps/ may include APPS only; tests/ may include anything. Includes of ours are always written
`#include "esrun/<folder>/<file>.h"`, so the folder an include names is its first path component (a
nested folder such as data/sentencepiece/ belongs to data). A folder of lib/esrun/ that is not in the
table, and a file directly in lib/esrun/, are failures too: every source belongs to a folder that was
placed deliberately. docs/architecture.md gives the reasons for the table; change both together.

Run as a script with --report to print the current violations grouped by folder (exit status 0):
    python3 tests/scripts/test_layers.py --report"""
import collections
import os
import re
import sys
import tempfile
import unittest

# Each folder of lib/esrun/ and the folders of ours it may include besides its own.
LAYERS = {
    "core": (),
    "config": ("core",),
    "metrics": ("core", "config"),
    "tasks": ("core", "config", "metrics"),
    "data": ("core", "config"),
    "models": ("core", "config"),
    "optim": ("core", "config", "models"),
    "sampling": ("core", "config"),
    "train": ("core", "config", "metrics", "tasks", "data", "models", "optim", "sampling"),
    "scoring": ("core", "config", "metrics", "tasks", "data", "models", "optim", "sampling", "train"),
    "commands": ("core", "config", "metrics", "tasks", "data", "models", "optim", "sampling", "train", "scoring"),
}
# What apps/ may include; tests/ may include anything.
APPS = ("commands", "config", "core")

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LIB = os.path.join("lib", "esrun")
SOURCES = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"esrun/([^"]+)"')
PLACE_IT = "add it to the table in tests/scripts/test_layers.py and docs/architecture.md"

Problem = collections.namedtuple("Problem", "path line folder text")  # line 0: the file or folder itself


def folder_of(path):
    """The folder a path below lib/esrun/ (or below esrun/ in an include) belongs to: its first component,
    or for a file directly there, the file's stem."""
    parts = path.replace(os.sep, "/").split("/")
    return parts[0] if len(parts) > 1 else os.path.splitext(parts[0])[0]


def sources(root, top):
    """The C++ sources below root/top, as paths relative to root with '/' separators, sorted."""
    found = []
    for directory, folders, files in os.walk(os.path.join(root, top)):
        folders.sort()
        for name in files:
            if name.endswith(SOURCES):
                found.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/"))
    return sorted(found)


def includes(root, path):
    """(line number, 'esrun/...') for each include of ours in root/path."""
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            match = INCLUDE.match(line)
            if match:
                yield number, "esrun/" + match.group(1)


def may_include(folder, allowed):
    named = [name for name in allowed if name != folder]
    return f"{folder} may include " + (", ".join(named) if named else f"nothing of ours outside {folder}")


def lib_problems(root, layers=LAYERS):
    """Every include of a lib/esrun/ source that its folder's row of `layers` does not allow, every folder
    of lib/esrun/ that is not in `layers`, and every file directly in lib/esrun/: Problems, sorted by
    path and line."""
    problems, unplaced = [], set()
    lib = LIB.replace(os.sep, "/") + "/"
    for path in sources(root, LIB):
        inside = path[len(lib):]
        folder = folder_of(inside)
        if "/" not in inside:
            problems.append(Problem(path, 0, folder, f"{path}: a file directly in {lib}; every source belongs "
                                                     f"to a folder of the table in tests/scripts/test_layers.py"))
            continue
        if folder not in layers:
            if folder not in unplaced:
                unplaced.add(folder)
                problems.append(Problem(f"{lib}{folder}/", 0, folder,
                                        f"{lib}{folder}/: {folder} is not in the layer table; {PLACE_IT}"))
            continue
        allowed = set(layers[folder]) | {folder}
        for line, header in includes(root, path):
            if folder_of(header[len("esrun/"):]) not in allowed:
                problems.append(Problem(path, line, folder,
                                        f"{path}:{line} includes {header}: {may_include(folder, layers[folder])}"))
    return sorted(problems)


def apps_problems(root, allowed=APPS):
    """Every include of an apps/ source outside `allowed`: Problems, sorted by path and line."""
    problems = []
    for path in sources(root, "apps"):
        for line, header in includes(root, path):
            if folder_of(header[len("esrun/"):]) not in allowed:
                problems.append(Problem(path, line, "apps", f"{path}:{line} includes {header}: apps may include "
                                                            + ", ".join(allowed)))
    return sorted(problems)


def table_problems(layers=LAYERS, apps=APPS):
    """What is wrong with the table itself: names that are not folders of it, and cycles."""
    problems = []
    for folder, allowed in layers.items():
        for name in allowed:
            if name not in layers:
                problems.append(f"{folder} may include {name}, which is not in the table")
    problems += [f"apps may include {name}, which is not in the table" for name in apps if name not in layers]
    done, path = set(), []

    def visit(folder):  # depth first; a folder met again on the current path closes a cycle
        if folder in path:
            problems.append("cycle: " + " -> ".join(path[path.index(folder):] + [folder]))
            return
        if folder in done or folder not in layers:
            return
        path.append(folder)
        for name in layers[folder]:
            if name != folder:
                visit(name)
        path.pop()
        done.add(folder)

    for folder in layers:
        visit(folder)
    return problems


def message(problems):
    return f"{len(problems)} include rule violation(s):\n" + "\n".join(p.text for p in problems)


class Layers(unittest.TestCase):
    def test_every_include_of_every_lib_file_obeys_the_layer_table(self):
        problems = lib_problems(REPO)
        if problems:
            self.fail(message(problems))

    def test_apps_include_only_commands_config_and_core(self):
        problems = apps_problems(REPO)
        if problems:
            self.fail(message(problems))


class LayerTable(unittest.TestCase):
    def test_the_table_is_acyclic_and_names_only_its_own_folders(self):
        self.assertEqual(table_problems(), [])

    def test_a_cycle_and_an_unknown_name_in_a_table_are_found(self):
        found = table_problems({"core": (), "a": ("core", "b"), "b": ("a", "nope")}, apps=("core", "gone"))
        self.assertIn("b may include nope, which is not in the table", found)
        self.assertIn("apps may include gone, which is not in the table", found)
        self.assertIn("cycle: a -> b -> a", found)


class Checker(unittest.TestCase):
    """The checker on a small tree in a temporary directory."""

    def setUp(self):
        self.root = tempfile.TemporaryDirectory()
        self.addCleanup(self.root.cleanup)

    def write(self, path, *headers):
        full = os.path.join(self.root.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write("#pragma once\n" + "".join(f'#include "esrun/{h}"\n' for h in headers))

    def texts(self):
        return [p.text for p in lib_problems(self.root.name)]

    def test_core_including_train_is_reported_with_its_line_and_the_rule(self):
        self.write("lib/esrun/core/x.h", "core/error.h", "train/trainer.h")
        self.assertEqual(self.texts(),
                         ["lib/esrun/core/x.h:3 includes esrun/train/trainer.h: core may include nothing of ours "
                          "outside core"])

    def test_allowed_includes_are_not_reported(self):
        self.write("lib/esrun/sampling/es.cpp", "sampling/policy.h", "config/run_config.h", "core/rng.h")
        self.write("lib/esrun/train/trainer.cpp", "sampling/policy.h", "models/model.h", "data/dataset.h")
        self.write("tests/test_x.cpp", "train/trainer.h", "run.h")
        self.assertEqual(self.texts(), [])

    def test_every_violation_is_listed_sorted_by_file_and_line(self):
        self.write("lib/esrun/sampling/static_prune.cpp", "core/rng.h", "data/dataset.h", *["core/error.h"] * 8,
                   "scoring/score.h")
        self.write("lib/esrun/data/sentencepiece/module.cpp", "core/error.h", "models/model.h")
        self.assertEqual(self.texts(), [
            "lib/esrun/data/sentencepiece/module.cpp:3 includes esrun/models/model.h: data may include core, config",
            "lib/esrun/sampling/static_prune.cpp:3 includes esrun/data/dataset.h: sampling may include core, config",
            "lib/esrun/sampling/static_prune.cpp:12 includes esrun/scoring/score.h: sampling may include core, "
            "config"])

    def test_a_folder_not_in_the_table_and_a_file_outside_any_folder_are_failures(self):
        self.write("lib/esrun/widgets/a.h", "core/error.h")
        self.write("lib/esrun/widgets/b.cpp", "widgets/a.h")
        self.write("lib/esrun/run.cpp", "core/error.h")
        self.assertEqual(self.texts(), [
            "lib/esrun/run.cpp: a file directly in lib/esrun/; every source belongs to a folder of the table in "
            "tests/scripts/test_layers.py",
            f"lib/esrun/widgets/: widgets is not in the layer table; {PLACE_IT}"])

    def test_an_include_of_a_file_directly_in_lib_esrun_is_checked_against_its_stem(self):
        self.write("lib/esrun/commands/run.cpp", "run.h", "scoring/score.h")
        self.assertEqual(self.texts(), ["lib/esrun/commands/run.cpp:2 includes esrun/run.h: commands may include "
                                        + ", ".join(LAYERS["commands"])])

    def test_apps_including_anything_but_commands_config_and_core_is_reported(self):
        self.write("apps/esrun/main.cpp", "commands/run.h", "config/resolved.h", "core/error.h", "scoring/score.h")
        self.assertEqual([p.text for p in apps_problems(self.root.name)],
                         ["apps/esrun/main.cpp:5 includes esrun/scoring/score.h: apps may include commands, config, "
                          "core"])


def report(root=REPO):
    """Prints the current violations grouped by folder."""
    problems = lib_problems(root) + apps_problems(root)
    groups = collections.defaultdict(list)
    for p in problems:
        groups[p.folder].append(p)
    order = list(LAYERS) + sorted(set(groups) - set(LAYERS) - {"apps"}) + ["apps"]
    for folder in order:
        if folder in groups:
            print(f"{folder} ({len(groups[folder])}):")
            for p in groups[folder]:
                print("  " + p.text)
    print(f"{len(problems)} violation(s)" if problems else "no violations")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--report"]:
        sys.exit(report())
    unittest.main()
