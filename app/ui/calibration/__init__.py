"""The calibration wizard: live board views, coverage, the fit and its per-view errors."""
