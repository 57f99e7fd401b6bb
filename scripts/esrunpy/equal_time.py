"""Equal-time comparisons: a method's quality against uniform training given the same train time.

The uniform ladder of a problem is its finished uniform runs at several training lengths (budgets,
train.epochs, or reduced_epochs at several ratios), each with its schedule fully decayed at its end.
Each rung is a cell: its mean train time (train_time_s plus extra_cost_s, evaluation excluded) and
its mean quality over seeds. Uniform's quality at a method's train time is interpolated linearly
between the two rungs around it, and never extrapolated: a method faster than the shortest rung or
slower than the longest has no equal-time Δ.

Intervals are 95% Welch intervals: the difference of the means ± t(0.975, ν) · se, with se² the sum
of each mean's variance (s²/n, times the square of its interpolation weight) and ν from the
Welch–Satterthwaite formula. A side with a single seed has no variance estimate, so no interval.
"""
import math


def _incomplete_beta(a, b, x):
    """The regularised incomplete beta function I_x(a, b) (Lentz's continued fraction)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * result


def t_cdf(t, df):
    """P(T <= t) for Student's t with df degrees of freedom."""
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p, df):
    """The p-quantile of Student's t (bisection on the CDF)."""
    low, high = -1e3, 1e3
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def welch_interval(difference, terms, level=0.95):
    """(low, high) around `difference`, whose variance is the sum of weight² · std² / n over
    `terms` [(weight, std, n)]; None when a term with a weight has no std (one seed)."""
    terms = [(w, s, n) for w, s, n in terms if w != 0.0]
    if not terms or any(s is None or n < 2 for _, s, n in terms):
        return None
    parts = [(w * w * s * s / n, n - 1) for w, s, n in terms]
    variance = sum(v for v, _ in parts)
    if variance == 0.0:
        return difference, difference
    df = variance ** 2 / sum(v * v / dof for v, dof in parts)
    half = t_quantile(0.5 + level / 2.0, df) * math.sqrt(variance)
    return difference - half, difference + half


class Rung:
    """One training length of the uniform ladder: mean train time, mean and std of the quality, seeds."""

    def __init__(self, time, mean, std, n, source=None):
        self.time, self.mean, self.std, self.n, self.source = time, mean, std, n, source


def is_ladder(rungs):
    """Whether the rungs span two or more training times: the least a ladder needs."""
    return len({rung.time for rung in rungs}) >= 2


def at_time(rungs, time):
    """Uniform's quality at `time` on the ladder: (mean, [(weight, std, n)] of the rungs it mixes),
    or None outside the ladder's times (or with fewer than two rungs of different times)."""
    rungs = sorted(rungs, key=lambda r: r.time)
    if not is_ladder(rungs) or not rungs[0].time <= time <= rungs[-1].time:
        return None
    for lower, upper in zip(rungs, rungs[1:]):
        if lower.time <= time <= upper.time:
            if upper.time == lower.time:
                return lower.mean, [(1.0, lower.std, lower.n)]
            w = (time - lower.time) / (upper.time - lower.time)
            return (1.0 - w) * lower.mean + w * upper.mean, [(1.0 - w, lower.std, lower.n), (w, upper.std, upper.n)]
    return None


def delta_at_equal_time(mean, std, n, time, rungs):
    """(Δ, interval or None) of a method's quality (mean, std over n seeds) against the ladder at its
    train time; None outside the ladder."""
    reference = at_time(rungs, time)
    if reference is None:
        return None
    value, terms = reference
    difference = mean - value
    return difference, welch_interval(difference, [(1.0, std, n)] + terms)
