"""Studies: many subjects, each in its sessions, with an index (``study.json``).

The index format itself is :mod:`drivers.study` (models and training read it too);
this package makes studies (:mod:`app.study.generate`).
"""
