"""`swan bench`: how fast the local system is, against the raw broker it runs on.

One module per measurement: `broker` (a, the baseline), `shadow` (b) and `push` (c); the
load loops they share (`loops`); `report` (pure: figures in, table and JSON out); `runner`
(a private local stack and the order of the phases).
"""
