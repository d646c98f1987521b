"""The two hand-written peers, each run by run_bench.py as its own process so its whole cost is measured.

    BENCH_TOKEN=... python bench/clients.py bare --input F --base-url URL [--concurrency 64]
    BENCH_TOKEN=... python bench/clients.py sequential --input F --base-url URL

- `bare`: the floor for "concurrent client in Python": one aiohttp ClientSession, N workers
  pulling rows from one iterator, POST shareByUid, check that the JSON code is 200. No pacing,
  no retries, no journal, no report: what sharebatch adds on top is the overhead scenario 1 prices.
- `sequential`: what a quick script does: urllib.request, one request after the other (a new
  connection each time, as urllib does), check the code.

Exit 0 when every row was answered code 200, else 1. The token comes from BENCH_TOKEN so it does
not sit in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

SHARE_PATH = "/v2/binding/enduserapi/shareByUid"


def read_params(path: Path) -> list[dict[str, str]]:
    """The query parameters of every row of a benchmark CSV (pk, dk, recipient, expiry, cover_mark)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [{"pk": row["pk"], "dk": row["dk"], "shareUid": row["recipient"],
                 "coverMark": row.get("cover_mark") or "2"} for row in csv.DictReader(handle)]


async def bare_loop(base_url: str, token: str, rows: list[dict[str, str]], concurrency: int) -> int:
    """Send every row with `concurrency` workers on one session; return how many were answered code 200."""
    import aiohttp  # only this mode needs it; the sequential peer should not pay for the import

    ok = 0
    pending = iter(rows)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector, headers={"Authorization": token}) as http:

        async def worker() -> None:
            nonlocal ok
            for params in pending:
                async with http.post(SHARE_PATH, params=params) as response:
                    body = await response.json()
                ok += body.get("code") == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


def sequential_loop(base_url: str, token: str, rows: list[dict[str, str]]) -> int:
    """Send every row one after the other with urllib; return how many were answered code 200."""
    ok = 0
    for params in rows:
        url = f"{base_url}{SHARE_PATH}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=b"", method="POST", headers={"Authorization": token})
        with urllib.request.urlopen(request, timeout=30) as response:
            ok += json.loads(response.read()).get("code") == 200
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["bare", "sequential"])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    token = os.environ["BENCH_TOKEN"]
    rows = read_params(args.input)
    if args.mode == "bare":
        ok = asyncio.run(bare_loop(args.base_url, token, rows, args.concurrency))
    else:
        ok = sequential_loop(args.base_url, token, rows)
    print(f"{args.mode}: {ok} of {len(rows)} rows answered code 200")
    sys.exit(0 if ok == len(rows) else 1)


if __name__ == "__main__":
    main()
