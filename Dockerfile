# One image for the api, worker and beat services of compose.yaml.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY indexer indexer
COPY api api
COPY workers workers
COPY mappings mappings
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/labstac labstac \
    && apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /install /usr/local
USER labstac
WORKDIR /var/lib/labstac
ENV LABSTAC_HOST=0.0.0.0 \
    LABSTAC_STATE_DIR=/var/lib/labstac/state \
    PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["labstac"]
CMD ["serve"]
