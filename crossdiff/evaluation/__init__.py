"""Evaluation: T2M evaluator networks, metrics and the test protocol."""
