"""Headless Chromium for the tests and benchmarks: layout, screenshots, links.

Owns: finding the Chromium binary, running it headless with a fresh profile,
no background network chatter and a hard timeout (the whole process group is
killed on timeout), and the small harness pages that measure a page.

How a page is measured. Headless Chromium won't make a window narrower than
500 px, so a 375 px phone can't be a window. Instead the page under test is
loaded, unmodified, into an <iframe> of the wanted width inside a harness page:
an iframe is a viewport of its own (media queries and `width: 100%` follow its
width). `--allow-file-access-from-files` lets the harness script read the
iframe's document; it writes its findings as JSON into the harness DOM, which
`--dump-dom` prints. Several widths or pages go into one Chromium run.
Screenshots use the same iframe, with the window cut to the iframe's size.

Doesn't own: what a test asserts, nor the pages (the tests render them).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

__all__ = [
    "BrowserError",
    "ChromiumMissingError",
    "CrawlResult",
    "Layout",
    "Overflow",
    "PageLinks",
    "collect_links",
    "collect_links_batch",
    "crawl_site",
    "find_chromium",
    "measure_layout",
    "measure_layouts",
    "screenshot",
    "screenshots",
]

INSTALL_HINT = (
    "Chromium is not installed (no `chromium` on PATH). Install it with `make browser-deps` "
    "(apt-get install chromium fonts-noto-cjk); CI does this through `make test`."
)

# Without the background-networking flags Chromium tries to reach Google on
# start and stalls on this closed network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",  # a classic scrollbar would eat 15 px of a 375 px viewport
    "--allow-file-access-from-files",  # the harness reads its iframes' documents
    "--lang=en-US",
)
TIMEOUT = 60.0  # seconds per Chromium run; a run normally takes ~1 s
VIRTUAL_TIME_MS = 10_000  # virtual time: costs nothing when the page is idle
MEASURE_HEIGHT = 800  # iframe height for measuring: a phone screen, roughly
MAX_SCREENSHOT_HEIGHT = 16_000  # px; larger software-rendered surfaces fail
RESULT_ID = "__digest_result"

_RESULT = re.compile(rf'<pre id="{RESULT_ID}">(.*?)</pre>', re.DOTALL)


class BrowserError(RuntimeError):
    """Chromium failed, timed out, or the harness script reported nothing."""


class ChromiumMissingError(BrowserError):
    """No Chromium on PATH."""


def find_chromium() -> str:
    """The path of the Chromium binary; `ChromiumMissingError` says how to install it."""
    path = shutil.which("chromium")
    if path is None:
        raise ChromiumMissingError(INSTALL_HINT)
    return path


# --- running Chromium ------------------------------------------------------------


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # Chromium forks zygote, renderer and crashpad processes; they share the
    # process group of the one we started (start_new_session=True).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stderr_tail(err: bytes, lines: int = 15) -> str:
    # Chromium logs D-Bus complaints on every start; they say nothing about the page.
    text = err.decode("utf-8", "replace").splitlines()
    useful = [line for line in text if "dbus" not in line.lower()]
    return "\n".join(useful[-lines:])


def run_chromium(args: Sequence[str], timeout: float = TIMEOUT) -> str:
    """Run headless Chromium with a fresh profile and `args`; its stdout.

    Raises `BrowserError` on a non-zero exit or after `timeout` seconds (the
    whole process group is killed first).
    """
    binary = find_chromium()
    with tempfile.TemporaryDirectory(
        prefix="digest-chromium-", ignore_cleanup_errors=True
    ) as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        with subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                _, err = proc.communicate()
                raise BrowserError(
                    f"Chromium did not finish within {timeout:.0f} s: {' '.join(cmd)}\n"
                    + _stderr_tail(err)
                ) from None
            finally:
                _kill_group(proc)  # helpers that outlived the browser process
    if proc.returncode != 0:
        raise BrowserError(
            f"Chromium exited with {proc.returncode}: {' '.join(cmd)}\n{_stderr_tail(err)}"
        )
    return out.decode("utf-8", "replace")


def _run_harness(body: str, script: str, timeout: float) -> Any:
    """Load a harness page (`body` + `script`) and return the JSON its script reports.

    The script defines `async function collect()`; its result is reported
    once the page and every iframe have loaded and fonts are ready.
    """
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<style>html, body {{ margin: 0; padding: 0; }} iframe {{ display: block; border: 0; }}</style>
</head><body>
{body}
<script>
{script}
function report(value) {{
  const out = document.createElement("pre");
  out.id = "{RESULT_ID}";
  out.textContent = JSON.stringify(value);
  document.body.appendChild(out);
}}
window.addEventListener("load", () => {{
  collect().then(report, (e) => report({{error: String(e && e.stack || e)}}));
}});
</script>
</body></html>
"""
    with tempfile.TemporaryDirectory(prefix="digest-harness-") as folder:
        harness = Path(folder) / "harness.html"
        harness.write_text(page, encoding="utf-8")
        dom = run_chromium(
            [f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom", harness.as_uri()],
            timeout,
        )
    match = _RESULT.search(dom)
    if match is None:
        raise BrowserError("the harness page reported nothing; Chromium printed:\n" + dom[-2000:])
    data = json.loads(html.unescape(match.group(1)))
    if isinstance(data, dict) and "error" in data:
        raise BrowserError(f"the harness script failed: {data['error']}")
    return data


def _iframe(path: Path, width: int, height: int, index: int) -> str:
    src = html.escape(path.resolve().as_uri(), quote=True)
    return (
        f'<iframe id="f{index}" src="{src}" scrolling="no" '
        f'style="width:{width}px;height:{height}px"></iframe>'
    )


def _check_file(path: Path) -> Path:
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


# --- layout ------------------------------------------------------------------------

# Computed styles read for a few elements, so tests can tell where colours come from.
PROBES = (
    "body",
    ".wrapper",
    ".container",
    ".title",
    ".section-title",
    ".story",
    ".story-title",
    ".link",
    ".summary",
    ".footer",
)
PROBED = (
    "color",
    "backgroundColor",
    "fontSize",
    "paddingLeft",
    "borderBottomColor",
    "borderBottomWidth",
    "width",
)

_MEASURE_JS = """
const PROBES = %(probes)s, PROBED = %(probed)s;
function describe(el) {
  const text = (el.textContent || "").replace(/\\s+/g, " ").trim();
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id || "",
    classes: el.getAttribute("class") || "",
    text: text.slice(0, 100),
  };
}
function measure(frame) {
  const win = frame.contentWindow, doc = frame.contentDocument, root = doc.documentElement;
  const viewport = root.clientWidth;
  const overflowing = [];
  for (const el of doc.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // display:none, empty
    if (r.right > viewport + 0.5 || r.left < -0.5 || r.width > viewport + 0.5) {
      const box = {el, left: r.left, right: r.right, width: r.width};
      overflowing.push(Object.assign(describe(el), box));
    }
  }
  // The culprits: overflowing elements without an overflowing descendant,
  // widest unbreakable content (min-content width) first. The ancestors are
  // only wide because of them (an auto table grows to its widest cell).
  const outside = new Set(overflowing.map((o) => o.el));
  const hasOutsideChild = new Set();
  for (const el of outside) {
    for (let p = el.parentElement; p && !hasOutsideChild.has(p); p = p.parentElement) {
      hasOutsideChild.add(p);
    }
  }
  const culprits = overflowing.filter((o) => !hasOutsideChild.has(o.el)).slice(0, 400);
  for (const o of culprits) {
    // `width` doesn't apply to inline boxes, and a cell's is its column's.
    const display = win.getComputedStyle(o.el).display;
    if (display === "inline" || display.startsWith("table")) continue;
    const style = o.el.getAttribute("style");
    o.el.style.setProperty("width", "min-content", "important");
    o.min_content = o.el.getBoundingClientRect().width;
    if (style === null) o.el.removeAttribute("style"); else o.el.setAttribute("style", style);
  }
  culprits.sort((a, b) => (b.min_content ?? -1) - (a.min_content ?? -1) || b.width - a.width);
  overflowing.sort((a, b) => b.right - a.right || b.width - a.width);
  const plain = (list) => {
    const seen = new Set(), out = [];  // a repeated story is one finding
    for (const {el, ...rest} of list) {
      const key = rest.tag + " " + rest.classes + " " + rest.text;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(rest);
      if (out.length === 12) break;
    }
    return out;
  };
  const styles = {};
  for (const selector of PROBES) {
    const el = doc.querySelector(selector);
    if (!el) continue;
    const cs = win.getComputedStyle(el);
    styles[selector] = Object.fromEntries(PROBED.map((p) => [p, cs[p]]));
  }
  return {
    width: win.innerWidth,
    client_width: viewport,
    scroll_width: root.scrollWidth,
    body_scroll_width: doc.body.scrollWidth,
    scroll_height: Math.max(root.scrollHeight, doc.body.scrollHeight),
    overflow_count: overflowing.length,
    overflowing: plain(overflowing),
    culprits: plain(culprits),
    styles: styles,
    style_blocks: doc.querySelectorAll("style").length,
  };
}
async function collect() {
  const frames = [...document.querySelectorAll("iframe")];
  await Promise.all(frames.map((f) => f.contentDocument.fonts.ready));
  return frames.map(measure);
}
"""


@dataclass(frozen=True, slots=True)
class Overflow:
    """An element that sticks out of the viewport."""

    tag: str
    id: str
    classes: str
    text: str  # the start of its text, to find it in the page
    left: float
    right: float
    width: float
    min_content: float | None = None  # its width with `width: min-content` (culprits only)

    def __str__(self) -> str:
        name = self.tag + (f"#{self.id}" if self.id else "")
        name += "".join(f".{c}" for c in self.classes.split())
        needs = "" if self.min_content is None else f", needs {self.min_content:.0f}"
        return (
            f"<{name}> left {self.left:.0f} right {self.right:.0f} width {self.width:.0f}"
            f"{needs} px: {self.text[:70]!r}"
        )


@dataclass(frozen=True, slots=True)
class Layout:
    """What the page looks like at one viewport width."""

    width: int  # window.innerWidth of the iframe: the viewport asked for
    client_width: int  # documentElement.clientWidth: the viewport minus scrollbars
    scroll_width: int  # documentElement.scrollWidth: > client_width means sideways scrolling
    body_scroll_width: int
    scroll_height: int
    overflow_count: int  # elements whose box leaves the viewport
    overflowing: tuple[Overflow, ...]  # the 12 reaching furthest right
    # The 12 innermost elements outside the viewport, widest min-content first:
    # what to fix (their ancestors only grew to hold them).
    culprits: tuple[Overflow, ...] = ()
    styles: dict[str, dict[str, str]] = field(default_factory=dict)  # PROBES → PROBED
    style_blocks: int = 0

    @property
    def overflows(self) -> bool:
        return self.scroll_width > self.client_width or self.overflow_count > 0

    def describe(self) -> str:
        lines = [
            f"viewport {self.client_width} px, scrollWidth {self.scroll_width} px, "
            f"{self.overflow_count} element(s) outside the viewport"
        ]
        if self.culprits:
            lines.append(" innermost, widest unbreakable content first:")
            lines += [f"  {o}" for o in self.culprits]
        if self.overflowing:
            lines.append(" reaching furthest right:")
            lines += [f"  {o}" for o in self.overflowing[:5]]
        return "\n".join(lines)


def measure_layouts(
    html_path: Path, widths: Iterable[int], timeout: float = TIMEOUT
) -> dict[int, Layout]:
    """Lay `html_path` out at each of `widths` (one Chromium run); width → `Layout`."""
    path = _check_file(html_path)
    widths = list(widths)
    frames = "\n".join(_iframe(path, w, MEASURE_HEIGHT, i) for i, w in enumerate(widths))
    script = _MEASURE_JS % {"probes": json.dumps(PROBES), "probed": json.dumps(PROBED)}
    results = _run_harness(frames, script, timeout)
    layouts: dict[int, Layout] = {}
    for width, data in zip(widths, results, strict=True):
        overflowing = tuple(Overflow(**o) for o in data.pop("overflowing"))
        culprits = tuple(Overflow(**o) for o in data.pop("culprits"))
        layouts[width] = Layout(overflowing=overflowing, culprits=culprits, **data)
    return layouts


def measure_layout(html_path: Path, width: int, timeout: float = TIMEOUT) -> Layout:
    """Lay `html_path` out in a viewport `width` px wide."""
    return measure_layouts(html_path, [width], timeout)[width]


def screenshot(
    html_path: Path,
    width: int,
    out_png: Path,
    height: int | None = None,
    timeout: float = TIMEOUT,
) -> Path:
    """A PNG of `html_path` in a viewport `width` px wide; returns `out_png`.

    `height` defaults to the whole page (measured first, one more Chromium run),
    capped at MAX_SCREENSHOT_HEIGHT.
    """
    path = _check_file(html_path)
    if height is None:
        height = measure_layout(path, width, timeout).scroll_height
    height = max(1, min(height, MAX_SCREENSHOT_HEIGHT))
    out_png = Path(out_png).resolve()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    out_png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="digest-harness-") as folder:
        harness = Path(folder) / "shot.html"
        # The window can't be narrower than 500 px, but the screenshot is cut to
        # --window-size: with the iframe at the top left, it shows just the iframe.
        harness.write_text(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><style>html, body "
            "{ margin: 0; padding: 0; } iframe { display: block; border: 0; }</style></head>"
            f"<body>{_iframe(path, width, height, 0)}</body></html>",
            encoding="utf-8",
        )
        run_chromium(
            [
                f"--window-size={width},{height}",
                f"--virtual-time-budget={VIRTUAL_TIME_MS}",
                f"--screenshot={out_png}",
                harness.as_uri(),
            ],
            timeout,
        )
    if not out_png.is_file() or out_png.stat().st_size == 0:
        raise BrowserError(f"Chromium wrote no screenshot to {out_png}")
    return out_png


