"""Lead scoring: the rules (editable by those who may change them), whether the score ranks leads well, points
suggested by the data, and the sales-ready leads to hand over now."""

import pandas as pd
import streamlit as st

from analytics import charts
from analytics.abstats import format_p
from analytics.errors import BadInput
from analytics.exports import safe_csv
from analytics.scoring import (DEFAULT_RULES, Rules, describe, load_rules, parse_rules, rules_path,
                               sales_ready_list, sales_ready_top, save_rules, score_check, signal_names)
from dashboard import can, drawn, read_once, refusal, run_query, shared_filters
from pages import reroute

OUTCOMES = {"sql": "SQL", "won": "Won deal", "mql": "MQL"}  # value in the URL -> label
TOUCHES_PER_ROW = 6
SHOWN_READY = 1000  # sales-ready leads listed on the page; the download builds the whole list when clicked
VERSION = "scoring_rules_version"  # bumped when the saved rules change, so the inputs start from them


def _points(pairs: tuple[tuple[str, float], ...]) -> str:
    return ", ".join(f"{charts.label(name)} {points:g}" for name, points in pairs) or "none"


def _summary(rules: Rules) -> str:
    decay = f"a touch counts half after {rules.half_life_days:g} days" if rules.half_life_days else "no decay"
    return (f"**Seniority:** {_points(rules.seniority)}. **Touches, each time:** {_points(rules.touches)}. "
            f"**Bands:** cold below {rules.warm:g}, warm from {rules.warm:g}, hot from {rules.hot:g}; sales-ready "
            f"from {rules.sales_ready:g}; {decay}.")


def _saved_rules() -> Rules:
    try:
        return load_rules(rules_path())
    except BadInput as error:
        st.error(f"{error}. The default rules are used until the file is fixed or the rules are saved here.",
                 icon=":material/error:")
        return DEFAULT_RULES


def _editor(saved: Rules, touches: list[str], editable: bool) -> Rules:
    """Inputs for every rule, starting from the saved rules; the rules as edited (the saved ones when invalid)."""
    version = st.session_state.setdefault(VERSION, 0)

    def number(column, name: str, value: float, key: str, **options) -> float:
        return column.number_input(name, value=float(value), step=1.0, format="%g", key=f"rule_{version}_{key}",
                                   disabled=not editable, **options)

    columns = st.columns(4)
    warm = number(columns[0], "Warm from", saved.warm, "warm", help="The lowest score of a warm lead; below is cold.")
    hot = number(columns[1], "Hot from", saved.hot, "hot")
    ready = number(columns[2], "Sales-ready from", saved.sales_ready, "ready",
                   help="Leads with at least this score go to sales (the list at the bottom of the page).")
    half_life = number(columns[3], "Half-life of a touch (days)", saved.half_life_days, "half_life", min_value=0.0,
                       help="0: touches count in full forever. 90: a touch counts half after 90 days, a quarter "
                            "after 180.")
    st.markdown("**Points for seniority**")
    columns = st.columns(TOUCHES_PER_ROW)
    seniority = {name: number(columns[i % TOUCHES_PER_ROW], charts.label(name), points, f"seniority_{name}")
                 for i, (name, points) in enumerate(saved.seniority)}
    st.markdown("**Points for each touch, every time it happens** (0: no points)")
    current = saved.touch_points
    touch_points = {}
    for start in range(0, len(touches), TOUCHES_PER_ROW):
        columns = st.columns(TOUCHES_PER_ROW)
        for column, name in zip(columns, touches[start:start + TOUCHES_PER_ROW]):
            touch_points[name] = number(column, charts.label(name), current.get(name, 0), f"touch_{name}")
    data = {"sales_ready": ready, "half_life_days": half_life, "bands": {"warm": warm, "hot": hot},
            "seniority": seniority,
            "touches": {n: p for n, p in touch_points.items() if n in current or p != 0}}
    try:
        return parse_rules(data, "the rules on this page")
    except BadInput as error:
        st.error(f"{error}. The figures below use the saved rules.", icon=":material/error:")
        return saved


