#!/usr/bin/env python3
"""Run one malformed-input case against esrun and check the error contract.

Usage: run_case.py ESRUN CASE.yaml

The case format is described in tests/malformed/README.md. Exit status 0 when the case passes,
1 when it fails (the reason, the command, esrun's exit code, stdout and stderr are printed),
2 when the case file itself is unusable.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import yaml

TIMEOUT_S = 120
# libtorch backtraces, Python tracebacks and std::terminate must never reach the user.
FORBIDDEN = ("frame #", "Exception raised from", "Traceback", "terminate called")
CASE_KEYS = {"files", "hex_files", "setup", "damage", "command", "exit", "names", "keeps", "unchanged", "forbid"}
DAMAGE_KINDS = ("truncate", "flip_byte", "write", "remove", "copy_from")


class CaseError(Exception):
    """The case file is malformed (a bug in the corpus, not in esrun)."""


def first_comment(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("#"):
                return stripped.lstrip("#").strip()
            if stripped:
                break
    return "(no comment)"


def load_case(path):
    with open(path, encoding="utf-8") as f:
        case = yaml.safe_load(f)
    if not isinstance(case, dict):
        raise CaseError("the case is not a mapping")
    unknown = set(case) - CASE_KEYS
    if unknown:
        raise CaseError(f"unknown case keys: {sorted(unknown)}")
    for key in ("command", "exit"):
        if key not in case:
            raise CaseError(f"missing '{key}'")
    if not isinstance(case["command"], list):
        raise CaseError("'command' must be a list of arguments")
    if not isinstance(case["exit"], int):
        raise CaseError("'exit' must be an integer")
    return case


def inside(root, rel):
    """The absolute path of `rel` under `root`, refusing paths that leave it."""
    full = os.path.normpath(os.path.join(root, rel))
    if os.path.commonpath([root, full]) != root:
        raise CaseError(f"path leaves the work folder: {rel}")
    return full


def decode_hex(text, rel):
    """Whitespace-separated tokens, each hex digits or HEX*N (those bytes N times)."""
    out = bytearray()
    for token in text.split():
        digits, _, count = token.partition("*")
        try:
            out += bytes.fromhex(digits) * (int(count) if count else 1)
        except ValueError as e:
            raise CaseError(f"hex_files {rel}: bad token {token!r} ({e})") from e
    return bytes(out)


def write_files(root, case):
    for rel, text in (case.get("files") or {}).items():
        full = inside(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write("" if text is None else str(text))
    for rel, hexstr in (case.get("hex_files") or {}).items():
        full = inside(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(decode_hex(str(hexstr or ""), rel))


def apply_damage(root, damage):
    for d in damage or []:
        if not isinstance(d, dict) or "file" not in d:
            raise CaseError(f"bad damage entry: {d!r}")
        kinds = [k for k in DAMAGE_KINDS if k in d]
        if len(kinds) != 1:
            raise CaseError(f"damage entry needs exactly one of {DAMAGE_KINDS}: {d!r}")
        full = inside(root, d["file"])
        kind = kinds[0]
        if kind == "remove":
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.remove(full)
        elif kind == "copy_from":
            with open(inside(root, d["copy_from"]), "rb") as f:
                data = f.read()
            if os.path.exists(full):
                os.remove(full)  # never write through a hard link
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        elif kind == "write":
            if os.path.exists(full):
                os.remove(full)  # never write through a hard link
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(str(d["write"]))
        elif kind == "truncate":
            # os.truncate replaces the file's contents in place; a hard link (last.prev.pt) would
            # be damaged with it, so break the link first.
            with open(full, "rb") as f:
                data = f.read()
            os.remove(full)
            with open(full, "wb") as f:
                f.write(data[: int(d["truncate"])])
        elif kind == "flip_byte":
            with open(full, "rb") as f:
                data = bytearray(f.read())
            offset = int(d["flip_byte"])
            if not -len(data) <= offset < len(data):
                raise CaseError(f"flip_byte offset {offset} outside {d['file']} ({len(data)} bytes)")
            data[offset] ^= 0xFF
            os.remove(full)
            with open(full, "wb") as f:
                f.write(bytes(data))


def run_esrun(esrun, args, cwd):
    env = dict(os.environ)
    env.pop("ESRUN_DEBUG", None)
    env.setdefault("OMP_NUM_THREADS", "1")
    try:
        p = subprocess.run([esrun] + [str(a) for a in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S)
        return p.returncode, p.stdout, p.stderr
    except OSError as e:
        raise CannotRun(f"cannot run {esrun}: {e}") from e
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, out, err


def snapshot(root, case):
    """The bytes of every `unchanged` file before the command runs."""
    saved = {}
    for rel in case.get("unchanged") or []:
        full = inside(root, rel)
        if not os.path.isfile(full):
            raise CaseError(f"unchanged: {rel} does not exist before the command")
        with open(full, "rb") as f:
            saved[rel] = f.read()
    return saved


def check(case, rc, stderr, root, saved):
    problems = []
    want = case["exit"]
    if rc is None:
        problems.append(f"timed out after {TIMEOUT_S} s (expected exit {want})")
    elif rc != want:
        problems.append(f"exit code {rc}, expected {want}")
    for name in case.get("names") or []:
        if str(name) not in stderr:
            problems.append(f"stderr does not name {str(name)!r}")
    for bad in FORBIDDEN + tuple(str(x) for x in case.get("forbid") or []):
        if bad in stderr:
            problems.append(f"stderr holds {bad!r}")
    if want != 1 and "internal error" in stderr.lower():
        problems.append("stderr says 'internal error' for bad input")
    for rel in case.get("keeps") or []:
        if rel not in saved and not os.path.exists(inside(root, rel)):
            problems.append(f"{rel} was lost")
    for rel, data in saved.items():
        full = inside(root, rel)
        if not os.path.isfile(full):
            problems.append(f"{rel} was lost")
            continue
        with open(full, "rb") as f:
            if f.read() != data:
                problems.append(f"{rel} was modified")
    return problems


def report(case_path, comment, args, rc, stdout, stderr, problems):
    print(f"FAIL {case_path}")
    print(f"  case:    {comment}")
    for p in problems:
        print(f"  problem: {p}")
    print(f"  command: esrun {' '.join(str(a) for a in args)}")
    print(f"  exit:    {rc}")
    print("  --- stdout ---")
    print(stdout.rstrip())
    print("  --- stderr ---")
    print(stderr.rstrip())


class CannotRun(Exception):
    """esrun itself could not be started (missing, not executable)."""


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    esrun = os.path.abspath(argv[1])
    case_path = argv[2]
    try:
        comment = first_comment(case_path)
        case = load_case(case_path)
    except (CaseError, yaml.YAMLError, OSError) as e:
        print(f"BAD CASE {case_path}: {e}", file=sys.stderr)
        return 2
    root = os.path.realpath(tempfile.mkdtemp(prefix="esrun-malformed-"))
    try:
        return run_in(esrun, case_path, comment, case, root)
    except CannotRun as e:
        print(f"FAIL {case_path}: {e}")
        return 1
    finally:
        if os.environ.get("ESRUN_MALFORMED_KEEP"):
            print(f"  (work folder kept: {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run_in(esrun, case_path, comment, case, root):
    """Prepare the work folder, run the case's command and check it; the exit status of main."""
    try:
        write_files(root, case)
        for args in case.get("setup") or []:
            rc, out, err = run_esrun(esrun, args, root)
            if rc != 0:
                report(case_path, comment, args, rc, out, err, [f"setup run exited {rc}, expected 0"])
                return 1
        apply_damage(root, case.get("damage"))
        saved = snapshot(root, case)
    except (CaseError, OSError, ValueError) as e:
        print(f"BAD CASE {case_path}: {e}", file=sys.stderr)
        return 2
    args = case["command"]
    rc, out, err = run_esrun(esrun, args, root)
    problems = check(case, rc, err, root, saved)
    if problems:
        report(case_path, comment, args, rc, out, err, problems)
        return 1
    print(f"PASS {case_path}")
    if os.environ.get("ESRUN_MALFORMED_VERBOSE"):
        print("  " + "\n  ".join(err.rstrip().splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
