"""A batch prepared in pandas: join a CRM export with a device list, plan, run, summarise the report.

    pip install 'sharebatch[pandas]'
    python docs/examples/frames_flow.py                 # starts the built-in simulator on loopback
    SHAREBATCH_TOKEN=... python docs/examples/frames_flow.py --base-url URL --out out/frames

The tests run this file as it is (tests/integration/test_frames_example.py); docs/api.md walks through it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from runner import api

# What two exports look like. Read them with dtype=str: a customer id, an IMEI or a phone read as a number
# has already lost its leading zeros, and run_frame refuses such a column.
CRM_EXPORT = """customer_id,name,email,plan
C-0001,Ada Lovelace,ada@example.org,gold
C-0002,Grace Hopper,grace@example.org,silver
C-0003,Alan Turing,alan(at)example.org,gold
"""
DEVICE_LIST = """IMEI,Product Key,customer_id
086100000000001,p1demo,C-0001
086100000000002,p1demo,C-0001
086100000000003,p1demo,C-0002
086100000000004,p1demo,C-0003
OTHER-0005,p1demo,C-0002
"""


def build_batch() -> pd.DataFrame:
    """One row per device and its customer: the shares to make."""
    customers = pd.read_csv(io.StringIO(CRM_EXPORT), dtype=str)
    devices = pd.read_csv(io.StringIO(DEVICE_LIST), dtype=str)
    return devices.merge(customers, on="customer_id", how="left", validate="many_to_one")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="the platform or a simulator [start the built-in simulator]")
    parser.add_argument("--out", type=Path, default=Path("out/frames"), help="output folder [out/frames]")
    args = parser.parse_args()
    simulator = None
    if args.base_url is None:
        simulator, args.base_url, token = start_simulator()
        os.environ["SHAREBATCH_TOKEN"] = token
    try:
        batch = build_batch()
        print(f"{len(batch)} shares to make for {batch['customer_id'].nunique()} customers")

        plan = api.plan_frame(batch, out=args.out, base_url=args.base_url, expiry="90d")
        print("plan:", plan["action"].value_counts()[lambda counts: counts > 0].to_dict())

        report = api.run_frame(batch, out=args.out, base_url=args.base_url, expiry="90d", rate=50)
        summary = report.groupby(["status", "code"], observed=True, dropna=False).size().rename("rows")
        print(summary.reset_index().to_string(index=False))
        shared = batch.join(report[["status", "share_code"]])  # the report is indexed like the batch
        print(shared.loc[shared["status"] == "success", ["name", "IMEI", "share_code"]].to_string(index=False))
        print("exit code a command would give:", report.attrs["sharebatch"]["exit_code"])
        return 0
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=30)


def start_simulator() -> tuple[subprocess.Popen[bytes], str, str]:
    """`sharebatch simulate` on a free loopback port; its base URL and access token."""
    ready = Path(tempfile.mkdtemp()) / "simulator.json"
    process = subprocess.Popen([sys.executable, "-m", "runner", "simulate", "--port", "0", "--ready-file", str(ready)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    info = json.loads(ready.read_text(encoding="utf-8"))
    return process, info["base_url"], info["access_token"]


if __name__ == "__main__":
    sys.exit(main())
