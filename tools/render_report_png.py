#!/usr/bin/env python3
"""Render a report.html to a PNG with headless Chromium, to look at a report without a desktop.

    tools/render_report_png.py out/demo/report.html /tmp/report.png [--window-size 1280,2400]

Standard library only and independent of the `runner` package, so it runs from any Python 3.11.
Chromium gets a throw-away profile and no background networking: the report is self-contained and
the screenshot must show exactly what an offline reader sees. Exit 0 on success, 2 when Chromium is
missing (with how to install it), 1 when Chromium fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = ("Chromium is not installed; on Debian or Ubuntu: sudo apt-get install -y chromium "
                "(or set CHROMIUM=/path/to/chromium)")
TIMEOUT_S = 120


def find_chromium() -> str | None:
    """$CHROMIUM if set, else the first Chromium-like browser on PATH (Debian's /usr/bin/chromium first)."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if shutil.which(configured) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_command(browser: str, html: Path, png: Path, profile: Path, window_size: str) -> list[str]:
    return [
        browser,
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size={window_size}",
        html.resolve().as_uri(),
    ]


def render(html: Path, png: Path, window_size: str) -> int:
    browser = find_chromium()
    if browser is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)  # so a stale picture is never mistaken for this one
    with tempfile.TemporaryDirectory(prefix="render-report-") as profile:
        try:
            done = subprocess.run(chromium_command(browser, html, png, Path(profile), window_size),
                                  capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            print(f"error: {browser} did not finish within {TIMEOUT_S} s", file=sys.stderr)
            return 1
    if done.returncode != 0 or not png.is_file():
        print(f"error: {browser} exited {done.returncode} without writing {png}:\n{done.stderr.strip()}",
              file=sys.stderr)
        return 1
    print(png)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report.html to render")
    parser.add_argument("png", type=Path, help="where to write the PNG")
    parser.add_argument("--window-size", default="1280,2400", help="WIDTH,HEIGHT in CSS pixels (default 1280,2400)")
    args = parser.parse_args(argv)
    if not args.html.is_file():
        print(f"error: {args.html} is not a file", file=sys.stderr)
        return 2
    return render(args.html, args.png, args.window_size)


if __name__ == "__main__":
    sys.exit(main())
