"""`python -m swan.bench.load`: the load of one bench phase, in a process of its own.

`swan bench` starts one of these per phase, so that its MQTT clients do not compete for the
GIL with the stack they measure. The composition root of the child: it reads a job (JSON,
see `swan.bench.jobs`) on stdin, connects the job's logins, runs the phase's measurement
and writes the figures as JSON on stdout. Progress and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

from swan.bench import broker, crowds, gateway, jobs, push, shadow, viewers, web
from swan.bench.page_worker import Devices, Setup
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Endpoint, Transport

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Run the load of one `swan bench` phase (broker, shadow, push, gateway, web, viewers or
crowd) against a running stack. Reads the job, one JSON document, on stdin; writes the
phase's figures, one JSON document, on stdout; progress on stderr. Started by `swan bench`,
not meant to be run by hand.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swan.bench.load", description=DESCRIPTION)
    parser.parse_args(argv)
    try:
        job = jobs.job_from_json(json.loads(sys.stdin.read()))
    except ValueError as error:  # not JSON, or not a job
        _say(f"swan.bench.load: bad job: {error}")
        return EXIT_BAD_INPUT
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        figures = measure(job, _say)
    except SwanError as error:
        _say(f"swan.bench.load: {error}")
        return EXIT_FAILED
    except KeyboardInterrupt:  # Ctrl-C reaches the bench and its child alike
        return EXIT_INTERRUPTED
    sys.stdout.write(json.dumps(jobs.figures_to_json(job.PHASE, figures)) + "\n")
    return 0


def measure(job: jobs.Job, say: Callable[[str], None]) -> jobs.PhaseFigures:  # noqa: PLR0911
    """Connect the job's logins, measure, disconnect."""
    with ExitStack() as cleanup:

        def connected(endpoint: Endpoint) -> Transport:
            from swan.adapters.mqtt import connect  # noqa: PLC0415  (awscrt: only here)

            transport = connect(endpoint)
            cleanup.callback(transport.close)
            return transport

        if isinstance(job, jobs.BrokerJob):
            return broker.measure(
                connected(job.publisher),
                connected(job.subscriber),
                topic=job.topic,
                load=job.load,
                say=say,
            )
        if isinstance(job, jobs.ShadowJob):
            return shadow.measure(
                connected(job.client),
                connected(job.listener),
                thing=job.thing,
                load=job.load,
                say=say,
            )
        if isinstance(job, jobs.GatewayJob):
            return gateway.measure(
                connected(job.direct),
                connected(job.gateway),
                topic=job.topic,
                load=job.load,
                say=say,
            )
        if isinstance(job, jobs.WebJob):
            serial, login = job.button
            direct = job.direct
            setup = Setup(
                ws_url=job.ws_url,
                cognito=job.cognito,
                pool_id=job.pool_id,
                region=job.region,
                socket_path=str(direct.socket_path),
                username=direct.username or "",
                password=direct.password or "",
                timeout=job.timeout,
            )
            return web.measure(
                setup,
                (serial, connected(login)),
                sizes=job.sizes,
                pushes=job.pushes,
                quiet_seconds=job.quiet_seconds,
                watched=web.Watched(job.front_pids, job.broker_pid),
                prefix=direct.client_id,
                say=say,
            )
        if isinstance(job, jobs.ViewersJob):
            serial, login = job.button
            setup = Setup("", "", "", "", "", "", "", job.timeout)
            host, port = job.direct
            relay = viewers.Relay(connected(job.relay_source), connected(job.relay_sink))
            with relay:
                return viewers.measure(
                    setup,
                    (serial, connected(login)),
                    direct=Devices(host, port, job.ca_file, job.logins),
                    gateway=Devices(*job.gateway, job.ca_file, job.logins),
                    sizes=job.sizes,
                    pushes=job.pushes,
                    quiet_seconds=job.quiet_seconds,
                    watched=crowds.Watched((job.pids[0],), job.pids[1]),
                    direct_watched=crowds.Watched((job.pids[0],), job.pids[2]),
                    say=say,
                )
        if isinstance(job, jobs.CrowdJob):
            serial, login = job.button
            door, subscribers = job.door, job.subscribers
            setup = Setup(
                door.ws_url,
                door.cognito,
                door.pool_id,
                door.region,
                str(subscribers.socket_path),
                subscribers.username or "",
                subscribers.password or "",
                job.timeout,
            )
            relay = viewers.Relay(connected(job.relay_source), connected(job.relay_sink))
            with relay:
                return viewers.measure_crowd(
                    setup,
                    (serial, connected(login)),
                    gateway=Devices(*job.gateway, job.ca_file, job.logins),
                    direct=Devices(*job.direct, job.ca_file, job.logins),
                    pages=job.pages,
                    pushes=job.pushes,
                    quiet_seconds=job.quiet_seconds,
                    watched=crowds.Watched((job.pids[0], job.pids[3]), job.pids[1]),
                    direct_watched=crowds.Watched((job.pids[2],), job.pids[1]),
                    say=say,
                )
        say(f"connecting {len(job.buttons)} IoT Buttons over mTLS ...")
        buttons = [(serial, connected(endpoint)) for serial, endpoint in job.buttons]
        return push.measure(
            buttons,
            connected(job.watcher),
            rate=job.rate,
            seconds=job.seconds,
            timeout=job.timeout,
            say=say,
        )


def _say(line: str) -> None:
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
