"""The synthetic loan generator's knobs, and UCI Adult parsed from local files / a loopback server."""
import hashlib

import numpy as np
import pytest
from loopback import Server, closed_port_url

from nncourse import fairness_data, data

# --- synthetic loans ---------------------------------------------------------------------------


def test_loan_data_is_seeded_and_shaped():
    a, b = fairness_data.loan_data(n=500, seed=3), fairness_data.loan_data(n=500, seed=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, fairness_data.loan_data(n=500, seed=4).X_train)
    assert a.X_train.shape == (350, 4) and a.X_test.shape == (150, 4) and a.X_train.dtype == np.float32
    assert a.feature_names == ["credit_score", "income", "neighbourhood", "group"]
    assert set(a.A_train) == {"A", "B"} and set(np.unique(a.y_train)) == {0, 1}
    assert a.synthetic and "Synthetic" in a.description and "synthetic" in repr(a)
    # the group column is the sensitive attribute as 0/1
    np.testing.assert_array_equal(a.X_train[:, 3], (a.A_train == "B").astype(np.float32))


def test_group_sizes_and_base_rates_follow_the_knobs():
    d = fairness_data.loan_data(n=40000, minority_fraction=0.2, base_rate=0.6, base_rate_gap=0.25, seed=0)
    A = np.concatenate([d.A_train, d.A_test])
    truth = np.concatenate([d.qualified_train, d.qualified_test])
    assert np.mean(A == "B") == pytest.approx(0.2, abs=0.01)
    assert truth[A == "A"].mean() == pytest.approx(0.6, abs=0.015)
    assert truth[A == "B"].mean() == pytest.approx(0.35, abs=0.02)
    np.testing.assert_array_equal(d.y_train, d.qualified_train)  # no label bias asked for


def test_label_bias_rejects_the_lowest_scored_qualified_members_of_group_b():
    d = fairness_data.loan_data(n=40000, label_bias=0.4, seed=1)
    a, b = d.A_train == "A", d.A_train == "B"
    np.testing.assert_array_equal(d.y_train[a], d.qualified_train[a])
    assert np.all(d.y_train <= d.qualified_train)  # only 1 -> 0 flips
    qualified_b = b & (d.qualified_train == 1)
    flipped = np.mean(d.y_train[qualified_b] == 0)
    assert flipped == pytest.approx(0.4, abs=0.02)
    assert d.base_rates()["B"] < d.base_rates()["A"] - 0.15
    # a higher bar, not a coin flip: every rejected qualified B applicant scored below every approved one
    credit = d.X_train[:, 0]
    assert credit[qualified_b & (d.y_train == 0)].max() < credit[qualified_b & (d.y_train == 1)].min()
    # so against the records, group B's "qualified" are its strongest applicants
    assert credit[qualified_b & (d.y_train == 1)].mean() > credit[a & (d.qualified_train == 1)].mean() + 0.3
    # on the whole data (train and test together) exactly round(0.4 * n) of the qualified B are rejected
    y = np.concatenate([d.y_train, d.y_test])
    truth = np.concatenate([d.qualified_train, d.qualified_test])
    in_b = np.concatenate([b, d.A_test == "B"])
    assert np.sum(in_b & (truth == 1) & (y == 0)) == round(0.4 * np.sum(in_b & (truth == 1)))
    assert np.array_equal(fairness_data.loan_data(n=2000, label_bias=0.0, seed=1).y_train,
                          fairness_data.loan_data(n=2000, label_bias=0.0, seed=1).qualified_train)


def test_proxy_strength_is_the_correlation_with_the_group_and_nothing_else():
    d = fairness_data.loan_data(n=40000, proxy_strength=0.7, seed=2)
    hood, group, credit = d.X_train[:, 2], d.X_train[:, 3], d.X_train[:, 0]
    assert np.corrcoef(hood, group)[0, 1] == pytest.approx(0.7, abs=0.02)
    for g in (0, 1):  # within a group the proxy says nothing about creditworthiness
        assert abs(np.corrcoef(hood[group == g], credit[group == g])[0, 1]) < 0.03
    assert abs(np.corrcoef(fairness_data.loan_data(n=40000, seed=2).X_train[:, 2], group)[0, 1]) < 0.03


