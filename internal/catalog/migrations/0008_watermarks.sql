-- The watermark of each batch extract source: rows updated at or before it
-- were loaded.
CREATE TABLE extract_watermarks (
	source    TEXT PRIMARY KEY,
	watermark BIGINT NOT NULL
);
