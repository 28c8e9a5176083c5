"""The command line: ``fastlinreg demo | fit | predict | bench``, in process
(``main([...])``) and as a subprocess (``python -m fastlinreg``, the console
script), with its data files, its JSON model files and its one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression, make_regression, train_test_split
from fastlinreg.cli import load_model, main, save_model

FEATURES = ["size", "rooms", "age"]


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``main(argv)`` in process: (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def run_subprocess(*argv: object, cmd: list[str] | None = None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FASTLINREG_BACKEND"}
    done = subprocess.run(
        [*(cmd or [sys.executable, "-m", "fastlinreg"]), *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return make_regression(
        n_samples=400, n_features=3, random_state=0, return_coef=True
    )


@pytest.fixture
def csv_path(tmp_path: Path, problem) -> Path:
    """make_regression's data as a CSV with a header (exact decimal floats)."""
    X, y, _ = problem
    path = tmp_path / "houses.csv"
    np.savetxt(
        path,
        np.column_stack([X, y]),
        delimiter=",",
        header=",".join([*FEATURES, "price"]),
        comments="",
        fmt="%.17g",
    )
    return path


def reference_fit(X, y, test_size=0.25, seed=0, **params) -> tuple:
    """What the command line should do, done in Python."""
    if test_size:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=test_size, random_state=seed
        )
    else:
        X_tr, X_te, y_tr, y_te = X, None, y, None
    return LinearRegression(**params).fit(X_tr, y_tr), X_tr, X_te, y_tr, y_te


# --------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------


def test_fit_prints_the_coefficients_with_feature_names(capsys, csv_path, problem):
    X, y, true_coef = problem
    status, out, err = run(capsys, "fit", csv_path, "--target", "price")
    assert status == 0, err
    assert err == ""
    model, X_tr, X_te, y_tr, y_te = reference_fit(X, y)
    printed = dict(re.findall(r"^  (\w+)\s+(-?[\d.e+-]+)$", out, re.MULTILINE))
    assert list(printed) == [*FEATURES, "intercept"]
    got = np.array([float(printed[name]) for name in FEATURES])
    np.testing.assert_allclose(got, model.coef_, rtol=1e-7)
    np.testing.assert_allclose(got, true_coef, rtol=0.05)
    assert float(printed["intercept"]) == pytest.approx(model.intercept_, rel=1e-7)
    assert "target 'price'" in out
    assert "300 training rows, 100 held out" in out
    r2 = re.search(r"R² train (\d\.\d+), test (\d\.\d+)", out)
    assert float(r2[1]) == pytest.approx(model.score(X_tr, y_tr), abs=1e-5)
    assert float(r2[2]) == pytest.approx(model.score(X_te, y_te), abs=1e-5)
    assert re.search(r"converged in \d+ iterations?; backend \w+; fit time", out)


def test_fit_json_is_only_json_and_exact(capsys, csv_path, problem):
    X, y, _ = problem
    status, out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--json", "--seed", "3"
    )
    assert status == 0, err
    report = json.loads(out)  # stdout holds nothing else
    model, X_tr, X_te, y_tr, y_te = reference_fit(X, y, seed=3)
    assert report["feature_names"] == FEATURES
    assert report["target"] == "price"
    assert report["coef"] == model.coef_.tolist()
    assert report["intercept"] == float(model.intercept_)
    assert report["r2_train"] == model.score(X_tr, y_tr)
    assert report["r2_test"] == model.score(X_te, y_te)
    assert (report["n_train"], report["n_test"]) == (300, 100)
    assert report["n_iter"] == model.n_iter_
    assert report["converged"] is True
    assert report["backend"] in fastlinreg.available_backends()
    assert report["fit_time_s"] > 0
    assert report["loss"] == "squared_error"
    assert report["warnings"] == []


