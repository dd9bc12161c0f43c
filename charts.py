"""Plotly figures shared by the pages: one look (colours, fonts, margins) for every chart."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

# Colour-blind-safe qualitative palette (Okabe-Ito, without black), one colour per channel.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7f7f7f"]


def styled(figure: go.Figure, height: int = 380) -> go.Figure:
    """The common layout: readable type, a light grid, the legend above the plot."""
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        font={"size": 14},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None},
        plot_bgcolor="white",
        hovermode="x unified",
    )
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#e5e7eb", zeroline=False)
    return figure


def weekly_leads(table: pd.DataFrame) -> go.Figure:
    """Stacked weekly new leads per channel."""
    figure = px.bar(table, x="week", y="leads", color="channel", color_discrete_sequence=PALETTE,
                    labels={"week": "Week starting", "leads": "New leads", "channel": "Channel"})
    return styled(figure)
