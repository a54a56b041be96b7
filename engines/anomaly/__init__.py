"""Online anomaly detection per series (pure numpy, sans-IO) and the NAB scoring rules."""
