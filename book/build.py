"""Build the course website: every notebook, executed in quick mode, as a Jupyter Book.

    pip install -e ".[site]" && python book/build.py        # -> artifacts/book/_build/html/index.html

1. **Executed notebooks.** The test suite's nbval pass (``pytest``) leaves an executed copy of each
   notebook in ``artifacts/executed/`` (the root ``conftest.py``), stamped with the SHA-256 of the
   notebook it ran. A copy that is missing or stale (the notebook changed since) is executed here,
   in quick mode, with ``nbclient`` - so the command also works on its own, without the tests.
2. **Book sources** (``artifacts/book/src/``, generated, never edited by hand): the README as the
   landing page, the executed notebooks, and ``_config.yml`` / ``_toc.yml`` made from
   ``nncourse.config`` (the four parts, the one repository URL for the Binder / Colab / download
   buttons). Each widget's live controls, which a static page cannot run, become a short note
   ("run it to interact") followed by the widget's status line (read from the saved widget
   state); the PNG under them - the picture the widget showed, which the widget base leaves in
   the output - stays, and a standalone HTML widget (a box of sampled text) shows its saved HTML.
   Progress bars (tqdm's widgets) are dropped: the line printed after them says how training
   went. Links to files of the repository that are not pages point to GitHub, and remote badge
   images become small badge-styled links (the site must show no image it cannot serve itself).
   A line beside the Colab badge says the outputs come from quick mode, and the Colab set-up
   cell, the same in every notebook, is folded.
3. **Jupyter Book** (version 1, Sphinx; see the README for why not the MyST-based version 2)
   builds the HTML with Sphinx's warnings as errors, so a missing reference or image fails the build.
   Library warnings a notebook writes to stderr are left out of the pages (they are noise on a
   static page, and name the build machine's paths); long output lines wrap (book/static/nncourse.css).
   The site's own files go in ``_assets/`` of the book sources, not ``_static/``: Jupyter Book adds
   a <script> tag for every .js file under ``_static/``, which would load all of MathJax's ~50
   component files on every page.

``tests/site_check.py`` then opens the built site in Chromium (``.ci/run`` runs both).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import copy
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nncourse import config  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "artifacts" / "executed"
OUT = ROOT / "artifacts" / "book"
STATIC = Path(__file__).resolve().parent / "static"
# The book sources' folder for STATIC and MathJax (served as _static/ all the same). Not "_static":
# Jupyter Book would add a <script> tag for every .js file under a source folder of that name.
ASSETS = "_assets"
# MathJax, served by the site itself (no CDN: the pages render their math offline, and the browser
# check can see a TeX error). From the npm registry, once, into artifacts/npm/.
MATHJAX = "mathjax@3.2.2"
NPM_PREFIX = ROOT / "artifacts" / "npm"
MATHJAX_PARTS = ["tex-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = ('<p class="nncourse-widget-note">&#9654; <b>Interactive widget</b>: its controls work only '
               'in a running notebook; below is what it showed when this page was built. Run the '
               'notebook (the launch button at the top of the page: Binder or Colab) to interact.</p>')
# Beside the Colab badge at the top of each notebook page: what run the outputs come from
QUICK_NOTE = ('<span class="nncourse-quick-note">The outputs on this page come from a quick-mode run (small '
              'bundled data, a few epochs, on a CPU); full mode trains on the real datasets, and its numbers '
              'differ.</span>')
SETUP_CELL = '"google.colab" in sys.modules'  # the Colab set-up cell: folded on the site (one click shows it)
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}
TQDM_TEXT = re.compile(r"\d+%\|")  # a progress bar's text: "training:  40%|####      | 72/180 ..."
TEXT_MODELS = {"HTMLModel": True, "HTMLMathModel": True, "LabelModel": False}  # model -> value is HTML
# Printed text wraps on the site (nncourse.css), except a cell's whose printout has columns (3 lines
# or more with a run of spaces between words): the site marks it with this tag, and it scrolls instead
COLUMNS_TAG = "nncourse-columns"
COLUMN_GAP = re.compile(r"\S {2,}\S")
# [![alt](image)](target) with a remote image, and any other Markdown link or image
REMOTE_BADGE = re.compile(r"\[!\[([^\]]*)\]\((https?://[^)\s]+)\)\]\(([^)\s]+)\)")
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def source_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def executed_copy_is_current(name: str) -> bool:
    """True when ``artifacts/executed/<name>.ipynb`` was executed from today's ``notebooks/<name>.ipynb``."""
    executed = EXECUTED / f"{name}.ipynb"
    if not executed.exists():
        return False
    stamp = json.loads(executed.read_text(encoding="utf-8")).get("metadata", {}).get("nncourse", {})
    return stamp.get("executed_from_sha256") == source_sha256(NOTEBOOKS / f"{name}.ipynb")


