-- The controller's records (issue 13): every rollout a row, its nodes, its events as they happened, and the audit
-- log of operator actions. One script for SQLite and PostgreSQL: ${id} and ${bytes} are the only words that
-- differ (see dev.pinfleet.controller.store.Dialect). Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE controller_meta (
    name VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO controller_meta (name, value) VALUES ('last_opened_ms', '0');

CREATE TABLE rollouts (
    id ${id},
    app VARCHAR(64) NOT NULL,
    environment VARCHAR(128) NOT NULL,
    kind VARCHAR(16) NOT NULL,                 -- deploy, rollback, retry
    serial BIGINT NOT NULL,
    digest VARCHAR(64) NOT NULL,               -- content digest of the manifest, lowercase hex SHA-256
    key_ids TEXT NOT NULL,                     -- signing key ids, comma-separated
    envelope ${bytes} NOT NULL,                -- the SignedManifest exactly as submitted (protobuf)
    targets ${bytes} NOT NULL,                 -- Targets: inventory path, snapshot, --limit, nodes (protobuf)
    strategy ${bytes} NOT NULL,                -- Strategy (protobuf)
    operator VARCHAR(256) NOT NULL,            -- name in the submitter's client certificate
    message TEXT NOT NULL,
    retry_of TEXT NOT NULL,
    state VARCHAR(16) NOT NULL,                -- queued running paused cancelling cancelled succeeded failed interrupted
    -- 'app/environment' while the rollout holds its app and environment (running, paused, cancelling,
    -- interrupted), NULL otherwise: the unique index makes "one at a time" a rule of the database itself.
    active_slot VARCHAR(200),
    stopped TEXT NOT NULL,                     -- why no new node starts (empty: it did not stop)
    submitted_ms BIGINT NOT NULL,
    started_ms BIGINT,
    ended_ms BIGINT,
    nodes_total INTEGER NOT NULL,
    last_seq BIGINT NOT NULL,                  -- position of the last recorded event
    -- The lease of the controller running the rollout: who, until when, and its epoch, which every write of
    -- that controller must match (a controller that lost the lease can no longer write: fencing).
    lease_owner VARCHAR(256),
    lease_epoch BIGINT NOT NULL,
    lease_expires_ms BIGINT NOT NULL,
    -- An operator's request for the lease holder (cancel, proceed, stop), and whose.
    request VARCHAR(16),
    request_by VARCHAR(256),
    report ${bytes}                            -- the final FleetReport (protobuf), written once at the end
);
CREATE UNIQUE INDEX rollouts_active_slot ON rollouts (active_slot);
CREATE INDEX rollouts_app ON rollouts (app, id);
CREATE INDEX rollouts_state ON rollouts (state);

CREATE TABLE rollout_nodes (
    rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
    position INTEGER NOT NULL,                 -- order in the targets, from 0
    node VARCHAR(255) NOT NULL,                -- inventory name
    address VARCHAR(300) NOT NULL,             -- host:port dialed
    wave INTEGER NOT NULL,                     -- 0 canary, 1.. batches
    outcome VARCHAR(16) NOT NULL,              -- pending running ok unchanged failed unreachable stuck reverted skipped cancelled
    started_ms BIGINT,
    ended_ms BIGINT,
    millis BIGINT,                             -- wall time seen by the controller
    verify_ms BIGINT, plan_ms BIGINT, fetch_ms BIGINT, install_ms BIGINT,
    switch_ms BIGINT, hook_ms BIGINT, health_ms BIGINT,   -- per phase, as the agent reported
    bytes_fetched BIGINT,                      -- bytes downloaded from mirrors
    artifacts_fetched INTEGER,
    artifacts_from_store INTEGER,
    release_id VARCHAR(64),
    reason VARCHAR(64) NOT NULL,               -- typed failure reason (empty on success)
    error TEXT NOT NULL,
    reconciled INTEGER NOT NULL,               -- 1: outcome learned from the agent's Status at resume
    report ${bytes},                           -- the NodeReport (protobuf), with the agent's DeployReport
    PRIMARY KEY (rollout_id, node)
);

CREATE TABLE rollout_events (
    rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
    seq BIGINT NOT NULL,
    epoch BIGINT NOT NULL,                     -- lease epoch of the controller that wrote it
    at_ms BIGINT NOT NULL,
    kind VARCHAR(32) NOT NULL,
    node VARCHAR(255),
    body ${bytes} NOT NULL,                    -- the RolloutEvent (protobuf)
    PRIMARY KEY (rollout_id, seq)
);

CREATE TABLE audit (
    id ${id},
    at_ms BIGINT NOT NULL,
    operator VARCHAR(256) NOT NULL,
    action VARCHAR(32) NOT NULL,               -- submit queue rollback retry cancel resume proceed stop
    rollout_id BIGINT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_rollout ON audit (rollout_id);
