"""BG/NBD recovers simulated parameters and, as a candidate, ranks the customers who dropped out;
the heuristic baseline ranks by its rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.training.conftest import small_config
from training.baselines import BGNBD, bgnbd_log_likelihood, fit_bgnbd, recency_frequency
from training.fit import fit_bgnbd_model
from training.metrics import roc_auc


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, age: float, seed: int):
    """Buy at rate λ~Gamma(r, α); after each purchase drop out w.p. p~Beta(a, b)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x, dead = np.zeros(n), np.zeros(n), np.zeros(n, int)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > age:
                break
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < p[i]:
                dead[i] = 1
                break
    return x, t_x, np.full(n, age), dead


def test_bgnbd_recovers_parameters() -> None:
    x, t_x, age, _ = simulate_bgnbd(4000, r=0.8, alpha=20.0, a=0.7, b=3.0, age=365, seed=4)
    fit = fit_bgnbd(x, t_x, age)
    assert fit.r == pytest.approx(0.8, rel=0.2) and fit.alpha == pytest.approx(20, rel=0.25)
    assert fit.a / (fit.a + fit.b) == pytest.approx(0.7 / 3.7, rel=0.25)


def test_bgnbd_candidate_ranks_the_customers_who_dropped_out() -> None:
    """From the purchase-log features: days with a purchase (the first at day 0, then x repeat
    days), days since the first and since the last."""
    x, t_x, age, dead = simulate_bgnbd(3000, r=0.8, alpha=20.0, a=0.7, b=3.0, age=365, seed=6)
    frame = pd.DataFrame(
        {
            "usage_days_total": x + 1,
            "days_since_first_usage": age,
            "days_since_last_usage": age - t_x,
            "label": dead,
            "cutoff": pd.Timestamp("2024-01-01"),
        }
    )
    train, holdout = frame.iloc[:2000], frame.iloc[2000:]
    model = fit_bgnbd_model(train, holdout, small_config(), horizon_days=90)
    assert model.kind == "bgnbd"
    assert roc_auc(dead[2000:], model.predict_proba(holdout)) > 0.75


def test_p_alive_closed_form() -> None:
    model = BGNBD(r=1.0, alpha=10.0, a=1.0, b=2.0)
    # No repeat purchase: alive by assumption. x=1 at t_x=T: 1 / (1 + a/b).
    np.testing.assert_allclose(model.p_alive([0, 1], [0, 50], [50, 50]), [1.0, 2 / 3])
    # Long silence since the last purchase lowers P(alive).
    early, late = model.p_alive([5, 5], [300, 30], [365, 365])
    assert early > late


def test_log_likelihood_of_a_non_buyer_matches_the_formula() -> None:
    r, alpha, a, b, age = 1.0, 10.0, 1.0, 2.0, 20.0
    expected = np.log((alpha / (alpha + age)) ** r)  # x = 0: P = (α/(α+T))^r
    got = bgnbd_log_likelihood(
        np.log([r, alpha, a, b]), np.array([0.0]), np.array([0.0]), np.array([age])
    )
    assert got == pytest.approx(expected)


def test_recency_frequency_heuristic_follows_its_directions() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"silence": rng.exponential(30, 3000), "touches": rng.poisson(4, 3000)})
    logit = 0.05 * frame["silence"] - 0.4 * frame["touches"]
    frame["label"] = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    predict = recency_frequency(frame, "silence", "touches", 1, -1)
    rows = pd.DataFrame({"silence": [5.0, 90.0, np.nan], "touches": [8, 0, 0]})
    p = predict(rows)
    assert p[0] < p[1] <= p[2]  # never-touched ranks as the longest silence


def test_heuristic_on_a_purchase_log_ranks_by_purchases_not_by_absent_touches() -> None:
    """The shipped churn config lists touch columns, then purchase columns: a purchase log has
    no calls or emails, so the touch columns tell nobody apart and the purchase ones are used.
    With neither, there is no heuristic to compare with (not a constant scored as 0.5)."""
    from training.baselines import fit_baselines
    from training.runs import resolve_config

    rng = np.random.default_rng(7)
    n = 4000
    silence = rng.exponential(40, n)
    frame = pd.DataFrame(
        {
            "days_since_last_touch": np.nan,
            "touches_per_week_90d": 0.0,
            "days_since_last_usage": silence,
            "usage_events_30d": rng.poisson(np.where(silence < 30, 3, 0.3)),
        }
    )
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(2 - silence / 25))).astype(int)
    config = resolve_config("churn", None)
    train, calibrate, test = frame.iloc[:2000], frame.iloc[2000:3000], frame.iloc[3000:]
    heuristic = fit_baselines(train, calibrate, config)["recency_frequency"]
    assert roc_auc(test["label"].to_numpy(), heuristic(test)) > 0.7
    flat = frame.assign(days_since_last_usage=np.nan, usage_events_30d=0)
    assert set(fit_baselines(flat, flat, config)) == {"base_rate"}


def test_bgnbd_fit_without_heterogeneity_keeps_its_likelihood_honest() -> None:
    """Every customer buys at the same rate and nobody drops out: the gamma mixing distribution
    is a point mass (r, α → ∞ at fixed r/α). The fit stays inside its bounds, recovers the rate,
    and its log-likelihood is a real number, not the rounding error of two huge cancelling terms."""
    rng = np.random.default_rng(11)
    n, rate, age = 3000, 0.05, 365.0
    x = rng.poisson(rate * age, n).astype(float)
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), 1), 0.0)  # last of x uniform times
    fit = fit_bgnbd(x, t_x, np.full(n, age))
    assert max(fit.r, fit.alpha, fit.a, fit.b) <= 1e8 * 1.001
    assert fit.r / fit.alpha == pytest.approx(rate, rel=0.05)
    loglik = bgnbd_log_likelihood(np.log([fit.r, fit.alpha, fit.a, fit.b]), x, t_x, np.full(n, age))
    poisson = np.sum(x * np.log(rate) - rate * age)  # the no-dropout Poisson likelihood, true λ
    assert poisson - 50 < loglik < 0
