"""Every Qt widget of thermorig, and nothing else."""
