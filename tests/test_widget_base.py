"""The widget base: quietly() changes controls without reactions, hold() redraws once, close() frees a
widget, and re-running a cell closes what its last run displayed."""
import gc
import weakref

import ipywidgets
import pytest

from nncourse.widgets import OptimizerRace, Playground, WidgetCheck
from nncourse.widgets import base as widget_base


def open_widgets():
    try:  # ipywidgets 8.1+: a module-level dict
        from ipywidgets.widgets.widget import _instances as registry
    except ImportError:  # ipywidgets 7
        registry = ipywidgets.Widget.widgets
    return set(registry)


@pytest.fixture
def no_display(monkeypatch):
    class Handle:
        def update(self, obj):
            pass

    monkeypatch.setattr(widget_base, "display", lambda obj, display_id=None: Handle() if display_id else None)


class Counter(widget_base.FigureWidget):
    """A minimal widget: one slider that refreshes, one that runs a handler; counts both."""

    def __init__(self):
        super().__init__(figsize=(2, 1), dpi=20)
        self.a, self.b = ipywidgets.IntSlider(), ipywidgets.IntSlider()
        self.controls = ipywidgets.VBox([self.a, self.b])
        self.updates, self.handled = 0, []
        self.observe(self.a)
        self.observe(self.b, handler=lambda change: self.handled.append(change["new"]))

    def update(self):
        self.updates += 1


def test_a_control_changed_inside_quietly_triggers_no_refresh_and_no_handler():
    w = Counter()
    with w.quietly():
        assert w.quiet
        w.a.value, w.b.value = 3, 4
    assert (w.updates, w.handled, w.quiet) == (0, [], False)
    w.a.value, w.b.value = 5, 6  # afterwards the widget reacts again
    assert (w.updates, w.handled) == (1, [6])


def test_quietly_inside_update_prevents_a_second_refresh():
    class FitsItsSlider(Counter):
        def update(self):
            self.updates += 1
            with self.quietly():
                self.a.max = 10 + self.updates   # changing the range inside update(): no nested refresh
                self.a.value = self.a.max

    w = FitsItsSlider()
    w.refresh()
    assert w.updates == 1 and w.a.value == 11


def test_quietly_nests_and_restores_even_when_the_block_raises():
    w = Counter()
    with w.quietly():
        with w.quietly():
            w.a.value = 1
        w.a.value = 2  # still inside the outer block: still quiet
        assert w.quiet
    assert not w.quiet and w.updates == 0
    with pytest.raises(RuntimeError, match="boom"):
        with w.quietly():
            raise RuntimeError("boom")
    assert not w.quiet
    w.a.value = 3
    assert w.updates == 1


def test_hold_redraws_once_and_quietly_inside_hold_or_hold_inside_quietly_compose():
    w = Counter()
    with w.hold():
        w.a.value = 1
        w.a.value = 2
    assert w.updates == 1
    with w.hold(), w.quietly():  # show values quietly, draw once at the end
        w.a.value, w.b.value = 3, 4
    assert (w.updates, w.handled) == (2, [])
    with w.quietly(), w.hold():  # nothing inside quietly() refreshes, not even hold's final redraw
        w.a.value = 5
    assert w.updates == 2
    with pytest.raises(ValueError):
        with w.hold():
            raise ValueError
    w.a.value = 6
    assert w.updates == 3  # hold is released after an exception: changes refresh again


def test_the_encoded_picture_is_the_rendered_figure():
    import io

    import numpy as np
    from PIL import Image

    w = WidgetCheck()
    rgba = w.render().copy()
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(w.to_png()))), rgba[..., :3])
    assert w.encode()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_closed_widget_runs_no_handler():
    w = Counter()
    w.close()
    w.b.value = 1
    assert w.handled == []


@pytest.mark.parametrize("make", [WidgetCheck, OptimizerRace, Playground], ids=lambda c: c.__name__)
def test_close_removes_every_control_from_the_registry_and_frees_the_widget(make):
    before = open_widgets()
    w = make()
    created = open_widgets() - before
    assert created, "a widget with controls registers them"
    w.close()
    assert not (open_widgets() & created), "close() must close every control it created"
    assert w.closed and not w.fig.axes
    w.close()  # twice is fine
    ref = weakref.ref(w)
    del w
    gc.collect()
    assert ref() is None, "nothing (registry, observers) keeps a closed widget alive"


