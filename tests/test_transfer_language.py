"""Notebook 10's language part: a character GPT pretrained on one text, fine-tuned on another,
forgetting the first (nncourse.at_scale.transfer.train_lm / sample_windows) and the second text
(nncourse.transfer.python_source_texts). Tiny models on tiny periodic texts, so each test is fast."""
import copy

import numpy as np
import pytest
import torch

from nncourse import text, transfer
from nncourse.at_scale import transfer as ts
from nncourse.at_scale.gpt import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB = text.CharVocab("abcdefgh")
OLD = VOCAB.encode("abcdefgh" * 60)           # the "original text": one cycle
NEW = VOCAB.encode("hgfedcba" * 60)           # the "new text": the same characters, the other way round
T = 8


def _tiny(seed=0):
    return GPT(GPTConfig(vocab_size=VOCAB.size, block_size=T, n_layer=1, n_head=2, n_embd=16, dropout=0.0), seed=seed)


def _eval(ids):
    return text.windows(ids, T, stride=T)


@pytest.fixture(scope="module")
def pretrained():
    model = _tiny()
    history = ts.train_lm(model, OLD, steps=60, batch_size=16, lr=1e-2, eval_sets={"old": _eval(OLD)},
                          eval_every=20, seed=0)
    return model, history


def test_python_source_texts_are_the_modules_code():
    import textwrap

    texts = transfer.python_source_texts(["textwrap", "bisect"])
    assert list(texts) == ["textwrap", "bisect"]
    assert "def dedent(" in texts["textwrap"] and "bisect" in texts["bisect"]
    assert texts["textwrap"] == open(textwrap.__file__, encoding="utf-8").read()
    with pytest.raises(ValueError, match="no Python source for module 'math'"):   # built in C
        transfer.python_source_texts(["math"])
    with pytest.raises(ValueError, match="non-empty list of module names"):
        transfer.python_source_texts("textwrap")


def test_sample_windows_targets_are_the_next_character():
    ids = torch.arange(100)
    X, Y = ts.sample_windows(ids, 10, 7, torch.Generator().manual_seed(0))
    assert X.shape == Y.shape == (7, 10)
    assert torch.equal(Y[:, :-1], X[:, 1:]) and torch.equal(Y[:, -1], X[:, -1] + 1)
    assert X.min() >= 0 and Y.max() <= 99
    X2, _ = ts.sample_windows(ids, 10, 7, torch.Generator().manual_seed(0))
    assert torch.equal(X, X2)


def test_pretraining_learns_the_text(pretrained):
    _, history = pretrained
    assert history["step"] == [0, 20, 40, 60]
    assert history["old"][0] > np.log(VOCAB.size) - 0.2     # a fresh model guesses
    assert history["old"][-1] < 0.5                          # a periodic text is learned


def test_fine_tuning_beats_scratch_and_forgets_and_rehearsal_forgets_less(pretrained):
    model, _ = pretrained
    sets = {"old": _eval(OLD), "new": _eval(NEW)}
    tuned = copy.deepcopy(model)
    ft = ts.train_lm(tuned, NEW, steps=15, batch_size=16, lr=1e-2, eval_sets=sets, eval_every=5, seed=0)
    scratch = ts.train_lm(_tiny(seed=1), NEW, steps=15, batch_size=16, lr=1e-2, eval_sets=sets, eval_every=5, seed=0)
    rehearsed = ts.train_lm(copy.deepcopy(model), NEW, steps=15, batch_size=16, lr=1e-2, eval_sets=sets,
                            eval_every=5, seed=0, rehearsal_ids=OLD, rehearsal_fraction=0.5)
    assert ft["new"][-1] < ft["new"][0] - 0.5                 # fine-tuning learns the new text
    assert ft["new"][-1] < scratch["new"][-1]                 # ... faster than a fresh model
    assert ft["old"][-1] > ft["old"][0] + 0.5                 # catastrophic forgetting
    assert rehearsed["old"][-1] < ft["old"][-1] - 0.5         # rehearsal keeps much of the old text
    assert rehearsed["new"][-1] < rehearsed["new"][0] - 0.5   # ... and still learns the new one
    assert not tuned.training


def test_frozen_parameters_stay_frozen_and_runs_repeat(pretrained):
    model, _ = pretrained
    frozen = copy.deepcopy(model)
    for p in frozen.blocks[0].parameters():
        p.requires_grad_(False)
    before = {name: p.detach().clone() for name, p in frozen.named_parameters()}
    ts.train_lm(frozen, NEW, steps=3, batch_size=4, lr=1e-2, seed=0)
    for name, p in frozen.named_parameters():
        assert torch.equal(p, before[name]) == name.startswith("blocks.0."), name
    a = ts.train_lm(copy.deepcopy(model), NEW, steps=4, batch_size=4, eval_sets={"new": _eval(NEW)}, eval_every=2, seed=3)
    b = ts.train_lm(copy.deepcopy(model), NEW, steps=4, batch_size=4, eval_sets={"new": _eval(NEW)}, eval_every=3, seed=3)
    assert a["step"] == [0, 2, 4] and b["step"] == [0, 3, 4] and a["new"][-1] == b["new"][-1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(rehearsal_fraction=0.25), "needs rehearsal_ids"),
    (dict(rehearsal_fraction=1.0, rehearsal_ids=OLD), r"rehearsal_fraction must be in \[0, 1\)"),
    (dict(rehearsal_fraction=0.5, rehearsal_ids=OLD[:5]), "rehearsal_ids must hold at least block_size"),
    (dict(rehearsal_fraction=0.01, rehearsal_ids=OLD), r"0.01 \* 32 -> 0"),          # no old window at all
    (dict(rehearsal_fraction=0.99, rehearsal_ids=OLD), r"0.99 \* 32 -> 32"),         # no new window at all
    (dict(eval_sets={"step": _eval(OLD)}), '"step" is reserved'),
    (dict(steps=0), "steps"),
])
def test_train_lm_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ts.train_lm(_tiny(), NEW, **{"steps": 2, **kwargs})


@pytest.mark.parametrize("ids, message", [
    (NEW[:T], r"at least block_size \+ 1 = 9 ids, got 8"),
    (NEW + 100, r"ids in \[0, 7\].*got values from 100"),
    (NEW.astype(float), "integer character ids"),
    (NEW.reshape(2, -1), "1-D"),
])
def test_train_lm_rejects_bad_text(ids, message):
    with pytest.raises(ValueError, match=message):
        ts.train_lm(_tiny(), ids, steps=1)
