"""Drive the course the way a learner does: JupyterLab in headless Chromium (used by test_browser.py).

* :class:`LabServer` starts one ``jupyter lab --no-browser`` on a free loopback port with throw-away
  config/settings/runtime/workspace directories, a random token, autosave off (a test must never
  write outputs into the repository's notebooks) and notebook windowing off (JupyterLab 4.5+ renders
  off-screen cells lazily; with windowing off every output is in the page).
* :func:`run_notebook` opens one notebook in a Playwright page, runs Run -> Run All Cells through the
  menu bar, waits for the kernel to finish, and reports what a learner would see: error outputs,
  live widget views, widget error messages, and whether moving the first slider of each widget
  changes the picture that widget controls.

Only the JupyterLab / ipywidgets DOM is used (JupyterLab 4.6, ipywidgets 8.1), no internals.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# Debian's chromium package; NNCOURSE_CHROMIUM points elsewhere (another OS, another build).
CHROMIUM = os.environ.get("NNCOURSE_CHROMIUM", "/usr/bin/chromium")
# Headless and quiet: no GPU, no sandbox (CI containers run as root), and none of Chromium's own
# network calls (component updates, sync, first-run pings, background fetches).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm: use /tmp instead
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--mute-audio",
]

# JupyterLab user settings written into the temporary JUPYTERLAB_SETTINGS_DIR.
LAB_SETTINGS = {
    # Every cell and output in the DOM (4.5+ otherwise renders off-screen cells lazily).
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # The server's root is the repository: never save executed notebooks back into it.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # No news feed / update check requests, no "get notified about news?" toast over the page.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

def find_chromium() -> str | None:
    """The Chromium binary the tests use, or None when it is not installed."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (Playwright or Chromium missing), or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"Python playwright is not installed ({error}); `pip install -e \".[test]\"`"
    if find_chromium() is None:
        return f"Chromium not found at {CHROMIUM}; install it with `apt-get install -y chromium`"
    return None


