"""nncourse.privacy's shadow-model attack and canary exposure, and the char-model helpers of
nncourse.at_scale.privacy (notebook 15), against scikit-learn and independent computations."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import privacy as P
from nncourse import robustness as R
from nncourse.at_scale import privacy as AP
from nncourse.at_scale.rnn import CharLSTM
from nncourse.text import CharVocab


def _softmax(z):
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _outputs(rng, n, confidence):
    """Softmax outputs of a 5-class model: the larger ``confidence``, the peakier."""
    return _softmax(rng.normal(0, 1, (n, 5)) + confidence * np.eye(5)[rng.integers(0, 5, n)])


def test_attack_features_are_sorted_log_probabilities():
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.0, 0.5]])
    got = P.attack_features(probs)
    np.testing.assert_allclose(got[0], np.log([0.7, 0.2, 0.1]))
    assert got[1, 0] == got[1, 1] == np.log(0.5) and got[1, 2] == np.log(1e-30)   # zero probability: finite
    with pytest.raises(ValueError, match="softmax outputs"):
        P.attack_features(np.ones(3))


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_logistic_regression_equals_scikit_learn(l2):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(int(l2 * 1000))
    X = rng.normal(0, 1, (300, 4)) * [1, 10, 0.1, 3] + [0, 5, 0, -2]
    y = (X @ [1, 0.2, -5, 0.3] + rng.normal(0, 1, 300) > 1).astype(float)
    model = P.fit_logistic_regression(X, y, l2=l2)
    Z = (X - X.mean(0)) / X.std(0)
    ref = LogisticRegression(C=1 / (l2 * len(X)), tol=1e-12, max_iter=10_000).fit(Z, y)
    np.testing.assert_allclose(model["w"], ref.coef_[0], atol=1e-6)
    np.testing.assert_allclose(model["b"], ref.intercept_[0], atol=1e-6)
    np.testing.assert_allclose(P.logistic_scores(model, X), ref.decision_function(Z), atol=1e-5)


def test_logistic_regression_errors_are_named():
    with pytest.raises(ValueError, match="both present"):
        P.fit_logistic_regression(np.zeros((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match=r"X must be \(N, D\)"):
        P.fit_logistic_regression(np.zeros(4), np.array([0, 1, 0, 1]))
    model = P.fit_logistic_regression(np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"X must be \(N, 2\)"):
        P.logistic_scores(model, np.zeros((3, 5)))


def test_shadow_attack_learns_from_shadows_and_transfers_to_the_target():
    rng = np.random.default_rng(0)
    # Members get peakier outputs than non-members, in the shadows and in the target alike.
    shadows = [(_outputs(rng, 100, 6.0), _outputs(rng, 100, 2.0)) for _ in range(3)]
    attack = P.shadow_attack(shadows)
    features = np.vstack([P.attack_features(p) for pair in shadows for p in pair])
    labels = np.concatenate([np.r_[np.ones(100), np.zeros(100)] for _ in shadows])
    same = P.fit_logistic_regression(features, labels)
    np.testing.assert_allclose(attack["w"], same["w"]) and np.testing.assert_allclose(attack["b"], same["b"])
    members, others = _outputs(rng, 200, 6.0), _outputs(rng, 200, 2.0)
    auc = R.roc_auc(P.logistic_scores(attack, P.attack_features(members)),
                    P.logistic_scores(attack, P.attack_features(others)))
    assert auc > 0.85
    # Outputs that do not differ give the attack nothing: AUC near one half.
    same_shadows = [(_outputs(rng, 100, 3.0), _outputs(rng, 100, 3.0)) for _ in range(3)]
    blind = P.shadow_attack(same_shadows)
    auc = R.roc_auc(P.logistic_scores(blind, P.attack_features(_outputs(rng, 300, 3.0))),
                    P.logistic_scores(blind, P.attack_features(_outputs(rng, 300, 3.0))))
    assert abs(auc - 0.5) < 0.08
    with pytest.raises(ValueError, match="shadow_outputs is empty"):
        P.shadow_attack([])


def test_insert_canary_adds_whole_lines_and_nothing_else():
    text = "\n".join(f"line {i}" for i in range(50))
    out = P.insert_canary(text, "my PIN is 1234", 7, seed=3)
    lines = out.split("\n")
    assert lines.count("my PIN is 1234") == 7 and len(lines) == 57
    assert "\n".join(l for l in lines if l != "my PIN is 1234") == text
    assert P.insert_canary(text, "x", 7, seed=3) != P.insert_canary(text, "x", 7, seed=4)
    assert P.insert_canary(text, "x", 0) == text
    with pytest.raises(ValueError, match="cannot insert"):
        P.insert_canary("a\nb", "x", 3)
    with pytest.raises(ValueError, match="non-negative integer"):
        P.insert_canary(text, "x", -1)


def test_exposure_is_log_candidates_minus_log_rank():
    scores = np.array([5.0, 1.0, 3.0, 3.0, 9.0, 7.0, 2.0, 8.0])
    assert P.exposure(scores, 1) == 3.0                      # the favourite of 8: log2(8) - log2(1)
    assert P.exposure(scores, 4) == 0.0                      # the least likely: rank 8
    assert P.exposure(scores, 2) == pytest.approx(3 - np.log2(3))   # tie with index 3: both rank 3
    assert P.exposure(scores, 3) == P.exposure(scores, 2)
    # Over a random secret, 2^-exposure is uniform on the ranks: the mean exposure is about 1/ln 2.
    rng = np.random.default_rng(0)
    mean = np.mean([P.exposure(rng.normal(size=1000), int(rng.integers(1000))) for _ in range(2000)])
    assert 1.3 < mean < 1.6
    with pytest.raises(ValueError, match="secret index"):
        P.exposure(scores, 8)


def _independent_log_perplexity(model, vocab, string):
    ids = torch.from_numpy(vocab.encode(string))[None]
    with torch.no_grad():
        logits = model(ids[:, :-1]).double()
    return F.cross_entropy(logits[0], ids[0, 1:], reduction="sum").item()


def test_candidate_log_perplexity_equals_one_sequence_at_a_time():
    torch.manual_seed(0)
    vocab = CharVocab("my PIN is 0123456789\n")
    model = CharLSTM(vocab.size, 8, 16, num_layers=1).eval()
    candidates = [f"{i:02d}" for i in range(100)]
    got = AP.candidate_log_perplexity(model, vocab, "my PIN is ", candidates)
    want = [_independent_log_perplexity(model, vocab, "\nmy PIN is " + c) for c in candidates]
    assert got.shape == (100,) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-5)
    one = AP.candidate_log_perplexity(model, vocab, "is ", list("0123"))   # one-character candidates
    np.testing.assert_allclose(one, [_independent_log_perplexity(model, vocab, "\nis " + c) for c in "0123"], rtol=1e-5)
    with pytest.raises(ValueError, match="one length"):
        AP.candidate_log_perplexity(model, vocab, "is ", ["1", "22"])


def test_train_char_model_memorises_a_repeated_canary():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    words = np.array(["the", "cat", "sat", "on", "a", "mat", "dog", "ran"])
    text = "\n".join(" ".join(rng.choice(words, 6)) for _ in range(400))
    text = P.insert_canary(text, "my PIN is 73", 40, seed=0)
    vocab = CharVocab(text + "0123456789")
    model, loss = AP.train_char_model(vocab.encode(text), vocab.size, steps=150, hidden_size=32, seed=0)
    assert not model.training and loss < 2.0
    candidates = [f"{i:02d}" for i in range(100)]
    scores = AP.candidate_log_perplexity(model, vocab, "my PIN is ", candidates)
    assert P.exposure(scores, 73) > 5          # among the favourite 3 of 100
    with pytest.raises(ValueError, match="longer than block_size"):
        AP.train_char_model(np.arange(10), 10, steps=1)