def test_fit_options_reach_the_estimator(capsys, csv_path, problem):
    X, y, _ = problem
    status, out, err = run(
        capsys,
        "fit",
        csv_path,
        "--target",
        "price",
        "--json",
        "--test-size",
        "0",
        "--learning-rate",
        "0.001",
        "--max-iter",
        "7",
        "--tol",
        "0",
        "--backend",
        "numpy",
        "--no-intercept",
        "--features",
        "size,age",
    )
    assert status == 0, err
    report = json.loads(out)
    model = LinearRegression(
        learning_rate=0.001, max_iter=7, tol=0.0, fit_intercept=False, backend="numpy"
    ).fit(X[:, [0, 2]], y)
    assert report["feature_names"] == ["size", "age"]
    assert report["coef"] == model.coef_.tolist()
    assert report["intercept"] == 0.0
    assert (report["n_iter"], report["backend"]) == (7, "numpy")
    assert (report["n_train"], report["n_test"], report["r2_test"]) == (400, 0, None)


@pytest.mark.parametrize(
    ("options", "params"),
    [
        (
            ["--loss", "quantile", "--quantile", "0.8"],
            {"loss": "quantile", "quantile": 0.8},
        ),
        (["--loss", "huber", "--epsilon", "2"], {"loss": "huber", "epsilon": 2.0}),
        (
            ["--alpha", "0.5", "--penalty", "elasticnet", "--l1-ratio", "0.3"],
            {"alpha": 0.5, "penalty": "elasticnet", "l1_ratio": 0.3},
        ),
        (["--alpha", "3", "--penalty", "none"], {"alpha": 3.0, "penalty": None}),
    ],
)
def test_fit_loss_and_penalty_options(capsys, csv_path, problem, options, params):
    X, y, _ = problem
    status, out, err = run(
        capsys,
        "fit",
        csv_path,
        "--target",
        "price",
        "--json",
        "--test-size",
        "0",
        *options,
    )
    assert status == 0, err
    report = json.loads(out)
    model = LinearRegression(**params).fit(X, y)
    assert report["coef"] == model.coef_.tolist()
    assert report["loss"] == params.get("loss", "squared_error")


def test_fit_reports_a_convergence_warning_in_one_line(capsys, csv_path):
    status, out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--max-iter", "2",
        "--learning-rate", "1e-4",
    )  # fmt: skip
    assert status == 0
    assert "stopped after 2 iterations (max_iter)" in out
    assert err.count("\n") == 1
    assert err.startswith("fastlinreg: warning: LinearRegression stopped before")


def test_fit_npy_npz_and_tsv(capsys, tmp_path, problem):
    X, y, _ = problem
    want = reference_fit(X, y)[0].coef_.tolist()
    np.save(tmp_path / "a.npy", np.column_stack([y, X]))
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    np.savez(tmp_path / "one.npz", data=np.column_stack([X, y]))
    np.savetxt(
        tmp_path / "t.tsv", np.column_stack([X, y]), delimiter="\t",
        header="a\tb\tc\ty", comments="", fmt="%.17g",
    )  # fmt: skip
    names = {}
    for argv in (
        ["a.npy", "--target", "0"],
        ["xy.npz"],
        ["one.npz", "--target", "-1"],
        ["t.tsv", "--target", "y"],
    ):
        status, out, err = run(capsys, "fit", tmp_path / argv[0], *argv[1:], "--json")
        assert status == 0, (argv, err)
        report = json.loads(out)
        assert report["coef"] == want, argv
        names[argv[0]] = report["feature_names"]
    assert names["a.npy"] == names["xy.npz"] == ["x0", "x1", "x2"]
    assert names["t.tsv"] == ["a", "b", "c"]


