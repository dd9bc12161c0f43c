"""Lead scoring: points for who a lead is and what it does, bands, and whether the score works.

The rules are data (`Rules`, a TOML file beside the warehouse: `rules_path`): points per seniority level
and per touch (an event name that is not a funnel stage), each touch counted every time it happens; an
optional half-life after which a touch counts half; the lowest scores of the warm and hot bands; and the
score from which a lead is sales-ready. The defaults (`DEFAULT_RULES`) are how B2B teams commonly start:
staff 1, manager 2, head 3, executive 4; visit 1, long_visit 1, proposal 2, email_open 1, meeting 2,
webinar 3; cold below 3, warm 3-5, hot from 6, and hot is sales-ready; no decay.

Choices where the issue leaves room:

- **As of.** A lead's score at an instant counts its touches strictly before that instant, each worth
  `points * 0.5 ** (age in days / half_life_days)` with a half-life (exact ages, no rounding), and the
  points of its seniority (the leads table's value, trimmed and matched without regard to case; a level
  without a rule scores 0). `scores` scores every funnel entrant (first-touch channel and campaign
  filters as on the Funnel page) at the as-of instant: the end of the as-of day, or now.
- **Is the score honest (`score_check`)?** Each entrant is scored at a fixed age, `score_at_days` (30)
  after it entered, and its outcome is whether it reaches the target stage (SQL) in the `within_days`
  (180) that follow, inclusive. So every lead is judged on the same amount of history and the same time
  to convert, and nothing that happens after the scoring moment, touches near or after the sales
  conversation included, can leak into the score. Left out, and counted: leads that reached the target
  before they were scored (there was nothing to predict), leads closed (won or lost) before, and leads
  too young for the whole follow-up at the as-of date (their outcome is not known yet).
- **Rates by band** carry 95% Wilson intervals. **AUC** is the chance that a converter scores above a
  non-converter (ties count half), equal to Mann-Whitney U / (n1 n0); its 95% interval is DeLong's
  (DeLong, DeLong & Clarke-Pearson 1988), computed from counts per distinct score, clipped to [0, 1].
  **Top-decile lift**: the conversion rate of the tenth of leads with the highest scores over the overall
  rate, ties at the cut shared pro rata (as if broken at random). **Sales-ready precision**: the share of
  leads at or above the threshold that converted; **missed**: converters scored below it.
- **Rule power**: the AUC with one rule's points set to 0, against the AUC with all rules; a rule whose
  removal lowers the AUC adds ranking power, one whose removal raises it takes some away.
- **Suggested points** come from a logistic model of the outcome on the same signals (a dummy per
  seniority level against the rules' lowest level, leads with another or no seniority as their own
  group, and the decayed count of each touch type: the rules' touches and the 12 most common other
  ones), fitted by Newton-Raphson (IRLS) on leads grouped by their signal vector in DuckDB. A signal
  whose coefficient is not significant (p >= 0.05) gets no points of its own (a seniority level: the
  reference level's points); the others get round(coefficient / unit). The unit puts the suggestion on
  the current rules' scale: the suggested scores spread as much as the current ones (standard deviation
  over the scored leads), so the band limits keep their meaning; it is at least a tenth of the largest
  coefficient, so no rule gets more than about 10 points. The suggestion is fitted and measured on the
  same leads, so its AUC is slightly optimistic; it is a suggestion to accept or not.
- **The rules file** is TOML read with `tomllib` and written by `rules_toml` for this fixed structure. It
  lives beside the warehouse as `<warehouse name>.scoring.toml`; a missing file means the default rules,
  a missing `[seniority]` or `[touches]` table means no points for them, a missing band or threshold its
  default. An invalid file is refused with a message naming the file and the key.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special, stats

from analytics import journeys
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import wilson_interval
from analytics.schema import FUNNEL_STAGES
from analytics.sequences import MESSAGE_SENT, chooses_leads, entrant_journeys_sql, entrants_sql
from analytics.warehouse import db_path

BANDS = ("cold", "warm", "hot")
OTHER_SENIORITY = "(other seniority)"
MAX_EXTRA_SIGNALS = 12  # touch types without a rule that the suggestion also considers
SCORE_COLUMNS = ["lead_id", "seniority", "score", "band", "sales_ready", "stage", "touches", "last_touch_at",
                 "seniority_points", "touch_points"]
BAND_COLUMNS = ["band", "min_score", "leads", "converted", "rate", "ci_low", "ci_high", "share_of_leads",
                "share_of_converted", "lift"]
_Z95 = NormalDist().inv_cdf(0.975)


# --- rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """Points per seniority level and per touch, the bands' lowest scores, the sales-ready score, decay."""

    seniority: tuple[tuple[str, float], ...]
    touches: tuple[tuple[str, float], ...]
    warm: float = 3
    hot: float = 6
    sales_ready: float = 6
    half_life_days: float = 0  # 0: no decay

    @property
    def seniority_points(self) -> dict[str, float]:
        return dict(self.seniority)

    @property
    def touch_points(self) -> dict[str, float]:
        return dict(self.touches)


DEFAULT_RULES = Rules(
    seniority=(("staff", 1), ("manager", 2), ("head", 3), ("executive", 4)),
    touches=(("visit", 1), ("long_visit", 1), ("proposal", 2), ("email_open", 1), ("meeting", 2), ("webinar", 3)),
)


