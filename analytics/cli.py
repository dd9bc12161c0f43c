"""The command line: `python -m analytics [--db PATH] COMMAND ...`.

Exit codes (DESIGN.md): 0 success, also when there is nothing to do; 2 bad input or usage, with a
message naming the file, row and column where there is one; 3 the warehouse could not be opened or
written (busy after waiting, an unwritable folder, a full disk); 1 a bug (one line; the traceback with --debug).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, Self

import duckdb
import pandas as pd

from analytics import (
    backup,
    campaigns,
    channels,
    demo,
    experiments,
    imports,
    scoring,
    sequences,
)
from analytics.cohorts import cohorts
from analytics.durations import parse_duration, parse_window_option
from analytics.errors import BadInput, WarehouseUnavailable
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel, funnel_over_time
from analytics.time_to_convert import DEFAULT, ConversionSpec, time_to_convert
from analytics.warehouse import DEFAULT_TIMEOUT_SECONDS, db_path, reader, writer

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 3


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class TerminalProgress:
    """A Progress shown as one line on stderr, rewritten in place (\\r) while the work runs.

    Nothing is written when stderr is not a terminal, so logs, pipes and tests only get the final message.
    Use as a context manager: leaving it clears the line.
    """

    WIDTH = 24

    def __init__(self, what: str, stream=None) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = ""

    def __call__(self, fraction: float, step: str) -> None:
        if not self.enabled:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * self.WIDTH)
        line = f"{self.what} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} {step}"
        line = line[:max(shutil.get_terminal_size().columns - 1, 20)]  # a wrapped line cannot be rewritten
        if line != self.shown:
            self.stream.write("\r" + line.ljust(len(self.shown)))
            self.stream.flush()
            self.shown = line

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r" + " " * len(self.shown) + "\r")
            self.stream.flush()
            self.shown = ""


def parse_date(text: str) -> date:
    """A bare ISO date for --since, --until, --as-of, --end."""
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-03-31") from error


def _parse_pairs(pairs: Sequence[str], option: str, example: str) -> dict[str, str]:
    """KEY=VALUE options (--map, --stage-date, --status-map) as a dict."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BadInput(f"{option} takes KEY=VALUE, e.g. {option} {example}; got '{pair}'")
        parsed[key.strip()] = value.strip()
    return parsed


def emit(frame: pd.DataFrame, fmt: str) -> None:
    """Print a result as an aligned table, CSV, or JSON records (NaN as null)."""
    if fmt == "json":
        print(frame.to_json(orient="records", date_format="iso", indent=2))
    elif fmt == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        print(frame.to_string(index=False) if len(frame) else "(no rows)")


def _clickhouse_url(args: argparse.Namespace) -> str:
    if not args.clickhouse_url:
        raise BadInput("--engine clickhouse needs --clickhouse-url (or $CLICKHOUSE_URL), e.g. http://user:password@host:8123")
    return args.clickhouse_url


@contextmanager
def _clickhouse(args: argparse.Namespace, writing: bool = False) -> Iterator[Any]:
    """A connection to the ClickHouse of --clickhouse-url and --clickhouse-database (one it cannot reach is
    WarehouseUnavailable, exit 3); for `writing`, the database and the warehouse's tables are created there
    when missing (`load.open_for_writing`)."""
    from analytics.clickhouse import connection, load

    url = _clickhouse_url(args)
    con = load.open_for_writing(url, args.clickhouse_database) if writing else connection.connect(
        url, args.clickhouse_database)
    try:
        yield con
    finally:
        con.close()


def _duckdb_only(args: argparse.Namespace, instead: str) -> None:
    """Refuse a command that only works on the DuckDB warehouse when --engine clickhouse is chosen, rather
    than quietly doing it to DuckDB; `instead` says what to do."""
    if args.engine == "clickhouse":
        raise BadInput(f"`{args.command}` works on the DuckDB warehouse only, not with --engine clickhouse: {instead}")


@contextmanager
def _analysis(args: argparse.Namespace) -> Iterator[Any]:
    """The connection an analysis reads: the DuckDB warehouse, or ClickHouse with `--engine clickhouse`
    (the same tables there; see docs/clickhouse.md)."""
    if args.engine == "duckdb":
        with reader(args.db, timeout=args.wait, on_wait=_say) as con:
            yield con
        return
    with _clickhouse(args) as con:
        yield con