def test_measurement_noise_makes_one_group_harder_to_read():
    d = fairness_data.loan_data(n=40000, noise_a=0.2, noise_b=1.5, seed=0)
    corr = {g: np.corrcoef(d.X_train[d.A_train == g, 0], d.qualified_train[d.A_train == g])[0, 1] for g in "AB"}
    assert corr["A"] > corr["B"] + 0.15


def test_age_is_a_second_recorded_attribute_and_thin_files_blur_young_b():
    d = fairness_data.loan_data(n=40000, young_fraction=0.25, thin_file_noise=1.5, seed=0)
    assert d.intersection == ("group", "age") and set(d.attributes_train) == {"group", "age"}
    np.testing.assert_array_equal(d.attributes_test["group"], d.A_test)
    age = d.attributes_train["age"]
    assert set(age) == {"under 30", "30 or over"} and np.mean(age == "under 30") == pytest.approx(0.25, abs=0.01)
    assert d.X_train.shape[1] == 4  # not a model input

    def corr(mask):
        return np.corrcoef(d.X_train[mask, 0], d.qualified_train[mask])[0, 1]

    young, b = age == "under 30", d.A_train == "B"
    assert corr(young & b) < corr(~young & b) - 0.2  # thin files: the score says less
    assert abs(corr(young & ~b) - corr(~young & ~b)) < 0.03  # only in group B
    plain = fairness_data.loan_data(n=40000, young_fraction=0.25, seed=0)
    assert abs(np.corrcoef(plain.X_train[young & b, 0], plain.qualified_train[young & b])[0, 1] - corr(~young & b)) < 0.05


def test_with_validation_splits_every_training_array_alike():
    d = fairness_data.loan_data(n=1000, label_bias=0.3, seed=0)
    v = d.with_validation(0.2, seed=1)
    assert len(v.y_val) == 140 and len(v.y_train) == 560 and np.array_equal(v.X_test, d.X_test)
    assert v.train[0] is v.X_train and v.val[1] is v.y_val and v.test[0] is v.X_test
    # the same examples in every array: recover the original rows from X
    rows = {tuple(x): i for i, x in enumerate(d.X_train)}
    idx = np.array([rows[tuple(x)] for x in v.X_val])
    np.testing.assert_array_equal(v.y_val, d.y_train[idx])
    np.testing.assert_array_equal(v.A_val, d.A_train[idx])
    np.testing.assert_array_equal(v.qualified_val, d.qualified_train[idx])
    np.testing.assert_array_equal(v.attributes_val["age"], d.attributes_train["age"][idx])
    assert "140 validation" in repr(v) and set(v.base_rates("val")) == {"A", "B"}
    assert v.drop("group").X_val.shape == (140, 3)
    with pytest.raises(ValueError, match="already has a validation split"):
        v.with_validation()
    with pytest.raises(ValueError, match="no validation split"):
        d.val
    with pytest.raises(ValueError, match="fraction must be between 0 and 1"):
        d.with_validation(1.5)


def test_drop_and_columns():
    d = fairness_data.loan_data(n=200)
    assert d.columns("group") == [3]
    blind = d.drop("group", "neighbourhood")
    assert blind.feature_names == ["credit_score", "income"] and blind.X_test.shape == (60, 2)
    assert d.X_train.shape[1] == 4  # the original is untouched
    with pytest.raises(ValueError, match="no feature called"):
        d.drop("gender")


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be a positive integer"),
    (dict(minority_fraction=1.5), "minority_fraction must be a number in"),
    (dict(label_bias=-0.1), "label_bias must be a number in"),
    (dict(proxy_strength=1.0), "proxy_strength must be a number in"),
    (dict(young_fraction=0.0), "young_fraction must be a number in"),
    (dict(thin_file_noise=-1), "thin_file_noise must be a number in"),
    (dict(base_rate=0.3, base_rate_gap=0.5), "base rate of group B"),
])
def test_bad_knobs_get_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fairness_data.loan_data(**kwargs)


# --- UCI Adult, never from the internet ------------------------------------------------------

HEADER = "|1x3 Cross validator\n"
ROWS = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K",
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 13, United-States, >50K",
    "38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, Black, Female, 0, 0, 40, Cuba, <=50K",
    "54, ?, 180211, Some-college, 10, Married-civ-spouse, ?, Husband, Asian-Pac-Islander, Male, 0, 0, 60, South, >50K",
    "31, Private, 45781, Masters, 14, Never-married, Prof-specialty, Not-in-family, White, Female, 14084, 0, 50, United-States, >50K",
]


