"""`apex demo`: a live local mesh — Redis, control plane, engines, three services with sidecars."""
