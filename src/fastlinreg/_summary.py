"""The regression table of an :class:`~fastlinreg._inference.InferenceResult`."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Summary"]

_WIDTH = 78


def _num(v: float, width: int = 10) -> str:
    """A number in ``width`` characters, 4 significant digits."""
    if math.isnan(v):
        return "nan".rjust(width)
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{v:.3e}".rjust(width)
    return f"{v:.4f}".rjust(width)


def _p(v: float) -> str:
    return ("<0.0005" if v < 5e-4 else f"{v:.3f}").rjust(8)


class Summary:
    """The table a statistician recognises: a header (observations, degrees
    of freedom, R², F, log-likelihood, AIC/BIC, covariance type) and one row a
    parameter (coef, std err, t or z, P>|t| or P>|z|, the interval).

    ``str(summary)`` is the text; :meth:`to_frame` the rows as a pandas
    DataFrame.
    """

    def __init__(
        self,
        result: Any,
        alpha: float = 0.05,
        title: str | None = None,
        yname: str = "y",
    ):
        # result: an InferenceResult (not imported: this module sits below it)
        self.result = result
        self.yname = yname
        self.alpha = alpha
        self.title = title or _TITLES.get(result.model, _TITLES["OLS"])

    def _stat(self) -> str:
        return "t" if self.result.use_t else "z"

    def _columns(self) -> list[str]:
        stat = self._stat()
        lo, hi = self.alpha / 2, 1 - self.alpha / 2
        return ["coef", "std err", stat, f"P>|{stat}|", f"[{lo:g}", f"{hi:g}]"]

    def to_frame(self) -> Any:
        """The parameter rows as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a test dependency
            raise ImportError(
                "Summary.to_frame needs pandas: pip install pandas"
            ) from exc
        r = self.result
        ci = r.conf_int(self.alpha)
        columns = self._columns()
        data = {
            columns[0]: r.params,
            columns[1]: r.bse,
            columns[2]: r.tvalues,
            columns[3]: r.pvalues,
            columns[4]: ci[:, 0],
            columns[5]: ci[:, 1],
        }
        return pd.DataFrame(data, index=list(r.names))

    def _header(self) -> list[str]:
        r = self.result
        clusters = ""
        if r.n_groups is not None:
            clusters = " x ".join(str(g) for g in r.n_groups)
        left = [
            ("Dep. Variable:", self.yname[:20]),
            ("Model:", r.model),
            ("Covariance Type:", r.cov_type),
            ("No. Observations:", f"{r.nobs:.0f}"),
            ("Df Residuals:", f"{r.df_resid:.0f}"),
            ("Df Model:", f"{r.df_model:.0f}"),
        ]
        if clusters:
            left.append(("No. Clusters:", clusters))
        right = [
            ("R-squared:", f"{r.rsquared:.4f}"),
            ("Adj. R-squared:", f"{r.rsquared_adj:.4f}"),
            ("F-statistic:", f"{r.fvalue:.4g}"),
            ("Prob (F-statistic):", f"{r.f_pvalue:.3g}"),
            ("Log-Likelihood:", f"{r.llf:.5g}"),
            ("AIC:", f"{r.aic:.4g}"),
            ("BIC:", f"{r.bic:.4g}"),
        ]
        right = [(k, v) for k, v in right if v != "nan"]
        lines = []
        for i in range(max(len(left), len(right))):
            lk, lv = left[i] if i < len(left) else ("", "")
            rk, rv = right[i] if i < len(right) else ("", "")
            lines.append(f"{lk:<18}{lv:>20}   {rk:<20}{rv:>17}")
        return lines

    def __str__(self) -> str:
        r = self.result
        ci = r.conf_int(self.alpha)
        names = [n if len(n) <= 16 else n[:15] + "~" for n in r.names]
        wide = max([5, *map(len, names)])
        cols = self._columns()
        head = " " * wide + "".join(c.rjust(11) for c in cols[:3])
        head += cols[3].rjust(9) + cols[4].rjust(11) + cols[5].rjust(11)
        rows = [
            f"{name:<{wide}}{_num(c, 11)}{_num(s, 11)}{_num(t, 11)} {_p(p)}"
            f"{_num(lo, 11)}{_num(hi, 11)}"
            for name, c, s, t, p, lo, hi in zip(
                names,
                r.params,
                r.bse,
                r.tvalues,
                r.pvalues,
                ci[:, 0],
                ci[:, 1],
                strict=True,
            )
        ]
        width = max(_WIDTH, len(head))
        out = [self.title.center(width), "=" * width, *self._header(), "=" * width]
        out += [head, "-" * width, *rows, "=" * width]
        out.append(_note(r))
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


_TITLES = {
    "OLS": "Least Squares Regression Results",
    "QuantReg": "Quantile Regression Results",
    "Huber": "Huber Regression Results",
}


def _note(result: Any) -> str:
    if result.model == "QuantReg":
        return {
            "robust": "Standard errors: QuantReg's robust sandwich (kernel density, "
            "Hall-Sheather bandwidth).",
            "iid": "Standard errors assume independent, identically distributed "
            "errors.",
        }[result.cov_type]
    notes = {
        "nonrobust": "Standard errors assume homoskedastic, independent errors.",
        "HC0": "Standard errors robust to heteroskedasticity (HC0, White).",
        "HC1": "Standard errors robust to heteroskedasticity (HC1: HC0 x n/(n - k)).",
        "HC2": "Standard errors robust to heteroskedasticity (HC2: leverage-adjusted).",
        "HC3": "Standard errors robust to heteroskedasticity (HC3: jackknife-like).",
        "cluster": "Standard errors robust to correlation within clusters (CRV1).",
        "robust": "Standard errors: the Huber sandwich, robust to heteroskedasticity.",
    }
    return notes[result.cov_type]