def test_a_closed_widget_ignores_changes_and_refuses_to_display():
    w = WidgetCheck()
    w.close()
    n = len(w.update_seconds)
    w.frequency.value = 2.5  # the control object still exists in Python; nothing redraws
    assert len(w.update_seconds) == n
    with pytest.raises(RuntimeError, match="was closed .* create a new one"):
        w._ipython_display_()


def test_rerunning_a_cell_closes_the_widget_its_last_run_displayed(monkeypatch, no_display):
    run = {"cell": "cell-a", "msg": "run-1"}
    monkeypatch.setattr(widget_base, "_current_cell", lambda: (run["cell"], run["msg"]))
    first, second = WidgetCheck().show(), WidgetCheck().show()  # two widgets from one run of cell-a
    run["cell"] = "cell-b"
    elsewhere = WidgetCheck().show()
    run.update(cell="cell-a", msg="run-2")  # cell-a runs again
    again = WidgetCheck().show()
    assert first.closed and second.closed
    assert not again.closed and not elsewhere.closed
    again.show()  # the same object shown again from the same run stays open
    assert not again.closed
    run["msg"] = "run-3"
    again.show()  # re-displaying the same object from a new run keeps it open too
    assert not again.closed


def test_without_a_cell_id_nothing_is_closed_automatically(monkeypatch, no_display):
    monkeypatch.setattr(widget_base, "_current_cell", lambda: (None, None))
    first = WidgetCheck().show()
    WidgetCheck().show()
    assert not first.closed


def test_current_cell_outside_a_kernel_is_unknown():
    assert widget_base._current_cell() == (None, None)


def test_in_a_real_kernel_rerunning_the_cell_closes_the_old_widget():
    """JupyterLab sends the cell's id with each execute request; ipykernel exposes it to the widget."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code, cell_id):
            msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                     "user_expressions": {}, "allow_stdin": False,
                                                     "stop_on_error": True}, metadata={"cellId": cell_id})
            kc.shell_channel.send(msg)
            reply = kc.get_shell_msg(timeout=60)
            while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                reply = kc.get_shell_msg(timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]

        run("from nncourse.widgets import WidgetCheck\nshown = []", "setup")
        for _ in range(2):  # the same cell, run twice
            run("w = WidgetCheck(); shown.append(w); w.show()", "widget-cell")
        run("assert shown[0].closed and not shown[1].closed, [x.closed for x in shown]", "check")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


class TwoImages(widget_base.FigureWidget):
    """A static image (repainted in place) beside an animated one."""

    def __init__(self):
        super().__init__(figsize=(4, 2))
        import numpy as np

        self.rng = np.random.default_rng(0)
        left, right = self.fig.subplots(1, 2)
        left.set_axis_off()  # nothing drawn over the static image (see FigureWidget.repaint)
        self.static = left.imshow(self.rng.random((6, 6)), vmin=0, vmax=1)
        self.moving = right.imshow(self.rng.random((6, 6)), vmin=0, vmax=1)
        self.animate(self.moving)

    def update(self):
        pass


def test_repaint_gives_the_picture_of_a_full_redraw():
    import numpy as np

    w = TwoImages()
    w.render()  # the cached background holds the first static image
    w.static.set_data(w.rng.random((6, 6)))
    w.repaint(w.static)
    repainted = w.render().copy()
    w.invalidate()
    np.testing.assert_array_equal(repainted, w.render())
    # without the repaint the cache would have shown the old image: the test can tell them apart
    w.static.set_data(w.rng.random((6, 6)))
    stale = w.render().copy()
    w.invalidate()
    assert not np.array_equal(stale, w.render())


def test_png_bytes_decodes_to_the_pixels_and_stays_small():
    import io

    import numpy as np
    from PIL import Image

    from nncourse.widgets.base import png_bytes

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)  # odd sizes, every byte value
    picture = Image.open(io.BytesIO(png_bytes(rgba)))
    assert picture.mode == "RGB" and picture.size == (53, 37)
    np.testing.assert_array_equal(np.asarray(picture), rgba[..., :3])
    # a real figure: about the size PIL's own encoder makes (its five-filter search buys nothing here)
    w = WidgetCheck()
    pixels = w.render()
    ours, pil = io.BytesIO(png_bytes(pixels)), io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels[..., :3])).save(pil, format="png", compress_level=1)
    assert len(ours.getvalue()) < 1.2 * len(pil.getvalue())
