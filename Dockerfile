# The aggregator daemon. Mount your config at /etc/aggregator/config.yaml and keep the
# SQLite database (the embedded default) on a volume at /var/lib/aggregator.
#
# It listens on 127.0.0.1 inside the container unless you say otherwise: publishing
# the port needs `-e AGGREGATOR_HOST=0.0.0.0`, which you should pass together with
# your own secrets (`-e LAPOR_SECRET=...`); see README "Docker" and "Secrets".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AGGREGATOR_CONFIG=/etc/aggregator/config.yaml \
    AGGREGATOR_PORT=8080 \
    AGGREGATOR_DATA_DIR=/var/lib/aggregator \
    AGGREGATOR_DATABASE_URL=sqlite+aiosqlite:////var/lib/aggregator/aggregator.db

WORKDIR /src
COPY pyproject.toml README.md ./
COPY aggregator ./aggregator
COPY connectors ./connectors
COPY storage ./storage
RUN pip install '.[postgres]' && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /var/lib/aggregator --create-home aggregator \
    && mkdir -p /etc/aggregator && chown aggregator /var/lib/aggregator \
    && chmod 700 /var/lib/aggregator
COPY config.yaml /etc/aggregator/config.yaml

USER aggregator
WORKDIR /var/lib/aggregator
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["aggregator"]
CMD ["run"]
