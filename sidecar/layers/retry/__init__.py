"""Retries: pure budget/backoff/decision arithmetic (budget.py, decide.py), replay buffer and layer."""
