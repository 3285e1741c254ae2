# syntax=docker/dockerfile:1.7
# The MLflow tracking server: PostgreSQL backend store (psycopg2), S3/MinIO artifacts (boto3).
# Build from the repository root:
#   docker build -f infra/docker/mlflow.Dockerfile -t riskops-mlflow:3.17.2 .

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm
# The official image unless `--build-arg BASE_IMAGE=...` (e.g. infra/image/base.sh's).
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}
FROM ${BASE_IMAGE}

# The versions in uv.lock: client and server must speak the same MLflow
# (tests/test_infra_consistency.py fails when they drift apart).
ARG MLFLOW_VERSION=3.17.2
ARG PSYCOPG2_VERSION=2.9.13
ARG BOTO3_VERSION=1.44.5

RUN pip install --no-cache-dir --disable-pip-version-check \
        "mlflow==${MLFLOW_VERSION}" \
        "psycopg2-binary==${PSYCOPG2_VERSION}" \
        "boto3==${BOTO3_VERSION}"

RUN groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid mlflow --create-home --home-dir /home/mlflow mlflow

ENV PYTHONUNBUFFERED=1 \
    MLFLOW_ENABLE_TELEMETRY=false \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1

WORKDIR /home/mlflow
USER 10001:10001
EXPOSE 5000
# Stores, bucket and allowed hosts come from the environment (MLFLOW_BACKEND_STORE_URI,
# MLFLOW_ARTIFACTS_DESTINATION, MLFLOW_SERVER_ALLOWED_HOSTS): no secret on the command line.
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--serve-artifacts"]
