"""抽取: drawing a lot's evaluation committee from the expert pool, as plain functions that anyone
can re-run.

The inputs are a pool snapshot (every expert's specialties, region, employer, employment history,
declared relationships, availability, suspension and recent committees), the rules (the lot's
tenderee and bidders, the day, the look-back and cooling-off periods, the slots: how many per
specialty and venue region, and who is already out) and a 32-byte seed. The platform publishes
SM3(seed) and the snapshot's SM3 before the draw and reveals the seed after it, so that
``ggzy draw verify`` recomputes the very same committee from the logged inputs.

Exclusions (招标投标法第三十七条, 实施条例第四十六条, 评标专家和评标专家库管理办法): the tenderee's
or any bidder's employee, or one who worked there, was its director or held its shares within the
look-back (3 years by default); a declared kinship with it; a member of a committee for the same
tenderee within the cooling-off period; unavailable or suspended on the day; an expert whose
platform account is disabled (停用: it could neither log in to answer nor sit).

Selection: slot by slot in the given order, the eligible experts of the slot's region and
specialty (not chosen already) ranked by SM3(seed ‖ expert id, 8 bytes big-endian); the first
``count`` are drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from signing.canonical import canonical_json
from signing.digest import sm3, sm3_hex

DRAW_FORMAT = "ggzy-draw/1"


class NotEnoughExperts(Exception):
    def __init__(self, slot: Slot, found: int) -> None:
        super().__init__(f"{slot.region} 地区 {slot.specialty} 专业可抽专家 {found} 人，不足 {slot.count} 人")
        self.slot, self.found = slot, found


@dataclass(frozen=True)
class Slot:
    region: str  # 行政区划代码 of the venue (main or sub-venue)
    specialty: str
    count: int


@dataclass(frozen=True)
class Rules:
    tenderee: str  # credit codes
    bidders: tuple[str, ...]
    on: dt.date
    slots: tuple[Slot, ...]
    lookback_years: int = 3
    cooling_days: int = 180
    exclude: tuple[int, ...] = ()  # already drawn (or declined) in earlier rounds

    def to_json(self) -> dict[str, Any]:
        return {
            "tenderee": self.tenderee,
            "bidders": sorted(self.bidders),
            "on": self.on.isoformat(),
            "slots": [{"region": s.region, "specialty": s.specialty, "count": s.count} for s in self.slots],
            "lookback_years": self.lookback_years,
            "cooling_days": self.cooling_days,
            "exclude": sorted(self.exclude),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rules:
        return cls(
            tenderee=d["tenderee"],
            bidders=tuple(d["bidders"]),
            on=dt.date.fromisoformat(d["on"]),
            slots=tuple(Slot(s["region"], s["specialty"], int(s["count"])) for s in d["slots"]),
            lookback_years=int(d["lookback_years"]),
            cooling_days=int(d["cooling_days"]),
            exclude=tuple(int(x) for x in d["exclude"]),
        )


@dataclass(frozen=True)
class Candidate:
    """One expert as the snapshot holds it (dates ISO strings; ``to`` None: still so)."""

    id: int
    specialties: tuple[str, ...]
    region: str
    employer: str
    history: tuple[dict[str, Any], ...] = ()  # {credit_code, from, to}
    relations: tuple[dict[str, Any], ...] = ()  # {kind: kinship|director|shareholder, credit_code, from, to}
    available: bool = True
    suspended_until: str | None = None
    served: tuple[dict[str, Any], ...] = field(default=())  # {tenderee, on}: committees sat on
    active: bool = True  # the expert's account is enabled (an expert with no account counts as enabled)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "specialties": list(self.specialties),
            "region": self.region,
            "employer": self.employer,
            "history": list(self.history),
            "relations": list(self.relations),
            "available": self.available,
            "suspended_until": self.suspended_until,
            "served": list(self.served),
            "active": self.active,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Candidate:
        return cls(
            id=int(d["id"]),
            specialties=tuple(d["specialties"]),
            region=d["region"],
            employer=d["employer"],
            history=tuple(d["history"]),
            relations=tuple(d["relations"]),
            available=bool(d["available"]),
            suspended_until=d["suspended_until"],
            served=tuple(d["served"]),
            active=bool(d.get("active", True)),  # snapshots made before accounts could be disabled
        )


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _within(entry: dict[str, Any], since: dt.date) -> bool:
    """Whether a period {from, to} reaches into [since, today] (``to`` None: it still holds).

    An end that is not a real date (2026-02-30, stored before ``schemas.Period`` checked real
    days, or a hand-edited snapshot) counts as still holding: the period cannot be shown to have
    ended before the look-back, so the expert stays out for that party (回避 errs towards
    excluding), and the draw goes on rather than failing for everyone on one expert's typo. Only
    an expert whose unreadable period names the tenderee or a bidder is affected; ``verify`` re-runs
    the same rule, so a draw made this way still verifies."""
    end = entry.get("to")
    if end is None:
        return True
    try:
        return dt.date.fromisoformat(end) >= since
    except (TypeError, ValueError):
        return True


def excluded(c: Candidate, rules: Rules, parties: frozenset[str] | None = None) -> str | None:
    """Why this expert may not sit on this committee (a reason code), or None."""
    parties = parties if parties is not None else frozenset((rules.tenderee, *rules.bidders))
    if not c.active:
        return "account_disabled"
    if not c.available:
        return "unavailable"
    if c.suspended_until is not None and dt.date.fromisoformat(c.suspended_until) >= rules.on:
        return "suspended"
    if c.id in rules.exclude:
        return "drawn_before"
    if c.employer in parties:
        return "employer"
    since = _years_before(rules.on, rules.lookback_years)
    for h in c.history:
        if h.get("credit_code") in parties and _within(h, since):
            return "former_employer"
    for r in c.relations:
        if r.get("credit_code") in parties and (r.get("kind") == "kinship" or _within(r, since)):
            return str(r.get("kind", "relation"))
    cooling = rules.on - dt.timedelta(days=rules.cooling_days)
    for s in c.served:
        if s["tenderee"] == rules.tenderee and dt.date.fromisoformat(s["on"]) >= cooling:
            return "same_tenderee"
    return None


def rank(seed: bytes, expert_id: int) -> bytes:
    return sm3(seed + expert_id.to_bytes(8, "big"))


def draw(pool: Iterable[Candidate], rules: Rules, seed: bytes) -> list[tuple[int, int]]:
    """The committee: (slot index, expert id) in drawing order. Raises NotEnoughExperts."""
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    parties = frozenset((rules.tenderee, *rules.bidders))
    by_slot: dict[tuple[str, str], list[int]] = {(s.region, s.specialty): [] for s in rules.slots}
    wanted = {s.specialty for s in rules.slots}
    regions = {s.region for s in rules.slots}
    for c in pool:
        if c.region not in regions or wanted.isdisjoint(c.specialties) or excluded(c, rules, parties):
            continue
        for sp in c.specialties:
            if (c.region, sp) in by_slot:
                by_slot[(c.region, sp)].append(c.id)
    chosen: list[tuple[int, int]] = []
    taken: set[int] = set()
    for i, slot in enumerate(rules.slots):
        ranked = sorted((rank(seed, x), x) for x in by_slot[(slot.region, slot.specialty)] if x not in taken)
        if len(ranked) < slot.count:
            raise NotEnoughExperts(slot, len(ranked))
        for _, x in ranked[: slot.count]:
            chosen.append((i, x))
            taken.add(x)
    return chosen


def snapshot_bytes(pool: Iterable[Candidate], rules: Rules) -> bytes:
    """The logged inputs (canonical JSON): what ``verify`` re-runs; its SM3 is published first."""
    return canonical_json(
        {
            "format": DRAW_FORMAT,
            "rules": rules.to_json(),
            "pool": [c.to_json() for c in sorted(pool, key=lambda c: c.id)],
        }
    )


def parse_snapshot(data: bytes) -> tuple[list[Candidate], Rules]:
    import json

    d = json.loads(data)
    if d.get("format") != DRAW_FORMAT:
        raise ValueError(f"not a {DRAW_FORMAT} snapshot")
    return [Candidate.from_json(c) for c in d["pool"]], Rules.from_json(d["rules"])


def verify(snapshot: bytes, snapshot_sm3: str, seed: bytes, seed_sm3: str, result: list[tuple[int, int]]) -> list[str]:
    """Every way the published draw could differ from a re-run of it (empty: it verifies)."""
    problems = []
    if sm3_hex(snapshot) != snapshot_sm3:
        problems.append("快照的 SM3 与抽取前公布的不符 (snapshot differs from the one committed to)")
    if sm3_hex(seed) != seed_sm3:
        problems.append("种子的 SM3 与抽取前公布的承诺不符 (seed differs from its commitment)")
    try:
        pool, rules = parse_snapshot(snapshot)
        again = draw(pool, rules, seed)
    except (ValueError, KeyError, TypeError, NotEnoughExperts) as exc:
        return [*problems, f"无法重算抽取 (cannot re-run the draw): {exc}"]
    if again != [tuple(x) for x in result]:
        problems.append(f"重算结果与公布结果不符 (re-run gives {again}, published {result})")
    return problems