def rules_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The rules file of warehouse `db` (default: `warehouse.db_path()`): `<name>.scoring.toml` beside it."""
    warehouse = db_path(db)
    return warehouse.with_name(f"{warehouse.stem}.scoring.toml")


def _number(value: Any, key: str, file: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInput(f"key '{key}' must be a number, not {value!r}", file=file)
    return value


def _table(value: Any, key: str, file: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(f"key '{key}' must be a table like [{key}], not {value!r}", file=file)
    return value


def parse_rules(data: dict[str, Any], file: str = "scoring rules") -> Rules:
    """`Rules` from the parsed TOML of a rules file; `file` names it in messages."""
    known = {"sales_ready", "half_life_days", "bands", "seniority", "touches"}
    for key in data:
        if key not in known:
            raise BadInput(f"unknown key '{key}' (known: {', '.join(sorted(known))})", file=file)
    bands = _table(data.get("bands", {}), "bands", file)
    for key in bands:
        if key not in ("warm", "hot"):
            raise BadInput(f"unknown key 'bands.{key}': the bands are cold, warm and hot; give warm and hot", file=file)
    warm = _number(bands.get("warm", DEFAULT_RULES.warm), "bands.warm", file)
    hot = _number(bands.get("hot", DEFAULT_RULES.hot), "bands.hot", file)
    if not warm < hot:
        raise BadInput(f"key 'bands.hot' ({hot:g}) must be above 'bands.warm' ({warm:g})", file=file)
    half_life = _number(data.get("half_life_days", 0), "half_life_days", file)
    if half_life < 0:
        raise BadInput(f"key 'half_life_days' must be 0 (no decay) or more, not {half_life:g}", file=file)
    points: dict[str, tuple[tuple[str, float], ...]] = {}
    for section in ("seniority", "touches"):
        table = _table(data.get(section, {}), section, file)
        seen: dict[str, str] = {}
        rows = []
        for name, value in table.items():
            cleaned = name.strip().lower() if section == "seniority" else name.strip()
            if not cleaned:
                raise BadInput(f"key '{section}.{name}' needs a name", file=file)
            if cleaned in seen:
                raise BadInput(f"key '{section}.{name}' repeats '{seen[cleaned]}'", file=file)
            if section == "touches" and cleaned in FUNNEL_STAGES:
                raise BadInput(f"key 'touches.{name}': {cleaned} is a funnel stage, not a touch; points for it "
                               "would score the outcome itself", file=file)
            seen[cleaned] = name
            rows.append((cleaned, _number(value, f"{section}.{name}", file)))
        points[section] = tuple(rows)
    sales_ready = _number(data.get("sales_ready", hot), "sales_ready", file)
    return Rules(points["seniority"], points["touches"], warm, hot, sales_ready, half_life)


def load_rules(path: str | os.PathLike[str]) -> Rules:
    """The rules in `path`; the default rules when there is no such file."""
    target = Path(path)
    if not target.exists():
        return DEFAULT_RULES
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"not a valid rules file: {error}", file=str(target)) from error
    return parse_rules(data, str(target))


def _toml_key(name: str) -> str:
    """A TOML key: bare when it can be, else a quoted basic string."""
    if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        return name
    escaped = "".join(
        {"\\": "\\\\", '"': '\\"'}.get(c, c) if ord(c) >= 0x20 and ord(c) != 0x7F else f"\\u{ord(c):04X}" for c in name
    )
    return f'"{escaped}"'


def _toml_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def rules_toml(rules: Rules) -> str:
    """The rules file's text: comments saying what each part means, then the values."""
    lines = [
        "# Lead scoring rules (analytics/scoring.py); edit them here or on the Scoring page.",
        "# A lead's score = the points of its seniority + the points of each of its touches, every time.",
        "",
        f"sales_ready = {_toml_number(rules.sales_ready)}  # from this score a lead goes to sales",
        f"half_life_days = {_toml_number(rules.half_life_days)}  # 0: touches never fade; 90: a touch counts "
        "half after 90 days",
        "",
        "[bands]  # the lowest score of each band; below warm is cold",
        f"warm = {_toml_number(rules.warm)}",
        f"hot = {_toml_number(rules.hot)}",
        "",
        "[seniority]  # points for the lead's seniority (any case)",
        *(f"{_toml_key(name)} = {_toml_number(points)}" for name, points in rules.seniority),
        "",
        "[touches]  # points for each event of this name, every time it happens",
        *(f"{_toml_key(name)} = {_toml_number(points)}" for name, points in rules.touches),
    ]
    return "\n".join(lines) + "\n"


