"""`python -m swan.bench.page_worker`: a share of web's clients, in a process of its own.

web spreads its pages over a few of these (`swan.bench.web` starts them), so that neither
the stack nor the load process that clicks has to carry a thousand connections' parsing;
the clients are not what is measured. A worker reads its setup (one JSON line) on stdin,
then one command a line, and answers each with one JSON line on stdout:

- `{"do": "open", "kind": "page"|"direct", "count": N, "prefix": P}`: open N clients,
  `OPENING` at a time (a page first gets its own Cognito identity and credentials), each
  tried again a second after a failure, `ATTEMPTS` times at most; answers how many opened,
  how many tries it took beyond the first, why some did not, and what their gets were
  answered;
  `{"do": "open", "kind": "device", "devices": {...}}` opens a device per login over mutual
  TLS (`Devices`); `{"do": "open", "kind": "mixed", "parts": [open, ...]}` each part in turn;
- `{"do": "wait", "above": C}`: until every open client has seen a push count above C, or
  the setup's timeout; answers how many did and the highest count seen;
- `{"do": "counters"}`: the bytes the open clients sent and received so far;
- `{"do": "close"}`: close them all; answers what each saw (push count, arrival time).

Every wait is bounded by the setup's timeout; at the end of stdin the worker closes its
clients and exits. Progress and problems go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from swan.adapters import event_loop
from swan.adapters.descriptors import raise_descriptor_limit
from swan.bench.json_fields import Fields, InvalidJsonError
from swan.bench.pages import Audience, Credentials, PageError, Session

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

OPENING: Final = 20  # clients connecting at the same time, per worker, as people arriving
# A client that does not get in within the timeout tries again, as the page and the AWS
# SDKs do, a second later (AWS takes one CONNECT a second per client id); at most this often.
ATTEMPTS: Final = 3
RETRY_AFTER: Final = 1.0
COGNITO_AT_ONCE: Final = 4  # Cognito calls in flight per worker (its server takes 64)
TICK: Final = 1.0  # how often the keep-alives are looked at
MOST_PROBLEMS: Final = 3  # reasons kept for clients that did not open
COMMAND_BYTES: Final = 64 * 1024 * 1024  # the longest command line

DESCRIPTION = """\
Hold a share of the clients of `swan bench` phase web: pages over SigV4-signed WebSockets,
or direct subscribers of the broker. Reads its setup and then one command a line (JSON) on
stdin, answers each with one JSON line on stdout; progress on stderr. Started by the web
load process, not meant to be run by hand.
"""


def longest_open(timeout: float) -> float:
    """The longest one client takes to open, or to fail: every try within `timeout`."""
    return ATTEMPTS * timeout + (ATTEMPTS - 1) * RETRY_AFTER


@dataclass(frozen=True)
class Setup:
    """Where a worker's clients go: the pages' doors and the direct subscribers' login."""

    ws_url: str
    cognito: str
    pool_id: str
    region: str
    socket_path: str
    username: str
    password: str
    timeout: float

    def to_json(self) -> dict[str, Any]:
        return {
            "ws_url": self.ws_url,
            "cognito": self.cognito,
            "pool_id": self.pool_id,
            "region": self.region,
            "socket_path": self.socket_path,
            "username": self.username,
            "password": self.password,
            "timeout": self.timeout,
        }

    @classmethod
    def from_json(cls, document: object) -> Setup:
        fields = Fields.of(document, "setup")
        return cls(
            ws_url=fields.text("ws_url"),
            cognito=fields.text("cognito"),
            pool_id=fields.text("pool_id"),
            region=fields.text("region"),
            socket_path=fields.text("socket_path"),
            username=fields.text("username"),
            password=fields.text("password"),
            timeout=fields.positive("timeout"),
        )


