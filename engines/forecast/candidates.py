"""The candidate models, each a pure function `(y, h, periods) -> h forecasts`.

`periods` are the seasonal periods found in the series (shortest first); each model uses those it
has enough history for and degrades to a non-seasonal version otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

Array = NDArray[np.float64]
Model = Callable[[Array, int, tuple[int, ...]], Array]

# damped Holt grid (beta 0 is simple exponential smoothing)
_ALPHA = np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.8])
_BETA = np.array([0.0, 0.02, 0.1])
_PHI = np.array([0.8, 0.9, 0.98])
_GRID = np.array(np.meshgrid(_ALPHA, _BETA, _PHI, indexing="ij")).reshape(3, -1)
_FIT_WINDOW = 240  # the trend models see at most the last ten days of hourly data


def usable(periods: tuple[int, ...], n: int, cycles: int = 2) -> tuple[int, ...]:
    return tuple(p for p in periods if n >= cycles * p)


def rolling_mean(y: Array, w: int) -> Array:
    """Centred moving mean over `w` points (shorter windows at the ends)."""
    n = len(y)
    c = np.concatenate(([0.0], np.cumsum(y)))
    i = np.arange(n)
    lo = np.clip(i - w // 2, 0, n)
    hi = np.clip(i - w // 2 + w, 0, n)
    return np.asarray((c[hi] - c[lo]) / (hi - lo), dtype=np.float64)


def rolling_median(y: Array, w: int) -> Array:
    """Centred moving median over `w` points (edges padded with the edge values)."""
    w = max(1, min(w, len(y)))
    pad = np.pad(y, (w // 2, w - 1 - w // 2), mode="edge")
    return np.asarray(np.median(sliding_window_view(pad, w), axis=1), dtype=np.float64)


def phase_profile(d: Array, p: int, seasons: int, reduce: Callable[..., Array] = np.median) -> Array:
    """Per-phase summary of the last `seasons` whole seasons of `d`; entry i is for phase
    `(len(d) + i) mod p`, i.e. the i-th step after the end of `d`."""
    k = min(seasons, len(d) // p)
    block = d[len(d) - k * p :].reshape(k, p)
    return np.asarray(reduce(block, axis=0), dtype=np.float64)


def ahead(profile: Array, h: int) -> Array:
    return np.asarray(profile[np.arange(h) % len(profile)], dtype=np.float64)


def clean(y: Array, periods: tuple[int, ...], k: float = 6.0) -> Array:
    """`y` with isolated outliers pulled in: residuals from a moving median plus the shortest
    period's phase medians are clipped at `k` robust deviations (level shifts pass: the moving
    median follows them)."""
    n = len(y)
    ps = usable(periods, n, 3)
    w = ps[0] if ps else min(n, 25)
    trend = rolling_median(y, w | 1)
    d = y - trend
    if ps:
        p = ps[0]
        k_seasons = n // p
        prof = phase_profile(d, p, k_seasons)
        seasonal = prof[(np.arange(n) - (n - k_seasons * p)) % p]
    else:
        seasonal = np.zeros(n)
    res = d - seasonal
    mad = 1.4826 * float(np.median(np.abs(res - np.median(res))))
    if mad <= 0:
        return y
    centre = float(np.median(res))
    return np.asarray(trend + seasonal + np.clip(res, centre - k * mad, centre + k * mad), dtype=np.float64)


def decompose(y: Array, periods: tuple[int, ...], seasons: int = 8) -> tuple[Array, list[Array]]:
    """Additive multi-seasonal decomposition, shortest period first: (the deseasonalised series,
    one zero-mean profile per period whose entry i is for the i-th step after the end). Seasonal
    indices are per-phase medians of the series detrended by a moving mean, over the last
    `seasons` seasons."""
    n = len(y)
    rest = y.copy()
    profiles = []
    for p in usable(periods, n):
        prof = phase_profile(rest - rolling_mean(rest, p), p, seasons)
        prof -= prof.mean()
        rest = rest - prof[(np.arange(n) - n) % p]
        profiles.append(prof)
    return rest, profiles


def seasonal_ahead(profiles: list[Array], h: int) -> Array:
    out = np.zeros(h)
    for prof in profiles:
        out += ahead(prof, h)
    return out


def holt_grid(a: Array) -> tuple[float, float, float, float]:
    """Damped Holt fitted to `a` by the smallest squared one-step error over a small grid:
    (level, trend, phi, alpha)."""
    ((holt, _),) = smooth_fit(a[None, -_FIT_WINDOW:])
    return holt


def smooth_fit(xs: Array) -> list[tuple[tuple[float, float, float, float], tuple[float, float]]]:
    """Per row of `xs` (rows of equal length): the damped-Holt fit (level, trend, phi, alpha) and
    the simple-exponential-smoothing fit (level, alpha), each the grid point with the smallest
    squared one-step error. All rows and grid points run as one vectorised recursion; SES is the
    grid's block with no trend."""
    k, n = xs.shape
    g = _GRID.shape[1]
    alpha = np.concatenate([_GRID[0], _ALPHA])
    beta = np.concatenate([_GRID[1], np.zeros(len(_ALPHA))])
    phi = np.concatenate([_GRID[2], np.ones(len(_ALPHA))])
    first = min(n - 1, 8)
    slope0 = (xs[:, first] - xs[:, 0]) / max(1, first)
    level = np.repeat(xs[:, :1], len(alpha), axis=1)
    trend = np.zeros_like(level)
    trend[:, :g] = slope0[:, None]
    sse = np.zeros_like(level)
    # in-place ufuncs: the loop is per point, so allocations would dominate
    pt, expected, err, tmp, new_level = (np.empty_like(level) for _ in range(5))
    for t in range(1, n):
        np.multiply(phi, trend, out=pt)
        np.add(level, pt, out=expected)
        np.subtract(xs[:, t : t + 1], expected, out=err)
        np.multiply(err, err, out=tmp)
        sse += tmp
        np.multiply(alpha, err, out=tmp)
        np.add(expected, tmp, out=new_level)
        np.subtract(new_level, level, out=tmp)
        tmp -= pt
        tmp *= beta
        np.add(pt, tmp, out=trend)
        level, new_level = new_level, level
    out = []
    for r in range(k):
        hb = int(np.argmin(sse[r, :g]))
        sb = g + int(np.argmin(sse[r, g:]))
        holt = (float(level[r, hb]), float(trend[r, hb]), float(phi[hb]), float(alpha[hb]))
        out.append((holt, (float(level[r, sb]), float(alpha[sb]))))
    return out


