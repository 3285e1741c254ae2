-- The append-only anchor table of the audit trail (RISKOPS_AUDIT_ANCHOR_URL), in the riskops
-- database. RiskOps appends one row per audit record through the role riskops_anchor, which
-- may INSERT and SELECT but never UPDATE, DELETE or TRUNCATE: whoever holds the writer's
-- credentials can add anchors, not take back the ones that name records deleted since, so
-- `riskops audit verify` detects a trail and its local anchors restored from an older copy.
-- The role has no password here: set one (ALTER ROLE riskops_anchor PASSWORD '...') and give
-- RiskOps postgresql+psycopg2://riskops_anchor:<password>@host/riskops. The table's owner is
-- the administrator who runs this file, never that role.
\connect riskops
CREATE TABLE riskops_audit_anchor (
    id SERIAL PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash VARCHAR(64) NOT NULL,
    ts VARCHAR(40) NOT NULL,
    mac VARCHAR(64) NOT NULL DEFAULT ''
);
CREATE ROLE riskops_anchor LOGIN;
REVOKE ALL ON riskops_audit_anchor FROM PUBLIC;
GRANT CONNECT ON DATABASE riskops TO riskops_anchor;
GRANT USAGE ON SCHEMA public TO riskops_anchor;
GRANT SELECT, INSERT ON riskops_audit_anchor TO riskops_anchor;
GRANT USAGE ON SEQUENCE riskops_audit_anchor_id_seq TO riskops_anchor;