def save_rules(rules: Rules, path: str | os.PathLike[str]) -> None:
    """Write `rules` to `path` (replacing it whole: a reader never sees half a file)."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(rules_toml(rules), encoding="utf-8")
    partial.replace(target)


# --- scores in SQL -------------------------------------------------------------------------------


def _signals_sql(rules: Rules, signals: list[str], at_as_of: bool = False, chosen: bool = True) -> tuple[str, dict]:
    """CTE `signals` over a CTE `moments(lead_id, scored_at)`: per lead its seniority, the decayed count of
    each touch type in `signals` before its moment (`s0`, `s1` ...), the rules' `score`, touches counted
    and the last touch; with the parameters.

    With `at_as_of`, every moment is the as-of instant (`scores`): the touches are then counted per lead
    first and joined to the moments after, one row per lead rather than one per touch. Without `chosen`
    (the moments are every entrant) the events and leads are read without looking each lead up in them.
    """
    moment = "$as_of" if at_as_of else "m.scored_at"
    weight = f"pow(0.5, (epoch({moment}) - epoch(e.occurred_at)) / 86400.0 / $half_life)"
    # without decay each touch weighs 1: a count, as a double like the decayed sums (a plain count is much
    # cheaper than summing the constant)
    sums = [f"sum({weight}) FILTER (WHERE e.stage = $signal{j})" if rules.half_life_days > 0
            else f"CAST(count(e.stage) FILTER (WHERE e.stage = $signal{j}) AS DOUBLE)" for j in range(len(signals))]
    touched = ("count(e.stage) FILTER (WHERE list_contains($ruled, e.stage)) AS touches, "
               "max(e.occurred_at) FILTER (WHERE list_contains($ruled, e.stage)) AS last_touch_at")
    pick = "AND e.lead_id IN (SELECT lead_id FROM moments)" if chosen else ""
    pick_leads = "WHERE lead_id IN (SELECT lead_id FROM moments)" if chosen else ""
    if at_as_of:
        counted = f"""
            SELECT m.lead_id, m.scored_at{''.join(f', coalesce(t.s{j}, 0) AS s{j}' for j in range(len(signals)))},
                   coalesce(t.touches, 0) AS touches, t.last_touch_at
            FROM moments m LEFT JOIN (
                SELECT e.lead_id{''.join(f', {total} AS s{j}' for j, total in enumerate(sums))}, {touched}
                FROM events e WHERE e.occurred_at < $as_of AND list_contains($signals, e.stage) {pick}
                GROUP BY e.lead_id) t USING (lead_id)"""
    else:
        counted = f"""
            SELECT m.lead_id, m.scored_at{''.join(f', coalesce({total}, 0) AS s{j}' for j, total in enumerate(sums))},
                   {touched}
            FROM moments m LEFT JOIN events e
              ON e.lead_id = m.lead_id AND e.occurred_at < m.scored_at AND list_contains($signals, e.stage)
            GROUP BY m.lead_id, m.scored_at"""
    points = rules.touch_points
    touch_score = " + ".join(f"$points{j} * s{j}" for j, name in enumerate(signals) if points.get(name)) or "0"
    params: dict[str, object] = {
        "levels": [name for name, _ in rules.seniority], "level_points": [float(p) for _, p in rules.seniority],
        "signals": signals, "ruled": [name for name, _ in rules.touches],
        **{f"signal{j}": name for j, name in enumerate(signals)},
        **{f"points{j}": float(points[name]) for j, name in enumerate(signals) if points.get(name)},
    }
    if rules.half_life_days > 0:
        params["half_life"] = float(rules.half_life_days)
    sql = f"""
        seniority AS (
            SELECT lead_id, max(NULLIF(TRIM(seniority), '')) AS seniority FROM leads {pick_leads} GROUP BY lead_id),
        counted AS ({counted}),
        signals AS (
            SELECT c.*, s.seniority, lower(s.seniority) AS seniority_key,
                   CAST(coalesce($level_points[list_position($levels, lower(s.seniority))], 0) AS DOUBLE)
                       AS seniority_points,
                   CAST({touch_score} AS DOUBLE) AS touch_points,
                   round(seniority_points + touch_points, 9) AS score
            FROM counted c LEFT JOIN seniority s USING (lead_id))"""
    return sql, params


def _band_sql(score: str) -> str:
    return f"CASE WHEN {score} >= $hot THEN 'hot' WHEN {score} >= $warm THEN 'warm' ELSE 'cold' END"


def _stages_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict]:
    """SQL with the entrants (lead_id, entered_at) and, among the events before the as-of instant, `closed`
    (won or lost: the later of its latest won and latest lost, won on a tie) and `reached` (sql when it has an
    SQL, else mql when it has an MQL, else lead); with its parameters. From the entrants' journey columns when
    the journey table answers, else from the events."""
    entrant_journeys = entrant_journeys_sql(con, filters)
    if entrant_journeys is not None:
        sql, params = entrant_journeys
        won, lost = journeys.last_before_sql("won"), journeys.last_before_sql("lost")
        return f"""
            SELECT lead_id, entered_at,
                   CASE WHEN {won} IS NOT NULL AND ({lost} IS NULL OR {won} >= {lost}) THEN 'won'
                        WHEN {lost} IS NOT NULL THEN 'lost' END AS closed,
                   CASE WHEN {journeys.first_before_sql('sql')} IS NOT NULL THEN 'sql'
                        WHEN {journeys.first_before_sql('mql')} IS NOT NULL THEN 'mql' ELSE 'lead' END AS reached
            FROM ({sql})""", params
    entrants, params = entrants_sql(con, filters)
    return f"""
        SELECT n.lead_id, n.entered_at,
               arg_max(e.stage, epoch_us(e.occurred_at) * 2 + (e.stage = 'won')::INT)  -- won on a tie
                   FILTER (WHERE e.stage IN ('won', 'lost')) AS closed,
               CASE WHEN bool_or(e.stage = 'sql') THEN 'sql' WHEN bool_or(e.stage = 'mql') THEN 'mql'
                    ELSE 'lead' END AS reached
        FROM ({entrants}) n LEFT JOIN events e
          ON e.lead_id = n.lead_id AND e.occurred_at < $as_of AND e.stage IN ('mql', 'sql', 'won', 'lost')
        GROUP BY ALL""", params


def _scores_sql(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters, ready_only: bool,
                ordered: bool = True) -> tuple[str, dict]:
    """The query of `scores` (`SCORE_COLUMNS`, highest score first) and its parameters; with `ready_only`,
    only the sales-ready leads not yet SQL, won or lost, chosen in SQL so only they come back. Without
    `ordered`, the rows come in no particular order (for a caller that sorts only the ones it keeps)."""
    entrants, params = _stages_sql(con, filters)
    signals, signal_params = _signals_sql(rules, [name for name, _ in rules.touches], at_as_of=True,
                                          chosen=chooses_leads(filters))
    ready = "WHERE s.score >= $sales_ready AND coalesce(st.closed, st.reached) IN ('lead', 'mql')"
    sql = f"""
        WITH entrants AS ({entrants}),
        moments AS (SELECT lead_id, $as_of AS scored_at FROM entrants),
        {signals}
        SELECT s.lead_id, s.seniority, s.score, {_band_sql('s.score')} AS band, s.score >= $sales_ready AS sales_ready,
               coalesce(st.closed, st.reached) AS stage, s.touches, s.last_touch_at, s.seniority_points,
               s.touch_points
        FROM signals s JOIN entrants st USING (lead_id)
        {ready if ready_only else ''}
        {'ORDER BY s.score DESC, s.lead_id' if ordered else ''}
        """
    return sql, params | signal_params | {"warm": rules.warm, "hot": rules.hot, "sales_ready": rules.sales_ready}


def scores(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters) -> pd.DataFrame:
    """Every entrant's score as of `filters.as_of`: one row per lead, highest score first.

    Columns (`SCORE_COLUMNS`): lead_id, seniority (as recorded), score, band (cold / warm / hot),
    sales_ready (score >= the rules' threshold), stage (won or lost when closed, else the furthest of
    sql, mql, lead), touches (scored touches so far), last_touch_at, seniority_points, touch_points.
    """
    sql, params = _scores_sql(con, rules, filters, ready_only=False)
    return con.execute(sql, params).df()[SCORE_COLUMNS]


def sales_ready_list(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters) -> pd.DataFrame:
    """The leads to hand to sales: sales-ready by score and not yet SQL, won or lost; `scores`' columns."""
    sql, params = _scores_sql(con, rules, filters, ready_only=True)
    return con.execute(sql, params).df()[SCORE_COLUMNS]


