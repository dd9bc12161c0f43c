"""The ClickHouse translation of every analytics query is the reviewed one in analytics/clickhouse_sql/."""

from __future__ import annotations

import difflib

import pytest

from analytics.clickhouse import golden


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    """File name -> translation of every query the scenarios run now."""
    return golden.render(golden.demo_queries())


def test_every_translation_is_the_reviewed_one(expected: dict[str, str]) -> None:
    found = {p.name: p.read_text(encoding="utf-8") for p in golden.GOLDEN_DIR.glob("*.sql")}
    problems = [f"new query without a reviewed translation: {n}" for n in sorted(set(expected) - set(found))]
    problems += [f"reviewed translation of a query no analytics function runs any more: {n}"
                 for n in sorted(set(found) - set(expected))]
    for name in sorted(set(expected) & set(found)):
        if expected[name] != found[name]:
            diff = difflib.unified_diff(found[name].splitlines(), expected[name].splitlines(), name, "now", lineterm="")
            problems.append("\n".join(diff))
    assert not problems, (f"The ClickHouse translations changed; review them and run `{golden.COMMAND}`:\n"
                          + "\n".join(problems))


def test_no_query_is_left_untranslatable(expected: dict[str, str]) -> None:
    assert not [name for name, text in expected.items() if "UNTRANSLATABLE" in text]


def test_each_file_is_named_after_the_function_that_runs_it() -> None:
    queries = [golden.Query("funnel.funnel", "SELECT 1", (), frozenset()),
               golden.Query("summary.stage_names", "SELECT 1", (), frozenset()),
               golden.Query("summary.stage_names", "SELECT 2", (), frozenset())]
    assert sorted(golden.render(queries)) == ["funnel.funnel.sql", "summary.stage_names.1.sql", "summary.stage_names.2.sql"]