def skip_or_fail(reason: str, what: str = "BROWSER TESTS") -> None:
    """No browser: skip loudly (a warning in the summary), or fail when CI demands the browser tests
    (``NNCOURSE_REQUIRE_BROWSER=1``, set by ``.ci/run`` where Chromium is installed)."""
    import warnings

    import pytest

    message = f"{what} NOT RUN: {reason}"
    if os.environ.get("NNCOURSE_REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}:
        pytest.fail(message + " (NNCOURSE_REQUIRE_BROWSER is set)")
    warnings.warn(message, UserWarning, stacklevel=3)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """One ``jupyter lab`` for a whole test module, isolated from the user's Jupyter set-up."""

    def __init__(self, root_dir: Path, env: dict[str, str] | None = None, startup_timeout: float = 90):
        self.root_dir = Path(root_dir).resolve()
        self.extra_env = env or {}
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="nncourse-lab-"))
        self.log_path = self.tmp / "server.log"

    # --- life cycle ------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython",
            "JUPYTER_DATA_DIR": "data",  # notebook-signing key etc.; kernelspecs still come from sys.prefix
        }
        for name, sub in dirs.items():
            (self.tmp / sub).mkdir(parents=True, exist_ok=True)
            env[name] = str(self.tmp / sub)
        env.pop("MPLBACKEND", None)  # kernels must use the inline backend, as for a learner
        env["NNCOURSE_QUICK"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return env

    def write_settings(self) -> None:
        settings = self.tmp / "settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / (plugin + ".jupyterlab-settings")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))

    def start(self) -> "LabServer":
        self.write_settings()
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
            # No requests to the internet from the server side either.
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, env=self.environment(), cwd=self.tmp,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "api/status")
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- helpers ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, method: str, path: str):
        request = urllib.request.Request(self.base_url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every session's kernel (one notebook at a time keeps memory low)."""
        for session in self.api("GET", "api/sessions") or []:
            self.api("DELETE", f"api/sessions/{session['id']}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


# --- one notebook in the browser ---------------------------------------------------------------
@dataclass
class SliderCheck:
    """Moving the first slider of one widget and what happened to its picture."""
    description: str
    value_before: str
    value_after: str
    picture_changed: bool
    detail: str = ""


@dataclass
class NotebookRun:
    notebook: str
    code_cells: int = 0
    executed_cells: int = 0
    errors: list[str] = field(default_factory=list)
    widget_views: int = 0
    widget_problems: list[str] = field(default_factory=list)
    sliders: list[SliderCheck] = field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0
    console_errors: list[str] = field(default_factory=list)
    callback_errors: list[str] = field(default_factory=list)  # tracebacks in JupyterLab's log console

    def summary(self) -> str:
        moved = ", ".join(f"{s.description}: {s.value_before}->{s.value_after} "
                          f"picture {'changed' if s.picture_changed else 'UNCHANGED'}" for s in self.sliders)
        return (f"{self.notebook}: {self.executed_cells}/{self.code_cells} code cells run in {self.seconds:.0f} s, "
                f"{len(self.errors)} error output(s), {self.widget_views} widget view(s)"
                + (f", sliders [{moved}]" if self.sliders else ", no slider")
                + (f", screenshot {self.screenshot}" if self.screenshot else ""))


# JavaScript run in the page. Each returns plain JSON.
_STATE_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const dialog = document.querySelector('.jp-Dialog');
  return {
    prompts,
    kernel: indicator ? indicator.getAttribute('data-status') : null,
    dialog: dialog ? dialog.innerText.trim().slice(0, 300) : null,
  };
}"""

_KERNEL_READY_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const name = panel && panel.querySelector('.jp-Toolbar-kernelName');
  const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!(name && indicator && !/No Kernel/i.test(name.innerText) && name.innerText.trim() &&
            indicator.getAttribute('data-status') === 'idle');
}"""

# Error outputs: JupyterLab renders an `error` output as stderr text (no class of its own), so a
# traceback is recognised by what IPython writes in it: "Traceback (most recent call last)" or the
# "Cell In[n], line m" location (also on SyntaxErrors). Plain stderr (warnings, progress bars) is fine.
_ERRORS_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const found = [];
  panel.querySelectorAll('.jp-CodeCell').forEach((cell, index) => {
    cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').forEach(out => {
      const text = out.innerText || '';
      if (/Traceback \(most recent call last\)|Cell In\[\d+\], line \d+/.test(text))
        found.push(`code cell ${index + 1}: ` + text.trim().split('\n').filter(l => l.trim()).slice(-2).join(' | ').slice(0, 500));
    });
  });
  return found;
}"""

# Widget views. ipywidgets' renderer is the only output without a data-mime-type attribute (every
# rendermime renderer sets one); a live view holds the ipywidgets DOM (`.jupyter-widgets`), a broken one
# says "Error displaying widget" / "model not found", or stays empty.
_WIDGET_VIEWS = r"""
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
  // A closed widget's view is hidden (lm-mod-hidden), e.g. a finished progress bar with leave=False:
  // nothing to render there.
  const views = outputs.filter(out => !out.classList.contains('lm-mod-hidden') &&
                                      (!out.hasAttribute('data-mime-type') || out.querySelector('.jupyter-widgets')));
  const broken = out => /Error displaying widget|model not found/i.test(out.innerText || '');
