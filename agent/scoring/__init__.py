"""Scoring predictions: label, function (in a sandbox) and judge; rescoring saved runs without the model."""
