"""Equal-time comparisons: a method's quality against uniform training given the same train time.

The uniform ladder of a problem is its finished uniform runs at several training lengths (budgets,
train.epochs, or reduced_epochs at several ratios), each with its schedule fully decayed at its end.
Each rung is a cell: its mean train time (train_time_s plus extra_cost_s, evaluation excluded) and
its mean quality over seeds. Uniform's quality at a method's train time is interpolated linearly
between the two rungs around it, and never extrapolated: a method faster than the shortest rung or
slower than the longest has no equal-time Δ.

Intervals are 95% intervals over seeds. When the method and every rung it is compared with ran the
same seeds (two or more), they are paired: a seed fixes the data split or subset, the label noise
and the initial weights alike for every method, so the interval is the paired t interval of the
per-seed differences (the method's value minus uniform's interpolated at the same seed), mean ±
t(0.975, n − 1) · s/√n. Otherwise they are Welch intervals: the difference of the means ±
t(0.975, ν) · se, with se² the sum of each mean's variance (s²/n, times the square of its
interpolation weight) and ν from the Welch–Satterthwaite formula. A side with a single seed has no
variance estimate, so no interval.

The verdict on a method follows from the interval of its Δ at equal time: above 0 (below for a
lower-is-better metric) it saves time at equal quality, and uniform's time to reach the method's
quality (time_to_quality, the ladder read the other way) says how much; an interval holding 0 or
below it does not save time.
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


def paired_interval(differences, level=0.95):
    """(low, high) of the mean of per-seed differences: the paired t interval; None for one seed."""
    n = len(differences)
    if n < 2:
        return None
    mean = sum(differences) / n
    spread = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * spread / math.sqrt(n)
    return mean - half, mean + half


def paired(by_seed, others):
    """The per-seed differences by_seed[s] − Σ weight · other[s] over [(weight, other by_seed)], when all
    of them hold the same two or more seeds; else None."""
    if not by_seed or len(by_seed) < 2 or any(o is None or set(o) != set(by_seed) for _, o in others):
        return None
    return [by_seed[s] - sum(w * o[s] for w, o in others) for s in sorted(by_seed)]


class Rung:
    """One training length of the uniform ladder: mean train time, mean and std of the quality, seeds
    (by_seed: {seed: quality}, for paired intervals)."""

    def __init__(self, time, mean, std, n, source=None, by_seed=None):
        self.time, self.mean, self.std, self.n, self.source, self.by_seed = time, mean, std, n, source, by_seed


def is_ladder(rungs):
    """Whether the rungs span two or more training times: the least a ladder needs."""
    return len({rung.time for rung in rungs}) >= 2


def at_time(rungs, time):
    """Uniform's quality at `time` on the ladder: (mean, [(weight, rung)] of the rungs it mixes), or
    None outside the ladder's times (or with fewer than two rungs of different times)."""
    rungs = sorted(rungs, key=lambda r: r.time)
    if not is_ladder(rungs) or not rungs[0].time <= time <= rungs[-1].time:
        return None
    for lower, upper in zip(rungs, rungs[1:]):
        if lower.time <= time <= upper.time:
            if upper.time == lower.time:
                return lower.mean, [(1.0, lower)]
            w = (time - lower.time) / (upper.time - lower.time)
            return (1.0 - w) * lower.mean + w * upper.mean, [(1.0 - w, lower), (w, upper)]
    return None


def delta_at_equal_time(mean, std, n, time, rungs, by_seed=None):
    """(Δ, interval or None) of a method's quality (mean, std over n seeds; by_seed {seed: quality}
    for a paired interval) against the ladder at its train time; None outside the ladder."""
    reference = at_time(rungs, time)
    if reference is None:
        return None
    value, mixed = reference
    difference = mean - value
    differences = paired(by_seed, [(w, rung.by_seed) for w, rung in mixed if w != 0.0])
    if differences is not None:
        return difference, paired_interval(differences)
    return difference, welch_interval(difference, [(1.0, std, n)] + [(w, rung.std, rung.n) for w, rung in mixed])


def time_to_quality(rungs, quality, higher_is_better=True):
    """The train time uniform needs to reach `quality` on the ladder: ("at", t) interpolated between the
    first two rungs (by time) around it; ("beyond", t) when no rung reaches it (t: the longest rung's
    time, a lower bound); ("within", t) when even the shortest rung is better (t: its time, an upper
    bound); None without a ladder."""
    rungs = sorted(rungs, key=lambda r: r.time)
    if not is_ladder(rungs):
        return None
    sign = 1.0 if higher_is_better else -1.0
    reached = lambda rung: sign * rung.mean >= sign * quality  # noqa: E731
    if reached(rungs[0]):
        return "within", rungs[0].time
    for lower, upper in zip(rungs, rungs[1:]):
        if reached(upper):
            w = (quality - lower.mean) / (upper.mean - lower.mean)
            return "at", lower.time + w * (upper.time - lower.time)
    return "beyond", rungs[-1].time


def verdict(time, at_equal_time, rungs, higher_is_better=True):
    """A plain verdict on a method whose mean train time is `time` and whose (Δ, interval) at equal time
    is `at_equal_time` (None outside the ladder): does it reach uniform's quality in less time?"""
    times = [rung.time for rung in rungs]
    if not is_ladder(rungs):
        return "no verdict: no uniform ladder"
    if at_equal_time is None:
        if time > max(times):
            return "does not save time: it trains longer than uniform's full run"
        return "no verdict: faster than the ladder's shortest rung"
    difference, interval = at_equal_time
    if interval is None:
        return "no verdict: one seed, no interval"
    sign = 1.0 if higher_is_better else -1.0
    low, high = sorted((sign * interval[0], sign * interval[1]))
    if low > 0:
        return "saves time at equal quality"
    if high < 0:
        return "does not save time: worse than uniform given the same time"
    return "does not save time: level with uniform given the same time (the interval holds 0)"
