"""The evaluation's arithmetic, as plain functions: price scores by the lot's formula, totals,
ranking, and the checks run before the report (arithmetic, objective factors, outliers).

Scores are ``Decimal`` with two places (ROUND_HALF_UP), as evaluation reports print them. The
platform computes every price score and every total itself; what an expert enters is the score
of each factor (and, as a cross-check, the total it added up).

Formulas (``criteria.price.formula``):

- ``gp_low_price`` (GP87 55, 低价优先法): the lowest valid evaluated price gets the full price
  weight; any other bid gets lowest / its price × weight.
- ``benchmark`` (基准价法): the benchmark is the mean of the valid prices (with five or more,
  the highest and the lowest are left out first); a bid at the benchmark gets the full weight,
  and loses 1 point per 1 % above it and 0.5 point per 1 % below it, never below 0.
- ``lowest`` (经评审的最低投标价法): no scores; compliant bids rank by evaluated price, lowest first.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ABOVE_PENALTY = Decimal(1)  # points per 1 % above the benchmark
BELOW_PENALTY = Decimal("0.5")  # points per 1 % below it


def q2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def price_scores(formula: str, weight: int, prices: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """Price score of each valid bid (keyed by bidder) under ``formula``; empty for ``lowest``."""
    if formula == "lowest" or not prices:
        return {}
    w = Decimal(weight)
    if formula == "gp_low_price":
        low = min(prices.values())
        return {k: q2(low / p * w) for k, p in prices.items()}
    if formula == "benchmark":
        b = benchmark(list(prices.values()))
        out = {}
        for k, p in prices.items():
            pct = (p - b) / b * 100
            lost = pct * ABOVE_PENALTY if pct > 0 else -pct * BELOW_PENALTY
            out[k] = q2(max(Decimal(0), w - lost))
        return out
    raise ValueError(f"unknown price formula {formula!r}")


def benchmark(prices: Sequence[Decimal]) -> Decimal:
    ps = sorted(prices)
    if len(ps) >= 5:
        ps = ps[1:-1]
    return sum(ps, Decimal(0)) / len(ps)


@dataclass(frozen=True)
class Sheet:
    """One expert's scores for one bidder."""

    expert: int
    bidder: int
    scores: Mapping[str, Decimal]  # factor name → score
    declared_total: Decimal


def factor_total(sheet: Sheet) -> Decimal:
    return q2(sum(sheet.scores.values(), Decimal(0)))


def mean_factor_totals(sheets: Sequence[Sheet]) -> dict[int, Decimal]:
    """Each bidder's factor score: the mean of the experts' totals (each expert counts once)."""
    by_bidder: dict[int, list[Decimal]] = {}
    for s in sheets:
        by_bidder.setdefault(s.bidder, []).append(factor_total(s))
    return {b: q2(sum(v, Decimal(0)) / len(v)) for b, v in by_bidder.items()}


@dataclass(frozen=True)
class Ranked:
    bidder: int
    rank: int
    price: Decimal
    factor_score: Decimal | None
    price_score: Decimal | None
    total: Decimal | None


def rank(
    method: str, formula: str, weight: int, prices: Mapping[int, Decimal], sheets: Sequence[Sheet]
) -> list[Ranked]:
    """The valid bids in order. Comprehensive: highest total first, a tie goes to the lower price.
    Lowest evaluated price: lowest price first. Equal on everything: the same rank."""
    if method == "lowest_price":
        order = sorted(prices, key=lambda k: (prices[k], k))
        out: list[Ranked] = []
        for i, k in enumerate(order):
            same = out and out[-1].price == prices[k]
            out.append(Ranked(k, out[-1].rank if same else i + 1, prices[k], None, None, None))
        return out
    ps = price_scores(formula, weight, prices)
    fs = mean_factor_totals(sheets)
    totals = {k: q2(fs.get(k, Decimal(0)) + ps.get(k, Decimal(0))) for k in prices}
    order = sorted(prices, key=lambda k: (-totals[k], prices[k], k))
    result: list[Ranked] = []
    for i, k in enumerate(order):
        prev = result[-1] if result else None
        same = prev is not None and prev.total == totals[k] and prev.price == prices[k]
        result.append(
            Ranked(k, prev.rank if same and prev else i + 1, prices[k], fs.get(k, Decimal(0)), ps.get(k), totals[k])
        )
    return result


# ---------------------------------------------------------------- checks before the report
@dataclass(frozen=True)
class Finding:
    kind: str  # arithmetic | objective | outlier
    key: str  # stable: the same condition gives the same key, so a resolution stays with it
    expert: int | None
    bidder: int
    factor: str | None
    detail: str


def checks(sheets: Sequence[Sheet], objective: Sequence[str], z_limit: float) -> list[Finding]:
    """What must be discussed (or fixed) before the report.

    - arithmetic: an expert's declared total differs from the sum of its factor scores;
    - objective: experts gave different scores for an objective factor (客观分应一致);
    - outlier: an expert's total for a bidder is more than ``z_limit`` standard deviations from
      the mean of the *other* experts' totals for that bidder. Leaving the expert out keeps one
      extreme score from inflating the spread it is measured against; the spread has a floor of
      1 point so that four identical scores do not make any difference "infinitely" far.
    """
    out: list[Finding] = []
    by_bidder: dict[int, list[Sheet]] = {}
    for s in sheets:
        by_bidder.setdefault(s.bidder, []).append(s)
        if factor_total(s) != q2(s.declared_total):
            out.append(
                Finding(
                    "arithmetic",
                    f"arithmetic:{s.expert}:{s.bidder}:{q2(s.declared_total)}:{factor_total(s)}",
                    s.expert,
                    s.bidder,
                    None,
                    f"合计填写为 {q2(s.declared_total)}，各项得分之和为 {factor_total(s)}",
                )
            )
    for bidder, group in sorted(by_bidder.items()):
        for f in objective:
            values = sorted({q2(s.scores.get(f, Decimal(0))) for s in group})
            if len(values) > 1:
                out.append(
                    Finding(
                        "objective",
                        f"objective:{bidder}:{f}:{','.join(map(str, values))}",
                        None,
                        bidder,
                        f,
                        f"客观评分因素“{f}”各专家评分不一致：{'、'.join(map(str, values))}",
                    )
                )
        if len(group) < 3:
            continue
        for s in group:
            others = [float(factor_total(o)) for o in group if o.expert != s.expert]
            mean = statistics.fmean(others)
            spread = max(statistics.stdev(others) if len(others) > 1 else 0.0, 1.0)
            z = (float(factor_total(s)) - mean) / spread
            if abs(z) > z_limit:
                out.append(
                    Finding(
                        "outlier",
                        f"outlier:{s.expert}:{bidder}:{factor_total(s)}",
                        s.expert,
                        bidder,
                        None,
                        f"该专家评分合计 {factor_total(s)} 与其他专家均值 {mean:.2f} 相差 {z:+.2f} 个标准差"
                        f"（阈值 {z_limit}）",
                    )
                )
    return out


def majority(votes: Sequence[bool]) -> bool:
    """A compliance decision (资格/符合性审查): passes when more than half of the votes pass."""
    return sum(votes) * 2 > len(votes)
