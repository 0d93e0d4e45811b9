"""Qt's core, loaded before any other thread imports modules.

When shiboken (PySide6's binding layer) starts, it walks ``sys.modules``; a module
imported on another thread meanwhile ends the process ("dictionary changed size during
iteration", then a fatal error: seen once in about seven starts of the window while the
source's head start imported the synthetic driver). ``thermorig gui`` imports this
first, then starts the head start (:func:`drivers.sources.head_start`).
"""

from PySide6 import QtCore  # noqa: F401 - loaded for its side effect: shiboken started