def damped(level: float, trend: float, phi: float, h: int) -> Array:
    steps = np.arange(1, h + 1)
    return np.asarray(level + trend * phi * (1 - phi**steps) / (1 - phi), dtype=np.float64)


def decomposition_family(y: Array, h: int, periods: tuple[int, ...]) -> dict[str, Array]:
    """One decomposition of the values (and one of their logs, for a positive series:
    multiplicative seasonality), each taken three ways ahead: damped Holt, Theta (simple
    exponential smoothing plus half the linear-regression drift), and the last season's level."""
    variants = {"": y} if float(y.min()) <= 0 else {"": y, "log_": np.log(y)}
    parts = {prefix: decompose(v, periods) for prefix, v in variants.items()}
    window = np.vstack([a[-_FIT_WINDOW:] for a, _ in parts.values()])
    fits = smooth_fit(window)
    ps = usable(periods, len(y))
    steps = np.arange(1, h + 1)
    out: dict[str, Array] = {}
    for (prefix, (a, profiles)), x, ((level, trend, phi, _), (ses, alpha)) in zip(
        parts.items(), window, fits, strict=True
    ):
        season = seasonal_ahead(profiles, h)
        slope = float(np.polyfit(np.arange(len(x)), x, 1)[0]) if len(x) > 2 else 0.0
        theta = ses + 0.5 * slope * (steps - 1 + 1 / alpha - ((1 - alpha) ** len(x)) / alpha)
        last = float(a[-(ps[0] if ps else min(len(a), 24)) :].mean())
        runs = {"decomp_holt": damped(level, trend, phi, h), "decomp_theta": theta, "decomp_level": np.full(h, last)}
        for name, base in runs.items():
            f = base + season
            out[prefix + name] = np.exp(np.minimum(f, 700.0)) if prefix else f
    return out


