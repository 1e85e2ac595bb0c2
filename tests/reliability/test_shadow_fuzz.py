"""Ten thousand generated shadow updates, valid and not, against the running shadow service:
each is answered accepted or rejected exactly as AWS's semantics say (swan.local.core.shadow is the
model), the service stays up, and its memory stays bounded."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import free_port, unique

from swan.adapters.mqtt import Endpoint, connect
from swan.core.topics import ShadowTopics
from swan.local.core.shadow import Rejection, apply_update
from swan.local.mosquitto import Mosquitto
from swan.local.shadow_process import ShadowServiceProcess
from swan.local.stack import broker_plan, local_deployment

BATCHES = 500
BATCH = 20  # 10,000 in all (Hypothesis is slow at drawing long lists)
WAIT = 60
MEMORY_GROWTH_LIMIT = 64 * 1024 * 1024

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
trees = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from("abcdefgh"), children, max_size=4)
    ),
    max_leaves=12,
)
big_strings = st.text(alphabet="xyz", min_size=1000, max_size=5000)
sections = st.dictionaries(
    st.sampled_from(["desired", "reported", "delta", "other"]),
    st.none() | st.dictionaries(st.sampled_from("abcdefgh"), trees | big_strings, max_size=4),
    max_size=2,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "state": sections | trees,
        "version": st.integers(-1, 8) | st.text(max_size=2) | st.booleans(),
        "clientToken": st.text(max_size=70),
    },
)
payloads = (
    documents.map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=60)
    | trees.map(lambda t: json.dumps(t).encode())
)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    plan = broker_plan(state, local_deployment()[1])
    with Mosquitto(plan) as broker:
        shadows = ShadowServiceProcess(
            database=state / "shadows.db",
            broker=plan,
            http_port=free_port(),
            log_file=state / "logs" / "shadow-service.log",
        )
        shadows.start()
        login = (plan.service.username, plan.service.password)
        client = connect(Endpoint.local(plan.internal_socket, unique("fuzz-"), *login))
        yield broker, shadows, client
        client.close()
        shadows.stop()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def memory(service):
    _, shadows, _ = service
    return {"before": rss(shadows.child.pid)}


@settings(
    max_examples=BATCHES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(batch=st.lists(payloads, min_size=BATCH, max_size=BATCH))
def test_every_update_is_answered_as_the_model_says(service, memory, batch):
    _, shadows, client = service
    topics = ShadowTopics(unique("fuzz-"))
    answers: queue.Queue[tuple[str, bytes]] = queue.Queue()
    client.subscribe(topics.update_accepted, lambda m: answers.put(("accepted", m.payload)))
    client.subscribe(topics.update_rejected, lambda m: answers.put(("rejected", m.payload)))
    try:
        expected = []
        model = None
        for payload in batch:
            outcome = apply_update(model, payload, now=time.time())
            if isinstance(outcome, Rejection):
                expected.append(outcome.code)
            else:
                expected.append(200)
                model = outcome.shadow
        sent = [client.publish(topics.update, payload) for payload in batch]
        for future in sent:
            future.result(WAIT)
        codes = []
        for _ in batch:
            kind, raw = answers.get(timeout=WAIT)
            codes.append(200 if kind == "accepted" else json.loads(raw)["code"])
        assert sorted(codes) == sorted(expected)
        assert codes == expected, "answered in order, each as the model says"
    finally:
        client.unsubscribe(topics.update_accepted)
        client.unsubscribe(topics.update_rejected)
    assert shadows.child.running
    assert rss(shadows.child.pid) - memory["before"] < MEMORY_GROWTH_LIMIT