def test_fit_float32_npy_keeps_float32(capsys, tmp_path, problem):
    X, y, _ = problem
    np.save(tmp_path / "f.npy", np.column_stack([X, y]).astype(np.float32))
    status, _, err = run(
        capsys,
        "fit",
        tmp_path / "f.npy",
        "--target",
        "3",
        "--save",
        tmp_path / "m.json",
    )
    assert status == 0, err
    model = load_model(tmp_path / "m.json")
    assert model.coef_.dtype == np.float32
    assert isinstance(model.intercept_, np.float32)


# --------------------------------------------------------------------------
# save and predict
# --------------------------------------------------------------------------


def test_save_and_predict_reproduce_model_predict_exactly(capsys, tmp_path, csv_path):
    model_path = tmp_path / "model.json"
    status, out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--save", model_path
    )
    assert status == 0, err
    assert f"model saved to {model_path}" in out
    doc = json.loads(model_path.read_text())
    assert doc["format"] == "fastlinreg-model"
    assert doc["format_version"] == 1
    assert doc["fastlinreg_version"] == fastlinreg.__version__
    assert doc["feature_names"] == FEATURES
    assert (doc["target"], doc["dtype"]) == ("price", "float64")
    assert doc["training"]["n_train"] == 300
    assert b"pickle" not in model_path.read_bytes()

    status, out, err = run(capsys, "predict", model_path, csv_path)
    assert status == 0, err
    printed = np.array([float(line) for line in out.splitlines()])
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    X, y = data[:, :3], data[:, 3]
    loaded = load_model(model_path)
    assert printed.tolist() == loaded.predict(X).tolist()  # bit for bit
    # ... and the same as the model fitted in Python on the same rows.
    fitted = reference_fit(X, y)[0]
    assert loaded.coef_.tolist() == fitted.coef_.tolist()
    assert printed.tolist() == fitted.predict(X).tolist()

    status, out, err = run(
        capsys, "predict", model_path, csv_path, "--output", tmp_path / "p.txt"
    )
    assert status == 0, err
    assert out == f"wrote 400 predictions to {tmp_path / 'p.txt'}\n"
    written = [float(v) for v in (tmp_path / "p.txt").read_text().splitlines()]
    assert written == printed.tolist()


def test_predict_matches_csv_columns_by_name(capsys, tmp_path, csv_path):
    model_path = tmp_path / "model.json"
    run(capsys, "fit", csv_path, "--target", "price", "--save", model_path)
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    shuffled = tmp_path / "new.csv"
    # Other order, an extra non-numeric column, no target: all fine.
    lines = ["id,age,size,rooms"] + [
        f"r{i},{a!r},{s!r},{r!r}" for i, (s, r, a) in enumerate(data[:, :3].tolist())
    ]
    shuffled.write_text("\n".join(lines) + "\n")
    status, out, err = run(capsys, "predict", model_path, shuffled)
    assert status == 0, err
    want = load_model(model_path).predict(data[:, :3])
    assert [float(v) for v in out.split()] == want.tolist()


def test_predict_arrays_by_position(capsys, tmp_path, problem):
    X, y, _ = problem
    np.save(tmp_path / "train.npy", np.column_stack([X, y]))
    np.save(tmp_path / "X.npy", X)
    np.savez(tmp_path / "X.npz", X=X)
    model_path = tmp_path / "m.json"
    run(capsys, "fit", tmp_path / "train.npy", "--target", "-1", "--save", model_path)
    want = load_model(model_path).predict(X).tolist()
    for data in ("train.npy", "X.npy", "X.npz"):
        status, out, err = run(capsys, "predict", model_path, tmp_path / data)
        assert status == 0, (data, err)
        assert [float(v) for v in out.split()] == want, data


def test_save_model_load_model_round_trip(tmp_path):
    X, y = make_regression(n_samples=300, n_features=2, random_state=5)
    model = LinearRegression(max_iter=500).fit(X, y)
    save_model(model, tmp_path / "m.json", target="y")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.get_params()["max_iter"] == 500
    for attr in ("coef_", "loss_curve_"):
        np.testing.assert_array_equal(getattr(loaded, attr), getattr(model, attr))
    for attr in ("intercept_", "n_features_in_", "n_iter_", "converged_", "backend_"):
        assert getattr(loaded, attr) == getattr(model, attr), attr
    assert loaded.predict(X).tolist() == model.predict(X).tolist()
    assert not hasattr(loaded, "feature_names_in_")