class SalesReady(NamedTuple):
    """How many leads `sales_ready_list` holds, and the first of them (the same columns and order)."""

    total: int
    leads: pd.DataFrame


def sales_ready_top(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters, limit: int) -> SalesReady:
    """The first `limit` rows of `sales_ready_list` and how many it has: what a page lists without
    holding (and sending) every row; one query, the count taken before the limit, and only the rows kept
    are sorted."""
    sql, params = _scores_sql(con, rules, filters, ready_only=True, ordered=False)
    top = con.execute(f"SELECT *, count(*) OVER () AS total FROM ({sql}) ORDER BY score DESC, lead_id LIMIT $limit",
                      params | {"limit": limit}).df()
    return SalesReady(int(top["total"].iloc[0]) if len(top) else 0, top[SCORE_COLUMNS])


# --- statistics on counts per score -----------------------------------------------------------------


class Auc(NamedTuple):
    """Area under the ROC curve with DeLong's interval."""

    auc: float
    ci_low: float
    ci_high: float
    se: float
    positives: int
    negatives: int
    reason: str | None  # why a figure is NaN


def _per_score(scores: ArrayLike, positives: ArrayLike, negatives: ArrayLike) -> tuple[np.ndarray, ...]:
    """Distinct scores ascending with the positives and negatives at each (rounding noise merged)."""
    values, inverse = np.unique(np.round(np.asarray(scores, dtype=float), 9), return_inverse=True)
    pos = np.bincount(inverse, weights=np.asarray(positives, dtype=float), minlength=len(values))
    neg = np.bincount(inverse, weights=np.asarray(negatives, dtype=float), minlength=len(values))
    return values, pos, neg


