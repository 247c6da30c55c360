"""Check a built static website in headless Chromium (used by site_check.py and test_site.py).

:class:`Site` serves a folder on loopback; :func:`inspect_page` opens one page in a Playwright page
and reports what a reader would meet: the HTTP status, images that did not load (or that come from
another host, which the site cannot promise), requests that failed (a script from a CDN offline),
console errors, the formulas MathJax typeset, any TeX it could not read and any TeX it never saw (a
``$`` or a ``\\command`` left in the prose: math the Markdown parser did not recognise), and every link on the page;
:func:`broken_links` then follows each link that stays on the site - the file must exist and an
``#anchor`` must name an element of the target page.
"""
from __future__ import annotations

import functools
import http.server
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Site:
    """Serves ``directory`` on 127.0.0.1 (a thread, until :meth:`close`)."""

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self._html: dict[str, str | None] = {}

    def fetch(self, url: str) -> str | None:
        """The body of a page of this site (decoded), or None when it does not exist."""
        path = urllib.parse.urldefrag(url).url
        if path not in self._html:
            try:
                with urllib.request.urlopen(path, timeout=30) as response:
                    self._html[path] = response.read().decode("utf-8", errors="replace")
            except urllib.error.HTTPError:
                self._html[path] = None
        return self._html[path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class PageReport:
    url: str
    status: int | None
    images: int = 0
    broken_images: list[str] = field(default_factory=list)   # did not load (naturalWidth 0)
    remote_images: list[str] = field(default_factory=list)   # served by another host
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # scripts, styles, fonts... that did not come
    math: int = 0                                             # formulas MathJax typeset
    math_errors: list[str] = field(default_factory=list)      # TeX that MathJax could not read
    raw_tex: list[str] = field(default_factory=list)          # TeX left as text in the prose
    links: list[str] = field(default_factory=list)           # absolute hrefs of every <a>
    extra: object = None                                      # what the caller's ``extra`` script returned

    def problems(self) -> list[str]:
        found = []
        if self.status != 200:
            found.append(f"{self.url}: HTTP status {self.status}")
        found += [f"{self.url}: image did not load: {src}" for src in self.broken_images]
        found += [f"{self.url}: image from another host: {src}" for src in self.remote_images]
        found += [f"{self.url}: console error: {text}" for text in self.console_errors]
        found += [f"{self.url}: request failed: {text}" for text in self.failed_requests]
        found += [f"{self.url}: TeX error: {text}" for text in self.math_errors]
        found += [f"{self.url}: TeX left as text (not typeset): {text!r}" for text in self.raw_tex]
        return found


_IMAGES = """() => Array.from(document.images).map(img => ({src: img.currentSrc || img.src,
                                                        loaded: img.complete && img.naturalWidth > 0}))"""
# Prose text (not code, not output, not typeset math) with a dollar that is no price ($5) or a TeX
# command: what is left of a formula the Markdown parser did not take for math
_RAW_TEX = """() => {
    const found = [], root = document.querySelector("main") || document.body;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
        if (node.parentElement.closest("pre, code, script, style, mjx-container, .cell_output, .output")) continue;
        const match = node.textContent.match(/.{0,30}(\\$(?!\\d)|\\\\[a-zA-Z]+).{0,30}/s);
        if (match) found.push(match[0].replace(/\\s+/g, " "));
    }
    return found;
}"""


def inspect_page(page, url: str, extra: str | None = None) -> PageReport:
    """Open ``url`` in ``page`` (scrolling through it so lazy images load) and report what loaded;
    ``extra``, a JavaScript function, is evaluated on the loaded page into ``PageReport.extra``."""
    errors: list[str] = []
    failed: list[str] = []
    on_console = lambda message: errors.append(message.text) if message.type == "error" else None  # noqa: E731
    on_failure = lambda request: failed.append(f"{request.url} ({request.failure})")  # noqa: E731
    on_response = lambda response: failed.append(f"{response.url} (HTTP {response.status})") \
        if response.status >= 400 else None  # noqa: E731
    page.on("console", on_console)
    page.on("requestfailed", on_failure)
    page.on("response", on_response)
    try:
        response = page.goto(url, wait_until="load")
        page.evaluate("""async () => {
            for (const img of document.images) { img.loading = "eager"; }
            window.scrollTo(0, document.body.scrollHeight);
            await Promise.all(Array.from(document.images).map(img => img.complete ? null :
                new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
        }""")
        math = page.evaluate("""async () => {
            if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return {count: 0, errors: []};
            await MathJax.startup.promise;
            return {count: document.querySelectorAll("mjx-container").length,
                    errors: Array.from(document.querySelectorAll("mjx-merror"),
                                       e => e.getAttribute("data-mjx-error") || e.textContent)};
        }""")
        images = page.evaluate(_IMAGES)
        if not all(image["loaded"] for image in images):
            # the page saw the image fail; Playwright's requestfailed event for it can come later
            try:
                page.wait_for_load_state("networkidle", timeout=10_000)
            except Exception:  # noqa: BLE001 - a page that never idles keeps what was reported
                pass
        raw_tex = page.evaluate(_RAW_TEX)
        links = page.eval_on_selector_all("a[href]", "anchors => anchors.map(a => a.href)")
        extra_result = page.evaluate(extra) if extra else None
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("requestfailed", on_failure)
        page.remove_listener("response", on_response)
    origin = urllib.parse.urlsplit(url)[:2]
    report = PageReport(url=url, status=response.status if response else None, images=len(images),
                        console_errors=errors, failed_requests=failed, links=links,
                        math=math["count"], math_errors=math["errors"], raw_tex=raw_tex, extra=extra_result)
    for image in images:
        if urllib.parse.urlsplit(image["src"])[:2] != origin and not image["src"].startswith("data:"):
            report.remote_images.append(image["src"])
        elif not image["loaded"]:
            report.broken_images.append(image["src"])
    return report


def _ids(html: str) -> set[str]:
    return set(re.findall(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", html))


def broken_links(site: Site, reports: list[PageReport]) -> list[str]:
    """Every link on the pages that stays on ``site`` and does not resolve: a missing file, or an
    ``#anchor`` that names no element of its target page."""
    problems = []
    for report in reports:
        for href in sorted(set(report.links)):
            if not href.startswith(site.url):
                continue
            target, anchor = urllib.parse.urldefrag(href)
            html = site.fetch(target)
            if html is None:
                problems.append(f"{report.url}: link to a missing file: {href}")
            elif anchor and target.endswith((".html", "/")) and urllib.parse.unquote(anchor) not in _ids(html):
                problems.append(f"{report.url}: link to a missing anchor: {href}")
    return problems
