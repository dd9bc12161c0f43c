"""Names as people read them, shared by the charts, the pages and the sentences of the analytics (no
plotting import needed for words)."""

from __future__ import annotations


def label(name: str, longest: int = 48) -> str:
    """A stage, channel or column name as people read it: 'paid_search' -> 'Paid search', 'mql' -> 'MQL';
    names longer than `longest` characters end in an ellipsis, so one long name cannot squeeze a chart.

    >>> label("paid_search"), label("mql"), label("a very long campaign name", longest=12)
    ('Paid search', 'MQL', 'A very long…')
    """
    words = str(name).replace("_", " ")
    upper = {"mql": "MQL", "sql": "SQL", "ctr": "CTR", "ci": "CI", "id": "ID", "p": "p", "km": "KM"}
    text = " ".join(upper.get(w.lower(), w) for w in words.split(" "))
    text = text if len(text) <= longest else text[:longest - 1] + "…"
    return text[:1].upper() + text[1:]
