"""The application: command line, pipeline wiring, label store, export; app/ui/ is the GUI."""
