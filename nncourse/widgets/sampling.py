"""Sampling widget (notebooks 07 and 08): how temperature and top-k turn a language model's
next-character probabilities into text.

The picture: the model's distribution over the next character after the prompt, for the 24
most likely characters, as the sampler sees it - after dividing the logits by the temperature
and zeroing everything outside the top k (grey ghost bars: the untouched temperature-1
distribution). Under it, as text the browser lays out: prompt + a sampled continuation. The
same seed drives the same random numbers, so moving only the temperature shows how the *same*
dice rolls give bolder or more timid text. Works with any model that :func:`nncourse.text.generate` accepts (the LSTM of
notebook 07, the GPT of notebook 08).

A :class:`nncourse.at_scale.rnn.CharLSTM` is sampled by a NumPy copy of its one-step update
(:class:`LSTMStepper`), several times faster than a torch call per character, so the text follows
a slider within a refresh. Its text is a sample of the same distribution as
:func:`~nncourse.text.generate`'s, drawn with NumPy's random numbers instead of torch's: the same
seed gives the same text in the widget, but not the same text as ``generate``. Other models are
sampled by ``generate`` itself.
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
        self.ax.set_title(" ", fontsize=10)  # the prompt's; the numbers that change are in the status line
        self.fig.tight_layout()
        self.animate(*self.bars)
        self.stepper = LSTMStepper(model) if LSTMStepper.handles(model) else None
        # (prompt, weights version, logits after it (V,), LSTM state after it (h, c) or None)
        self._prompt_cache: tuple | None = None
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

    def _read_prompt(self, prompt: str) -> tuple:
        """The model's next-character logits (V,) after ``prompt`` and, for an LSTM, its state
        (h, c), each (layers, hidden_size) float32; cached per prompt and weights version."""
        import torch

        version = weights_version(self.model)
        if self._prompt_cache is None or self._prompt_cache[:2] != (prompt, version):
            ids = self.vocab.encode(prompt)
            limit = context_limit(self.model)
            if limit is not None:
                ids = ids[-limit:]
            device = self.device or next(self.model.parameters()).device
            x = torch.as_tensor(ids[None], device=device)  # (1, T)
            was_training = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    if self.stepper is not None:
                        logits, (h, c) = self.model(x, return_state=True)  # (1, T, V), 2 x (L, 1, H)
                        state = tuple(s[:, 0].float().cpu().numpy() for s in (h, c))  # 2 x (L, H)
                    else:
                        logits, state = self.model(x), None
            finally:
                self.model.train(was_training)
            self._prompt_cache = (prompt, version, logits[0, -1].float().cpu().numpy(), state)
        return self._prompt_cache[2], self._prompt_cache[3]

    def _logits_after(self, prompt: str) -> np.ndarray:
        """The model's next-character logits (V,) after ``prompt``."""
        return self._read_prompt(prompt)[0]

    def _generate(self, prompt: str, length: int, temperature: float, top_k: int | None, seed: int) -> str:
        """prompt + ``length`` sampled characters: NumPy steps for an LSTM, else :func:`generate`."""
        if self.stepper is None:
            return generate(self.model, self.vocab, prompt, length, temperature=temperature,
                            top_k=top_k, seed=seed, device=self.device)
        logits, state = self._read_prompt(prompt)
        self.stepper.sync()
        h, c = (s.copy() for s in state)  # stepped in place; the cached state stays the prompt's
        uniforms = np.random.default_rng(seed).random(length)  # one dice roll per character
        ids = self.vocab.encode(prompt).tolist()
        for step in range(length):
            next_id = draw(sampling_probs(logits, temperature, top_k), uniforms[step])
            ids.append(next_id)
            if step < length - 1:
                logits = self.stepper.step(next_id, h, c)
        return self.vocab.decode(np.array(ids, dtype=np.int64))

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
            self.ax.set_title(f"next character after {prompt[-20:]!r}", fontsize=10)
            for rect, p in zip(self.ghost, _padded(base[order])):
                rect.set_height(p)
            self.invalidate()  # tick labels and ghost bars are part of the static background
        for rect, p in zip(self.bars, _padded(self.probs[order])):
            rect.set_height(p)
        kept = int(np.count_nonzero(self.probs))

        self.sample = self._generate(prompt, self.length.value, temperature, top_k, self.seed.value)
        self.sample_box.value = (
            f"<div style='font-size: 13px'><b>prompt + {self.length.value} sampled characters "
            f"(seed {self.seed.value})</b></div><pre style='white-space: pre-wrap; margin: 2px 0; font-size: 12px; "
            f"line-height: 1.3; max-height: 22em; overflow-y: auto'><b>{html.escape(prompt)}</b>"
            f"{html.escape(self.sample[len(prompt):])}</pre>")
        # in the status line, not the title: the browser lays out this text, where a title redrawn
        # on every change would be a fifth of the update
        self.status.value = (f"<b>Temperature {temperature:g}, top-k {top_k or 'off'} → {kept} of "
                             f"{self.vocab.size} characters possible</b>. Sampled {self.length.value} "
                             f"characters, seed {self.seed.value}.")


