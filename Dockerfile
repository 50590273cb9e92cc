# One image for the api, worker and beat services of compose.yaml.

# The web catalog: STAC Browser, built from its pinned lockfile (scripts/web.sh).
FROM node:20-slim AS web
COPY scripts/web.sh /src/scripts/web.sh
COPY web/package.json web/package-lock.json /src/web/
RUN /src/scripts/web.sh build

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY indexer indexer
COPY api api
COPY workers workers
COPY mappings mappings
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# A fixed numeric user (10001), so Kubernetes' runAsNonRoot can check it (the Helm chart
# runs as 10001); its state folder exists for a volume mounted there to inherit its owner.
RUN groupadd --system --gid 10001 labstac \
    && useradd --system --uid 10001 --gid labstac --create-home --home-dir /var/lib/labstac labstac \
    && install -d -o labstac -g labstac /var/lib/labstac/state \
    && apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /install /usr/local
COPY --from=web /src/web/dist /usr/local/share/labstac/web
USER 10001:10001
WORKDIR /var/lib/labstac
ENV LABSTAC_HOST=0.0.0.0 \
    LABSTAC_WEB_DIR=/usr/local/share/labstac/web \
    LABSTAC_STATE_DIR=/var/lib/labstac/state \
    PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["labstac"]
CMD ["serve"]