def _save(rules: Rules) -> None:
    save_rules(rules, rules_path())
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    st.rerun()


def _rules_section(saved: Rules, filters, outcome: str) -> Rules:
    editable = can("edit_rules")
    touches = run_query(signal_names, saved, filters, outcome)
    with st.expander("Scoring rules: edit the points and bands", icon=":material/tune:"):
        if not editable:
            st.info(refusal("edit_rules"), icon=":material/lock:")
        rules = _editor(saved, touches, editable)
        st.caption(f"Saved in `{rules_path()}`. Seniority is matched in any case; levels other than these score 0 "
                   "(add them to the file). Touches are event names; those without points are the most common "
                   "others in the data.")
        if rules != saved:
            st.warning("Unsaved changes: the figures below already use them.", icon=":material/edit:")
            left, right, _ = st.columns([1, 1, 3])
            if left.button("Save the rules", type="primary", disabled=not editable, icon=":material/save:"):
                _save(rules)
            if right.button("Discard the changes", icon=":material/undo:"):
                st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
                st.rerun()
    return rules


def _check(check, outcome: str) -> None:
    for sentence in describe(check):
        st.markdown(sentence)
    if not check.leads or check.auc.reason:
        return
    tiles = st.columns(4)
    tiles[0].metric("AUC (0.5 = coin toss)", f"{check.auc.auc:.2f}",
                    help=f"95% interval {check.auc.ci_low:.2f} to {check.auc.ci_high:.2f} (DeLong). The chance that "
                         f"a lead that reached {OUTCOMES[outcome]} scored above one that did not.")
    tiles[1].metric("Top tenth by score", f"{check.top_decile_lift:.1f}× the average",
                    help=f"{check.top_decile_rate:.1%} of the tenth of leads with the highest scores reached "
                         f"{OUTCOMES[outcome]}, against {check.rate:.1%} of all.")
    tiles[2].metric("Sales-ready that converted", "n/a" if not check.sales_ready else f"{check.precision:.0%}",
                    help=f"Of {check.sales_ready:,} leads scored at or above {check.rules.sales_ready:g}; 95% interval "
                         f"{check.precision_ci[0]:.0%} to {check.precision_ci[1]:.0%}.")
    tiles[3].metric(f"{OUTCOMES[outcome]}s the list missed", f"{check.missed:,} of {check.converted:,}",
                    help="Leads that converted although they scored below the sales-ready threshold.")
    st.plotly_chart(drawn(charts.score_bands, check.bands, OUTCOMES[outcome]), width="stretch", theme=None)
    st.caption(f"{check.leads:,} leads, each scored {check.score_at_days} days after it came in and followed for "
               f"{check.within_days} days. Left out: {check.already:,} that had reached {OUTCOMES[outcome]} before "
               f"they were scored, {check.closed:,} closed before, {check.too_young:,} too young to have been "
               "followed that long. Whiskers: 95% intervals.")