"""

_WIDGETS_JS = r"""() => {""" + _WIDGET_VIEWS + r"""
  const problems = [];
  let live = 0;
  outputs.forEach((out, i) => {
    if (broken(out)) problems.push(`output ${i + 1}: ${(out.innerText || '').trim().slice(0, 200)}`);
  });
  views.forEach(view => {
    if (view.querySelector('.jupyter-widgets') && !broken(view)) live += 1;
  });
  return {views: views.length, live, problems};
}"""

# For every widget view with a slider: tag its first slider handle and the picture it controls (the
# first <img> after the slider in the same cell's outputs: inside the widget, or the next output).
_TAG_SLIDERS_JS = r"""() => {""" + _WIDGET_VIEWS + r"""
  const tagged = [];
  views.forEach(view => {
    // The first slider a learner can use: visible (not display:none) and not disabled.
    const slider = [...view.querySelectorAll('.widget-slider')].find(s =>
      s.getClientRects().length > 0 && !s.querySelector('[disabled]'));
    if (!slider) return;
    const index = tagged.length;
    // ipywidgets 8: noUiSlider handle; ipywidgets 7: jQuery UI handle.
    const handle = slider.querySelector('.noUi-handle, .ui-slider-handle');
    if (handle) handle.setAttribute('data-nncourse-slider', index);
    const area = view.closest('.jp-OutputArea');
    const images = [...area.querySelectorAll('img')].filter(img =>
      slider.compareDocumentPosition(img) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (images.length) images[0].setAttribute('data-nncourse-picture', index);
    const label = slider.querySelector('.widget-label');
    const readout = slider.querySelector('.widget-readout');
    tagged.push({
      description: label ? label.innerText.trim() : '(no label)',
      readout: readout ? (readout.innerText || readout.value || '').trim() : '',
      handle: !!handle, picture: images.length > 0,
    });
  });
  return tagged;
}"""


def _readout(page, index: int) -> str:
    return page.evaluate(
        """(i) => { const h = document.querySelector(`[data-nncourse-slider="${i}"]`);
                    const s = h && h.closest('.widget-slider'); const r = s && s.querySelector('.widget-readout');
                    return r ? (r.innerText || r.value || '').trim() : (h ? h.getAttribute('aria-valuenow') || '' : ''); }""",
        index)


def _picture_src(page, index: int) -> str | None:
    return page.evaluate(
        """(i) => { const img = document.querySelector(`[data-nncourse-picture="${i}"]`);
                    return img ? img.getAttribute('src') : null; }""", index)


def move_sliders(page, timeout: float = 20) -> list[SliderCheck]:
    """Move the first slider of each widget by keyboard and check its picture changes."""
    checks = []
    for index, info in enumerate(page.evaluate(_TAG_SLIDERS_JS)):
        description = info["description"]
        if not info["handle"]:
            checks.append(SliderCheck(description, info["readout"], "", False, "no slider handle in the DOM"))
            continue
        if not info["picture"]:
            checks.append(SliderCheck(description, info["readout"], "", False, "no picture after the slider"))
            continue
        handle = page.locator(f'[data-nncourse-slider="{index}"]')
        try:
            handle.scroll_into_view_if_needed(timeout=10_000)
        except Exception as error:  # reported as a failed check, the other widgets still get theirs
            checks.append(SliderCheck(description, info["readout"], "", False, f"cannot reach the slider: {error}"))
            continue
        before_src, before_value = _picture_src(page, index), _readout(page, index)
        # Right arrow moves one step up; at the maximum, left moves it down.
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        key = "ArrowLeft" if at_max else "ArrowRight"
        handle.focus()
        changed, detail = False, ""
        for attempt in range(3):  # one step may round to the same picture: press again, up to 3 times
            handle.press(key)
            deadline = time.monotonic() + timeout / 3
            while not changed and time.monotonic() < deadline:
                changed = _picture_src(page, index) != before_src
                if not changed:
                    page.wait_for_timeout(100)
            if changed:
                break
        after_value = _readout(page, index)
        if not changed:
            detail = (f"picture unchanged {timeout:.0f} s after pressing {key} 3 times "
                      f"(slider value {before_value!r} -> {after_value!r})")
        checks.append(SliderCheck(description, before_value, after_value, changed, detail))
    return checks


class RunNotStarted(RuntimeError):
    """JupyterLab asked which kernel to use instead of running (the session was not ready yet)."""


def _answer_kernel_dialog(page, state) -> bool:
    """A "Select Kernel" dialog (JupyterLab asks when a run starts before the session settled):
    accept the notebook's own kernel, as a learner would. True if there was one."""
    if state and state.get("dialog") and "Select Kernel" in state["dialog"]:
        page.locator(".jp-Dialog .jp-mod-accept").click()
        return True
    return False


def _wait_for_run(page, timeout: float) -> dict:
    """Wait until Run All has started and then finished: kernel idle, no [*], stable for a moment."""
    deadline = time.monotonic() + timeout
    started = False
    stable = 0
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(_STATE_JS)
        if _answer_kernel_dialog(page, state) and not started:
            raise RunNotStarted  # the dialog swallowed Run All: the caller runs it again
        if state:
            prompts = state["prompts"]
            busy = any("*" in p for p in prompts)
            ran = sum(bool(re.search(r"\[\d+\]", p)) for p in prompts)
            started = started or busy or ran > 0
            done = started and not busy and state["kernel"] == "idle" and not state["dialog"]
            stable = stable + 1 if done else 0
            if stable >= 3:  # three polls in a row (~1.5 s): nothing queued behind
                return state
        page.wait_for_timeout(500)
    prompts = (state or {}).get("prompts", [])
    running = next((i + 1 for i, p in enumerate(prompts) if "*" in p), None)
    done = sum(bool(re.search(r"\[\d+\]", p)) for p in prompts)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    raise TimeoutError(
        f"notebook still running after {timeout:.0f} s: {done} of {len(prompts)} code cells done, "
        f"code cell {running} running; kernel {(state or {}).get('kernel')}; machine load average {load} "
        f"(raise NNCOURSE_BROWSER_TIMEOUT on a loaded machine)")


def _run_all(page, timeout: float) -> dict:
    """Run -> Run All Cells, through the menu bar like a learner, and wait for the end."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel",
                 has_text=re.compile(r"^Run All Cells$")).click()
    return _wait_for_run(page, timeout)


def run_notebook(page, server: LabServer, notebook: str, screenshot: Path | None = None,
                 timeout: float = 150, slider_timeout: float = 20) -> NotebookRun:
    """Open ``notebook`` (path relative to the server root), Run All Cells from the menu, inspect it."""
    result = NotebookRun(notebook)
    page.on("console", lambda msg: result.console_errors.append(msg.text) if msg.type == "error" else None)
    start = time.monotonic()
    workspace = re.sub(r"\W+", "-", notebook)
    page.goto(server.url(f"lab/workspaces/{workspace}/tree/{notebook}?reset"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-cell", timeout=60_000)
    # The kernel is ready when the toolbar names it and its indicator says idle (the indicator also
    # says "idle" for a moment while the toolbar still reads "No Kernel").
    page.wait_for_function(_KERNEL_READY_JS, timeout=90_000)
    result.code_cells = page.locator(".jp-NotebookPanel .jp-CodeCell").count()
    # Close the file browser (click its active side-bar tab) so the notebook gets the full width.
    current_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current_tab.count():
        current_tab.first.click()

    try:
        state = _run_all(page, timeout)
    except RunNotStarted:
        page.wait_for_function(_KERNEL_READY_JS, timeout=90_000)
        state = _run_all(page, timeout)
    result.executed_cells = sum(bool(re.search(r"\[\d+\]", p)) for p in state["prompts"])
    result.errors = page.evaluate(_ERRORS_JS)

    # Widget views render asynchronously after their models arrive: give them a moment.
    widgets = page.evaluate(_WIDGETS_JS)
    deadline = time.monotonic() + 15
    while widgets["live"] + len(widgets["problems"]) < widgets["views"] and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        widgets = page.evaluate(_WIDGETS_JS)
    result.widget_views = widgets["live"]
    result.widget_problems = widgets["problems"]
    if widgets["views"] > widgets["live"] and not widgets["problems"]:
        result.widget_problems.append(f"{widgets['views'] - widgets['live']} widget view(s) never rendered")

    outputs_before = page.locator(".jp-NotebookPanel .jp-OutputArea-output").count()
    result.sliders = move_sliders(page, timeout=slider_timeout)
    outputs_after = page.locator(".jp-NotebookPanel .jp-OutputArea-output").count()
    if outputs_after != outputs_before:  # an update must replace the picture, not add outputs
        result.widget_problems.append(
            f"moving sliders changed the number of outputs from {outputs_before} to {outputs_after}")
    result.seconds = time.monotonic() - start
    if screenshot is not None:
        result.screenshot = take_screenshot(page, screenshot)
    result.callback_errors = [entry for entry in read_log_console(page)
                              if re.search(r"Traceback|Error|Exception", entry)]
    return result


def read_log_console(page) -> list[str]:
    """Entries of the notebook's log console. Output that belongs to no cell - such as the traceback of
    an exception raised in a widget callback - goes there, and the status bar only flashes a counter;
    open the console from that counter, as a learner would, and read it."""
    item = page.locator(".jp-LogConsoleStatusItem:not(.lm-mod-hidden) [title]")
    if not item.count():
        return []
    match = re.search(r"(\d+) log entr", item.first.get_attribute("title") or "")
    if not match or int(match.group(1)) == 0:
        return []
    item.first.click()
    entries = page.locator(".jp-LogConsolePanel .jp-OutputArea-output")
    try:
        entries.first.wait_for(timeout=10_000)
    except Exception:
        return [f"{match.group(1)} log entries, but the log console did not open"]
    # A traceback ends with the line that matters ("RuntimeError: ..."): keep the end.
    return [text.strip()[-800:] for text in entries.all_inner_texts()]


def take_screenshot(page, path: Path, max_height: int = 30000) -> Path:
    """The whole notebook in one picture: scroll to the top and grow the viewport to the notebook's height."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    height = page.evaluate("""() => {
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const scroller = panel && (panel.querySelector('.jp-WindowedPanel-outer') || panel.querySelector('.jp-Notebook'));
        const cells = panel ? panel.querySelectorAll('.jp-Notebook-cell') : [];
        if (!scroller || !cells.length) return window.innerHeight;
        scroller.scrollTop = 0;
        const top = scroller.getBoundingClientRect().top;
        const bottom = cells[cells.length - 1].getBoundingClientRect().bottom;
        // page chrome above and below the notebook + every cell + a margin
        return window.innerHeight - scroller.clientHeight + (bottom - top) + 40; }""")
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), max_height))})
    page.wait_for_timeout(500)  # let JupyterLab re-layout before the picture
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