def execute(name: str, timeout: int = 900) -> float:
    """Execute one notebook in quick mode with nbclient into ``artifacts/executed/``; return seconds."""
    import nbclient
    import nbformat

    start = time.perf_counter()
    source = NOTEBOOKS / f"{name}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    os.environ["NNCOURSE_QUICK"] = "1"
    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    notebook.metadata["nncourse"] = {"executed_from_sha256": source_sha256(source),
                                     "executed_by": "book/build.py (nbclient, quick mode)"}
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, EXECUTED / f"{name}.ipynb")
    return time.perf_counter() - start


def github_url(path: str) -> str:
    """The GitHub address of a file of the repository (``path`` relative to the repository root)."""
    return f"{config.REPO_URL}/blob/{config.REPO_BRANCH}/{path}"


def rewrite_links(markdown: str, page_dir: str, pages: set[str]) -> str:
    """Links for the site: pages stay relative, other repository files go to GitHub, and remote
    badge images become plain links. ``page_dir`` is the page's folder relative to the repository
    root; ``pages`` the repository paths that are pages of the book."""
    markdown = REMOTE_BADGE.sub(lambda m: f'<a class="nncourse-badge" href="{html.escape(m.group(3))}">'
                                          f'{html.escape(m.group(1))}</a>', markdown)

    def link(match: re.Match) -> str:
        bang, text, target = match.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target, re.IGNORECASE):
            return match.group(0)  # an address (https:, mailto:) or an anchor on this page
        path, _, anchor = target.partition("#")
        repo_path = os.path.normpath(os.path.join(page_dir, path)).replace(os.sep, "/")
        if repo_path in pages:
            return match.group(0)
        if bang:
            raise ValueError(f"{page_dir or '.'}: image {target!r} is not a page and would not be served; "
                             "use an image in an output or a remote image")
        url = github_url(repo_path) + (f"#{anchor}" if anchor else "")
        return f"[{text}]({url})"

    return LINK.sub(link, markdown)


