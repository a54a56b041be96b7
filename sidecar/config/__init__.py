"""Reading configuration files (YAML) into the protobuf config."""
