"""Launches: shipping features behind flags and rollouts, and measuring whether they worked."""
