"""Data sets and held-out evaluation: the fixed splits of emu.train.data.load_split, user files with
and without a test set, MNIST-layout IDX directories (Fashion-MNIST from Debian's package), subsets,
and the test metrics of train() and `emu train`."""

from __future__ import annotations

import gzip
import json
import os
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from emu.train import data as D
from emu.train.data import digits, load, load_split, mnist_split, read_idx, synthetic_logistic
from emu.train.linear import TrainConfig, train


def _idx(path, arr: np.ndarray) -> None:
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + arr.astype(np.uint8).tobytes())


def _mnist_dir(d, n_train=6, n_test=4, t10k=True):
    rng = np.random.default_rng(0)
    _idx(d / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 3, 3)))
    _idx(d / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    if t10k:
        _idx(d / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 3, 3)))
        _idx(d / "t10k-labels-idx1-ubyte.gz", (np.arange(n_test) + 3) % 10)
    return d


def test_digits_split_is_the_documented_permutation():
    train_set, test_set = load_split("digits")
    d = digits()
    perm = np.random.default_rng(0).permutation(1797)  # the docstring's rule, written out again
    assert (len(train_set), len(test_set)) == (1438, 359)
    assert np.array_equal(train_set.X, d.X[perm[:1438]]) and np.array_equal(test_set.y, d.y[perm[1438:]])
    assert train_set.n_classes == test_set.n_classes == 10
    assert load("digits").name == train_set.name  # load: the training set of the split


def test_synthetic_test_sets_share_the_model_not_the_samples():
    tr, te = load_split("least_squares")
    w, *_ = np.linalg.lstsq(tr.X, tr.y, rcond=None)  # w* from the training set alone
    assert np.allclose(te.X @ w, te.y, atol=1e-9) and not np.allclose(te.X[:4], tr.X[:4])
    # the held-out rows have the training rows' covariance (to sampling error, 256 rows)
    ctr, cte = tr.X.T @ tr.X / len(tr), te.X.T @ te.X / len(te)
    assert np.linalg.norm(cte - ctr) < 0.35 * np.linalg.norm(ctr)
    tr, te = load_split("logistic")
    assert np.array_equal(tr.X, synthetic_logistic().X)  # the training set is unchanged
    rt = np.random.default_rng((0, 1))
    assert np.array_equal(te.X, rt.standard_normal((512, 8)))
    assert te.n_classes == 2 and 0.3 < te.y.mean() < 0.7


def test_npz_with_and_without_a_test_set(tmp_path):
    rng = np.random.default_rng(1)
    X, Xt = rng.standard_normal((20, 3)), rng.standard_normal((6, 3))
    np.savez(tmp_path / "a.npz", X=X, y=np.arange(20) % 2)
    assert load_split(str(tmp_path / "a.npz"))[1] is None
    np.savez(tmp_path / "b.npz", X=X, y=np.arange(20) % 2, X_test=Xt, y_test=np.array([0, 1, 2, 0, 1, 2]))
    tr, te = load_split(str(tmp_path / "b.npz"))
    assert np.array_equal(te.X, Xt) and tr.n_classes == te.n_classes == 3  # the classes of both
    np.savez(tmp_path / "c.npz", X=X, y=np.arange(20) % 2, X_test=Xt)
    with pytest.raises(ValueError, match="c.npz: a test set needs both X_test and y_test"):
        load_split(str(tmp_path / "c.npz"))
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(20) % 2, X_test=Xt[:, :2], y_test=np.zeros(6))
    with pytest.raises(ValueError, match="d.npz: X has 3 features but X_test 2"):
        load_split(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", X=X, y=np.arange(20) % 2, X_test=Xt, y_test=np.full(6, 0.5))
    with pytest.raises(ValueError, match="e.npz: y holds class labels but y_test regression"):
        load_split(str(tmp_path / "e.npz"))
    np.savetxt(tmp_path / "f.csv", np.column_stack([X, np.arange(20) % 2]), delimiter=",")
    assert load_split(str(tmp_path / "f.csv"))[1] is None
    with pytest.raises(ValueError, match="test_size = 3: .*f.csv has no test set"):
        load_split(str(tmp_path / "f.csv"), test_size=3)


def test_subsets_take_the_first_samples():
    full_tr, full_te = load_split("digits")
    tr, te = load_split("digits", train_size=100, test_size=7)
    assert np.array_equal(tr.X, full_tr.X[:100]) and np.array_equal(te.y, full_te.y[:7])
    assert tr.n_classes == 10 and tr.name == "digits-train[:100]"
    with pytest.raises(ValueError, match="train_size = 2000: digits-train has only 1438 samples"):
        load_split("digits", train_size=2000)
    with pytest.raises(ValueError, match="test_size=0 out of range"):
        load_split("digits", test_size=0)
    with pytest.raises(TypeError, match="train_size must be an integer"):
        load_split("digits", train_size=1.5)


def test_mnist_directories_split_and_limit(tmp_path):
    d = _mnist_dir(tmp_path)
    tr, te = load_split(f"mnist:{d}")
    assert (len(tr), len(te), tr.X.shape[1]) == (6, 4, 9) and te.y.tolist() == [3, 4, 5, 6]
    tr2, te2 = mnist_split(d, 2, 3)
    assert np.array_equal(tr2.X, tr.X[:2]) and np.array_equal(te2.X, te.X[:3])
    assert read_idx(d / "train-images-idx3-ubyte.gz", 2).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: 9 items asked for, the file has 6"):
        load_split(f"mnist:{d}", train_size=9)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match="no t10k-labels-idx1-ubyte"):
        load_split(f"mnist:{d}")
    (d / "t10k-images-idx3-ubyte.gz").unlink()
    assert load_split(f"mnist:{d}")[1] is None  # train files only: no test set
    cut = gzip.compress(b"\x00\x00\x08\x01\x00\x00")  # the header cut short
    (d / "train-labels-idx1-ubyte.gz").write_bytes(cut)
    with pytest.raises(ValueError, match="IDX header cut short"):
        load_split(f"mnist:{d}")