def auc_interval(scores: ArrayLike, positives: ArrayLike, negatives: ArrayLike, confidence: float = 0.95) -> Auc:
    """AUC of `scores` from the count of positives and negatives at each score, with DeLong's interval.

    DeLong's structural components are the same for every lead with the same score, so the variance
    needs only the counts per distinct score.

    >>> round(auc_interval([1, 2, 3], [0, 1, 2], [2, 1, 0]).auc, 4)   # 9 pairs: 8 in order, 1 tie (8.5 / 9)
    0.9444
    """
    _, pos, neg = _per_score(scores, positives, negatives)
    n1, n0 = int(pos.sum()), int(neg.sum())
    if n1 == 0 or n0 == 0:
        missing = "no lead converted" if n1 == 0 else "every lead converted"
        return Auc(math.nan, math.nan, math.nan, math.nan, n1, n0, f"{missing}, so there is nothing to rank")
    v10 = (np.cumsum(neg) - neg + 0.5 * neg) / n0  # per positive: share of negatives it outranks
    v01 = (n1 - np.cumsum(pos) + 0.5 * pos) / n1  # per negative: share of positives that outrank it
    auc = float((pos * v10).sum() / n1)
    if n1 < 2 or n0 < 2:
        return Auc(auc, math.nan, math.nan, math.nan, n1, n0, "too few converters or non-converters for an interval")
    variance = (pos * (v10 - auc) ** 2).sum() / (n1 - 1) / n1 + (neg * (v01 - auc) ** 2).sum() / (n0 - 1) / n0
    se = math.sqrt(variance)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return Auc(auc, max(0.0, auc - z * se), min(1.0, auc + z * se), se, n1, n0, None)


def top_share_rate(scores: ArrayLike, positives: ArrayLike, negatives: ArrayLike, share: float = 0.1) -> float:
    """Conversion rate of the `share` of leads with the highest scores; ties at the cut count pro rata."""
    _, pos, neg = _per_score(scores, positives, negatives)
    pos, total = pos[::-1], (pos + neg)[::-1]
    wanted = share * total.sum()
    if wanted <= 0:
        return math.nan
    cut = int(np.searchsorted(np.cumsum(total), wanted))
    before = total[:cut].sum()
    converted = pos[:cut].sum() + pos[cut] * (wanted - before) / total[cut]
    return float(converted / wanted)


class LogisticFit(NamedTuple):
    """Maximum-likelihood logistic regression on grouped binomial data."""

    coef: np.ndarray
    se: np.ndarray
    p_value: np.ndarray
    converged: bool


