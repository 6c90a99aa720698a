"""Open mHealth output: irisin's minutes, sessions and weekly results as OMH data points."""
