"""Headless batch evaluation and the reports over its results."""