def _cmd_import(args: argparse.Namespace) -> int:
    options = imports.ImportOptions(
        stage=args.stage, mapping=_parse_pairs(args.map, "--map", "occurred_at='Event time'"),
        stage_dates=_parse_pairs(args.stage_date, "--stage-date", "mql='Became an MQL date'"),
        status=args.status, status_date=args.status_date,
        status_map=_parse_pairs(args.status_map, "--status-map", "'Closed Won'=won"),
        responses=tuple(c.strip() for c in ",".join(args.responses).split(",") if c.strip()),
        encoding=args.encoding, dayfirst=args.dayfirst, sheet=args.sheet)
    if args.engine == "clickhouse":
        from analytics.clickhouse import load

        with _clickhouse(args, writing=True) as ch:
            result = load.import_file(ch, args.kind, args.file, options)
    else:
        with writer(args.db, timeout=args.wait, on_wait=_say) as con, TerminalProgress("Importing") as progress:
            result = imports.import_file(con, args.kind, args.file, options, progress=progress)
    print(result.message)
    return EXIT_OK


def _cmd_import_log(args: argparse.Namespace) -> int:
    with _analysis(args) as con:
        emit(imports.import_log(con), args.format)
    return EXIT_OK


def _cmd_remove_import(args: argparse.Namespace) -> int:
    if args.engine == "clickhouse":
        from analytics.clickhouse import load

        with _clickhouse(args) as ch:
            removed = load.remove_import(ch, args.import_id)
    else:
        with writer(args.db, timeout=args.wait, on_wait=_say) as con:
            removed = imports.remove_import(con, args.import_id)
    detail = ", ".join(f"{count:,} from {table}" for table, count in removed.items()) or "no rows"
    print(f"Removed import #{args.import_id}: {detail}.")
    return EXIT_OK


def _cmd_copy_to_clickhouse(args: argparse.Namespace) -> int:
    from time import perf_counter

    from analytics.clickhouse.load import copy_to_clickhouse

    url, source = _clickhouse_url(args), db_path(args.db)
    if not source.is_file():
        raise BadInput("there is no warehouse here to copy (--db or $ANALYTICS_DB names it)", file=str(source))
    database = args.clickhouse_database or "default"
    started = perf_counter()
    with copy_to_clickhouse(source, url, database, timeout=args.wait, on_wait=_say) as ch:
        leads, events = (ch.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("leads", "events"))
    print(f"Copied {source} to the ClickHouse database {database}: {leads:,} leads, {events:,} events "
          f"in {perf_counter() - started:.1f} s. Analyses there: --engine clickhouse --clickhouse-database {database}.")
    return EXIT_OK


def _cmd_backup(args: argparse.Namespace) -> int:
    _duckdb_only(args, "ClickHouse keeps its own backups (BACKUP DATABASE on the server)")
    counts = backup.backup(args.out, args.db, timeout=args.wait, on_wait=_say)
    print(f"Backed up {db_path(args.db)} to {args.out}: {counts['leads']:,} leads, {counts['events']:,} events.")
    return EXIT_OK


def _cmd_restore(args: argparse.Namespace) -> int:
    _duckdb_only(args, "restore into DuckDB, then send it over with `copy-to-clickhouse`")
    kept = backup.restore(args.file, args.db, timeout=args.wait, on_wait=_say)
    print(f"Restored {db_path(args.db)} from {args.file}" + (f"; the replaced warehouse is kept as {kept}." if kept else "."))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    _duckdb_only(args, "build the demo in DuckDB, then send it over with `copy-to-clickhouse`")
    with writer(args.db, timeout=args.wait, on_wait=_say) as con, TerminalProgress("Building the demo") as progress:
        summary = demo.generate(con, leads=args.leads, seed=args.seed, end=args.end, replace=args.replace,
                                progress=progress)
    print(f"Demo warehouse {db_path(args.db)}: {summary.leads:,} leads, {summary.events:,} events, "
          f"{summary.campaigns:,} campaign days, {summary.sends:,} sends, "
          f"{summary.experiment_variants + summary.experiment_units:,} experiment rows (import #{summary.import_id}).")
    return EXIT_OK


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(since=args.since, until=args.until, channels=tuple(args.channel), campaigns=tuple(args.campaign),
                   as_of=args.as_of)


