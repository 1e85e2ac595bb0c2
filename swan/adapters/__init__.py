"""Thin I/O behind small ports: MQTT, boto3, SQLite, clocks."""
