"""The contract shared by sidecars and engines: hand-written helpers next to the generated protos."""
