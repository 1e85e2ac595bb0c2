"""The pure half of the local AWS IoT Core: what AWS's documents say, as functions.

Shadow semantics, policy and IAM evaluation, Mosquitto ACL generation, IoT SQL and
substitution templates, MQTT packets and the broker's limits, SigV4 claims and Cognito's
rules. Like `swan.core` it does no I/O and reads no clock (`now` is passed in), imports only
the standard library, `swan.core` and itself, and every branch is covered by the unit tests.
The servers that use it are its siblings in `swan.local`.
"""
