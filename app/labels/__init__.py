"""Labels of a session: the sidecar file and its review journal, the store a person
edits through, where auto-labels come from (truth, a label file, an RGB model), and the
loops that fill a sidecar (auto-labeling through the rig, inference with a model)."""
