"""What the scripts' tests share: writing a file and running a script's main() quietly."""
import contextlib
import io
import os


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
