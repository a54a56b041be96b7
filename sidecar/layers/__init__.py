"""Policy layers: one module (or package) per policy, each wrapping the next service."""
