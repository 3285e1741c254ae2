-- One PostgreSQL server, one database per component. The postgres image runs this once,
-- on an empty data volume, from /docker-entrypoint-initdb.d as POSTGRES_USER; the
-- production-mode tests run the very same file against their throwaway cluster.
--   mlflow   MLflow tracking store and model registry
--   prefect  Prefect server (flow runs, deployments, work pools)
--   riskops  RiskOps audit trail (RISKOPS_AUDIT_URL)
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
CREATE DATABASE riskops;