def test_fashion_mnist_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist, or give mnist:DIR"):
        load_split("fashion-mnist")
    r = CliRunner().invoke(main, ["train", "--data", "fashion-mnist", "--epochs", "1"])
    assert r.exit_code == 2 and "dataset-fashion-mnist" in r.output and "Traceback" not in r.output


def test_train_reports_test_metrics_without_touching_the_training():
    """The test set is scored by the emulated forward pass after every epoch; it draws no random
    words, so the training (losses, weights) is bit for bit the run without it."""
    tr, te = load_split("logistic", train_size=64, test_size=32)
    cfg = TrainConfig(model="logistic", weights="e5m2", rounding="sr", epochs=2, batch=16, seed=3)
    m1, h1 = train(tr, cfg, test=te)
    m2, h2 = train(tr, cfg)
    assert m1.W == m2.W and h1.steps == h2.steps
    assert [e["loss"] for e in h1.epochs] == [e["loss"] for e in h2.epochs]
    assert all(e["test_loss"] is None and e["test_accuracy"] is None for e in h2.epochs)
    loss, acc = m1.loss_accuracy(te)
    assert h1.epochs[-1]["test_loss"] == loss and h1.epochs[-1]["test_accuracy"] == acc
    assert len(h1.epochs) == 3 and h1.epochs[0]["test_accuracy"] is not None
    wrong = D.Dataset(te.X[:, :3], te.y, "narrow", 2)
    with pytest.raises(ValueError, match="test set narrow: 3 features, the training set"):
        train(tr, cfg, test=wrong)
    more = D.Dataset(te.X, te.y + 1, "three", 3)
    with pytest.raises(ValueError, match="test set three: 3 classes, the training set .* 2 classes"):
        train(tr, cfg, test=more)


def test_cli_prints_and_writes_test_accuracy(tmp_path):
    args = ["train", "--data", "digits", "--train-size", "200", "--test-size", "50", "--epochs", "1",
            "--batch", "50"]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "test digits-test[:50] (50 samples)" in r.output and "test accuracy" in r.output
    doc = json.loads((tmp_path / "o" / "history.json").read_text())
    assert doc["data"] == "digits-train[:200]" and doc["test_data"] == "digits-test[:50]"
    assert 0 <= doc["epochs"][-1]["test_accuracy"] <= 1
    r = CliRunner().invoke(main, args[:-2] + ["--test-size", "500"])
    assert r.exit_code == 2 and "test_size = 500: digits-test has only 359 samples" in r.output


FASHION = [D.FASHION_MNIST_DIR / f"{p}-{k}-ubyte.gz" for p in ("train", "t10k")
           for k in ("images-idx3", "labels-idx1")]


