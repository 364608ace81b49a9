#!/usr/bin/python3
"""The sampler's distribution against an exact oracle (issue 23).

For each case, tests/runtime/sampler_draws runs hfk::Sampler::sample N times with one seeded
sampler over the same logits; this script computes the exact distribution those draws should
follow, independently, with numpy in float64, following transformers' logits processors:
RepetitionPenaltyLogitsProcessor, then the OpenAI-style presence/frequency penalties, then
TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper and MinPLogitsWarper in that order.
It then applies Pearson's chi-square goodness-of-fit test and fails a case whose p-value is below
1e-6, or that ever draws a token of probability zero.

False-failure rate: for a correct sampler each case fails with probability < 1e-6 over the
randomness of the draws, so below 2e-5 for the whole file. The seeds are fixed, so the outcome is
also deterministic: a correct sampler passes on every run and platform (splitmix64 is portable).
Power: the cases are built so that the mutants of issue 23's mutation pass (temperature
multiplied, nucleus not renormalised or exclusive, min_p absolute, top-k off by one, penalties
misapplied) move some probability by several percent or draw an excluded token; at N = 60000 each
such mutant gave chi-square statistics of 378 to 475000 (p < 1e-77) in at least one case.

usage: test_sampler_distribution.py PATH/TO/sampler_draws
"""
import json
import math
import subprocess
import sys

import numpy as np

N = 60000
P_FAIL = 1e-6


# ---------- the exact distribution (transformers' processors, float64) ----------
def exact_distribution(logits, params, context=(), generated=()):
    s = np.array([-np.inf if v is None else v for v in logits], dtype=np.float32).astype(np.float64)
    rp = params.get("repetition_penalty", 1.0)
    if rp != 1.0:
        # transformers: score = where(score < 0, score * penalty, score / penalty), on the set
        # of tokens present in input_ids.
        for t in sorted(set(context)):
            s[t] = s[t] * rp if s[t] < 0 else s[t] / rp
    pp, fp = params.get("presence_penalty", 0.0), params.get("frequency_penalty", 0.0)
    if pp or fp:
        # OpenAI's definition: mu[j] - c[j] * alpha_frequency - (c[j] > 0) * alpha_presence.
        counts = np.bincount(np.array(generated, dtype=np.int64), minlength=len(s))
        s = s - counts * fp - (counts > 0) * pp
    # float32 rounding of the penalised logits, as the engine keeps them in float32
    s = s.astype(np.float32).astype(np.float64)
    t = params.get("temperature", 1.0)
    s = (s.astype(np.float32) / np.float32(t)).astype(np.float64)
    k = params.get("top_k", 0)
    if k > 0 and k < len(s):
        # TopKLogitsWarper: scores < the k-th largest are removed (ties to the lower id here)
        order = sorted(range(len(s)), key=lambda i: (-s[i], i))
        keep = np.zeros(len(s), dtype=bool)
        keep[order[:k]] = True
        s[~keep] = -np.inf
    top_p = params.get("top_p", 1.0)
    if top_p < 1.0:
        # TopPLogitsWarper: sort ascending, remove the tokens whose cumulative probability is
        # <= 1 - top_p, keeping at least one.
        probs = softmax(s)
        order = sorted(range(len(s)), key=lambda i: (s[i], -i))  # ascending, ties: higher id first
        cum = np.cumsum(probs[order])
        remove = cum <= (1 - top_p)
        remove[-1] = False
        for j, idx in enumerate(order):
            if remove[j]:
                s[idx] = -np.inf
    min_p = params.get("min_p", 0.0)
    if min_p > 0.0:
        # MinPLogitsWarper: probabilities of what is left; remove those < min_p * the top one.
        probs = softmax(s)
        s[probs < min_p * probs.max()] = -np.inf
    return softmax(s)


def softmax(s):
    finite = np.isfinite(s)
    out = np.zeros(len(s))
    m = s[finite].max()
    e = np.exp(s[finite] - m)
    out[finite] = e / e.sum()
    return out


# ---------- chi-square ----------
def chi2_sf(x, df):
    """P(X >= x) for X ~ chi-square(df): the regularised upper incomplete gamma Q(df/2, x/2)
    (series for x < a + 1, Lentz continued fraction otherwise; Numerical Recipes 6.2)."""
    a, x = df / 2.0, x / 2.0
    if x <= 0:
        return 1.0
    gln = math.lgamma(a)
    if x < a + 1:
        ap, total, term = a, 1.0 / a, 1.0 / a
        for _ in range(10000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - gln) * h


def chi_square(counts, probs, n):
    """Pearson's statistic over the tokens of non-zero probability, bins with an expected count
    below 5 pooled into one (the usual validity condition); returns (statistic, df, p)."""
    bins_obs, bins_exp = [], []
    pool_o = pool_e = 0.0
    for c, p in zip(counts, probs):
        if p == 0:
            continue
        if p * n < 5:
            pool_o += c
            pool_e += p * n
        else:
            bins_obs.append(c)
            bins_exp.append(p * n)
    if pool_e > 0:
        bins_obs.append(pool_o)
        bins_exp.append(pool_e)
    stat = sum((o - e) ** 2 / e for o, e in zip(bins_obs, bins_exp))
    df = len(bins_obs) - 1
    return stat, df, (chi2_sf(stat, df) if df > 0 else 1.0)


