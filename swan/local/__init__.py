"""The local stand-in for AWS IoT Core: broker, shadow service, rules engine, scheduler."""