def test_fashion_mnist_smoke():
    """Softmax regression on the first 2,000 Fashion-MNIST training images, e4m3 weights, one
    epoch, scored on the first 500 test images. Chance is the best constant guess, p0 = the
    largest class share among those 500; a model at chance scores above p0 + 5 sd, sd =
    sqrt(p0 (1 - p0) / 500) (about 0.17 for p0 = 0.1), with probability below 3e-7. Measured:
    0.682."""
    if not all(p.exists() for p in FASHION):
        if os.environ.get("EMU_REQUIRE_FASHION_MNIST") == "1":
            pytest.fail(f"Fashion-MNIST missing in {D.FASHION_MNIST_DIR} (EMU_REQUIRE_FASHION_MNIST=1)")
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    tr, te = load_split("fashion-mnist", train_size=2000, test_size=500)
    assert tr.X.shape == (2000, 784) and len(te) == 500 and tr.X.max() == 1.0
    _, h = train(tr, TrainConfig(model="softmax", weights="e4m3", epochs=1, lr=0.1, seed=1), test=te)
    p0 = np.bincount(te.y, minlength=10).max() / len(te)
    assert h.epochs[-1]["test_accuracy"] > p0 + 5 * np.sqrt(p0 * (1 - p0) / len(te))


def test_idx_header_claiming_more_than_the_file_holds(tmp_path):
    """A header claiming huge dimensions over no data is refused from the file's size (plain) or
    from what decompresses (.gz), never by allocating what the header claims."""
    head = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2**31, 65536, 65536)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(head)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(10) % 10)
    for n in (200, None):
        with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: the IDX header claims "
                           r"dimensions \[2147483648, 65536, 65536\].*holds only 0 bytes"):
            load_split(f"mnist:{tmp_path}", train_size=n)
    (tmp_path / "train-images-idx3-ubyte").unlink()
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(head + bytes(100))
    with pytest.raises(ValueError, match=r"idx3-ubyte.gz: the IDX header claims .*the first 200 "
                       r"items.*holds only 100 bytes"):
        load_split(f"mnist:{tmp_path}", train_size=200)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:  # more than claimed
        f.write(bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2, 2, 2) + bytes(9))
    with pytest.raises(ValueError, match="more data than the header's dimensions"):
        read_idx(tmp_path / "train-images-idx3-ubyte.gz")


def test_idx_labels_out_of_range_are_whole_numbers(tmp_path):
    d = _mnist_dir(tmp_path, t10k=False)
    _idx(d / "train-labels-idx1-ubyte.gz", np.array([1, 2, 250, 3, 4, 5]))
    with pytest.raises(ValueError, match=r"labels must be whole numbers 0..9 \(found 250\)"):
        load_split(f"mnist:{d}")


def test_mnist_spec_needs_a_directory_and_expands_home(tmp_path, monkeypatch):
    for spec in ("mnist:", "mnist: "):
        with pytest.raises(ValueError, match="mnist: needs a directory"):
            load_split(spec)
    with pytest.raises(ValueError, match="needs a name or a file"):
        load_split("")
    (tmp_path / "m").mkdir()
    _mnist_dir(tmp_path / "m")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert len(load_split("mnist:~/m")[0]) == 6


def test_csv_errors_in_emus_words(tmp_path):
    import warnings

    (tmp_path / "ragged.csv").write_text("1,2,3\n1,2\n")
    with pytest.raises(ValueError, match="ragged.csv: row 2 has 2 columns, the rows before it 3") \
            as err:
        load(str(tmp_path / "ragged.csv"))
    assert "usecols" not in str(err.value)
    (tmp_path / "empty.csv").write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's UserWarning must not leak
        with pytest.raises(ValueError, match="empty.csv: no data"):
            load(str(tmp_path / "empty.csv"))
    (tmp_path / "one.csv").write_text("1\n2\n")
    with pytest.raises(ValueError, match="one.csv: 1 column; needs the features, then the label"):
        load(str(tmp_path / "one.csv"))


def test_npz_negative_test_label_is_a_label_error(tmp_path):
    X = np.zeros((4, 2))
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 0, 1]), X_test=X[:2], y_test=np.array([0, -1]))
    with pytest.raises(ValueError, match="y_test holds label -1; class labels are whole numbers"):
        load_split(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "r.npz", X=X, y=np.array([0.5, 1, 0, 1]), X_test=X[:2], y_test=np.array([0.25, 2]))
    assert load_split(str(tmp_path / "r.npz"))[1].n_classes == 0  # regression both: fine
