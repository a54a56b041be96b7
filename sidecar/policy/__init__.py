"""Policy as frozen dataclasses, and the validated conversion from the protobuf config."""