def _cmd_funnel(args: argparse.Namespace) -> int:
    spec = FunnelSpec(
        stages=tuple(s.strip() for s in args.stages.split(",") if s.strip()),
        windows=dict(parse_window_option(w) for w in args.window),
        mode=args.mode, by=args.by, unit=args.unit, period=args.period,
    )
    with _analysis(args) as con:
        table = funnel_over_time(con, spec, _filters(args)) if args.period else funnel(con, spec, _filters(args))
    emit(table, args.format)
    return EXIT_OK


def _cmd_abtest(args: argparse.Namespace) -> int:
    if args.file:
        stats = experiments.read_results_file(args.file, args.experiment, args.metric)
        results = experiments.ab_results(stats, args.control, metric_name=experiments.metric_label(args.metric or "conversion"))
    else:
        with _analysis(args) as con:
            name = args.experiment or _only_experiment(con)
            results = experiments.experiment_results(con, name, args.metric or "conversion", args.control)
    emit(results, args.format)
    return EXIT_OK


def _only_experiment(con: duckdb.DuckDBPyConnection) -> str:
    names = sorted(set(experiments.list_experiments(con)["experiment"]))
    if len(names) != 1:
        listed = ", ".join(names) if names else "none: import results with `import experiments FILE`"
        raise BadInput(f"choose an experiment with --experiment NAME (experiments: {listed})")
    return names[0]


def _cmd_plan(args: argparse.Namespace) -> int:
    result = experiments.plan(args.baseline, args.mde, args.alpha, args.power, args.relative)
    emit(pd.DataFrame([result._asdict()]), args.format)
    return EXIT_OK


def _conversion_spec(args: argparse.Namespace) -> ConversionSpec:
    window = DEFAULT if args.window is None else parse_duration(args.window)
    return ConversionSpec(args.from_stage, args.to_stage, window=window, by=getattr(args, "by", None))


def _cmd_time_to_convert(args: argparse.Namespace) -> int:
    with _analysis(args) as con:
        emit(time_to_convert(con, _conversion_spec(args), _filters(args)), args.format)
    return EXIT_OK


def _cmd_cohorts(args: argparse.Namespace) -> int:
    with _analysis(args) as con:
        emit(cohorts(con, _conversion_spec(args), _filters(args), args.period), args.format)
    return EXIT_OK


def _cmd_channels(args: argparse.Namespace) -> int:
    with _analysis(args) as con:
        emit(channels.channel_comparison(con, _filters(args), by=args.by), args.format)
    return EXIT_OK


def _cmd_campaigns(args: argparse.Namespace) -> int:
    with _analysis(args) as con:
        emit(campaigns.message_campaigns(con, _filters(args)), args.format)
    return EXIT_OK


def _rules(args: argparse.Namespace) -> scoring.Rules:
    """The scoring rules of --rules FILE, else the file beside the warehouse (the defaults when there is none)."""
    return scoring.load_rules(args.rules or scoring.rules_path(args.db))


def _cmd_score(args: argparse.Namespace) -> int:
    rules = _rules(args)
    with _analysis(args) as con:
        emit(scoring.scores(con, rules, _filters(args)), args.format)
    return EXIT_OK