@dataclass(frozen=True)
class Devices:
    """Devices to open: their logins (client id, certificate file, key file) at one mutual-TLS
    listener (the device gateway, or a Mosquitto listener of its own), trusting `ca_file`."""

    host: str
    port: int
    ca_file: str
    logins: tuple[tuple[str, str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "ca_file": self.ca_file,
            "logins": [
                {"client_id": client_id, "cert_file": cert_file, "key_file": key_file}
                for client_id, cert_file, key_file in self.logins
            ],
        }

    @classmethod
    def from_json(cls, fields: Fields) -> Devices:
        logins = tuple(
            (login.text("client_id"), login.text("cert_file"), login.text("key_file"))
            for login in fields.objects("logins")
        )
        return cls(fields.text("host"), fields.count("port"), fields.text("ca_file"), logins)


class Worker:
    """The clients of one worker and the commands it answers."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.sessions: list[Session] = []
        self.audience = Audience()  # what its clients share
        self._cognito: Any = None
        self._cognito_gate = asyncio.Semaphore(COGNITO_AT_ONCE)

    async def answer(self, command: Fields) -> dict[str, Any]:
        do = command.text("do")
        if do == "open":
            kind = command.text("kind")
            if kind == "mixed":
                return _added([await self.answer(part) for part in command.objects("parts")])
            if kind == "device":
                return await self.open_devices(Devices.from_json(command.object("devices")))
            if kind not in ("page", "direct"):
                raise InvalidJsonError(f"{command.where}.kind", f"not a kind: {kind!r}")
            return await self.open(kind, command.count("count"), command.text("prefix"))
        if do == "wait":
            return await self.wait(command.number("above"))
        if do == "counters":
            return {
                "sent": sum(s.sent_bytes for s in self.sessions),
                "received": sum(s.received_bytes for s in self.sessions),
            }
        if do == "close":
            return await self.close()
        raise InvalidJsonError(f"{command.where}.do", f"not a command: {do!r}")

    async def open_devices(self, devices: Devices) -> dict[str, Any]:
        """Open a device per login, over mutual TLS to `devices.host`:`devices.port`."""

        def context(cert_file: str, key_file: str) -> ssl.SSLContext:
            made = ssl.create_default_context(cafile=devices.ca_file)
            made.load_cert_chain(cert_file, key_file)
            return made

        async def open_one(n: int) -> Session:
            client_id, cert_file, key_file = devices.logins[n]
            session = Session(client_id, audience=self.audience)
            try:
                await session.open_device(devices.host, devices.port, context(cert_file, key_file))
            except BaseException:
                await session.close()
                raise
            return session

        return await self._opened(len(devices.logins), open_one)

    async def open(self, kind: str, count: int, prefix: str) -> dict[str, Any]:
        async def open_one(n: int) -> Session:
            session: Session | None = None
            try:
                if kind == "page":
                    credentials = await self._identity()
                    session = Session(credentials.identity_id, audience=self.audience)
                    await session.open_page(self.setup.ws_url, credentials, self.setup.region)
                else:
                    session = Session(f"{prefix}-{n}", audience=self.audience)
                    await session.open_direct(
                        Path(self.setup.socket_path), self.setup.username, self.setup.password
                    )
            except BaseException:
                if session is not None:
                    await session.close()
                raise
            return session

        return await self._opened(count, open_one)

    async def _opened(
        self, count: int, open_one: Callable[[int], Awaitable[Session]]
    ) -> dict[str, Any]:
        """Open `count` clients, `OPENING` at a time, each try within the timeout (and up to
        `ATTEMPTS` tries); what opened. Each is one of the worker's clients (kept alive by
        `keep_alive`) as soon as it is open, not once all are: thousands take longer to open
        than a keep-alive and a half, after which the broker drops a client that has sent
        nothing."""
        gate = asyncio.Semaphore(OPENING)
        problems: list[str] = []
        retries: list[int] = []

        async def opened(n: int) -> Session | None:
            failure = ""
            for attempt in range(ATTEMPTS):
                if attempt:
                    retries.append(n)
                    await asyncio.sleep(RETRY_AFTER)
                async with gate:
                    try:
                        async with asyncio.timeout(self.setup.timeout):
                            session = await open_one(n)
                    except (TimeoutError, OSError, PageError, _CognitoError) as error:
                        failure = str(error) or type(error).__name__
                        continue
                    self.sessions.append(session)
                    return session
            problems.append(failure)
            return None

        started = asyncio.get_running_loop().time()
        fresh = [s for s in await asyncio.gather(*map(opened, range(count))) if s is not None]
        gets = Counter(session.got or "unanswered" for session in fresh)
        return {
            "opened": len(fresh),
            "failed": count - len(fresh),
            "retried": len(retries),
            "problems": problems[:MOST_PROBLEMS],
            "gets": dict(gets),
            "seconds": asyncio.get_running_loop().time() - started,
        }

    async def wait(self, above: float) -> dict[str, Any]:
        await self.audience.wait_past(self.sessions, above, self.setup.timeout)
        reached = sum(1 for s in self.sessions if (s.most is not None and s.most > above))
        most = max((s.most for s in self.sessions if s.most is not None), default=None)
        return {"reached": reached, "most": most}

    async def close(self) -> dict[str, Any]:
        sessions, self.sessions = self.sessions, []
        await asyncio.gather(*(s.close() for s in sessions))
        return {"seen": [[[pushes, at] for pushes, at in s.seen] for s in sessions]}

    async def keep_alive(self) -> None:
        """Ping the clients that have sent nothing for their keep-alive, as long as it runs."""
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for session in self.sessions:
                session.ping_if_quiet(now)

    async def _identity(self) -> Credentials:
        """A new unauthenticated identity and its credentials, as the page asks Cognito."""
        async with self._cognito_gate:
            return await asyncio.to_thread(self._new_identity)

    def _new_identity(self) -> Credentials:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            client = self._cognito_client()
            identity = client.get_id(IdentityPoolId=self.setup.pool_id)["IdentityId"]
            issued = client.get_credentials_for_identity(IdentityId=identity)["Credentials"]
        except (BotoCoreError, ClientError) as error:
            raise _CognitoError(str(error)) from error
        return Credentials(
            identity, issued["AccessKeyId"], issued["SecretKey"], issued["SessionToken"]
        )

    def _cognito_client(self) -> Any:
        if self._cognito is None:
            import boto3  # noqa: PLC0415  (heavy: only where pages open)
            from botocore import UNSIGNED  # noqa: PLC0415
            from botocore.config import Config  # noqa: PLC0415

            self._cognito = boto3.client(
                "cognito-identity",
                endpoint_url=self.setup.cognito,
                region_name=self.setup.region,
                config=Config(signature_version=UNSIGNED, max_pool_connections=COGNITO_AT_ONCE),
            )
        return self._cognito


def _added(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The answers to several opens, as one."""
    gets: Counter[str] = Counter()
    for answer in answers:
        gets.update(answer["gets"])
    return {
        "opened": sum(answer["opened"] for answer in answers),
        "failed": sum(answer["failed"] for answer in answers),
        "problems": [p for answer in answers for p in answer["problems"]][:MOST_PROBLEMS],
        "gets": dict(gets),
        "seconds": sum(answer["seconds"] for answer in answers),
    }


class _CognitoError(Exception):
    """Cognito would not give a page an identity or credentials (a page that does not open)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m swan.bench.page_worker", description=DESCRIPTION
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise_descriptor_limit()  # a client is a descriptor: thousands in one worker
    try:
        return event_loop.run(_serve())
    except KeyboardInterrupt:  # Ctrl-C reaches the bench and its children alike
        return 130


async def _serve() -> int:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=COMMAND_BYTES)  # an open names thousands of logins
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        setup = Setup.from_json(json.loads(await stdin.readline()))
    except ValueError as error:
        _say(f"swan.bench.page_worker: bad setup: {error}")
        return 2
    worker = Worker(setup)
    ticking = asyncio.create_task(worker.keep_alive())
    try:
        while line := await stdin.readline():
            try:
                command = Fields.of(json.loads(line), "command")
                answer = await worker.answer(command)
            except ValueError as error:
                _say(f"swan.bench.page_worker: bad command: {error}")
                return 2
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        ticking.cancel()
        await worker.close()
    return 0


def _say(line: str) -> None:
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
