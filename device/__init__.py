"""What runs on a device: the Raspberry Pi client (`swan pi`) with its LED matrices and
joystick, and the AWS IoT Button emulator (`swan press`).

It imports the pure core (`swan.core`), the adapters it needs (MQTT, the clock, the shadow
follower) and its own modules: never the local stand-in, the bench or the deploy code
(tests/unit/test_boundaries.py holds that). On a Pi, `pip install ".[device]"` brings what
it needs.
"""
