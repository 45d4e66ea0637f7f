"""Tests of productpilot.operations."""
