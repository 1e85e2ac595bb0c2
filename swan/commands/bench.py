"""`swan bench`: measure the local system against the raw broker, print a table and JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swan.commands import Command
from swan.commands.arguments import whole_number
from swan.core.errors import InvalidSettingError

if TYPE_CHECKING:
    from collections.abc import Callable

DESCRIPTION = """\
Measure The Swan on this machine: everything below but crowd by default (about 8 minutes:
web takes 4.7, viewers 1.5), or the parts --only names. The bench starts its own local stack
(Mosquitto, the shadow service, the rules engine and the Lambda handlers) in a temporary
directory on free loopback ports, so it can run beside `swan up`; --state-dir is not used.

  broker        Mosquitto alone, the baseline: one client publishes QoS 1 to a topic
                another subscribes to, on the internal listener. Round trip p50/p99
                (publish -> delivery, one message at a time) and throughput (messages/s
                delivered with --window messages in flight).
  shadow        The shadow service: update -> /update/accepted of one thing's shadow over
                MQTT, p50/p99 one update at a time, and sustained throughput (accepted
                updates/s with --window in flight). Target: >= 2000 updates/s.
  push          An IoT Button (mTLS) clicks at --rate per second; a subscriber follows
                $aws/things/button/shadow/update/documents. Clicks in a burst share one
                shadow write, so a click's latency is the time until the first documents
                message whose `pushes` count includes it. Targets at 20 clicks/s:
                p50 <= 15 ms, p99 <= 50 ms.
  gateway       The device gateway against direct mutual TLS: one provisioned device
                publishes QoS 1 through the gateway (the stack's device port) and
                directly to a second, private Mosquitto with an mTLS listener (the
                baseline of this phase). p50/p99 of publish -> PUBACK, one at a time,
                and throughput (PUBACKs/s with --window in flight) through each, on a
                topic nobody subscribes to: every topic a device may publish is answered
                by a handler of the stack, which would be timed too. The paths take
                turns in short runs. Target: gateway throughput >= 0.9 of direct.
  web           Push -> every page, as the static page reaches AWS IoT: at each --clients
                size (200, then 1000), pages each with its own Cognito identity (the
                stack's Cognito Identity) speak MQTT over a SigV4-presigned WebSocket to
                the gateway's door, spread over worker processes; before them, as many
                direct subscribers of the broker (no WebSocket, signature or gateway) are
                the baseline. An IoT Button pushes, one push at a time; a page's latency
                is click -> the first documents message there that includes the push:
                p50/p99/max over every (page, push), and the share delivered. Then
                --quiet-seconds (default 60, one keep-alive) with no pushes: the CPU
                of the stack's processes in front of the broker (its own and the
                WebSocket door's, from /proc) as a share of one core and the bytes per
                second per idle page; and their memory per page. Targets: p99 <= 1 s,
                every push delivered; idle CPU <= 2% of a core at 200 pages.
  viewers       Push -> every viewer, through the device gateway against direct
                mutual TLS: at each --viewers size (1000, then 3000), devices with
                their own certificates (as Raspberry Pis) follow the button shadow's
                documents, first connected directly to a private Mosquitto with an
                mTLS listener (fed by a relay from the stack's broker: one more hop on
                the baseline's path), then as many through the gateway; the devices
                live in worker processes. An IoT Button pushes 20 times, one push at a
                time: a viewer's latency is click -> the first documents message there
                that includes the push: p50/p99/max over every (viewer, push), the share
                delivered, and memory per idle connection (the gateway's process and
                Mosquitto, against the direct Mosquitto). Targets: p99 <= 1 s, every
                push delivered; from 3000 viewers, the gateway's p99 <= 2x direct.
  crowd         Not run by default (--only crowd; about 2.5 minutes): 10,000 viewers at
                once, 5,000 devices (mutual TLS, through the gateway) and 5,000 pages
                (SigV4-signed WebSockets at the gateway's door), mixed in worker
                processes, after their baseline (the same devices on direct mutual
                TLS and 5,000 direct subscribers); 20 pushes each; p50/p99/max, the
                share delivered, memory per idle connection. Targets: p99 <= 1 s,
                every push delivered. --crowd-devices and --crowd-pages change the
                mix (0 of either: the other alone). The bench raises its open-file
                limit as far as it may: each device holds two descriptors of the
                stack's process, each page two of the WebSocket door's.
  pi            The Raspberry Pi client: `swan pi` in a child process (recording matrix,
                then terminal to /dev/null) while the countdown runs, against an idle
                MQTT 5 client as the baseline: CPU share of one core, peak RSS, wake-ups
                per second over --seconds (default 20). Target: <= 2 % of one core,
                <= 60 MB. A table of its own; in the JSON under `pi`.

`swan bench web` is --only broker --only viewers --only web: the pages beside the
devices. `swan bench pi` is --only pi.
`swan bench` with no --only runs everything but crowd.

Every figure is shown with its ratio to the matching broker figure measured in the same run
(latency: x times the bare round trip; throughput: the share of the broker's), in gateway
and viewers to the matching direct-mTLS figure, in web to the same figure of as many direct
subscribers, in crowd to its direct baseline, and a pass/miss mark where it has a target.
Absolute numbers on a busy machine vary; the ratios travel better. Progress goes to stderr.
--plot draws p50 and p99 of viewers and crowd against the viewers (a PNG, with Pillow).

The load of each phase, broker included, runs in a child process of its own
(python -m swan.bench.load), so the process measured hosts only the stack; a child that
outlives its phase's time limit (from --seconds, --push-seconds and --timeout) is killed.
"""

PARTS = ("broker", "shadow", "push", "gateway", "web", "viewers", "crowd", "pi")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        choices=("web", "pi"),
        help="web: the pages, beside the MQTT viewers and the broker baseline; "
        "pi: the Raspberry Pi client (default: everything)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs (50 samples, 1 s throughput, 1.5 s of clicks), for smoke tests",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the results as JSON to PATH ('-': stdout, the table then goes to stderr)",
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw p50 and p99 of push -> every viewer against the viewers (viewers, "
        "crowd) as a PNG picture at PNG",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="measure only this part; repeat for more (default: all; the ratios of "
        "shadow and push need broker; gateway, web, viewers and pi have their own baselines; crowd "
        "runs only when named)",
    )
    parser.add_argument(
        "--samples",
        type=_positive(int),
        metavar="N",
        help="latency samples of broker, shadow and each path of gateway, one request at a time "
        "(default 1000)",
    )
    parser.add_argument(
        "--seconds",
        type=_positive(float),
        metavar="S",
        help="length of each throughput run, and the time limit of each latency run (default 5)",
    )
    parser.add_argument(
        "--window",
        type=_positive(int),
        metavar="N",
        help="requests in flight during the throughput runs (default 100)",
    )
    parser.add_argument(
        "--rate",
        type=_positive(float),
        metavar="PER_S",
        help="IoT Button clicks per second in push (default 20; the targets are stated at 20)",
    )
    parser.add_argument(
        "--push-seconds",
        type=_positive(float),
        metavar="S",
        help="how long push clicks (default 10)",
    )
    parser.add_argument(
        "--clients",
        type=_positive(int),
        action="append",
        metavar="N",
        help="web: pages open at once, one size per use (default 200 and 1000)",
    )
    parser.add_argument(
        "--viewers",
        type=_positive(int),
        action="append",
        metavar="N",
        help="viewers: devices following the button shadow at once, one size per use "
        "(default 1000 and 3000)",
    )
    parser.add_argument(
        "--crowd-devices",
        type=whole_number(0),
        metavar="N",
        help="crowd: devices through the gateway (default 5000; 0: pages only)",
    )
    parser.add_argument(
        "--crowd-pages",
        type=whole_number(0),
        metavar="N",
        help="crowd: pages through the gateway's WebSocket door (default 5000; 0: devices only)",
    )
    parser.add_argument(
        "--quiet-seconds",
        type=_positive(float),
        metavar="S",
        help="web: how long the idle pages are measured, no pushes (default 60)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        metavar="S",
        help="the longest the bench waits for any one answer (default 5)",
    )


def run(args: argparse.Namespace) -> int:
    from swan.bench import pi, report, runner  # noqa: PLC0415  (keeps `swan --help` fast)

    if args.target is not None and args.only:
        raise InvalidSettingError(
            "--only", args.only, f"does not go with `swan bench {args.target}`"
        )
    default = (*runner.PHASES, "pi")  # the plan's default phases, then the Pi's own
    chosen = {"web": runner.WEB_PHASES, "pi": ("pi",)}.get(args.target, args.only or default)
    phases = tuple(p for p in runner.ALL_PHASES if p in chosen)
    if args.plot is not None and not {"viewers", "crowd"} & set(phases):
        raise InvalidSettingError("--plot", args.plot, "draws viewers or crowd, which do not run")
    results = None
    json_to_stdout = args.json == "-"
    table_out = sys.stderr if json_to_stdout else sys.stdout
    document: dict[str, Any] = {}
    if phases:
        plan = runner.Plan.defaults(quick=args.quick).with_options(
            phases=phases,
            samples=args.samples,
            seconds=args.seconds,
            window=args.window,
            rate=args.rate,
            push_seconds=args.push_seconds,
            timeout=args.timeout,
            clients=tuple(args.clients) if args.clients else None,
            viewers=tuple(args.viewers) if args.viewers else None,
            crowd_devices=args.crowd_devices,
            crowd_pages=args.crowd_pages,
            quiet_seconds=args.quiet_seconds,
        )
        if plan.crowd_devices + plan.crowd_pages == 0:
            raise InvalidSettingError(
                "--crowd-devices", 0, "and --crowd-pages 0 leave the crowd without viewers"
            )
        results = runner.run(plan, say=_progress)
        table_out.write(report.render_table(results))
        document = report.to_json(results)

    if "pi" in chosen:
        _progress("measuring the Raspberry Pi client ...")
        pi_seconds = args.seconds or (pi.QUICK_SECONDS if args.quick else pi.SECONDS)
        pi_bench = pi.run(pi_seconds, _progress)
        table_out.write(("\n" if phases else "") + pi.render_table(pi_bench))
        if phases:
            document["pi"] = pi.to_json(pi_bench)
        else:
            document = pi.to_json(pi_bench)
    if args.json is not None:
        text = json.dumps(document, indent=2) + "\n"
        if json_to_stdout:
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text)
            _progress(f"wrote {args.json}")
    if args.plot is not None and results is not None:
        from swan.bench import plot  # noqa: PLC0415  (Pillow: only to plot)

        machine = results.machine
        title = f"push -> every viewer, p50 and p99 ({machine.cores} cores, {machine.cpu})"
        plot.draw(results, Path(args.plot), title)
        _progress(f"drew {args.plot}")
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


COMMAND = Command(
    name="bench",
    help="measure the broker, shadow service, push path, device gateway, viewers, pages, Pi",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
