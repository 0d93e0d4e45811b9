"""ONNX model packages and their runners. Knows nothing of the GUI."""