def seasonal_naive(y: Array, h: int, periods: tuple[int, ...], which: int = 0) -> Array:
    ps = usable(periods, len(y), 1)
    p = ps[min(which, len(ps) - 1)] if ps else 1
    return ahead(y[len(y) - p :], h)


def seasonal_median(y: Array, h: int, periods: tuple[int, ...], seasons: int = 7, mean: bool = False) -> Array:
    """Per-phase median (or mean) of the last `seasons` shortest seasons, shifted to the level of
    the last season."""
    ps = usable(periods, len(y))
    if not ps:
        return np.full(h, float(np.median(y[-min(len(y), 24) :])))
    p = ps[0]
    prof = phase_profile(y, p, seasons, np.mean if mean else np.median)
    shift = float(y[-p:].mean() - prof.mean())
    return ahead(prof + shift, h)


def fourier(y: Array, h: int, periods: tuple[int, ...], harmonics: int = 8, window: int = 672) -> Array:
    """Least squares on Fourier terms of each period plus a linear trend (damped ahead), two
    Huber-reweighted passes so outliers weigh little."""
    x = y[-window:]
    n = len(x)
    t = np.arange(n + h, dtype=np.float64)
    cols = [np.ones(n + h), (t - n) / max(n, 1)]
    seen: set[float] = set()
    for p in usable(periods, n):
        for k in range(1, min(harmonics, p // 2) + 1):
            if round(k / p, 9) in seen:
                continue
            seen.add(round(k / p, 9))
            cols += [np.sin(2 * np.pi * k * t / p), np.cos(2 * np.pi * k * t / p)]
    design = np.column_stack(cols)
    fit_part, future = design[:n], design[n:]
    w = np.ones(n)
    coef = np.zeros(design.shape[1])
    for _ in range(3):
        weighted = fit_part * (w * w)[:, None]
        gram = weighted.T @ fit_part + 1e-8 * np.eye(fit_part.shape[1])
        coef = np.linalg.solve(gram, weighted.T @ x)
        res = x - fit_part @ coef
        s = 1.4826 * float(np.median(np.abs(res))) or 1.0
        w = np.sqrt(np.minimum(1.0, 1.5 * s / np.maximum(np.abs(res), 1e-12)))  # Huber weights
    # damp the trend column: its slope per step fades with phi = 0.98
    slope = coef[1] / max(n, 1)
    level_now = float(fit_part[-1] @ coef) - float(fit_part[-1, 1] * coef[1])
    seasonal = future[:, 2:] @ coef[2:]
    end_trend = float(fit_part[-1, 1] * coef[1])
    return np.asarray(level_now + end_trend + damped(0.0, slope, 0.98, h) + seasonal, dtype=np.float64)


def naive(y: Array, h: int, periods: tuple[int, ...]) -> Array:
    return np.full(h, float(y[-1]))


Family = Callable[[Array, int, tuple[int, ...]], dict[str, Array]]


def _single(name: str, model: Model) -> Family:
    return lambda y, h, ps: {name: model(y, h, ps)}


FAMILIES: dict[str, Family] = {
    "snaive_long": lambda y, h, ps: (
        {"snaive_long": seasonal_naive(y, h, ps, which=1)} if len(usable(ps, len(y), 1)) > 1 else {}
    ),
    "smedian3": _single("smedian3", lambda y, h, ps: seasonal_median(y, h, ps, 3)),
    "smedian7": _single("smedian7", lambda y, h, ps: seasonal_median(y, h, ps, 7)),
    "smean7": _single("smean7", lambda y, h, ps: seasonal_median(y, h, ps, 7, mean=True)),
    "decomp": decomposition_family,
    "fourier": _single("fourier", fourier),
}
CANDIDATES = ("snaive", "snaive_long", "smedian3", "smedian7", "smean7", "decomp_holt", "decomp_theta",
              "decomp_level", "log_decomp_holt", "log_decomp_theta", "log_decomp_level", "fourier")  # fmt: skip
