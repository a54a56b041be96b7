"""The sidecar-engine contract (hand-written): stream names and entry fields, the histogram codec, one backoff."""