def logistic_fit(X: ArrayLike, trials: ArrayLike, successes: ArrayLike, max_iter: int = 100) -> LogisticFit:
    """Logistic regression of successes out of trials per row of `X` (include an intercept column),
    by Newton-Raphson (IRLS for the logit link); Wald standard errors and p-values."""
    X = np.asarray(X, dtype=float)
    n, k = np.asarray(trials, dtype=float), np.asarray(successes, dtype=float)
    beta = np.zeros(X.shape[1])
    converged = False
    for _ in range(max_iter):
        p = special.expit(X @ beta)
        hessian = X.T @ (X * (n * p * (1 - p))[:, None])
        step = np.linalg.lstsq(hessian, X.T @ (k - n * p), rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            converged = True
            break
    p = special.expit(X @ beta)
    covariance = np.linalg.pinv(X.T @ (X * (n * p * (1 - p))[:, None]))
    se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = 2 * stats.norm.sf(np.abs(beta / se))
    return LogisticFit(beta, se, p_value, converged)


# --- does the score work -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCheck:
    """How well the rules rank leads scored at a fixed age against their later conversion (module docstring)."""

    rules: Rules
    target: str
    score_at_days: int
    within_days: int
    leads: int  # leads scored and followed up
    converted: int
    already: int  # reached the target before they were scored
    closed: int  # won or lost before they were scored
    too_young: int  # the follow-up has not ended at the as-of date
    bands: pd.DataFrame  # BAND_COLUMNS, cold / warm / hot
    auc: Auc
    top_decile_rate: float
    top_decile_lift: float
    sales_ready: int  # scored leads at or above the threshold
    sales_ready_converted: int
    precision_ci: tuple[float, float]
    rule_power: pd.DataFrame  # rule, points, auc_without, change (auc_without - auc)
    suggestion: pd.DataFrame  # rule, signal, leads_with, current, suggested, odds_ratio with ci_low / ci_high, p_value
    suggested_rules: Rules | None
    suggested_auc: float

    @property
    def rate(self) -> float:
        return self.converted / self.leads if self.leads else math.nan

    @property
    def precision(self) -> float:
        return self.sales_ready_converted / self.sales_ready if self.sales_ready else math.nan

    @property
    def missed(self) -> int:
        """Converters scored below the sales-ready threshold."""
        return self.converted - self.sales_ready_converted

    def record(self) -> dict[str, Any]:
        """Everything as plain JSON values (NaN as None), for `score-check --format json`."""
        def clean(value: Any) -> Any:
            if isinstance(value, float | np.floating):
                return float(value) if math.isfinite(value) else None
            if isinstance(value, np.integer | np.bool_):
                return value.item()
            return value

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: clean(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "target": self.target, "score_at_days": self.score_at_days, "within_days": self.within_days,
            "leads": self.leads, "converted": self.converted, "rate": clean(self.rate),
            "left_out": {"already_converted": self.already, "closed": self.closed, "too_young": self.too_young},
            "auc": clean(self.auc.auc), "auc_ci_low": clean(self.auc.ci_low), "auc_ci_high": clean(self.auc.ci_high),
            "auc_interval": "DeLong 95%", "auc_reason": self.auc.reason,
            "top_decile_rate": clean(self.top_decile_rate), "top_decile_lift": clean(self.top_decile_lift),
            "sales_ready_threshold": clean(float(self.rules.sales_ready)), "sales_ready": self.sales_ready,
            "sales_ready_converted": self.sales_ready_converted, "precision": clean(self.precision),
            "precision_ci_low": clean(self.precision_ci[0]), "precision_ci_high": clean(self.precision_ci[1]),
            "missed": self.missed, "bands": rows(self.bands), "rule_power": rows(self.rule_power),
            "suggestion": rows(self.suggestion), "suggested_auc": clean(self.suggested_auc),
        }


def signal_names(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters, target: str = "sql") -> list[str]:
    """The touch types a score can use: the rules' touches, then the `MAX_EXTRA_SIGNALS` most common other
    event names up to the as-of date (funnel stages, the target and messages sent are not touches)."""
    ruled = [name for name, _ in rules.touches]
    others = con.execute(
        """
        SELECT stage FROM events
        WHERE occurred_at < $as_of AND NOT list_contains($skip, stage)
        GROUP BY stage ORDER BY count(DISTINCT lead_id) DESC, stage LIMIT $limit
        """,
        {"as_of": filters.as_of_end, "skip": [*FUNNEL_STAGES, target, MESSAGE_SENT, *ruled],
         "limit": MAX_EXTRA_SIGNALS},
    ).fetchall()
    return ruled + [row[0] for row in others]


def _timed_sql(con: duckdb.DuckDBPyConnection, filters: Filters, target: str) -> tuple[str, dict]:
    """SQL with each entrant's scoring moment (`$score_at` days after its entry), its first `target` event
    before the as-of instant (first_target) and its first won or lost one, other than the target (closed_at);
    with its parameters. From the entrants' journey columns when the journey table answers and the target is a
    funnel stage (its earliest time is `{target}_at`), else from the events."""
    closing = [s for s in ("won", "lost") if s != target]
    entrant_journeys = entrant_journeys_sql(con, filters) if target in FUNNEL_STAGES else None
    if entrant_journeys is not None:
        sql, params = entrant_journeys
        won_or_lost = journeys.first_before_sql(closing[0])
        if len(closing) == 2:  # the earlier of the two, either one when the other is missing
            won, lost = journeys.first_before_sql("won"), journeys.first_before_sql("lost")
            won_or_lost = f"CASE WHEN {lost} IS NULL OR {won} <= {lost} THEN {won} ELSE {lost} END"
        return f"""
            SELECT lead_id, entered_at + to_days($score_at) AS scored_at,
                   {journeys.first_before_sql(target)} AS first_target, {won_or_lost} AS closed_at
            FROM ({sql})""", params
    entrants, params = entrants_sql(con, filters)
    return f"""
        SELECT n.lead_id, n.entered_at + to_days($score_at) AS scored_at,
               min(e.occurred_at) FILTER (WHERE e.stage = $target) AS first_target,
               min(e.occurred_at) FILTER (WHERE list_contains($closing, e.stage)) AS closed_at
        FROM ({entrants}) n LEFT JOIN events e
          ON e.lead_id = n.lead_id AND e.occurred_at < $as_of
         AND (e.stage = $target OR list_contains($closing, e.stage))
        GROUP BY ALL""", params | {"target": target, "closing": closing}


def _check_groups(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters, target: str, score_at_days: int,
                  within_days: int, signals: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Scored leads grouped by signal vector (seniority_key, s0 ..., score, band, leads, converted), and
    the counts of leads left out by reason."""
    timed, params = _timed_sql(con, filters, target)
    signal_ctes, signal_params = _signals_sql(rules, signals)
    sums = ", ".join(f"round(s{j}, 6) AS s{j}" for j in range(len(signals)))
    table = con.execute(
        f"""
        WITH timed AS ({timed}),
        classified AS (
            SELECT *, CASE WHEN first_target <= scored_at THEN 'already'
                           WHEN closed_at <= scored_at THEN 'closed'
                           WHEN scored_at + to_days($within) > $as_of THEN 'too_young'
                           ELSE 'scored' END AS status,
                   coalesce(first_target <= scored_at + to_days($within), false) AS converted
            FROM timed),
        moments AS (SELECT lead_id, scored_at FROM classified WHERE status = 'scored'),
        {signal_ctes}
        SELECT 'scored' AS status, coalesce(s.seniority_key, '') AS seniority_key, {sums + ',' if sums else ''}
               s.score, {_band_sql('s.score')} AS band, count(*) AS leads,
               count(*) FILTER (WHERE c.converted) AS converted
        FROM signals s JOIN classified c USING (lead_id) GROUP BY ALL
        UNION ALL
        SELECT status, NULL, {'NULL, ' * len(signals)} NULL, NULL, count(*), 0 FROM classified
        WHERE status <> 'scored' GROUP BY status
        """,
        params | signal_params | {"score_at": score_at_days, "within": within_days, "warm": rules.warm,
                                  "hot": rules.hot},
    ).df()
    left_out = dict.fromkeys(("already", "closed", "too_young"), 0)
    left_out |= {s: int(n) for s, n in table.loc[table["status"] != "scored", ["status", "leads"]].values}
    # sorted, so that the fit sees the groups in the same order on every engine
    groups = table[table["status"] == "scored"].drop(columns="status")
    groups = groups.sort_values(list(groups.columns), ignore_index=True)
    groups["seniority_key"] = groups["seniority_key"].replace("", None)
    return groups.astype({"leads": "int64", "converted": "int64", "score": float}), left_out


def _bands(rules: Rules, groups: pd.DataFrame) -> pd.DataFrame:
    frame = groups.groupby("band")[["leads", "converted"]].sum().reindex(list(BANDS), fill_value=0).reset_index()
    low, high = wilson_interval(frame["converted"], frame["leads"])
    total, total_converted = frame["leads"].sum(), frame["converted"].sum()
    rate = frame["converted"] / frame["leads"].where(frame["leads"] > 0)
    overall = total_converted / total if total else math.nan
    return frame.assign(
        min_score=[math.nan, float(rules.warm), float(rules.hot)], rate=rate, ci_low=low, ci_high=high,
        share_of_leads=frame["leads"] / total if total else math.nan,
        share_of_converted=frame["converted"] / total_converted if total_converted else math.nan,
        lift=rate / overall if overall else math.nan,
    )[BAND_COLUMNS]


def _rule_power(rules: Rules, groups: pd.DataFrame, signals: list[str], base: float) -> pd.DataFrame:
    """The AUC without each rule (its points set to 0), against `base`."""
    score, converted = groups["score"].to_numpy(), groups["converted"].to_numpy()
    others = groups["leads"].to_numpy() - converted
    rows = []
    for name, points in rules.seniority:
        without = score - points * (groups["seniority_key"] == name).to_numpy()
        rows.append((f"seniority.{name}", points, auc_interval(without, converted, others).auc))
    for j, name in enumerate(signals):
        points = rules.touch_points.get(name)
        if points:
            without = score - points * groups[f"s{j}"].to_numpy()
            rows.append((f"touches.{name}", points, auc_interval(without, converted, others).auc))
    table = pd.DataFrame(rows, columns=["rule", "points", "auc_without"])
    return table.assign(change=table["auc_without"] - base).sort_values("change", kind="stable", ignore_index=True)


def _spread(values: np.ndarray, weights: np.ndarray) -> float:
    mean = np.average(values, weights=weights)
    return float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))


def _points_unit(X: np.ndarray, coef: np.ndarray, significant: np.ndarray, score: np.ndarray,
                 leads: np.ndarray) -> float:
    """Log-odds per point: the significant part of the model spread like the current scores (module docstring)."""
    if not significant.any():
        return math.nan
    sizes = np.abs(coef[significant])
    current = _spread(score, leads)
    unit = _spread(X[:, significant] @ coef[significant], leads) / current if current > 0 else sizes.min()
    return max(unit, sizes.max() / 10)


def _suggest(rules: Rules, groups: pd.DataFrame, signals: list[str]) -> tuple[pd.DataFrame, Rules | None, float]:
    """Points from a logistic model on the same signals (module docstring), the rules with them, their AUC."""
    columns = ["rule", "signal", "leads_with", "current", "suggested", "odds_ratio", "ci_low", "ci_high", "p_value"]
    current_levels = rules.seniority_points
    keys = groups["seniority_key"].fillna(OTHER_SENIORITY).where(groups["seniority_key"].isin(list(current_levels)),
                                                                 OTHER_SENIORITY)
    present = [name for name, _ in rules.seniority if (keys == name).any()]
    reference = min(present, key=lambda name: current_levels[name]) if present else None
    terms: list[tuple[str, str, np.ndarray]] = []  # (rule, signal, column)
    for name in [*present, OTHER_SENIORITY]:
        if name != reference:
            terms.append((f"seniority.{name}" if name != OTHER_SENIORITY else "", name,
                          (keys == name).to_numpy(dtype=float)))
    terms += [(f"touches.{name}", name, groups[f"s{j}"].to_numpy(dtype=float)) for j, name in enumerate(signals)]
    leads = groups["leads"].to_numpy()
    terms = [t for t in terms if len(t[2]) and t[2].max() > t[2].min()]
    if not terms or groups["converted"].sum() in (0, groups["leads"].sum()):
        return pd.DataFrame(columns=columns), None, math.nan
    X = np.column_stack([np.ones(len(groups)), *(t[2] for t in terms)])
    fit = logistic_fit(X, leads, groups["converted"].to_numpy())
    coef, se, p_value = fit.coef[1:], fit.se[1:], fit.p_value[1:]
    unit = _points_unit(X[:, 1:], coef, p_value < 0.05, groups["score"].to_numpy(), leads)
    touch_points = rules.touch_points
    rows = []
    for (rule, signal, column), c, s, p in zip(terms, coef, se, p_value):
        base = current_levels[reference] if rule.startswith("seniority.") else 0
        current = current_levels.get(signal) if rule.startswith("seniority.") else touch_points.get(signal, 0)
        suggested = base + round(c / unit) if p < 0.05 and not math.isnan(unit) else base
        odds = [math.exp(x) if abs(x) < 20 else math.nan for x in (c, c - _Z95 * s, c + _Z95 * s)]  # nan: separated
        rows.append((rule, signal, int(((column > 0) * leads).sum()), current, suggested if rule else math.nan,
                     *odds, p))
    table = pd.DataFrame(rows, columns=columns)
    if reference is not None:
        reference_row = (f"seniority.{reference}", reference, int(((keys == reference).to_numpy() * leads).sum()),
                         current_levels[reference], current_levels[reference], 1.0, math.nan, math.nan, math.nan)
        table = pd.concat([pd.DataFrame([reference_row], columns=columns), table], ignore_index=True)
    if math.isnan(unit):
        return table, None, math.nan
    suggested = dict(zip(table["rule"], table["suggested"]))
    new_levels = tuple((name, suggested.get(f"seniority.{name}", points)) for name, points in rules.seniority)
    new_touches = [(name, suggested.get(f"touches.{name}", points)) for name, points in rules.touches]
    new_touches += [(name, suggested[f"touches.{name}"]) for name in signals
                    if name not in touch_points and suggested.get(f"touches.{name}")]
    proposal = replace(rules, seniority=tuple((n, float(p)) for n, p in new_levels),
                       touches=tuple((n, float(p)) for n, p in new_touches))
    proposed_score = (keys.map(dict(new_levels)).fillna(0).to_numpy()
                      + sum(groups[f"s{j}"].to_numpy() * proposal.touch_points.get(name, 0)
                            for j, name in enumerate(signals)))
    converted = groups["converted"].to_numpy()
    return table, proposal, auc_interval(proposed_score, converted, leads - converted).auc


def score_check(con: duckdb.DuckDBPyConnection, rules: Rules, filters: Filters, target: str = "sql",
                score_at_days: int = 30, within_days: int = 180) -> ScoreCheck:
    """Score each entrant `score_at_days` after it entered and follow it `within_days` for `target`
    (module docstring): bands, AUC, top-decile lift, sales-ready precision, rule power, suggested points."""
    if target in ("lead", "") or not isinstance(target, str):
        raise BadInput(f"--to must be a stage after lead (mql, sql, won ...), not '{target}'")
    if score_at_days < 0 or within_days <= 0:
        raise BadInput("the scoring age must be 0 days or more and the follow-up at least 1 day")
    signals = signal_names(con, rules, filters, target)
    groups, left_out = _check_groups(con, rules, filters, target, score_at_days, within_days, signals)
    score, leads = groups["score"].to_numpy(), groups["leads"].to_numpy()
    converted = groups["converted"].to_numpy()
    auc = auc_interval(score, converted, leads - converted)
    overall = converted.sum() / leads.sum() if leads.sum() else math.nan
    top_rate = top_share_rate(score, converted, leads - converted) if leads.sum() else math.nan
    ready = score >= rules.sales_ready
    ready_leads, ready_converted = int(leads[ready].sum()), int(converted[ready].sum())
    low, high = wilson_interval(ready_converted, ready_leads)
    suggestion, proposal, proposal_auc = _suggest(rules, groups, signals)
    return ScoreCheck(
        rules=rules, target=target, score_at_days=score_at_days, within_days=within_days,
        leads=int(leads.sum()), converted=int(converted.sum()), already=left_out["already"],
        closed=left_out["closed"], too_young=left_out["too_young"], bands=_bands(rules, groups),
        auc=auc, top_decile_rate=top_rate, top_decile_lift=top_rate / overall if overall else math.nan,
        sales_ready=ready_leads, sales_ready_converted=ready_converted, precision_ci=(float(low), float(high)),
        rule_power=_rule_power(rules, groups, signals, auc.auc), suggestion=suggestion, suggested_rules=proposal,
        suggested_auc=proposal_auc,
    )


def describe(check: ScoreCheck) -> list[str]:
    """Plain sentences on how well the score separates converters from the rest."""
    target = check.target.upper() if check.target in ("mql", "sql") else check.target
    if check.leads == 0:
        return [f"No lead is old enough to judge yet: a lead is scored {check.score_at_days} days after it entered "
                f"and followed for {check.within_days} days more."]
    if check.auc.reason:
        return [f"Of {check.leads:,} leads scored {check.score_at_days} days after they entered, "
                f"{check.auc.reason}; the score cannot be judged on them."]
    auc = check.auc
    sentences = [
        f"Scored {check.score_at_days} days after they came in, leads that reached {target} within the next "
        f"{check.within_days} days scored higher than those that did not {auc.auc:.0%} of the time (AUC "
        f"{auc.auc:.2f}, 95% CI {auc.ci_low:.2f} to {auc.ci_high:.2f}; 0.50 would be a coin toss)."]
    bands = check.bands.set_index("band")
    hot, cold = bands.loc["hot"], bands.loc["cold"]
    if hot["leads"] and cold["leads"] and cold["rate"] > 0:
        sentences.append(
            f"Hot leads reached {target} {hot['rate'] / cold['rate']:.1f} times as often as cold ones "
            f"({hot['rate']:.1%} vs {cold['rate']:.1%}); the top tenth by score {check.top_decile_lift:.1f} times as "
            f"often as the average lead ({check.rate:.1%}).")
    if check.sales_ready:
        sentences.append(
            f"Of the {check.sales_ready:,} leads that were sales-ready (score {check.rules.sales_ready:g} or more), "
            f"{check.precision:.0%} reached {target}; {check.missed:,} of the {check.converted:,} leads that did "
            f"({check.missed / check.converted if check.converted else math.nan:.0%}) were scored below the threshold.")
    return sentences
