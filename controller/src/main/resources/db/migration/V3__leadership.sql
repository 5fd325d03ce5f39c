-- Which controller runs the rollouts (issue 17): two `pinfleet controller serve` on one PostgreSQL share the
-- records; the one holding this lease runs every rollout, the other serves reads and takes the lease over once it
-- runs out. One row. The expiry is on the DATABASE's clock (set and compared by the database in the same
-- statement), so the controllers' own clocks need not agree. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE controller_leader (
    name VARCHAR(32) PRIMARY KEY,              -- 'rollouts'
    owner VARCHAR(256),                        -- HOST/PID/START/INSTANCE of the holder; NULL: nobody holds it
    address VARCHAR(300) NOT NULL,             -- host:port operators dial to reach the holder
    epoch BIGINT NOT NULL,                     -- one more each time another controller takes the lease
    expires_ms BIGINT NOT NULL                 -- when the lease runs out unless renewed (database clock)
);
INSERT INTO controller_leader (name, owner, address, epoch, expires_ms) VALUES ('rollouts', NULL, '', 0, 0);
