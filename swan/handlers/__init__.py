"""What the Lambda functions do, shared by AWS and the local rules engine.

Each function's `sam/functions/<name>/app.py` only builds the ports from its environment
and calls in here; the local stand-in calls the very same `app.py`.
"""