def test_save_model_keeps_dataframe_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_regression(n_samples=100, n_features=2, random_state=5)
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = LinearRegression().fit(frame, y)
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.feature_names_in_.tolist() == ["a", "b"]
    assert loaded.predict(frame).tolist() == model.predict(frame).tolist()


def test_load_model_refuses_other_files(tmp_path):
    from fastlinreg._io import DataError

    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="not a fastlinreg model file"):
        load_model(tmp_path / "other.json")
    (tmp_path / "future.json").write_text(
        '{"format": "fastlinreg-model", "format_version": 99}'
    )
    with pytest.raises(DataError, match=r"format version 99.*upgrade"):
        load_model(tmp_path / "future.json")
    (tmp_path / "broken.json").write_text(
        '{"format": "fastlinreg-model", "format_version": 1}'
    )
    with pytest.raises(DataError, match="not a valid fastlinreg model file"):
        load_model(tmp_path / "broken.json")


# --------------------------------------------------------------------------
# Errors: one line on stderr, status 2, no traceback
# --------------------------------------------------------------------------


@pytest.fixture
def error_files(tmp_path: Path, csv_path: Path, capsys) -> Path:
    (tmp_path / "text.csv").write_text("a,city,y\n1,Paris,2\n2,Rome,3\n")
    (tmp_path / "hole.csv").write_text("a,b,y\n1,2,3\n4,,6\n")
    (tmp_path / "header.csv").write_text("a,b,y\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "junk.npy").write_text("this is not an array")
    (tmp_path / "junk.npz").write_text("nor is this")
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "strings.npy").write_bytes(b"")
    np.save(tmp_path / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    (tmp_path / "data.txt").write_text("1,2\n")
    (tmp_path / "other.csv").write_text("u,v\n1,2\n")
    run(capsys, "fit", csv_path, "--target", "price", "--save", tmp_path / "m.json")
    return tmp_path


ERROR_CASES = {
    "missing file": (["fit", "{d}/nope.csv", "--target", "y"], "file not found"),
    "unknown column": (["fit", "{csv}", "--target", "cost"], "column 'cost' not found"),
    "unknown feature": (
        ["fit", "{csv}", "--target", "price", "--features", "size,floor"],
        "column 'floor' not found",
    ),
    "non-numeric column": (
        ["fit", "{d}/text.csv", "--target", "y"],
        "column 'city' is not numeric: 'Paris' on line 2",
    ),
    "empty value": (
        ["fit", "{d}/hole.csv", "--target", "y"],
        "column 'b' has an empty",
    ),
    "no rows": (["fit", "{d}/header.csv", "--target", "y"], "no data rows"),
    "empty file": (["fit", "{d}/empty.csv", "--target", "y"], "is empty"),
    "no target": (["fit", "{csv}"], "which column"),
    "name for an array": (["fit", "{d}/flat.npy", "--target", "y"], "2-D array"),
    "strings in npy": (["fit", "{d}/strings.npy", "--target", "0"], "not numbers"),
    "column out of range": (["fit", "{d}/two.npz", "--target", "0"], "X and y"),
    "unreadable npy": (["fit", "{d}/junk.npy", "--target", "0"], "not a .npy file"),
    "unreadable npz": (["fit", "{d}/junk.npz"], "not a .npz file"),
    "directory": (["fit", "{d}", "--target", "0"], "cannot tell the format"),
    "unknown format": (["fit", "{d}/data.txt", "--target", "0"], "cannot tell the"),
    "bad max-iter": (["fit", "{csv}", "--target", "price", "--max-iter", "x"], "--max"),
    "zero max-iter": (["fit", "{csv}", "--target", "price", "--max-iter", "0"], ">= 1"),
    "bad learning rate": (
        ["fit", "{csv}", "--target", "price", "--learning-rate", "-1"],
        "--learning-rate: expected 'auto' or a positive number",
    ),
    "bad tol": (["fit", "{csv}", "--target", "price", "--tol", "nan"], "--tol"),
    "bad test size": (
        ["fit", "{csv}", "--target", "price", "--test-size", "1.5"],
        "--test-size",
    ),
    "test size too big": (
        ["fit", "{csv}", "--target", "price", "--test-size", "400"],
        "test_size=400",
    ),
    "bad backend": (["fit", "{csv}", "--target", "price", "--backend", "gpu"], "gpu"),
    "unknown loss": (
        ["fit", "{csv}", "--target", "price", "--loss", "hinge"],
        "unknown loss 'hinge'",
    ),
    "bad quantile": (
        ["fit", "{csv}", "--target", "price", "--loss", "quantile", "--quantile", "1"],
        "--quantile",
    ),
    "negative alpha": (
        ["fit", "{csv}", "--target", "price", "--alpha", "-1"],
        "--alpha",
    ),
    "diverging step": (
        ["fit", "{csv}", "--target", "price", "--learning-rate", "10"],
        "diverged",
    ),
    "unknown option": (["fit", "{csv}", "--target", "price", "--fast"], "--fast"),
    "unknown command": (["fitt"], "invalid choice: 'fitt'"),
    "missing model": (["predict", "{d}/none.json", "{csv}"], "model file not found"),
    "not a model": (["predict", "{d}/junk.json", "{csv}"], "cannot read"),
    "csv as model": (["predict", "{csv}", "{csv}"], "cannot read"),
    "missing feature": (["predict", "{d}/m.json", "{d}/other.csv"], "lacks the column"),
    "output dir": (
        ["predict", "{d}/m.json", "{csv}", "--output", "{d}/no/p.txt"],
        "cannot write",
    ),
    "save dir": (
        ["fit", "{csv}", "--target", "price", "--save", "{d}/no/m.json"],
        "cannot write",
    ),
    "plot dir": (["demo", "--plot", "{d}/no/demo.png"], "no directory"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_are_one_line_and_status_2(capsys, error_files, csv_path, case):
    argv, expected = ERROR_CASES[case]
    argv = [a.format(d=error_files, csv=csv_path) for a in argv]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("fastlinreg: error: "), err
    assert "Traceback" not in err
    assert expected in err, err


def test_parquet_without_pyarrow_says_to_install_it(capsys, error_files, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    status, _, err = run(capsys, "fit", error_files / "data.parquet", "--target", "y")
    assert status == 2
    assert err == (
        f"fastlinreg: error: reading Parquet files ({error_files / 'data.parquet'}) "
        "needs pyarrow, which is not installed: pip install pyarrow\n"
    )


def test_parquet_fit_and_predict(capsys, tmp_path, csv_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    columns = {name: data[:, i] for i, name in enumerate([*FEATURES, "price"])}
    columns["rooms"] = columns["rooms"].astype(np.float32)
    pq.write_table(pa.table(columns), tmp_path / "h.parquet")
    status, out, err = run(
        capsys, "fit", tmp_path / "h.parquet", "--target", "price", "--json",
        "--save", tmp_path / "m.json",
    )  # fmt: skip
    assert status == 0, err
    X = data[:, :3].copy()
    X[:, 1] = columns["rooms"]  # float32 values, read back as float64
    want = reference_fit(X, data[:, 3])
    assert json.loads(out)["coef"] == want[0].coef_.tolist()
    status, out, err = run(
        capsys, "predict", tmp_path / "m.json", tmp_path / "h.parquet"
    )
    assert status == 0, err
    assert len(out.split()) == 400
    pq.write_table(pa.table({"a": ["x", "y"], "y": [1.0, 2.0]}), tmp_path / "s.parquet")
    status, _, err = run(capsys, "fit", tmp_path / "s.parquet", "--target", "y")
    assert status == 2
    assert "column 'a'" in err
    assert "not numeric" in err


def test_errors_in_a_subprocess_have_no_traceback(csv_path):
    status, out, err = run_subprocess("fit", csv_path, "--target", "nope")
    assert status == 2
    assert out == ""
    assert err == (
        f"fastlinreg: error: column 'nope' not found in {csv_path} "
        "(columns: size, rooms, age, price)\n"
    )


# --------------------------------------------------------------------------
# demo, bench, help, and the console script
# --------------------------------------------------------------------------


def test_demo_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    status, out, err = run(
        capsys, "demo", "--n-samples", "2000", "--repeat", "1", "--plot", png
    )
    assert status == 0, err
    assert "Answer: y = 7.6" in out
    assert "sum of squared errors" in out
    assert out.rstrip().endswith(f"Figure written to {png}")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.shape[0] >= 400
    assert image.shape[1] >= 2 * image.shape[0]  # two panels side by side
    # Red pixels: the true line is drawn.
    rgb = image[..., :3]
    red = (rgb[..., 0] > 0.9) & (rgb[..., 1] < 0.6) & (rgb[..., 2] < 0.6)
    assert red.sum() > 100


def test_demo_without_matplotlib_fails_before_running(capsys, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    status, out, err = run(capsys, "demo", "--plot", tmp_path / "d.png")
    assert status == 2
    assert out == ""
    assert "pip install 'fastlinreg[plot]'" in err


def test_bench_prints_a_table(capsys):
    status, out, err = run(
        capsys,
        "bench",
        "--n-samples",
        "2000",
        "--n-features",
        "1",
        "3",
        "--repeat",
        "1",
    )
    assert status == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| 2e+03")]
    assert len(rows) == 4  # 2 feature counts x 2 dtypes
    header = next(line for line in out.splitlines() if line.startswith("| n x d"))
    for backend in fastlinreg.available_backends():
        assert f"{backend} ms" in header
    assert all(len(r.split("|")) == len(header.split("|")) for r in rows)
    assert "python benchmarks/run.py" in " ".join(out.split())


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "fit", "predict", "bench"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = capsys.readouterr().out
    for option in ("--target", "--loss", "--learning-rate", "--max-iter", "--tol",
                   "--backend", "--test-size", "--seed", "--no-intercept", "--json",
                   "--save"):  # fmt: skip
        assert option in out


def test_python_m_fastlinreg_fit_and_predict(tmp_path, csv_path):
    status, out, err = run_subprocess(
        "fit", csv_path, "--target", "price", "--json", "--save", tmp_path / "m.json"
    )
    assert status == 0, err
    assert json.loads(out)["feature_names"] == FEATURES
    status, out, err = run_subprocess("predict", tmp_path / "m.json", csv_path)
    assert status == 0, err
    assert len(out.splitlines()) == 400


def test_console_script(csv_path):
    script = Path(sys.executable).with_name("fastlinreg")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    status, out, err = run_subprocess("--version", cmd=[str(script)])
    assert status == 0, err
    assert out.strip() == f"fastlinreg {fastlinreg.__version__}"


# --------------------------------------------------------------------------
# fit --summary: inference
# --------------------------------------------------------------------------


def test_fit_summary_prints_the_table_on_every_row(capsys, csv_path, problem):
    X, y, _ = problem
    status, out, err = run(capsys, "fit", csv_path, "--target", "price", "--summary")
    assert status == 0, err
    # inference is about all the rows: nothing held out unless asked
    assert "400 rows, no held-out part" in out
    want = LinearRegression().fit(X, y).inference_
    for name, coef, se in zip(["const", *FEATURES], want.params, want.bse, strict=True):
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert f"{se:.4f}" in row or f"{se:.3e}" in row, row
        assert f"{coef:.4f}" in row or f"{coef:.3e}" in row, row
    assert "Dep. Variable:" in out
    assert "price" in out
    assert "nonrobust" in out


def test_fit_json_carries_the_inference(capsys, tmp_path, problem):
    X, y, _ = problem
    groups = np.arange(400) % 37
    path = tmp_path / "clustered.csv"
    np.savetxt(
        path,
        np.column_stack([X, y, groups]),
        delimiter=",",
        header=",".join([*FEATURES, "price", "firm"]),
        comments="",
        fmt="%.17g",
    )
    status, out, err = run(
        capsys, "fit", path, "--target", "price", "--cluster", "firm", "--json"
    )
    assert status == 0, err
    facts = json.loads(out)["inference"]
    want = LinearRegression(cov_type="cluster").fit(X, y, groups=groups).inference_
    assert facts["names"] == ["const", *FEATURES]  # the groups column is no feature
    assert facts["cov_type"] == "cluster"
    assert facts["n_groups"] == [37]
    np.testing.assert_allclose(facts["bse"], want.bse, rtol=1e-12)
    np.testing.assert_allclose(facts["pvalues"], want.pvalues, rtol=1e-10)
    status, out, err = run(
        capsys, "fit", path, "--target", "price", "--features", "size,rooms",
        "--cov-type", "HC3", "--json",
    )  # fmt: skip
    assert status == 0, err
    want = LinearRegression(cov_type="HC3").fit(X[:, :2], y).inference_
    np.testing.assert_allclose(
        json.loads(out)["inference"]["bse"], want.bse, rtol=1e-12
    )


def test_fit_summary_of_a_penalised_fit_is_a_one_line_error(capsys, csv_path):
    status, _out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--alpha", "0.5", "--summary"
    )
    assert status != 0
    assert "penalised" in err
    assert len(err.strip().splitlines()) == 1


def test_fit_alpha_cv_chooses_as_the_estimator(capsys, csv_path, problem, tmp_path):
    X, y, _ = problem
    model_file = tmp_path / "cv.json"
    status, out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--alpha", "cv",
        "--penalty", "l1", "--cv", "4", "--test-size", "0", "--json",
        "--save", model_file,
    )  # fmt: skip
    assert status == 0, err
    report = json.loads(out)
    want = fastlinreg.LinearRegressionCV(penalty="l1", cv=4).fit(X, y)
    assert report["cv"]["alpha"] == pytest.approx(want.alpha_, rel=1e-12)
    assert report["cv"]["folds"] == 4
    np.testing.assert_allclose(report["coef"], want.coef_, rtol=1e-9, atol=1e-12)
    # the saved model is the LinearRegression at the chosen penalty
    loaded = load_model(model_file)
    assert loaded.alpha == pytest.approx(want.alpha_, rel=1e-12)
    assert loaded.penalty == "l1"
    np.testing.assert_allclose(loaded.predict(X), want.predict(X), rtol=1e-9)
    status, out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--alpha", "cv",
        "--penalty", "elasticnet", "--l1-ratio", "0.5",
    )  # fmt: skip
    assert status == 0, err
    assert "chosen by 5-fold cross-validation" in out


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--loss", "huber"], "out of its scope"),
        (["--penalty", "none"], "needs a penalty"),
        (["--summary"], "no classical inference"),
        (["--cv", "1"], "--cv"),
        (["--alpha", "cvx"], "--alpha"),
    ],
)
def test_fit_alpha_cv_refusals_are_one_line(capsys, csv_path, extra, words):
    status, _out, err = run(
        capsys, "fit", csv_path, "--target", "price", "--alpha", "cv", *extra
    )
    assert status != 0
    assert words in err
    assert len(err.strip().splitlines()) == 1