def adult_files():
    train = ("\n".join(ROWS) + "\n\n").encode()
    test = (HEADER + "\n".join(r + "." for r in ROWS[:3]) + "\n").encode()
    return {"adult.data": train, "adult.test": test}


def test_read_adult_skips_header_blank_and_missing_rows(tmp_path):
    for name, body in adult_files().items():
        (tmp_path / name).write_bytes(body)
    train = fairness_data.read_adult(tmp_path / "adult.data")
    test = fairness_data.read_adult(tmp_path / "adult.test")
    assert len(train) == 4 and len(test) == 3  # the row with "?" is dropped
    assert train[1]["income"] == ">50K" and test[1]["income"] == ">50K"  # trailing "." removed
    assert train[2]["native-country"] == "Cuba" and train[0]["age"] == "39"
    (tmp_path / "bad").write_text("1, 2, 3\n")
    with pytest.raises(ValueError, match="expected 15 comma-separated fields, got 3"):
        fairness_data.read_adult(tmp_path / "bad")




@pytest.fixture
def adult_server(monkeypatch):
    files = adult_files()
    monkeypatch.setitem(fairness_data.ADULT, "sha256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    srv = Server(files)
    yield srv
    srv.close()


def test_load_adult_downloads_verifies_and_encodes(adult_server, tmp_path):
    adult = fairness_data.load_adult(directory=tmp_path, mirrors=[adult_server.url])
    assert sorted(adult_server.requests) == ["/adult.data", "/adult.test"]
    assert adult.X_train.shape[0] == 4 and adult.X_test.shape[0] == 3 and not adult.synthetic
    np.testing.assert_array_equal(adult.y_train, [0, 1, 0, 1])
    np.testing.assert_array_equal(adult.A_train, ["Male", "Male", "Female", "Female"])
    assert adult.intersection == ("sex", "race")
    np.testing.assert_array_equal(adult.attributes_train["race"], ["White", "White", "Black", "White"])
    np.testing.assert_array_equal(adult.attributes_test["sex"], adult.A_test)
    assert adult.sensitive_name == "sex" and adult.groups == ["Female", "Male"]
    names = adult.feature_names
    assert names[:5] == ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    assert "sex=Female" in names and "native-country=other" in names and "fnlwgt" not in names
    np.testing.assert_allclose(adult.X_train[:, :5].mean(axis=0), 0, atol=1e-6)  # standardised on train
    sex = adult.columns("sex")
    np.testing.assert_array_equal(adult.X_train[:, sex].argmax(axis=1), [1, 1, 0, 0])  # one-hot Female, Male
    assert adult.drop("sex").X_train.shape[1] == len(names) - 2
    # a second call uses the cache: no new request
    fairness_data.load_adult(directory=tmp_path, mirrors=[adult_server.url], sensitive="race")
    assert len(adult_server.requests) == 2


def test_adult_with_a_wrong_checksum_is_refused(adult_server, tmp_path, monkeypatch):
    monkeypatch.setitem(fairness_data.ADULT, "sha256", {"adult.data": "0" * 64, "adult.test": "0" * 64})
    with pytest.raises(data.ChecksumError):
        fairness_data.load_adult(directory=tmp_path, mirrors=[adult_server.url])
    assert list(tmp_path.iterdir()) == []


def test_adult_checksums_are_pinned_sha256():
    assert set(fairness_data.ADULT["sha256"]) == {"adult.data", "adult.test"}
    assert all(len(s) == 64 and int(s, 16) >= 0 for s in fairness_data.ADULT["sha256"].values())
    with pytest.raises(ValueError, match="sensitive must be"):
        fairness_data.load_adult(sensitive="age")




def test_quick_mode_is_synthetic_and_full_mode_falls_back_offline(monkeypatch, tmp_path, capsys):
    assert fairness_data.load_fairness_data(quick=True, n=300).synthetic
    monkeypatch.setitem(fairness_data.ADULT, "mirrors", [closed_port_url()])
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path))
    result = fairness_data.load_fairness_data(quick=False, n=300)
    assert result.synthetic and "using the synthetic loans instead" in capsys.readouterr().out
