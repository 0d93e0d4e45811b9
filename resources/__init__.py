"""Data thermorig ships: bundled model packages (``models/``) and README screenshots.

A package only so that a regular (non-editable) install carries the models beside the
code; ``models.catalog`` and ``models.visual_labeler`` find them relative to it.
"""
