"""The push: a big button, or in the `swan` rule set the `>:` prompt and Execute."""

from __future__ import annotations

import reflex as rx

from webapp.components.browser import action
from webapp.page_state import field


def push_button() -> rx.Component:
    in_flight = field("inFlight").to(bool)
    return rx.el.button(
        rx.cond(in_flight, "···", "PUSH"),
        rx.el.span("space / enter", class_name="sub", aria_hidden="true"),
        id="push",
        class_name="push",
        type="button",
        disabled=in_flight,
        aria_busy=rx.cond(in_flight, "true", "false"),
        aria_label="Push the button: reset the countdown",
        on_click=action("swanPush"),
    )


def prompt() -> rx.Component:
    """The station's microcomputer: type 4 8 15 16 23 42, then Execute."""
    in_flight = field("inFlight").to(bool)
    return rx.el.form(
        rx.el.label(
            rx.el.span(">:", aria_hidden="true"),
            rx.el.input(
                id="prompt",
                name="code",
                auto_complete="off",
                max_length=64,
                spell_check=False,
                input_mode="numeric",
                aria_label="Code",
                placeholder="_",
            ),
        ),
        rx.el.button(
            "EXECUTE",
            id="push",
            class_name="execute",
            type="submit",
            disabled=in_flight,
            aria_busy=rx.cond(in_flight, "true", "false"),
        ),
        class_name="prompt",
        on_submit=action("swanExecute"),
        reset_on_submit=True,
    )


def controls() -> rx.Component:
    swan_rules = field("ruleSet").to(str) == "swan"
    return rx.el.section(
        rx.cond(swan_rules, prompt(), push_button()),
        rx.cond(
            swan_rules,
            rx.el.p("The prompt takes the code when the alarm sounds.", class_name="hint"),
        ),
        rx.el.p(
            field("notice").to(str),
            id="notice",
            class_name="notice",
            data_kind=field("noticeKind").to(str),
            role="status",
            aria_live="polite",
        ),
        class_name="controls",
        aria_label="Push",
    )
