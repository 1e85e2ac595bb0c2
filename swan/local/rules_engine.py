"""The local rules engine: the template's IoT topic rules, run against the local broker.

For every message on a rule's FROM filter it evaluates the rule's SQL (swan.local.core.iotsql)
and hands the result to the rule's Lambda functions, exactly as AWS IoT delivers events, and
publishes it (as JSON) to each Republish action's topic, its substitution templates filled in
(swan.local.core.substitution). A failing function is logged with its event; a topic that cannot
be filled in is logged and skipped; the engine goes on.

A Republish runs as AWS IoT runs it: AWS IoT assumes the action's role (its trust policy
must let `iot.amazonaws.com` assume it for this rule) and publishes only where the role
allows `iot:Publish` on the topic ("Republish" rule action:
https://docs.aws.amazon.com/iot/latest/developerguide/republish-rule-action.html). A refused
action fails as on AWS, where a failed action goes to the rule's error action, if it has one
(https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html); here every
refusal is one error line naming the rule, the topic and why, and the engine goes on.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from swan.core.topics import matches
from swan.local.authorization import (
    IOT_SERVICE,
    NO_SERVICE_ROLES,
    Check,
    ServiceRoleError,
    ServiceRoles,
)
from swan.local.core.iotsql import Message as RuleMessage
from swan.local.core.iotsql import decode_payload
from swan.local.core.substitution import SubstitutionError, Template, parse_template

if TYPE_CHECKING:
    from concurrent.futures import Future

    from swan.adapters.mqtt import Message, Transport
    from swan.local.deployment import Republish, TopicRule
    from swan.local.functions import FunctionHost

log = logging.getLogger(__name__)

KEEP_INVOCATIONS = 1000


class RulesEngine:
    def __init__(
        self,
        host: FunctionHost,
        transport: Transport,
        roles: ServiceRoles = NO_SERVICE_ROLES,
    ) -> None:
        """`roles`: the template's roles, for the actions that name one (none: every such
        action is refused, as for a role that does not exist)."""
        self._host = host
        self._transport = transport
        self._roles = roles
        self._by_filter: dict[str, list[TopicRule]] = defaultdict(list)
        # Parsed once, here: a template that cannot be parsed stops the stack at start.
        self._republish: dict[str, tuple[tuple[Template, Republish], ...]] = {}
        for rule in host.deployment.rules:
            if not rule.enabled:
                log.info("rule %s is disabled", rule.name)
                continue
            for action in rule.other_actions:
                log.warning("rule %s: the %s action does not run locally", rule.name, action)
            self._by_filter[rule.query.topic_filter].append(rule)
            self._republish[rule.logical_id] = tuple(
                (parse_template(action.topic), action) for action in rule.republish
            )
        self.invocations: list[Future[Any]] = []

    @property
    def filters(self) -> list[str]:
        return sorted(self._by_filter)

    def start(self) -> None:
        for topic_filter, rules in self._by_filter.items():
            self._transport.subscribe(topic_filter, self._handler_for(rules))
            log.info("rules on %s: %s", topic_filter, ", ".join(r.name for r in rules))

    def stop(self) -> None:
        for topic_filter in self._by_filter:
            self._transport.unsubscribe(topic_filter)

    def _handler_for(self, rules: list[TopicRule]) -> Any:
        def on_message(message: Message) -> None:
            for rule in rules:
                self._apply(rule, message)

        return on_message

    def _apply(self, rule: TopicRule, message: Message) -> None:
        incoming = RuleMessage(
            topic=message.topic,
            payload=decode_payload(message.payload),
            # Mosquitto does not tell subscribers who published; clientid() is unknown here.
            client_id=None,
            timestamp_ms=int(time.time() * 1000),
        )
        event = rule.query.evaluate(incoming)
        if event is None:
            return
        for function in rule.functions:
            future = self._host.invoke(function, event)
            future.add_done_callback(_log_failure(rule, function))
            self._remember(future)
        for template, action in self._republish[rule.logical_id]:
            try:
                topic = template.render(incoming)
            except SubstitutionError as error:
                log.warning("rule %s: republish skipped: %s", rule.name, error)

                continue
            if matches(rule.query.topic_filter, topic):  # would fire the rule again, forever
                log.error("rule %s: republish to %s would loop; skipped", rule.name, topic)
                continue
            try:
                self._authorize(rule, action, topic)
            except ServiceRoleError as refused:  # a refusal, not a bug: no traceback
                log.error("rule %s: republish to %s failed: %s", rule.name, topic, refused)  # noqa: TRY400
                continue
            self._transport.publish(topic, json.dumps(event).encode(), qos=action.qos)

    def _authorize(self, rule: TopicRule, action: Republish, topic: str) -> None:
        arns = self._roles.arns
        publish = Check("iot:Publish", arns.iot(f"topic/{topic}"))
        self._roles.authorize(IOT_SERVICE, action.role_arn, arns.iot(f"rule/{rule.name}"), publish)

    def _remember(self, future: Future[Any]) -> None:
        # Kept (bounded) so tests and `swan bench` can wait for in-flight invocations.
        self.invocations.append(future)
        if len(self.invocations) > KEEP_INVOCATIONS:
            del self.invocations[: len(self.invocations) - KEEP_INVOCATIONS]


def _log_failure(rule: TopicRule, function: str) -> Any:
    def done(future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            log.error("rule %s -> %s failed: %s", rule.name, function, error)

    return done
