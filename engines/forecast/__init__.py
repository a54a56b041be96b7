"""Forecasting engine: pure numeric models, a pure decision step, and a runner doing the I/O."""
