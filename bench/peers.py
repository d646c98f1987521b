"""Peers that are not Python: Newman (Postman's runner) and `xargs -P` + curl, set up for scenario 4.

Each finder returns (command path, "") when the tool is usable, or (None, reason) so the table
can say plainly which peer was skipped and why. Installs stay inside the repository's
bench/.cache (npm) or go through the system package manager (curl), never anywhere else.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from harness import HERE, SHARE_PATH, log_tail

NPM_PREFIX = HERE / ".cache" / "npm"
NEWMAN_SPEC = "newman@6"
COLLECTION_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def find_newman(log: Path, *, install: bool = True) -> tuple[Path | None, str]:
    """Newman from bench/.cache/npm, installed there with npm on first use."""
    newman = NPM_PREFIX / "node_modules" / ".bin" / "newman"
    if newman.exists():
        return newman, ""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "node/npm not found on PATH"
    if not install:
        return None, f"not installed in {NPM_PREFIX} (and --no-install)"
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund", NEWMAN_SPEC]
    try:
        with log.open("wb") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"npm install {NEWMAN_SPEC} failed: {exc}"
    if done.returncode != 0 or not newman.exists():
        return None, f"npm install {NEWMAN_SPEC} failed (exit {done.returncode}): {log_tail(log, 200)}"
    return newman, ""


def newman_version(newman: Path) -> str:
    """For the results file: which Newman was measured."""
    done = subprocess.run([str(newman), "--version"], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip()


def write_collection(path: Path) -> Path:
    """A Postman v2.1 collection: one POST shareByUid per data row.

    No test script: each one costs Newman a sandbox run per iteration, and the bench already
    checks every peer the same way, on the server side (code 200 answered exactly once per row).
    """
    query = [("pk", "{{pk}}"), ("dk", "{{dk}}"), ("shareUid", "{{recipient}}"), ("coverMark", "{{cover_mark}}")]
    raw_query = "&".join(f"{key}={value}" for key, value in query)
    collection = {
        "info": {"name": "sharebatch bench: shareByUid per row", "schema": COLLECTION_SCHEMA},
        "item": [{
            "name": "shareByUid",
            "request": {
                "method": "POST",
                "header": [{"key": "Authorization", "value": "{{token}}"}],
                "url": {
                    "raw": "{{base_url}}" + SHARE_PATH + "?" + raw_query,
                    "host": ["{{base_url}}"],
                    "path": SHARE_PATH.strip("/").split("/"),
                    "query": [{"key": key, "value": value} for key, value in query],
                },
            },
        }],
    }
    path.write_text(json.dumps(collection, indent=2) + "\n", encoding="utf-8")
    return path


def newman_command(newman: Path, collection: Path, data: Path, base_url: str, token: str) -> list[str]:
    """Newman runs the data file's rows as iterations, one after the other (its only mode)."""
    return [str(newman), "run", str(collection), "-d", str(data),
            "--env-var", f"base_url={base_url}", "--env-var", f"token={token}"]


def find_curl(*, install: bool = True) -> tuple[str | None, str]:
    """curl from PATH; if missing, apt-get install it when we are root on a Debian-like system."""
    found = shutil.which("curl")
    if found:
        return found, ""
    if not install:
        return None, "curl not found on PATH (and --no-install)"
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return None, "curl not found on PATH and apt-get is not usable here (not root or not Debian)"
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "curl"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            return None, f"{' '.join(command)} failed: {done.stderr.strip()[-200:]}"
    found = shutil.which("curl")
    return (found, "") if found else (None, "apt-get install curl did not provide curl")


def curl_version(curl: str) -> str:
    done = subprocess.run([curl, "--version"], capture_output=True, text=True, timeout=60, check=False)
    return (done.stdout.splitlines() or [""])[0]


def write_url_file(csv_path: Path, base_url: str, target: Path) -> Path:
    """One shareByUid URL per data row: xargs hands one line to each curl."""
    with csv_path.open(encoding="utf-8", newline="") as source, target.open("w", encoding="utf-8") as out:
        for row in csv.DictReader(source):
            params = {"pk": row["pk"], "dk": row["dk"], "shareUid": row["recipient"],
                      "coverMark": row["cover_mark"] or "2"}
            out.write(f"{base_url}{SHARE_PATH}?{urllib.parse.urlencode(params)}\n")
    return target


def xargs_curl_command(curl: str, token: str, parallel: int) -> list[str]:
    """`xargs -P N -n 1 curl -s -X POST -H "Authorization: ..." URL`, URLs on stdin.

    Run without a shell: xargs passes the fixed arguments (the header with its space) unchanged
    and waits for every curl, so wait4 on xargs counts every curl's CPU.
    """
    return ["xargs", "-P", str(parallel), "-n", "1", curl, "-s", "-w", "\\n", "-X", "POST",
            "-H", f"Authorization: {token}"]