def _html_output(text_html: str, text_plain: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": text_html, "text/plain": text_plain}}


def _model(state: dict, ref: str) -> dict:
    """The saved model a view or a child reference (``IPY_MODEL_<id>``) names; {} if it was not saved."""
    return state.get(ref.removeprefix("IPY_MODEL_"), {})


def _text_of(model: dict) -> str:
    """The HTML a text widget (HTML, HTMLMath, Label) shows; '' for any other model."""
    name, value = model.get("model_name"), model.get("state", {}).get("value")
    if name not in TEXT_MODELS or not isinstance(value, str) or not value.strip():
        return ""
    return value if TEXT_MODELS[name] else html.escape(value)


def is_progress_bar(view: dict, state: dict) -> bool:
    """A tqdm progress bar: a box with a progress child (or, without a saved state, its text)."""
    model = _model(state, view["data"][WIDGET_VIEW]["model_id"])
    if model:
        children = model.get("state", {}).get("children", [])
        return any(_model(state, child).get("model_name") in PROGRESS_MODELS for child in children)
    return bool(TQDM_TEXT.search("".join(view["data"].get("text/plain", ""))))


def widget_outputs(view: dict, state: dict, noted: bool) -> list[dict]:
    """What the site shows for one widget view: the note (unless the cell has one already), then the
    text the widget showed - the status lines of a box of controls, or a text widget's own HTML."""
    model = _model(state, view["data"][WIDGET_VIEW]["model_id"])
    text = _text_of(model)
    if text:  # a text widget on its own (e.g. the sampled text under a sampling widget)
        return [_html_output(f'<div class="nncourse-widget-text">{text}</div>', "[text of an interactive widget]")]
    outputs = [] if noted else [_html_output(WIDGET_NOTE, "[interactive widget: run the notebook]")]
    lines = [_text_of(_model(state, child)) for child in model.get("state", {}).get("children", [])]
    if any(lines):
        status = "".join(f'<div class="nncourse-widget-status">{line}</div>' for line in lines if line)
        outputs.append(_html_output(status, "[status of an interactive widget]"))
    return outputs


def has_columns(text: str) -> bool:
    """True for a printout laid out in columns (a table), which wrapping its lines would scramble."""
    return sum(1 for line in text.splitlines() if COLUMN_GAP.search(line.strip())) >= 3


def for_the_site(notebook: dict, pages: set[str]) -> dict:
    """A copy of an executed notebook as the site shows it (see the module docstring, step 2)."""
    notebook = copy.deepcopy(notebook)
    state = notebook["metadata"].pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    quick_noted = False
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            cell["source"] = rewrite_links(source, "notebooks", pages)
            if not quick_noted:  # after the first badge (the title cell's Colab badge), else at the cell's end
                badge_end = cell["source"].find("</a>", cell["source"].find('class="nncourse-badge"'))
                at = badge_end + len("</a>") if 'class="nncourse-badge"' in cell["source"] else len(cell["source"])
                cell["source"] = cell["source"][:at] + (" " if at < len(cell["source"]) else "\n\n") + QUICK_NOTE \
                    + cell["source"][at:]
                quick_noted = True
        if cell["cell_type"] != "code":
            continue
        if SETUP_CELL in source:
            cell.setdefault("metadata", {}).setdefault("tags", []).append("hide-input")
        outputs, noted = [], False
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            data.pop(WIDGET_STATE, None)
            if WIDGET_VIEW in data:
                if not is_progress_bar(output, state):
                    shown = widget_outputs(output, state, noted)
                    noted = noted or any(WIDGET_NOTE in o["data"]["text/html"] for o in shown)  # one note per cell
                    outputs += shown
                continue
            outputs.append(output)
        cell["outputs"] = outputs
        printed = ["".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                   for o in outputs if o.get("output_type") == "stream"]
        if any(has_columns(text) for text in printed):
            cell.setdefault("metadata", {}).setdefault("tags", []).append(COLUMNS_TAG)
    return notebook


def mathjax_folder() -> Path | None:
    """MathJax's ``es5`` folder, installed with npm on first use; None (with a message) without npm."""
    folder = NPM_PREFIX / "node_modules" / "mathjax" / "es5"
    if not (folder / "tex-chtml.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            print("WARNING: npm not found - the pages will load MathJax from a CDN (math needs the internet)",
                  file=sys.stderr)
            return None
        subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX), MATHJAX],
                       check=True)
    return folder


def book_config(local_mathjax: bool = True) -> dict:
    org_repo = config.REPO_URL.removeprefix("https://github.com/")
    return {
        "title": "nncourse",  # the sidebar's heading and every tab's suffix; the landing page gives the full name
        "author": "the nncourse contributors",
        "copyright": "the nncourse contributors",  # not shown (html_show_copyright): the footer names the licence
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},  # executed in step 1
        "repository": {"url": config.REPO_URL, "branch": config.REPO_BRANCH, "path_to_book": ""},
        "launch_buttons": {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org",
                           "colab_url": "https://colab.research.google.com"},
        "html": {"favicon": f"{ASSETS}/favicon.svg", "use_repository_button": True, "use_issues_button": False,
                 "use_edit_page_button": False, "home_page_in_navbar": True,
                 "extra_footer": f"MIT licence &middot; source: <a href=\"{config.REPO_URL}\">{org_repo}</a>"},
        "parse": {"myst_enable_extensions": ["dollarmath", "amsmath", "colon_fence"]},
        "sphinx": {"recursive_update": True,  # merge these into Jupyter Book's own settings
                   "config": {"myst_heading_anchors": 3, "html_static_path": [ASSETS],
                              "html_css_files": ["nncourse.css"], "nb_merge_streams": True,
                              "html_show_copyright": False,
                              # $$...$$ inside a paragraph (no blank line before it) is display math, as
                              # in JupyterLab; without this the dollars are left on the page as text
                              "myst_dmath_double_inline": True,
                              # library warnings on stderr (a deprecation, a missing optional package)
                              # are noise on a static page; the notebooks' own messages go to stdout
                              "nb_output_stderr": "remove",
                              # \text{fan\_in}: TeX escapes inside \text, as JupyterLab renders them
                              "mathjax3_config": {"loader": {"load": ["[tex]/textmacros"]},
                                                  "tex": {"packages": {"[+]": ["textmacros"]}}},
                              "html_context": {"default_mode": "light"},  # the theme's template variable
                              **({"mathjax_path": "mathjax/tex-chtml.js"} if local_mathjax else {})}},
    }


