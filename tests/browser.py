"""Measure a page in headless Chromium (Debian's `chromium`), with the network off.

No driver library: the page is copied with a small probe script added at its end, Chromium loads
the copy with `--dump-dom`, and the probe writes what it measured into the DOM as JSON. The
report itself has no script; the probe exists only in the copy. Chromium runs with a fresh
profile, no background networking, a proxy that goes nowhere and a resolver that knows no host,
so a page that fetched anything would show it in the probe's resource list and fail to load it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SKIP_REASON = ("headless Chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it), "
               "so report.html is not checked in a real browser here")

#: runs at `load`: boxes of every section, figure and table, what overflows its section, what was fetched
_PROBE = r"""
<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, top: r.top + window.scrollY, right: r.right, bottom: r.bottom + window.scrollY,
            width: r.width, height: r.height}; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.dataset && el.dataset.chart ? "[" + el.dataset.chart + "]" : "");
  const blocks = [...document.querySelectorAll("section, figure, table, header, .banner")];
  const overlaps = [];
  for (let i = 0; i < blocks.length; i++) for (let j = i + 1; j < blocks.length; j++) {
    const a = blocks[i], b = blocks[j];
    if (a.contains(b) || b.contains(a)) continue;
    const p = box(a), q = box(b);
    const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
    const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (w > 1 && h > 1) overlaps.push([name(a), name(b)]);
  }
  const overflows = [];
  const printing = document.body.dataset.media === "print";  // paper does not scroll: a scroll box clips
  for (const section of document.querySelectorAll("section, header")) {
    const s = box(section);
    for (const el of section.querySelectorAll("*")) {
      // on screen a scroll box may be wider inside
      if (!printing && el.closest(".scroll") && el.closest(".scroll") !== el) continue;
      const r = box(el);
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > s.right + 1 || r.left < s.left - 1) { overflows.push([name(section), name(el)]); break; }
    }
  }
  const texts = {};
  for (const el of document.querySelectorAll("[data-probe]")) texts[el.dataset.probe] = box(el);
  const lineHeight = parseFloat(getComputedStyle(document.body).lineHeight) || 20;
  const fetched = performance.getEntriesByType("resource").map((entry) => entry.name);
  const result = {
    viewport: window.innerWidth, page_width: document.documentElement.scrollWidth,
    overlaps, overflows, fetched, line_height: lineHeight,
    figures: [...document.querySelectorAll("figure")].map((f) => ({name: name(f), ...box(f)})),
    by_id: Object.fromEntries([...document.querySelectorAll("[id]")].map((el) => [el.id, box(el)])),
    by_probe: texts, scripts: document.scripts.length - 1,
    images: [...document.images].map((i) => [i.src.slice(0, 30), i.naturalWidth > 0])
  };
  // in a frame (a viewport narrower than Chromium's window can be), the result goes to the outer page
  const target = window.frameElement ? window.parent.document : document;
  const out = target.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify(result);
  target.body.appendChild(out);
});
</script>
"""


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured:
        return shutil.which(configured)
    return next((found for found in map(shutil.which, CANDIDATES) if found), None)


#: headless Chromium's window is never narrower than this; a narrower viewport is a frame of that width
_NARROWEST_WINDOW = 500
#: an A4 page's printable width in CSS px (210 mm less 2 x 10 mm margins at 96 px/inch)
PRINT_WIDTH = 718


def measure(page: Path, *, width: int = 1280, height: int = 2000, timeout_s: float = 120,
            media: str = "screen") -> dict[str, Any]:
    """Load a copy of `page` (with the probe) in headless Chromium at `width` px; the probe's figures.

    `media="print"` applies the page's print rules as if on screen (measure it at PRINT_WIDTH): what
    a printer would clip shows as content wider than its section.
    """
    browser = find_chromium()
    if browser is None:
        raise RuntimeError(SKIP_REASON)
    with tempfile.TemporaryDirectory(prefix="sharebatch-browser-") as work:
        copy = Path(work) / page.name
        text = page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>")
        if media == "print":
            text = text.replace("@media print", "@media all").replace("<body>", '<body data-media="print">', 1)
        if width < _NARROWEST_WINDOW:
            text = (f'<!DOCTYPE html><html><body style="margin:0"><iframe style="width:{width}px;height:{height}px;'
                    f'border:0" srcdoc="{html.escape(text)}"></iframe></body></html>')
        copy.write_text(text, encoding="utf-8")
        profile = Path(work) / "profile"
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
            f"--user-data-dir={profile}", f"--window-size={max(width, _NARROWEST_WINDOW)},{height}",
            # the network is off for the page: no host resolves and every request goes to a closed proxy
            "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=5000", "--dump-dom", copy.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, re.S)
    if found is None:
        raise AssertionError(f"Chromium exited {done.returncode} without the probe's result:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result
