-- Serials per app (issue 14): the highest serial the controller issued (NextSerial) or saw an agent report (its
-- Status poll) for each app. With the serials recorded in rollouts, it gives the next serial: one more than all of
-- them, so a manifest frozen with a far-future serial (or on a fast clock) raises the next serial, never blocks it.

CREATE TABLE app_serials (
    app VARCHAR(64) PRIMARY KEY,
    serial BIGINT NOT NULL,                    -- highest serial issued or seen for the app
    updated_ms BIGINT NOT NULL                 -- when it last changed, milliseconds since the Unix epoch
);
