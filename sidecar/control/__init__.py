"""The sidecar's control-plane client: policy pushes in, ACK/NACK and heartbeats out."""