def screenshots(
    html_path: Path, heights: dict[int, int | None], folder: Path, name: str
) -> list[Path]:
    """`screenshot` at each width of `heights` (width → height), Chromium runs in parallel.

    Files are `<folder>/<name>-<width>.png`.
    """
    with ThreadPoolExecutor(max_workers=max(1, len(heights))) as pool:
        futures = [
            pool.submit(screenshot, html_path, width, folder / f"{name}-{width}.png", height)
            for width, height in heights.items()
        ]
        return [f.result() for f in futures]


# --- links -------------------------------------------------------------------------

_LINKS_JS = """
async function collect() {
  return [...document.querySelectorAll("iframe")].map((frame) => {
    const doc = frame.contentDocument;
    return {
      url: doc.URL,
      links: [...doc.querySelectorAll("a[href], area[href], link[href]")].map((a) => a.href),
      ids: [...doc.querySelectorAll("[id]")].map((e) => e.id),
    };
  });
}
"""


@dataclass(frozen=True, slots=True)
class PageLinks:
    """The links of one page, as the browser resolved them, and its element ids."""

    url: str
    links: tuple[str, ...]  # absolute: a[href], area[href], link[href], in document order
    ids: frozenset[str]


def collect_links_batch(paths: Iterable[Path], timeout: float = TIMEOUT) -> dict[Path, PageLinks]:
    """`collect_links` of several pages in one Chromium run; resolved path → `PageLinks`."""
    pages = [_check_file(p) for p in paths]
    if not pages:
        return {}
    frames = "\n".join(_iframe(p, 1280, 200, i) for i, p in enumerate(pages))
    results = _run_harness(frames, _LINKS_JS, timeout)
    return {
        page: PageLinks(data["url"], tuple(data["links"]), frozenset(data["ids"]))
        for page, data in zip(pages, results, strict=True)
    }


