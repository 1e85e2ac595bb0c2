"""The numbers under the counter: the last push, this run, failures, and recent pushes."""

from __future__ import annotations

import reflex as rx

from webapp.components.clock import since
from webapp.state import Board


def card(title: str, *children: rx.Component, card_id: str) -> rx.Component:
    return rx.el.section(
        rx.el.h2(title, id=f"{card_id}-title"),
        *children,
        class_name="card",
        id=card_id,
        aria_labelledby=f"{card_id}-title",
    )


def panels() -> rx.Component:
    return rx.el.div(
        card(
            "Last push",
            rx.el.div(
                rx.cond(Board.last_by != "", Board.last_by, "nobody yet"),
                class_name="big",
                id="last-by",
            ),
            rx.el.div(
                rx.cond(
                    Board.last_by != "",
                    rx.fragment(
                        rx.el.span(Board.last_source, class_name="source", id="last-source"),
                        " ",
                        since(at=Board.last_at, mode="ago"),
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
                    at=Board.run_started_at,
                    mode="for",
                    until=rx.cond(Board.failed, Board.failed_at, 0.0),
                ),
                class_name="big",
            ),
            rx.el.div("the world kept going", class_name="small"),
            card_id="run",
        ),
        card(
            "System failures",
            rx.el.div(Board.failures, class_name="big", id="failures"),
            rx.el.div("so far", class_name="small"),
            card_id="failures-card",
        ),
        card(
            "Pushes",
            rx.el.div(Board.pushes, class_name="big", id="pushes"),
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
    return rx.el.section(
        rx.el.h2("Recent pushes", id="history-title"),
        rx.cond(
            Board.history.length() > 0,
            rx.el.ol(rx.foreach(Board.history, history_row), id="history"),
            rx.el.p("No pushes seen yet.", class_name="empty"),
        ),
        class_name="history",
        aria_labelledby="history-title",
    )
