"""`swan bench`: how fast the local system is, against the raw broker it runs on.

One module per measurement: `broker` (a, the baseline), `shadow` shadow, `push` push and
`gateway` (d, the device gateway against `direct`, a private broker reached by mutual TLS);
the load loops they share (`loops`); `report` (pure: figures in, table and JSON out);
`runner` (a private local stack and the order of the phases).

The measurements run in a child process per phase, so that the bench's clients do not
share a GIL with the stack: `child` starts it and bounds it in time, `load` is its entry
point (`python -m swan.bench.load`), and `jobs` (with `json_fields`) is the JSON they
exchange: the job on the child's stdin, the figures on its stdout.
"""