def _padded(values: np.ndarray) -> np.ndarray:
    """Bar heights for all SHOWN bars (zeros past the end of a vocabulary smaller than SHOWN)."""
    return np.pad(values, (0, SHOWN - len(values)))


def weights_version(model) -> tuple:
    """Changes whenever a parameter of ``model`` is replaced or changed in place (an optimizer
    step or ``load_state_dict`` bumps each tensor's version counter). Writes through ``p.data``
    bypass the counter and go unnoticed: recreate the widget after them."""
    return tuple((id(p), p.data_ptr(), p._version) for p in model.parameters())


def sampling_probs(logits: np.ndarray, temperature: float, top_k: int | None) -> np.ndarray:
    """NumPy :func:`nncourse.text.next_char_probs` for one step: logits (V,) -> probabilities (V,)
    float64; temperature 0 is greedy, exactly ``top_k`` characters keep probability."""
    if temperature == 0:
        probs = np.zeros(len(logits))
        probs[np.argmax(logits)] = 1.0
        return probs
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < len(logits):
        keep = np.argpartition(-scaled, top_k - 1)[:top_k]  # exactly k, even with ties
        weights = np.zeros_like(scaled)
        weights[keep] = np.exp(scaled[keep] - scaled[keep].max())
    else:
        weights = np.exp(scaled - scaled.max())
    return weights / weights.sum()


def draw(probs: np.ndarray, uniform: float) -> int:
    """The index drawn with probabilities ``probs`` (V,) by a uniform number in [0, 1): the first
    whose cumulative sum exceeds ``uniform`` x total; never an index of probability zero."""
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, uniform * cumulative[-1], side="right"))
    if index == len(probs):  # the uniform number rounded up to the total
        index = int(np.flatnonzero(probs)[-1])
    return index


class LSTMStepper:
    """A NumPy twin of :class:`nncourse.at_scale.rnn.CharLSTM` for sampling one character at a time
    (notebook 07).

    Torch spends about 0.3 ms of call overhead on each one-character step; here a step is one
    (1, H) x (H, 4H) product per layer plus the pointwise gates. Layer 0's input part,
    ``embedding @ W_ih^T + b_ih + b_hh``, depends only on the character, so it is a table (V, 4H)
    computed once. The weights are pulled from the model again when any parameter changes
    (:func:`weights_version`).
    """

    def __init__(self, model):
        self.model = model
        self._version = None
        self.sync()

    @staticmethod
    def handles(model) -> bool:
        """True for a CharLSTM whose forward is CharLSTM's own (a subclass may compute otherwise)."""
        from ..at_scale.rnn import CharLSTM

        return isinstance(model, CharLSTM) and type(model).forward is CharLSTM.forward

    def sync(self) -> None:
        """Pull the weights from the model if they changed since the last call (call it before
        a run of :meth:`step`; checking every step would cost as much as the step)."""
        version = weights_version(self.model)
        if version == self._version:
            return

        def array(tensor):  # float32 on the CPU, as torch computes on the CPU
            return tensor.detach().float().cpu().numpy()

        lstm = self.model.lstm
        self.layers = []  # per layer: W_ih^T (in, 4H), W_hh^T (H, 4H), b_ih + b_hh (4H,)
        for layer in range(self.model.num_layers):
            weight_ih = np.ascontiguousarray(array(getattr(lstm, f"weight_ih_l{layer}")).T)
            weight_hh = np.ascontiguousarray(array(getattr(lstm, f"weight_hh_l{layer}")).T)
            bias = array(getattr(lstm, f"bias_ih_l{layer}")) + array(getattr(lstm, f"bias_hh_l{layer}"))
            self.layers.append((weight_ih, weight_hh, bias))
        self.input_table = array(self.model.embedding.weight) @ self.layers[0][0] + self.layers[0][2]  # (V, 4H)
        self.head_weight = np.ascontiguousarray(array(self.model.head.weight).T)  # (H, V)
        self.head_bias = array(self.model.head.bias)  # (V,)
        self._version = version

    def step(self, char_id: int, h: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Feed one character id; the state h, c (layers, H) float32 is updated in place;
        returns the logits (V,) for the character after it. Uses the weights of the last
        :meth:`sync`."""
        H = self.model.hidden_size
        below = None
        for layer, (weight_ih, weight_hh, bias) in enumerate(self.layers):
            if layer == 0:
                gates = self.input_table[char_id] + h[0] @ weight_hh  # (4H,)
            else:
                gates = below @ weight_ih + h[layer] @ weight_hh + bias
            sigmoid = 0.5 + 0.5 * np.tanh(0.5 * gates)  # = 1 / (1 + exp(-gates)), without overflow
            # torch's gate order: input, forget, cell candidate, output
            c[layer] = sigmoid[H:2 * H] * c[layer] + sigmoid[:H] * np.tanh(gates[2 * H:3 * H])
            h[layer] = sigmoid[3 * H:] * np.tanh(c[layer])
            below = h[layer]
        return h[-1] @ self.head_weight + self.head_bias