def _cmd_score_check(args: argparse.Namespace) -> int:
    import json

    rules = _rules(args)
    with _analysis(args) as con:
        check = scoring.score_check(con, rules, _filters(args), args.to, args.score_at, args.within)
    if args.format == "json":
        print(json.dumps(check.record(), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        emit(check.bands, "csv")
    else:
        print("\n".join(scoring.describe(check)))
        print()
        emit(check.bands, "table")
        left_out = f"{check.already:,} already {args.to}, {check.closed:,} closed, {check.too_young:,} too young"
        print(f"\n{check.leads:,} leads scored ({left_out}); AUC {check.auc.auc:.3f} "
              f"(95% CI {check.auc.ci_low:.3f} to {check.auc.ci_high:.3f}, DeLong); top-decile lift "
              f"{check.top_decile_lift:.2f}")
    return EXIT_OK


def _cmd_sequences(args: argparse.Namespace) -> int:
    filters = _filters(args)
    with _analysis(args) as con:
        names = sequences.list_sequences(con, filters)["sequence"].tolist()
        if args.sequence is None and not names:
            raise BadInput("no sequence in the data: import email_sent events whose campaign_id names the sequence")
        name = args.sequence or names[0]
        table = sequences.sequence_steps(con, filters, name, args.days)
    emit(table.assign(sequence=name)[["sequence", *table.columns]], args.format)
    return EXIT_OK


def parse_week_option(text: str) -> date:
    """An ISO week like 2026-W46 for --week: its Monday."""
    from analytics.weekly import parse_week

    try:
        return parse_week(text)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _week_summary(args: argparse.Namespace):
    from analytics.weekly import week_summary

    with _analysis(args) as con:
        return week_summary(con, args.week, args.as_of, tuple(args.channel), tuple(args.campaign))


def _cmd_weekly(args: argparse.Namespace) -> int:
    import json

    summary = _week_summary(args)
    if args.format == "json":
        print(json.dumps(summary.record(), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        emit(summary.kpi_table(), "csv")
    else:
        print(f"Week {summary.week}: {summary.label}" + ("" if summary.complete else " (not over yet)")
              + f", as of {summary.as_of.isoformat()}")
        print()
        table = pd.DataFrame({"": [k.label for k in summary.kpis], "this week": [k.text for k in summary.kpis],
                              "week before": [k.previous_text for k in summary.kpis],
                              "change": [k.change_text for k in summary.kpis]})
        print(table.to_string(index=False))
        print()
        for sentence in summary.sentences:
            print(f"- {sentence}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from analytics import report
    from analytics.progress import part

    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise BadInput(f"the folder {out.parent} does not exist", file=str(out))
    exports = [(kind, target) for kind, target in (("png", args.png), ("pdf", args.pdf)) if target]
    html_share = 1.0 if not exports else 0.4
    said: list[tuple[Callable[[str], None], str]] = []
    with TerminalProgress("Writing the report") as progress:
        with _analysis(args) as con:
            summary, page = report.build_report(con, args.week, args.as_of, tuple(args.channel), tuple(args.campaign),
                                                progress=part(progress, 0.0, html_share))
        out.write_text(page, encoding="utf-8")
        said.append((print, f"Wrote the report for {summary.week} ({summary.label}) to {out}."))
        for i, (kind, target) in enumerate(exports):
            progress(html_share + (1 - html_share) * i / len(exports), f"rendering the {kind.upper()}")
            try:
                report.render_file(out, target, kind)
            except report.ExportUnavailable as error:
                said.append((_say, f"{kind.upper()} export skipped: {error}."))
            else:
                said.append((print, f"Wrote a {kind.upper()} of it to {target}."))
        progress(1.0, "done")
    for say, message in said:
        say(message)
    return EXIT_OK


def _add_filter_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--since", type=parse_date, help="entrants from the start of this day")
    sub.add_argument("--until", type=parse_date, help="entrants through the end of this day")
    sub.add_argument("--as-of", type=parse_date, help="see the data as exported at the end of this day (default: now)")
    sub.add_argument("--channel", action="append", default=[], help="first-touch channel (repeatable)")
    sub.add_argument("--campaign", action="append", default=[], help="first-touch campaign (repeatable)")
    sub.add_argument("--format", choices=("table", "csv", "json"), default="table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="warehouse file (default: $ANALYTICS_DB or data/warehouse.duckdb)")
    parser.add_argument("--wait", type=float, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help="how long to wait while another process writes to the warehouse (default: %(default)s)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    parser.add_argument("--engine", choices=("duckdb", "clickhouse"), default=os.environ.get("ANALYTICS_ENGINE", "duckdb"),
                        help="where the analyses and imports run (default: $ANALYTICS_ENGINE or duckdb); backup, "
                             "restore and demo work on DuckDB only")
    parser.add_argument("--clickhouse-url", default=os.environ.get("CLICKHOUSE_URL"),
                        help="http(s)://user:password@host:8123, or chdb:///folder (default: $CLICKHOUSE_URL)")
    parser.add_argument("--clickhouse-database", default=os.environ.get("CLICKHOUSE_DATABASE"),
                        help="the ClickHouse database holding the tables (default: the URL's, else default)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("import", _cmd_import, "import a CSV, Excel or Parquet file into the warehouse")
    sub.add_argument("kind", choices=imports.KINDS)
    sub.add_argument("file")
    sub.add_argument("--stage", help="stage of every row, for an events file without a stage column")
    sub.add_argument("--map", action="append", default=[], metavar="TARGET=SOURCE",
                     help="read canonical column TARGET from the file's column SOURCE (repeatable)")
    sub.add_argument("--stage-date", action="append", default=[], metavar="STAGE=COLUMN",
                     help="wide file: COLUMN dates when each lead reached STAGE; empty means not reached (repeatable)")
    sub.add_argument("--status", metavar="COLUMN", help="wide file: a column whose values are stages (Won, Lost ...)")
    sub.add_argument("--status-date", metavar="COLUMN", help="the column that dates each --status value")
    sub.add_argument("--status-map", action="append", default=[], metavar="VALUE=STAGE",
                     help="what a --status value means, beyond the usual won/lost names (repeatable)")
    sub.add_argument("--responses", action="append", default=[], metavar="COLUMNS",
                     help="sends: comma-separated 0/1 columns, one per campaign, one row per customer")
    sub.add_argument("--encoding", help="the file's text encoding (default: UTF-8, or CP949 when detected)")
    order = sub.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True,
                       help="read dates like 04/09/2012 as 4 September (default: as the data shows)")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="read dates like 04/09/2012 as 9 April")
    sub.add_argument("--sheet", help="the sheet of an Excel file (default: the first)")

    sub = command("import-log", _cmd_import_log, "list every imported file")
    sub.add_argument("--format", choices=("table", "csv", "json"), default="table")

    sub = command("remove-import", _cmd_remove_import, "remove exactly the rows one import added")
    sub.add_argument("import_id", type=int)

    sub = command("funnel", _cmd_funnel, "count units reaching each stage, with drop-off, rates and intervals")
    sub.add_argument("--stages", default="lead,mql,sql,won", help="comma-separated stages in order (default: %(default)s)")
    sub.add_argument("--window", action="append", default=[], metavar="STAGE=DURATION",
                     help="limit on reaching STAGE from the stage before it: 183d, 6mo, none (repeatable)")
    sub.add_argument("--mode", choices=("strict", "implied"), default="strict",
                     help="strict: a skipped stage stops the unit; implied: a later stage implies the earlier ones")
    sub.add_argument("--by", help="break down by a lead attribute (channel, campaign_id, seniority, ...)")
    sub.add_argument("--unit", choices=("lead", "account"), default="lead")
    sub.add_argument("--period", choices=("week", "month"), help="the funnel per entry week or month instead")
    _add_filter_options(sub)

    for name, handler, text in (
        ("time-to-convert", _cmd_time_to_convert, "time from one stage to another, open leads censored"),
        ("cohorts", _cmd_cohorts, "cumulative share converted per entry cohort, with projected final rates"),
    ):
        sub = command(name, handler, text)
        sub.add_argument("--from", dest="from_stage", required=True, help="the stage the clock starts at")
        sub.add_argument("--to", dest="to_stage", required=True, help="the stage that counts as converted")
        sub.add_argument("--window", help="limit on converting: 183d, 6mo, none (default: the pair's default)")
        if name == "time-to-convert":
            sub.add_argument("--by", help="break down by a lead attribute (channel, seniority, ...)")
        else:
            sub.add_argument("--period", choices=("week", "month"), default="month")
        _add_filter_options(sub)

    sub = command("channels", _cmd_channels, "cost and conversion per channel or campaign")
    sub.add_argument("--by", choices=("channel", "campaign"), default="channel")
    _add_filter_options(sub)

    sub = command("campaigns", _cmd_campaigns, "message campaigns: sends, opens, clicks, conversions and rates")
    _add_filter_options(sub)

    sub = command("score", _cmd_score, "every lead's score, band and whether it is sales-ready, as of a date")
    sub.add_argument("--rules", help="the rules file (default: <warehouse>.scoring.toml beside the warehouse)")
    _add_filter_options(sub)

    sub = command("score-check", _cmd_score_check,
                  "does the score work: conversion by band, AUC, top-decile lift, sales-ready precision")
    sub.add_argument("--to", default="sql", help="the outcome stage (default: %(default)s)")
    sub.add_argument("--score-at", type=int, default=30, metavar="DAYS",
                     help="score each lead this many days after it entered (default: %(default)s)")
    sub.add_argument("--within", type=int, default=180, metavar="DAYS",
                     help="count it as converted when it reaches the stage within this many days after (default: "
                          "%(default)s)")
    sub.add_argument("--rules", help="the rules file (default: <warehouse>.scoring.toml beside the warehouse)")
    _add_filter_options(sub)

    sub = command("sequences", _cmd_sequences, "nurture sequence steps: sent, opened, clicked, and who moves on")
    sub.add_argument("--sequence", help="the sequence's campaign_id (default: the one that reached most leads)")
    sub.add_argument("--days", type=int, default=3, help="advancing within this many days of a step (default: 3)")
    _add_filter_options(sub)

    sub = command("abtest", _cmd_abtest, "compare the variants of an A/B test: lift, interval, p-value, verdict")
    sub.add_argument("--experiment", help="which experiment (needed when there are several)")
    sub.add_argument("--file", help="read aggregated results from this CSV or Parquet file instead of the warehouse")
    sub.add_argument("--metric", help="metric of an aggregated experiment (default: conversion)")
    sub.add_argument("--control", help="the control variant (default: control, a or baseline, else the first)")
    sub.add_argument("--format", choices=("table", "csv", "json"), default="table")

    sub = command("plan", _cmd_plan, "units per variant needed to detect an effect")
    sub.add_argument("--baseline", type=float, required=True, help="current conversion rate, e.g. 0.05")
    sub.add_argument("--mde", type=float, required=True,
                     help="smallest effect worth detecting: absolute (0.01 = one point) unless --relative")
    sub.add_argument("--relative", action="store_true", help="--mde is relative to the baseline (0.10 = +10%%)")
    sub.add_argument("--alpha", type=float, default=0.05)
    sub.add_argument("--power", type=float, default=0.8)
    sub.add_argument("--format", choices=("table", "csv", "json"), default="table")

    for name, handler, text in (
        ("weekly", _cmd_weekly, "the weekly meeting's figures: a week against the week before"),
        ("report", _cmd_report, "write the weekly report as one self-contained HTML file (PNG or PDF too)"),
    ):
        sub = command(name, handler, text)
        sub.add_argument("--week", type=parse_week_option, metavar="YYYY-Www",
                         help="ISO week, e.g. 2026-W46 (default: the last complete week before the as-of date)")
        sub.add_argument("--as-of", type=parse_date, help="see the data as exported at the end of this day "
                         "(default: today, or the day of the latest event if the data ends earlier)")
        sub.add_argument("--channel", action="append", default=[], help="first-touch channel (repeatable)")
        sub.add_argument("--campaign", action="append", default=[], help="first-touch campaign (repeatable)")
        if name == "weekly":
            sub.add_argument("--format", choices=("table", "csv", "json"), default="table")
        else:
            sub.add_argument("--out", required=True, metavar="FILE.html", help="the HTML file to write")
            sub.add_argument("--png", metavar="FILE.png", help="also render it to PNG with headless Chromium")
            sub.add_argument("--pdf", metavar="FILE.pdf", help="also render it to PDF with headless Chromium")

    command("copy-to-clickhouse", _cmd_copy_to_clickhouse,
            "copy the DuckDB warehouse (--db) into --clickhouse-database of --clickhouse-url, replacing its tables")

    sub = command("backup", _cmd_backup, "write a consistent copy of the warehouse, also while the dashboard runs")
    sub.add_argument("out", help="the new file to write")

    sub = command("restore", _cmd_restore, "replace the warehouse with a backup (the replaced one is kept beside it)")
    sub.add_argument("file", help="a backup written by the backup command")

    sub = command("demo", _cmd_demo, "build a realistic demo warehouse")
    sub.add_argument("--leads", type=int, default=20_000)
    sub.add_argument("--seed", type=int, default=7)
    sub.add_argument("--end", type=parse_date, help="the day the data ends (default: today)")
    sub.add_argument("--replace", action="store_true", help="empty a warehouse that already holds data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BadInput as error:
        _say(f"error: {error}")
        return EXIT_BAD_INPUT
    except WarehouseUnavailable as error:
        _say(f"error: {error}")
        return EXIT_BUSY
    except Exception as error:  # a bug: one line unless --debug
        if args.debug:
            traceback.print_exc()
        else:
            _say(f"unexpected error ({type(error).__name__}): {error} (run with --debug for details)")
        return EXIT_BUG