def collect_links(html_path: Path, timeout: float = TIMEOUT) -> PageLinks:
    """Every link of `html_path` resolved by the browser, and every element id."""
    path = _check_file(html_path)
    return collect_links_batch([path], timeout)[path]


@dataclass
class CrawlResult:
    visited: dict[Path, PageLinks] = field(default_factory=dict)  # HTML pages loaded
    files: set[Path] = field(default_factory=set)  # other internal files linked (feed.xml)
    external: set[str] = field(default_factory=set)  # http(s) and mailto links, not followed
    broken: list[str] = field(default_factory=list)  # "page: link (why)"


def _file_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlsplit(url).path))).resolve()


def crawl_site(start: Path, root: Path, timeout: float = TIMEOUT) -> CrawlResult:
    """Follow the internal links of a static site breadth-first from `start`.

    Internal means file: URLs inside `root`; those must name an existing file,
    and a #fragment must be an element id of the target page. HTML pages found
    are loaded in turn (one Chromium run per depth level). http(s) and mailto
    links are recorded, not followed; any other scheme, or a file outside
    `root`, is broken.
    """
    root = root.resolve()
    result = CrawlResult()
    fragments: list[tuple[Path, Path, str, str]] = []  # (page, target, fragment, link)
    queue: deque[Path] = deque([_check_file(start)])
    seen: set[Path] = set(queue)
    while queue:
        level = list(queue)
        queue.clear()
        for page, links in collect_links_batch(level, timeout).items():
            result.visited[page] = links
            where = page.relative_to(root) if page.is_relative_to(root) else page
            for link in links.links:
                parts = urlsplit(link)
                if parts.scheme in ("http", "https", "mailto"):
                    result.external.add(link)
                    continue
                if parts.scheme != "file":
                    result.broken.append(f"{where}: {link} (not a file or web link)")
                    continue
                target = _file_path(link)
                if not target.is_relative_to(root):
                    result.broken.append(f"{where}: {link} (outside the site folder)")
                    continue
                if not target.is_file():
                    result.broken.append(f"{where}: {link} (no such file)")
                    continue
                if parts.fragment:
                    fragments.append((page, target, unquote(parts.fragment), link))
                if target.suffix.lower() in (".html", ".htm"):
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
                else:
                    result.files.add(target)
    for page, target, fragment, link in fragments:
        where = page.relative_to(root)
        if target not in result.visited:
            result.broken.append(f"{where}: {link} (#fragment into a non-HTML file)")
        elif fragment not in result.visited[target].ids:
            result.broken.append(f"{where}: {link} (no id {fragment!r} on {target.name})")
    return result