def self_check():
    # Known quantiles: chi2(1) 0.95 = 3.841459, chi2(10) 0.999 = 29.5883, chi2(4) 1e-6 = 33.3768
    for x, df, p in ((3.841459, 1, 0.05), (29.5883, 10, 0.001), (33.3768, 4, 1e-6), (2.0, 2, math.exp(-1))):
        got = chi2_sf(x, df)
        assert abs(got - p) / p < 1e-4, (x, df, got, p)


# ---------- the cases ----------
# Logits drawn once from a fixed generator, then shaped so that each boundary matters.
rng = np.random.default_rng(20261205)
BASE = [round(float(v), 4) for v in rng.normal(0.0, 1.5, 12)]
# Probabilities (T = 1): ~0.40, 0.24, 0.15, 0.09, 0.05, ... a clear head and a long tail.
HEAD = [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5, -2.0, -2.5]
# A flat head: the best token's probability is low (0.147), so min_p relative vs absolute differ.
FLAT = [0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.0, -0.6, -1.2, -2.0]
MIXED = [1.2, -0.4, 0.8, -1.5, 0.0, 2.1, -0.9, 0.5, -2.2, 1.0, -0.1, 0.3]

CASES = [
    ("temperature 1", BASE, {"temperature": 1.0}),
    ("temperature 0.5", BASE, {"temperature": 0.5}),
    ("temperature 2", BASE, {"temperature": 2.0}),
    ("temperature 0.7 with a masked token", [None] + HEAD[1:], {"temperature": 0.7}),
    ("top_k 3", HEAD, {"top_k": 3}),
    ("top_k 5, temperature 1.5", MIXED, {"top_k": 5, "temperature": 1.5}),
    # nucleus at 0.7: the head 0.40 + 0.24 = 0.64 < 0.7, so the third token (0.15) is in,
    # the fourth is out; not renormalising would give the tail's mass to the third.
    ("top_p 0.7", HEAD, {"top_p": 0.7}),
    # 0.6: 0.40 < 0.6 <= 0.64: two tokens
    ("top_p 0.6", HEAD, {"top_p": 0.6}),
    ("top_p 0.9, temperature 0.8", MIXED, {"top_p": 0.9, "temperature": 0.8}),
    # min_p 0.5 relative to a 0.147 best keeps probabilities >= 0.074: seven tokens. An
    # absolute 0.5 keeps one.
    ("min_p 0.5 (flat head)", FLAT, {"min_p": 0.5}),
    ("min_p 0.3", HEAD, {"min_p": 0.3}),
    ("min_p 0.1, temperature 2", MIXED, {"min_p": 0.1, "temperature": 2.0}),
    # top_p first, then min_p over the renormalised nucleus
    ("top_p 0.95 then min_p 0.3", HEAD, {"top_p": 0.95, "min_p": 0.3}),
    ("top_k 6, top_p 0.8, min_p 0.05", MIXED, {"top_k": 6, "top_p": 0.8, "min_p": 0.05}),
]
PENALTY_CASES = [
    # positive and negative logits in the context: divide the first, multiply the second
    ("repetition_penalty 1.5", MIXED, {"repetition_penalty": 1.5}, [5, 1, 3, 5, 9], []),
    ("repetition_penalty 0.8", MIXED, {"repetition_penalty": 0.8}, [0, 2, 6], []),
    ("presence 0.7, frequency 0.3", MIXED,
     {"presence_penalty": 0.7, "frequency_penalty": 0.3}, [5, 0], [5, 5, 5, 0, 9, 11]),
    ("all penalties, temperature 0.9, top_p 0.9, min_p 0.05", MIXED,
     {"repetition_penalty": 1.3, "presence_penalty": 0.4, "frequency_penalty": 0.2,
      "temperature": 0.9, "top_p": 0.9, "min_p": 0.05}, [5, 2, 7, 1], [5, 5, 2, 3]),
]


def run_case(driver, i, name, logits, params, context, generated):
    params = dict(params, seed=1000 + i)
    case = {"logits": logits, "params": params, "context": context, "generated": generated, "n": N}
    out = subprocess.run([driver], input=json.dumps(case), capture_output=True, text=True)
    if out.returncode != 0:
        return "driver failed: " + out.stderr.strip()
    counts = json.loads(out.stdout)
    probs = exact_distribution(logits, params, context, generated)
    if sum(counts) != N:
        return "%d draws counted, %d made" % (sum(counts), N)
    impossible = [t for t, (c, p) in enumerate(zip(counts, probs)) if p == 0 and c > 0]
    if impossible:
        return "drew tokens of probability 0: %s" % impossible
    stat, df, p = chi_square(counts, probs, N)
    detail = "chi2 %.1f, df %d, p %.3g" % (stat, df, p)
    if p < P_FAIL:
        table = ", ".join("%d: %.4f/%.4f" % (t, c / N, q) for t, (c, q) in enumerate(zip(counts, probs))
                          if c or q)
        return detail + "; token: observed/expected " + table
    return "ok " + detail


def main():
    driver = sys.argv[1]
    self_check()
    failed = 0
    all_cases = [(n, l, p, [], []) for n, l, p in CASES] + PENALTY_CASES
    for i, (name, logits, params, context, generated) in enumerate(all_cases):
        verdict = run_case(driver, i, name, logits, params, context, generated)
        ok = verdict.startswith("ok ")
        failed += not ok
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, verdict))
    print("%d of %d cases failed" % (failed, len(all_cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
