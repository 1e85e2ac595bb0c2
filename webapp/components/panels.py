"""The numbers under the counter: the last push, this run, failures, and recent pushes."""

from __future__ import annotations

from typing import Any

import reflex as rx

from webapp.components.browser import since
from webapp.page_state import field


def card(title: str, *children: rx.Component, card_id: str) -> rx.Component:
    return rx.el.section(
        rx.el.h2(title, id=f"{card_id}-title"),
        *children,
        class_name="card",
        id=card_id,
        aria_labelledby=f"{card_id}-title",
    )


def panels() -> rx.Component:
    last_by = field("lastBy").to(str)
    return rx.el.div(
        card(
            "Last push",
            rx.el.div(
                rx.cond(last_by != "", last_by, "nobody yet"),
                class_name="big",
                id="last-by",
            ),
            rx.el.div(
                rx.cond(
                    last_by != "",
                    rx.fragment(
                        rx.el.span(
                            field("lastSource").to(str), class_name="source", id="last-source"
                        ),
                        " ",
                        since(at=field("lastAt").to(float), mode="ago"),
                    ),
                ),
                class_name="small",
            ),
            card_id="last",
        ),
        card(
            "This run",
            rx.el.div(
                since(
                    at=field("runStartedAt").to(float),
                    mode="for",
                    until=rx.cond(field("failed").to(bool), field("failedAt").to(float), 0.0),
                ),
                class_name="big",
            ),
            rx.el.div("the world kept going", class_name="small"),
            card_id="run",
        ),
        card(
            "System failures",
            rx.el.div(field("failures").to(int), class_name="big", id="failures"),
            rx.el.div("so far", class_name="small"),
            card_id="failures-card",
        ),
        card(
            "Pushes",
            rx.el.div(field("pushes").to(int), class_name="big", id="pushes"),
            rx.el.div("in all runs", class_name="small"),
            card_id="pushes-card",
        ),
        class_name="panels",
    )


def history_row(row: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.span(row["by"].to(str), class_name="by"),
        rx.el.span(row["label"].to(str), class_name="source"),
        since(at=row["at"].to(float), mode="ago"),
    )


def history() -> rx.Component:
    rows = field("history").to(list[dict[str, Any]])
    return rx.el.section(
        rx.el.h2("Recent pushes", id="history-title"),
        rx.cond(
            rows.length() > 0,
            rx.el.ol(rx.foreach(rows, history_row), id="history"),
            rx.el.p("No pushes seen yet.", class_name="empty"),
        ),
        class_name="history",
        aria_labelledby="history-title",
    )
