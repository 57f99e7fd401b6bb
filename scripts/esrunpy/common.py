"""What the scripts share: where the repository and its esrun binary are, reading JSON-lines files
and asking the binary what it has registered. Standard library only, so that a script that needs
neither yaml nor matplotlib (scripts/compare_policies.py, scripts/bench_sampling.py) can import it
with any python3."""
import json
import os
import subprocess

# The repository (this file is scripts/esrunpy/common.py): configs that sweeps and published tables
# name and the default binary are found from it, whichever folder a script runs from.
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def default_esrun():
    """The esrun binary scripts run when --esrun is not given: build/esrun of this repository, where
    scripts/setup.sh builds it."""
    return os.path.join(REPO, "build", "esrun")


def read_jsonl(path):
    """The values of a JSON-lines file (metrics.jsonl, a reference run's log), one per line, in order.
    Blank lines are skipped (the newline after the last record is not a record); a line that is not
    JSON raises ValueError, a file that cannot be read OSError."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def registered(esrun, kind):
    """[(name, help)] of what the binary registers of a kind (samplers, models, ...), in its order, as
    `esrun list KIND` prints them: the header `KIND:`, then per entry two spaces, the name padded to
    18 columns, a space and the help. Raises OSError when the binary cannot start and ValueError when
    it fails or prints no such list."""
    done = subprocess.run([esrun, "list", kind], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"esrun list {kind} failed ({done.returncode}): {done.stderr.strip()}")
    lines = done.stdout.splitlines()
    if f"{kind}:" not in lines:
        raise ValueError(f"esrun list {kind} printed no '{kind}:' list")
    entries = []
    for line in lines[lines.index(f"{kind}:") + 1:]:
        if not line.startswith("  ") or not line.strip():
            break  # the end of the list: another kind's header or a blank line
        name, *help_text = line.split(None, 1)  # a name as long as the column is followed by one space
        entries.append((name, help_text[0].strip() if help_text else ""))
    return entries
