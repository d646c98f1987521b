"""The tree before a change, installed in a venv of its own, so that one bench run times before and after.

Figures from two bench runs on a shared machine are not comparable: its load moves by a factor of
two within minutes. So the bench installs an older revision (default: the tree before issue 16,
which removed matplotlib and most start-up imports) into bench/.cache/before-<rev>/ and runs it
next to the working tree, repetitions interleaved, on the same simulator.

The old tree gets its own venv because its dependencies differ (matplotlib). It is installed with
pip, not in editable mode, and run through its console script: `python -m runner` would pick up
the working tree's runner/ from the bench's working directory.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from harness import HERE, ROOT, log_tail

#: main just before issue 16's commits: charts drawn by matplotlib, everything imported up front
BEFORE_REV = "b74cc8f"


def prepare(rev: str, log: Path) -> tuple[list[str] | None, str]:
    """(the old tree's sharebatch command, "") once installed, else (None, why not)."""
    done = subprocess.run(["git", "rev-parse", "--verify", "--short", f"{rev}^{{commit}}"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None, f"git does not know revision {rev!r}"
    short = done.stdout.strip()
    home = HERE / ".cache" / f"before-{short}"
    script = home / "venv" / "bin" / "sharebatch"
    stamp = home / ".installed"
    if stamp.exists() and script.exists():
        return [str(script)], ""
    shutil.rmtree(home, ignore_errors=True)
    (home / "src").mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", short], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        return None, f"git archive {short} failed: {archive.stderr.decode(errors='replace')[:200]}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(home / "src", filter="data")
    with log.open("wb") as out:
        for command in ([sys.executable, "-m", "venv", str(home / "venv")],
                        [str(home / "venv" / "bin" / "pip"), "install", "--quiet", str(home / "src")]):
            step = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False)
            if step.returncode != 0:
                return None, f"installing {short} failed (exit {step.returncode}): {log_tail(log, 200)}"
    stamp.write_text(short + "\n", encoding="utf-8")
    return [str(script)], ""
