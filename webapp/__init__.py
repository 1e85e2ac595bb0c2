"""The Swan's web app: one shared countdown, live in every browser (Reflex)."""
