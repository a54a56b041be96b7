"""Authorization policies (Istio AuthorizationPolicy as anchor): matching, decision, the layer."""
