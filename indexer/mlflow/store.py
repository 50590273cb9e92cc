"""Each project's registered models, as the last MLflow pass saw them, in Redis: items are
built from here, so an item keeps its model links while MLflow is away.

    labstac:mlflow:models       hash: project id -> JSON list of its models
    labstac:mlflow:last-pass    the last pass: when, whether it worked, what it found
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from indexer.mlflow.models import RegisteredModel
from indexer.redis_client import translate

MODELS_KEY = "labstac:mlflow:models"
LAST_RUN_KEY = "labstac:mlflow:last-pass"


def models_of(redis: Redis, project_id: int) -> tuple[RegisteredModel, ...]:
    try:
        raw = redis.hget(MODELS_KEY, str(project_id))
    except RedisError as error:
        raise translate(error) from error
    return _decode(raw) if raw else ()


def all_models(redis: Redis) -> dict[int, tuple[RegisteredModel, ...]]:
    try:
        raw = redis.hgetall(MODELS_KEY)
    except RedisError as error:
        raise translate(error) from error
    return {int(key): _decode(value) for key, value in raw.items()}


def replace_models(
    redis: Redis, changed: dict[int, tuple[RegisteredModel, ...]], gone: list[int]
) -> None:
    try:
        pipe = redis.pipeline(transaction=True)
        if changed:
            pipe.hset(MODELS_KEY, mapping={
                str(pid): json.dumps([m.to_json() for m in models])
                for pid, models in changed.items()
            })  # fmt: skip
        if gone:
            pipe.hdel(MODELS_KEY, *(str(pid) for pid in gone))
        pipe.execute()
    except RedisError as error:
        raise translate(error) from error


def record_pass(redis: Redis, outcome: dict[str, Any]) -> None:
    try:
        redis.set(LAST_RUN_KEY, json.dumps({**outcome, "at": time.time()}))
    except RedisError as error:
        raise translate(error) from error


def last_pass(redis: Redis) -> dict[str, Any] | None:
    try:
        raw = redis.get(LAST_RUN_KEY)
    except RedisError as error:
        raise translate(error) from error
    return json.loads(raw) if raw else None


def _decode(raw: str | bytes) -> tuple[RegisteredModel, ...]:
    return tuple(RegisteredModel.from_json(entry) for entry in json.loads(raw))
