"""The pure domain of The Swan.

Everything in this package takes plain values and returns plain values: no sockets, files,
environment, logging or clocks. Callers pass `now` (epoch seconds) in.
"""
