"""Sampling widget (notebooks 07 and 08): how temperature and top-k turn a language model's
next-character probabilities into text.

The picture: the model's distribution over the next character after the prompt, for the 24
most likely characters, as the sampler sees it - after dividing the logits by the temperature
and zeroing everything outside the top k (grey ghost bars: the untouched temperature-1
distribution). Under it, as text the browser lays out: prompt + a sampled continuation. The
same seed drives the same random numbers, so moving only the temperature shows how the *same*
dice rolls give bolder or more timid text. Works with any model that :func:`nncourse.text.generate` accepts (the LSTM of
notebook 07, the GPT of notebook 08).
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from ..plotting import CLASS_COLORS
from ..text import CharVocab, context_limit, generate, next_char_probs
from .base import FigureWidget

SHOWN = 24          # bars in the probability chart


def char_label(char: str) -> str:
    """A visible label for a character: '␣' for a space, '\\n' for a newline, ..."""
    return {" ": "␣", "\n": "\\n", "\t": "\\t", "$": r"\$"}.get(char, char)


class SamplingWidget(FigureWidget):
    """Prompt box, temperature and top-k sliders, length, seed and *New sample* button.

    ``model``: a torch module mapping ids (B, T) int64 -> logits (B, T, V) with
    V = ``vocab.size``. The current sample is ``self.sample`` (prompt included); the sampling
    distribution shown in the chart is ``self.probs`` (V,).
    """

    def __init__(self, model, vocab: CharVocab, *, prompt: str = "The ", length: int = 200,
                 temperature: float = 0.8, top_k: int = 0, seed: int = 0, device=None):
        super().__init__(figsize=(9.5, 2.9))
        if not isinstance(vocab, CharVocab):
            raise TypeError(f"vocab must be a nncourse.text.CharVocab, got {type(vocab).__name__}")
        self.model, self.vocab, self.device = model, vocab, device
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
        vocab.encode(prompt)  # a bad initial prompt is the caller's bug: raise, naming the characters
        self.prompt = widgets.Text(value=prompt, description="prompt", continuous_update=False,
                                   layout=widgets.Layout(width="420px"))
        # continuous_update=False: sampling takes a fraction of a second, so resample on release
        label = {"description_width": "95px"}  # wide enough for "temperature" (the default 80px cut it short)
        self.temperature = widgets.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.05,
                                               description="temperature", continuous_update=False, style=label)
        self.top_k = widgets.IntSlider(value=top_k, min=0, max=vocab.size, description="top-k",
                                       continuous_update=False, style=label)
        self.length = widgets.IntSlider(value=length, min=10, max=600, step=10, description="length",
                                        continuous_update=False, style=label)
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.new_button = widgets.Button(description="New sample", tooltip="next seed")
        self.new_button.on_click(lambda _: self.resample())
        self.controls = widgets.VBox([
            widgets.HBox([self.prompt, self.seed, self.new_button]),
            widgets.HBox([self.temperature, self.top_k, self.length]),
            self.status,
        ])
        self.observe(self.prompt, self.temperature, self.top_k, self.length, self.seed)

        # The sample is text: an HTML box under the picture, laid out by the browser (drawing 300
        # characters of text into the figure cost more than sampling them).
        self.sample_box = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.below = self.sample_box
        self.ax = self.fig.add_subplot()
        positions = np.arange(SHOWN)
        self.ghost = self.ax.bar(positions, np.zeros(SHOWN), width=0.8, color="0.85", label="temperature 1")
        self.bars = self.ax.bar(positions, np.zeros(SHOWN), width=0.55, color=CLASS_COLORS[0],
                                label="sampled from")
        self.ax.set_xticks(positions)
        self.ax.set_ylim(0, 1)
        self.ax.set_ylabel("probability")
        self.ax.legend(loc="upper right", fontsize=8, frameon=False)
        self.ax.set_title(" ", fontsize=10)
        self.fig.tight_layout()
        self.animate(*self.bars, self.ax.title)
        self._prompt_cache: tuple[str, np.ndarray] | None = None  # (prompt, logits after it (V,))
        self._static_prompt = None  # the prompt the tick labels and ghost bars show
        self.sample = ""
        self.probs = np.zeros(vocab.size)
        self.update()

    # --- model calls -----------------------------------------------------------------------
    def _check_prompt(self, prompt: str) -> str | None:
        """None if the prompt is usable, else a message (raised in __init__, shown as status later)."""
        if not prompt:
            return "Type at least one character."
        unknown = sorted({c for c in prompt if c not in self.vocab})
        if unknown:
            return (f"Not in this model's vocabulary: {', '.join(repr(c) for c in unknown[:8])}. "
                    "Use characters from the training text.")
        return None

    def _logits_after(self, prompt: str) -> np.ndarray:
        """The model's next-character logits (V,) after ``prompt`` (cached per prompt)."""
        import torch

        if self._prompt_cache is None or self._prompt_cache[0] != prompt:
            ids = self.vocab.encode(prompt)
            limit = context_limit(self.model)
            if limit is not None:
                ids = ids[-limit:]
            device = self.device or next(self.model.parameters()).device
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                logits = self.model(torch.as_tensor(ids[None], device=device))  # (1, T, V)
            self.model.train(was_training)
            self._prompt_cache = (prompt, logits[0, -1].float().cpu().numpy())
        return self._prompt_cache[1]

    def resample(self) -> None:
        """Draw a new sample with the next seed."""
        self.seed.value = self.seed.value + 1  # observed: refreshes

    # --- drawing ---------------------------------------------------------------------------
    def update(self) -> None:
        import torch

        prompt = self.prompt.value
        problem = self._check_prompt(prompt)
        if problem:
            self.status.value = f"<b>{html.escape(problem)}</b>"
            return
        top_k = self.top_k.value or None
        temperature = self.temperature.value
        logits = self._logits_after(prompt)
        order = np.argsort(-logits, kind="stable")[:SHOWN]  # temperature never changes the order
        base = next_char_probs(torch.from_numpy(logits), 1.0).numpy()
        self.probs = next_char_probs(torch.from_numpy(logits), temperature, top_k).numpy()
        labels = [char_label(self.vocab.chars[i]) for i in order] + [""] * (SHOWN - len(order))
        if prompt != self._static_prompt:
            self._static_prompt = prompt
            self.ax.set_xticklabels(labels, family="monospace")
            for rect, p in zip(self.ghost, _padded(base[order])):
                rect.set_height(p)
            self.invalidate()  # tick labels and ghost bars are part of the static background
        for rect, p in zip(self.bars, _padded(self.probs[order])):
            rect.set_height(p)
        kept = int(np.count_nonzero(self.probs))
        self.ax.set_title(f"next character after {prompt[-20:]!r}: temperature {temperature:g}, "
                          f"top-k {top_k or 'off'} → {kept} of {self.vocab.size} characters possible",
                          fontsize=10)

        self.sample = generate(self.model, self.vocab, prompt, self.length.value, temperature=temperature,
                               top_k=top_k, seed=self.seed.value, device=self.device)
        self.sample_box.value = (
            f"<div style='font-size: 13px'><b>prompt + {self.length.value} sampled characters "
            f"(seed {self.seed.value})</b></div><pre style='white-space: pre-wrap; margin: 2px 0; font-size: 12px; "
            f"line-height: 1.3; max-height: 22em; overflow-y: auto'><b>{html.escape(prompt)}</b>"
            f"{html.escape(self.sample[len(prompt):])}</pre>")
        self.status.value = (f"Sampled {self.length.value} characters at temperature {temperature:g}, "
                             f"top-k {top_k or 'off'}, seed {self.seed.value}.")


def _padded(values: np.ndarray) -> np.ndarray:
    """Bar heights for all SHOWN bars (zeros past the end of a vocabulary smaller than SHOWN)."""
    return np.pad(values, (0, SHOWN - len(values)))
