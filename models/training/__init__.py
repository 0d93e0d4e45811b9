"""Training the bundled models (optional extra ``train``: PyTorch, ONNX export).

Nothing outside this folder imports torch; the app runs what this folder exports
through onnxruntime alone. ``python -m models.training.train_bundled --out
resources/models`` renders its own synthetic sessions, trains the thermal calf
segmenter and the leg keypoint model, evaluates them on held-out sessions and writes
the model packages with the figures it measured.
"""
