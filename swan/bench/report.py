"""How a run is reported: a table for people, JSON for machines. Pure.

What each phase measures and how: `swan bench --help` and docs/performance.md.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any, Final

from swan.bench.figures import MIB, Mark, figures, milliseconds, number_text
from swan.bench.measured import percentile

if TYPE_CHECKING:
    from swan.bench.measured import FanOut, Latencies, Results, Throughput

SCHEMA: Final = "swan.bench/2"
ABOUT: Final = "what each figure means: swan bench --help, and docs/performance.md"


def to_json(results: Results) -> dict[str, Any]:
    """The JSON document of a run (see README.md, "Benchmarks")."""
    return {
        "schema": SCHEMA,
        "quick": results.quick,
        "machine": {
            "cpu": results.machine.cpu,
            "cores": results.machine.cores,
            "python": results.machine.python,
            "platform": results.machine.platform,
        },
        "settings": dict(results.settings),
        "figures": {
            figure.key: {
                "label": figure.label,
                "value": _rounded(figure.value),
                "unit": figure.unit,
                "ratio": _rounded(figure.ratio),
                "target": None
                if figure.target is None
                else {
                    "op": figure.target.op,
                    "limit": figure.target.limit,
                    "of": figure.target.of,
                },
                "mark": figure.mark,
            }
            for figure in figures(results)
        },
        "phases": _phases(results),
        "about": ABOUT,
    }


def _phases(results: Results) -> dict[str, Any]:
    phases: dict[str, Any] = {}
    if results.broker is not None:
        phases["broker"] = {
            "round_trip": _latency_details(results.broker.round_trip),
            "throughput": _throughput_details(results.broker.throughput),
        }
    if results.shadow is not None:
        phases["shadow"] = {
            "update": _latency_details(results.shadow.update),
            "throughput": _throughput_details(results.shadow.throughput),
            "rejected": results.shadow.rejected,
        }
    if results.push is not None:
        push = results.push
        phases["push"] = {
            "click_to_documents": _latency_details(push.click_to_documents),
            "rate_per_s": push.rate,
            "clicks": push.clicks,
            "documents": push.documents,
            "seconds": _rounded(push.seconds),
        }
    if results.gateway is not None:
        phases["gateway"] = {
            path: {
                "round_trip": _latency_details(figures.round_trip),
                "throughput": _throughput_details(figures.throughput),
            }
            for path, figures in (
                ("direct", results.gateway.direct),
                ("gateway", results.gateway.gateway),
            )
        }
    if results.viewers is not None:
        phases["viewers"] = {
            "runs": [
                {
                    "viewers": run.viewers,
                    "direct": _fan_out_details(run.direct),
                    "gateway": _fan_out_details(run.gateway),
                }
                for run in results.viewers.runs
            ]
        }
    if results.crowd is not None:
        phases["crowd"] = {
            "devices": results.crowd.devices,
            "pages": results.crowd.pages,
            "direct": _fan_out_details(results.crowd.direct),
            "fan_out": _fan_out_details(results.crowd.fan_out),
        }
    if results.web is not None:
        phases["web"] = {
            "runs": [
                {
                    "pages": run.pages,
                    "direct": _fan_out_details(run.direct),
                    "web": _fan_out_details(run.web),
                }
                for run in results.web.runs
            ]
        }
    return phases


def _fan_out_details(fan_out: FanOut) -> dict[str, Any]:
    idle = fan_out.idle
    return {
        "push_to_client": _latency_details(fan_out.push_to_client),
        "clients": fan_out.clients,
        "connected": fan_out.connected,
        "open_seconds": _rounded(fan_out.open_seconds),
        "retried": fan_out.retried,
        "gets": dict(fan_out.gets),
        "pushes": fan_out.pushes,
        "deliveries": fan_out.deliveries,
        "delivered": len(fan_out.push_to_client.seconds),
        "stack_memory_bytes": fan_out.stack_memory_bytes,
        "broker_memory_bytes": fan_out.broker_memory_bytes,
        "idle": {
            "seconds": _rounded(idle.seconds),
            "bytes": idle.bytes,
            "bytes_per_client_second": _rounded(fan_out.idle_bytes_per_client_second),
            "stack_cpu_seconds": _rounded(idle.stack_cpu_seconds),
            "stack_percent_of_core": _rounded(idle.percent_of_core(idle.stack_cpu_seconds)),
            "broker_cpu_seconds": _rounded(idle.broker_cpu_seconds),
            "broker_percent_of_core": _rounded(idle.percent_of_core(idle.broker_cpu_seconds)),
        },
    }


def _latency_details(latencies: Latencies) -> dict[str, Any]:
    samples = latencies.seconds
    return {
        "samples": len(samples),
        "lost": latencies.lost,
        "min_ms": _rounded(milliseconds(min(samples))) if samples else None,
        "mean_ms": _rounded(milliseconds(statistics.fmean(samples))) if samples else None,
        "p50_ms": _rounded(milliseconds(percentile(samples, 50))),
        "p90_ms": _rounded(milliseconds(percentile(samples, 90))),
        "p99_ms": _rounded(milliseconds(percentile(samples, 99))),
        "max_ms": _rounded(milliseconds(max(samples))) if samples else None,
    }


def _throughput_details(throughput: Throughput) -> dict[str, Any]:
    return {
        "completed": throughput.completed,
        "seconds": _rounded(throughput.seconds),
        "window": throughput.window,
        "per_s": _rounded(throughput.per_second),
    }


_MARK_TEXT: Final[dict[Mark | None, str]] = {"pass": "pass", "miss": "MISS", None: ""}


def render_table(results: Results) -> str:
    """The report for a terminal: machine, one line per figure, what was counted, notes."""
    machine = results.machine
    lines = [
        f"The Swan bench{' (quick)' if results.quick else ''}",
        (
            f"machine: {machine.cpu}, {machine.cores} cores, Python {machine.python}, "
            f"{machine.platform}"
        ),
        "",
    ]
    rows = [("figure", "value", "ratio", "target", "")]
    rows += [
        (
            figure.label,
            _cell(figure.value, figure.unit),
            "-" if figure.ratio is None else f"x{number_text(figure.ratio)}",
            "" if figure.target is None else figure.target.describe(figure.unit),
            _MARK_TEXT[figure.mark],
        )
        for figure in figures(results)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            row[1].rjust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].ljust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
    counted = _counted(results)
    if counted:
        lines += ["", "counted:", *(f"  {line}" for line in counted)]
    lines += ["", ABOUT]
    return "\n".join(lines) + "\n"


def _counted(results: Results) -> list[str]:
    lines = []
    if results.broker is not None:
        broker = results.broker
        lines.append(
            f"broker: {_samples(broker.round_trip)}; {_completed(broker.throughput, 'messages')}"
        )
    if results.shadow is not None:
        shadow = results.shadow
        rejected = f", {shadow.rejected} rejected" if shadow.rejected else ""
        updates = _completed(shadow.throughput, "updates")
        lines.append(f"shadow: {_samples(shadow.update)}; {updates}{rejected}")
    if results.push is not None:
        push = results.push
        lines.append(
            f"push: {push.clicks} clicks in {number_text(push.seconds)} s, covered by "
            f"{push.documents} documents messages; {_samples(push.click_to_documents)}"
        )
    if results.gateway is not None:
        direct, through = results.gateway.direct, results.gateway.gateway
        lines.append(
            f"gateway: direct mTLS: {_samples(direct.round_trip)}; "
            f"{_completed(direct.throughput, 'messages')}"
        )
        lines.append(
            f"gateway: via the gateway: {_samples(through.round_trip)}; "
            f"{_completed(through.throughput, 'messages')}"
        )
    if results.web is not None:
        for run in results.web.runs:
            lines.append(_fan_out_line(f"web: {run.pages} direct subscribers", run.direct))
            lines.append(_fan_out_line(f"web: {run.pages} pages", run.web))
    if results.viewers is not None:
        for viewer_run in results.viewers.runs:
            n = viewer_run.viewers
            lines.append(_fan_out_line(f"viewers: {n} on direct mTLS", viewer_run.direct))
            lines.append(_fan_out_line(f"viewers: {n} through the gateway", viewer_run.gateway))
    if results.crowd is not None:
        crowd = results.crowd
        what = f"{crowd.devices} devices and {crowd.pages} pages"
        lines.append(_fan_out_line(f"crowd: {what}, direct", crowd.direct))
        lines.append(_fan_out_line(f"crowd: {what}, through the gateway", crowd.fan_out))
    return lines


def _fan_out_line(what: str, fan_out: FanOut) -> str:
    idle = fan_out.idle
    gets = ", ".join(f"{count} {answer}" for answer, count in sorted(fan_out.gets.items()))
    return (
        f"{what}: {fan_out.connected} of {fan_out.clients} open in "
        f"{number_text(fan_out.open_seconds)} s ({fan_out.retried} retries; gets: "
        f"{gets or 'none'}); {fan_out.pushes} pushes: "
        f"{len(fan_out.push_to_client.seconds)} of {fan_out.deliveries} delivered; "
        f"memory +{number_text(fan_out.stack_memory_bytes / MIB)} MB stack, "
        f"+{number_text(fan_out.broker_memory_bytes / MIB)} MB Mosquitto; idle "
        f"{number_text(idle.seconds)} s: {idle.bytes} bytes, "
        f"CPU {number_text(idle.stack_cpu_seconds)} s stack, "
        f"{number_text(idle.broker_cpu_seconds)} s Mosquitto"
    )


def _samples(latencies: Latencies) -> str:
    lost = f", {latencies.lost} lost" if latencies.lost else ""
    return f"{len(latencies.seconds)} latency samples{lost}"


def _completed(throughput: Throughput, what: str) -> str:
    return f"{throughput.completed} {what} in {number_text(throughput.seconds)} s"


def _cell(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{number_text(value)} {unit}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
