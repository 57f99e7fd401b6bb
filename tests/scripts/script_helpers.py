"""What the scripts' tests share: the scripts' package on the import path, the repository, the built
esrun, writing a file and running a script's main() quietly."""
import contextlib
import io
import os
import sys

# esrunpy is imported from scripts/, as scripts/sweep and scripts/report import it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from esrunpy.common import REPO  # noqa: E402

SCRIPTS = os.path.join(REPO, "scripts")
# The built esrun (ESRUN_BINARY), absolute so that it runs from any folder; None when the variable is
# not set, and the tests that run it are skipped.
ESRUN = os.path.abspath(os.environ["ESRUN_BINARY"]) if os.environ.get("ESRUN_BINARY") else None


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def quiet(function, *args):
    """Runs function(*args) with stdout and stderr captured: (its return value, the output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = function(*args)
    return code, out.getvalue()