def book_toc() -> dict:
    return {"format": "jb-book", "root": "index",
            "parts": [{"caption": part, "chapters": [{"file": f"notebooks/{name}"} for name in names]}
                      for part, names in config.PARTS.items()]}


def write_sources(src: Path) -> None:
    import yaml

    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    pages = {f"notebooks/{name}.ipynb" for name in config.NOTEBOOKS} | {"README.md"}
    (src / "index.md").write_text(rewrite_links((ROOT / "README.md").read_text(encoding="utf-8"), "", pages),
                                  encoding="utf-8")
    for name in config.NOTEBOOKS:
        executed = json.loads((EXECUTED / f"{name}.ipynb").read_text(encoding="utf-8"))
        (src / "notebooks" / f"{name}.ipynb").write_text(json.dumps(for_the_site(executed, pages), indent=1),
                                                         encoding="utf-8")
    shutil.copytree(STATIC, src / ASSETS)
    mathjax = mathjax_folder()
    if mathjax is not None:
        (src / ASSETS / "mathjax").mkdir()
        for part in MATHJAX_PARTS:
            copy_part = shutil.copytree if (mathjax / part).is_dir() else shutil.copy2
            copy_part(mathjax / part, src / ASSETS / "mathjax" / part)
    book = book_config(local_mathjax=mathjax is not None)
    (src / "_config.yml").write_text(yaml.safe_dump(book, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (src / "_toc.yml").write_text(yaml.safe_dump(book_toc(), sort_keys=False, allow_unicode=True),
                                  encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once in step 1 (default 2)")
    parser.add_argument("--no-execute", action="store_true",
                        help="fail instead of executing a notebook whose executed copy is missing or stale "
                             "(CI: the test run has just executed them all)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    stale = [name for name in config.NOTEBOOKS if not executed_copy_is_current(name)]
    print(f"executed notebooks: {len(config.NOTEBOOKS) - len(stale)} current, "
          f"{len(stale)} to execute{': ' + ', '.join(stale) if stale else ''}", flush=True)
    if stale and args.no_execute:
        print(f"--no-execute: no current executed copy of {', '.join(stale)} in {EXECUTED}; run the tests "
              "(pytest) or build without --no-execute", file=sys.stderr)
        return 2
    if stale:
        os.environ["NNCOURSE_QUICK"] = "1"
        # as the test suite does (conftest.py): each kernel gets its share of the cores, and idle
        # OpenMP threads sleep instead of spinning, or parallel kernels slow each other down many times
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, str(max(1, (os.cpu_count() or 1) // max(1, args.jobs))))
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for name, seconds in zip(stale, pool.map(execute, stale)):
                print(f"  executed {name} in {seconds:.0f} s", flush=True)

    src = args.out / "src"
    write_sources(src)
    jupyter_book = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]  # no `-m` entry point
    build = subprocess.run(jupyter_book + ["build", str(src), "--path-output", str(args.out),
                                           "--warningiserror", "--nitpick", "--keep-going", "--quiet"], cwd=ROOT)
    html = args.out / "_build" / "html"
    if build.returncode != 0:
        print(f"jupyter-book build failed (exit {build.returncode}); see the warnings above", file=sys.stderr)
        return build.returncode
    pages = sorted(html.glob("**/*.html"))
    images = sorted(p for p in html.glob("**/*") if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".svg", ".gif"}
                    and "_static" not in p.parts)
    report = {"seconds": round(time.perf_counter() - start, 1), "html_pages": len(pages),
              "course_pages": 1 + len(config.NOTEBOOKS), "images": len(images),
              "executed_here": stale, "index": str(html / "index.html")}
    (args.out / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"built {report['course_pages']} course pages ({len(pages)} HTML files with the search and index "
          f"pages), {len(images)} images, in {report['seconds']} s: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
