"""Inference engines. Each takes judge_core examples and returns verdicts and/or probabilities."""
