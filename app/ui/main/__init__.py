"""The main window: the three live views, sources and replay, recording, status, menus."""