def _power_and_suggestion(check, outcome: str) -> None:
    st.subheader("Which rules carry the ranking")
    if check.rule_power.empty:
        st.info("No rule gives points that could be left out.")
    else:
        st.plotly_chart(drawn(charts.rule_power, check.rule_power), width="stretch", theme=None)
        st.caption("Each rule's contribution: the AUC with every rule minus the AUC with that rule's points set to 0.")
    suggestion = check.suggestion
    if suggestion.empty:
        return
    st.subheader("Points the data suggests")
    if check.suggested_rules is not None:
        st.markdown(f"A logistic model of reaching {OUTCOMES[outcome]} on the same signals suggests these points; "
                    f"they would rank the same leads with an AUC of **{check.suggested_auc:.2f}** "
                    f"(the current rules: {check.auc.auc:.2f}). Fitted and measured on the same leads, so slightly "
                    "optimistic.")
    shown = suggestion.assign(
        signal=[charts.label(s) + (" (seniority)" if r.startswith("seniority.") else "")
                for s, r in zip(suggestion["signal"], suggestion["rule"])],
        p_value=suggestion["p_value"].map(lambda p: None if pd.isna(p) else format_p(p)))
    st.dataframe(shown, hide_index=True, width="stretch", height="content", placeholder="–",
                 column_order=("signal", "leads_with", "current", "suggested", "odds_ratio", "ci_low", "ci_high",
                               "p_value"),
                 column_config={
                     "signal": "Signal", "leads_with": st.column_config.NumberColumn("Leads with it", format="%,d"),
                     "current": st.column_config.NumberColumn("Current points", format="%g"),
                     "suggested": st.column_config.NumberColumn("Suggested points", format="%g"),
                     "odds_ratio": st.column_config.NumberColumn(
                         "Odds ×", format="%.2f", help="How the odds of converting change with one more touch, or "
                                                       "for this seniority against the reference level (1.00)."),
                     "ci_low": st.column_config.NumberColumn("95% CI from", format="%.2f"),
                     "ci_high": st.column_config.NumberColumn("to", format="%.2f"),
                     "p_value": "p-value"})
    st.caption("Signals whose effect is not significant (p ≥ 0.05) get no points of their own. Points are on the "
               "scale of the current rules, so the band limits keep their meaning.")
    if check.suggested_rules is not None and check.suggested_rules != check.rules:
        if st.button("Use the suggested points", icon=":material/auto_fix_high:", disabled=not can("edit_rules"),
                     help=None if can("edit_rules") else refusal("edit_rules")):
            _save(check.suggested_rules)


def _sales_ready(rules: Rules, filters) -> None:
    st.subheader("Sales-ready leads now")
    ready = run_query(sales_ready_top, rules, filters, SHOWN_READY)
    if not ready.total:
        st.info(f"No open lead scores {rules.sales_ready:g} or more right now.")
        return
    st.markdown(f"**{ready.total:,} leads** score {rules.sales_ready:g} or more and have not reached SQL, won or lost."
                + (f" The {SHOWN_READY:,} with the highest scores are listed; the download holds all of them."
                   if ready.total > SHOWN_READY else ""))
    if not rules.half_life_days:
        st.caption("Without a half-life, a lead keeps the points of touches from long ago, so leads that went quiet "
                   "months ago stay on this list; a half-life (90 days, say) lets them cool down.")
    columns = ["lead_id", "seniority", "score", "band", "stage", "touches", "last_touch_at"]
    st.dataframe(ready.leads[columns], hide_index=True, width="stretch", placeholder="–",
                 column_config={"lead_id": "Lead", "seniority": "Seniority",
                                "score": st.column_config.NumberColumn("Score", format="%.1f"),
                                "band": "Band", "stage": "Stage", "touches": "Scored touches",
                                "last_touch_at": st.column_config.DatetimeColumn("Last touch", format="D MMM YYYY")})
    st.download_button("Download the sales-ready list",
                       lambda: safe_csv(read_once(sales_ready_list, rules, filters)[columns]),
                       file_name="sales_ready_leads.csv", mime="text/csv", icon=":material/download:")


def render() -> None:
    filters = shared_filters()
    st.title("Lead scoring")
    columns = st.columns([1, 1, 1, 2])
    outcome = columns[0].selectbox("Outcome", list(OUTCOMES), format_func=OUTCOMES.get, key="outcome",
                                   bind="query-params")
    score_at = columns[1].number_input("Scored at day", min_value=0, max_value=365, value=30, step=1,
                                       key="score_at", bind="query-params",
                                       help="Each lead is scored this many days after it came in, with only what "
                                            "it had done by then.")
    within = columns[2].number_input("Followed for days", min_value=1, max_value=730, value=180, step=1,
                                     key="within", bind="query-params",
                                     help="It counts as converted when it reaches the outcome within this many days "
                                          "after it was scored.")
    saved = _saved_rules()
    st.markdown(_summary(saved))
    rules = _rules_section(saved, filters, outcome)
    check = run_query(score_check, rules, filters, outcome, int(score_at), int(within))
    st.subheader("Does the score work?")
    _check(check, outcome)
    _power_and_suggestion(check, outcome)
    _sales_ready(rules, filters)


if __name__ == "__main__":
    reroute()
