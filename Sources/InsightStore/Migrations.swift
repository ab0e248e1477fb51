import GRDB
import InsightStoreCore

/// The schema's history. A shipped migration is never edited: changes come as new migrations.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: sources, insights, occurrences, full-text index") { db in
            try db.execute(sql: """
                CREATE TABLE source (
                    id INTEGER PRIMARY KEY,
                    path TEXT NOT NULL UNIQUE,
                    size INTEGER,
                    mtime REAL,
                    sha256 TEXT,
                    state TEXT NOT NULL CHECK (state IN ('seen','pending','ingested','failed','skipped','removed')),
                    error TEXT,
                    encoding TEXT,
                    documentDate TEXT,
                    insightCount INTEGER NOT NULL DEFAULT 0,
                    firstSeenAt REAL NOT NULL,
                    updatedAt REAL NOT NULL,
                    ingestedAt REAL,
                    CHECK (state <> 'failed' OR error IS NOT NULL),
                    CHECK (state <> 'ingested' OR sha256 IS NOT NULL)
                );
                CREATE INDEX source_state ON source(state);
                CREATE INDEX source_sha256 ON source(sha256);

                CREATE TABLE insight (
                    id INTEGER PRIMARY KEY,
                    fingerprint BLOB NOT NULL UNIQUE CHECK (length(fingerprint) = 16),
                    text TEXT NOT NULL CHECK (text <> ''),
                    createdAt REAL NOT NULL
                );

                CREATE TABLE occurrence (
                    id INTEGER PRIMARY KEY,
                    insightId INTEGER NOT NULL REFERENCES insight(id) ON DELETE CASCADE,
                    sourceId INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
                    ordinal INTEGER NOT NULL,
                    line INTEGER NOT NULL,
                    section TEXT,
                    UNIQUE (sourceId, ordinal)
                );
                CREATE INDEX occurrence_insight ON occurrence(insightId);

                CREATE VIRTUAL TABLE insight_fts USING fts5(
                    text, content='insight', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
                );
                CREATE TRIGGER insight_fts_insert AFTER INSERT ON insight BEGIN
                    INSERT INTO insight_fts(rowid, text) VALUES (new.id, new.text);
                END;
                CREATE TRIGGER insight_fts_delete AFTER DELETE ON insight BEGIN
                    INSERT INTO insight_fts(insight_fts, rowid, text) VALUES ('delete', old.id, old.text);
                END;
                CREATE TRIGGER insight_fts_update AFTER UPDATE OF text ON insight BEGIN
                    INSERT INTO insight_fts(insight_fts, rowid, text) VALUES ('delete', old.id, old.text);
                    INSERT INTO insight_fts(rowid, text) VALUES (new.id, new.text);
                END;
                """)
        }
        migrator.registerMigration("v2: linked articles and the fetch queue") { db in
            try db.execute(sql: """
                ALTER TABLE source ADD COLUMN kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'url'));
                CREATE INDEX source_kind_state ON source(kind, state);

                CREATE TABLE link (
                    id INTEGER PRIMARY KEY,
                    canonicalURL TEXT NOT NULL UNIQUE,
                    givenURL TEXT NOT NULL,
                    finalURL TEXT,
                    pageCanonicalURL TEXT,
                    state TEXT NOT NULL CHECK (state IN ('queued', 'fetching', 'fetched', 'failed')),
                    failure TEXT CHECK (failure IN ('permanent', 'transient')),
                    error TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    nextAttemptAt REAL,
                    etag TEXT,
                    lastModified TEXT,
                    title TEXT,
                    byline TEXT,
                    published TEXT,
                    siteName TEXT,
                    language TEXT,
                    createdAt REAL NOT NULL,
                    updatedAt REAL NOT NULL,
                    fetchedAt REAL,
                    CHECK (state <> 'failed' OR (failure IS NOT NULL AND error IS NOT NULL))
                );
                CREATE INDEX link_due ON link(state, nextAttemptAt);

                -- Which files linked which articles, and where.
                CREATE TABLE linkReference (
                    linkId INTEGER NOT NULL REFERENCES link(id) ON DELETE CASCADE,
                    sourceId INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
                    line INTEGER NOT NULL,
                    PRIMARY KEY (linkId, sourceId, line)
                ) WITHOUT ROWID;
                CREATE INDEX linkReference_source ON linkReference(sourceId);
                """)
        }
        migrator.registerMigration("v3: near-duplicate variants, conflicts and LSH band keys") { db in
            try db.execute(sql: """
                CREATE TABLE insightSignature (
                    insightId INTEGER PRIMARY KEY REFERENCES insight(id) ON DELETE CASCADE,
                    bandKeys BLOB NOT NULL
                );

                -- Other wordings of the same claim, each with the occurrences that used it.
                CREATE TABLE variant (
                    id INTEGER PRIMARY KEY,
                    insightId INTEGER NOT NULL REFERENCES insight(id) ON DELETE CASCADE,
                    fingerprint BLOB NOT NULL UNIQUE CHECK (length(fingerprint) = 16),
                    text TEXT NOT NULL CHECK (text <> ''),
                    createdAt REAL NOT NULL
                );
                CREATE INDEX variant_insight ON variant(insightId);
                ALTER TABLE occurrence ADD COLUMN variantId INTEGER REFERENCES variant(id) ON DELETE SET NULL;
                CREATE INDEX occurrence_variant ON occurrence(variantId) WHERE variantId IS NOT NULL;

                -- Near-identical wording, different claim: kept apart, linked both ways (stored once, lower id first).
                CREATE TABLE conflict (
                    insightId INTEGER NOT NULL REFERENCES insight(id) ON DELETE CASCADE,
                    otherId INTEGER NOT NULL REFERENCES insight(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('number', 'negation', 'contentWord')),
                    createdAt REAL NOT NULL,
                    PRIMARY KEY (insightId, otherId),
                    CHECK (insightId < otherId)
                ) WITHOUT ROWID;
                CREATE INDEX conflict_other ON conflict(otherId);
                """)
        }
        migrator.registerMigration("v4: formats, tags and reading notes") { db in
            try db.execute(sql: """
                -- How the file was read (text, markdown, kindle-clippings, …); NULL for files stored before, read as text.
                ALTER TABLE source ADD COLUMN format TEXT;

                -- What the reader attached to a passage: a note, where it stands in the work, when it was saved.
                ALTER TABLE occurrence ADD COLUMN note TEXT;
                ALTER TABLE occurrence ADD COLUMN location TEXT;
                ALTER TABLE occurrence ADD COLUMN addedAt TEXT;

                -- The tags of each occurrence (lower-case, without '#'); they go with the occurrence.
                CREATE TABLE occurrenceTag (
                    occurrenceId INTEGER NOT NULL REFERENCES occurrence(id) ON DELETE CASCADE,
                    tag TEXT NOT NULL CHECK (tag <> ''),
                    PRIMARY KEY (tag, occurrenceId)
                ) WITHOUT ROWID;
                CREATE INDEX occurrenceTag_occurrence ON occurrenceTag(occurrenceId);
                """)
        }
        migrator.registerMigration("v5: status counters kept by triggers") { db in
            // What status shows, kept exact by triggers in the transaction of every write, whatever writes, so that
            // reading it costs the same at ten insights and at ten million. The full count here is exact: a
            // migration holds the only write transaction.
            try db.execute(sql: """
                CREATE TABLE stats (
                    -- source.STATE (inbox files only), link.STATE, insight, occurrence, variant, conflict.
                    key TEXT PRIMARY KEY,
                    value INTEGER NOT NULL
                ) WITHOUT ROWID;
                WITH states(state) AS (VALUES ('seen'), ('pending'), ('ingested'), ('failed'), ('skipped'), ('removed'))
                INSERT INTO stats (key, value)
                    SELECT 'source.' || state, (SELECT COUNT(*) FROM source WHERE kind = 'file' AND source.state = states.state) FROM states;
                WITH states(state) AS (VALUES ('queued'), ('fetching'), ('fetched'), ('failed'))
                INSERT INTO stats (key, value)
                    SELECT 'link.' || state, (SELECT COUNT(*) FROM link WHERE link.state = states.state) FROM states;
                INSERT INTO stats (key, value) VALUES
                    ('insight', (SELECT COUNT(*) FROM insight)),
                    ('occurrence', (SELECT COUNT(*) FROM occurrence)),
                    ('variant', (SELECT COUNT(*) FROM variant)),
                    ('conflict', (SELECT COUNT(*) FROM conflict));

                CREATE TRIGGER stats_source_insert AFTER INSERT ON source WHEN new.kind = 'file' BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'source.' || new.state;
                END;
                CREATE TRIGGER stats_source_delete AFTER DELETE ON source WHEN old.kind = 'file' BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'source.' || old.state;
                END;
                CREATE TRIGGER stats_source_update AFTER UPDATE OF state, kind ON source
                WHEN old.state IS NOT new.state OR old.kind IS NOT new.kind BEGIN
                    UPDATE stats SET value = value - 1 WHERE old.kind = 'file' AND key = 'source.' || old.state;
                    UPDATE stats SET value = value + 1 WHERE new.kind = 'file' AND key = 'source.' || new.state;
                END;

                CREATE TRIGGER stats_link_insert AFTER INSERT ON link BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'link.' || new.state;
                END;
                CREATE TRIGGER stats_link_delete AFTER DELETE ON link BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'link.' || old.state;
                END;
                CREATE TRIGGER stats_link_update AFTER UPDATE OF state ON link WHEN old.state IS NOT new.state BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'link.' || old.state;
                    UPDATE stats SET value = value + 1 WHERE key = 'link.' || new.state;
                END;

                -- Rows deleted by ON DELETE CASCADE (forgetting an insight takes its variants and conflicts) fire these too.
                CREATE TRIGGER stats_insight_insert AFTER INSERT ON insight BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'insight';
                END;
                CREATE TRIGGER stats_insight_delete AFTER DELETE ON insight BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'insight';
                END;
                CREATE TRIGGER stats_occurrence_insert AFTER INSERT ON occurrence BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'occurrence';
                END;
                CREATE TRIGGER stats_occurrence_delete AFTER DELETE ON occurrence BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'occurrence';
                END;
                CREATE TRIGGER stats_variant_insert AFTER INSERT ON variant BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'variant';
                END;
                CREATE TRIGGER stats_variant_delete AFTER DELETE ON variant BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'variant';
                END;
                CREATE TRIGGER stats_conflict_insert AFTER INSERT ON conflict BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'conflict';
                END;
                CREATE TRIGGER stats_conflict_delete AFTER DELETE ON conflict BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'conflict';
                END;

                -- The rest of status, found without reading every source: the newest ingest and the newest failure.
                -- The second index serves every lookup by state that source_state served.
                CREATE INDEX source_kind_ingested ON source(kind, ingestedAt);
                CREATE INDEX source_state_updated ON source(state, updatedAt);
                DROP INDEX source_state;
                """)
        }
        migrator.registerMigration("v6: sentence vectors and paraphrase suggestions") { db in
            try db.execute(sql: """
                -- One vector per insight, from the sentence model named in `model`: int8 values with one scale each
                -- (value * scale is the float), 384 bytes for all-MiniLM-L6-v2. Written after the insight's commit by
                -- the embedding worker; an insight without a row is waiting to be embedded.
                CREATE TABLE embedding (
                    insightId INTEGER PRIMARY KEY REFERENCES insight(id) ON DELETE CASCADE,
                    model TEXT NOT NULL,
                    scale REAL NOT NULL CHECK (scale >= 0),
                    vector BLOB NOT NULL,
                    embeddedAt REAL NOT NULL
                );

                -- A newer insight close in meaning to an older one: `open` until someone merges the two (the row
                -- goes with the merged insight) or keeps them apart (`apart`, never suggested again).
                CREATE TABLE paraphrase (
                    insightId INTEGER NOT NULL REFERENCES insight(id) ON DELETE CASCADE,
                    otherId INTEGER NOT NULL REFERENCES insight(id) ON DELETE CASCADE,
                    score REAL NOT NULL,
                    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'apart')),
                    createdAt REAL NOT NULL,
                    PRIMARY KEY (insightId, otherId),
                    CHECK (insightId <> otherId)
                ) WITHOUT ROWID;
                CREATE INDEX paraphrase_other ON paraphrase(otherId);
                CREATE INDEX paraphrase_open ON paraphrase(state, createdAt);

                INSERT INTO stats (key, value) VALUES ('embedding', 0);
                CREATE TRIGGER stats_embedding_insert AFTER INSERT ON embedding BEGIN
                    UPDATE stats SET value = value + 1 WHERE key = 'embedding';
                END;
                CREATE TRIGGER stats_embedding_delete AFTER DELETE ON embedding BEGIN
                    UPDATE stats SET value = value - 1 WHERE key = 'embedding';
                END;
                """)
        }
        migrator.registerMigration("v7: full-text index of other wordings") { db in
            try db.execute(sql: """
                -- A wording folded into an insight as a variant (a typo, a merge) is found by its own words too.
                CREATE VIRTUAL TABLE variant_fts USING fts5(
                    text, content='variant', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
                );
                CREATE TRIGGER variant_fts_insert AFTER INSERT ON variant BEGIN
                    INSERT INTO variant_fts(rowid, text) VALUES (new.id, new.text);
                END;
                CREATE TRIGGER variant_fts_delete AFTER DELETE ON variant BEGIN
                    INSERT INTO variant_fts(variant_fts, rowid, text) VALUES ('delete', old.id, old.text);
                END;
                CREATE TRIGGER variant_fts_update AFTER UPDATE OF text ON variant BEGIN
                    INSERT INTO variant_fts(variant_fts, rowid, text) VALUES ('delete', old.id, old.text);
                    INSERT INTO variant_fts(rowid, text) VALUES (new.id, new.text);
                END;
                INSERT INTO variant_fts(variant_fts) VALUES ('rebuild');
                """)
        }
        migrator.registerMigration("v8: insight ids never reused") { db in
            // Without AUTOINCREMENT SQLite hands out the largest id plus one, so forgetting or merging the newest
            // insight gave its id to the next one, and a second `forget` of a saved id deleted another insight.
            // SQLite cannot add AUTOINCREMENT to a table: it is rebuilt (foreign keys are off while a migration runs
            // and checked before it commits), and the triggers dropped with the old table are made again as they were.
            let triggers = try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'insight'")
            try db.execute(sql: """
                CREATE TABLE insight_rebuilt (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    fingerprint BLOB NOT NULL UNIQUE CHECK (length(fingerprint) = 16),
                    text TEXT NOT NULL CHECK (text <> ''),
                    createdAt REAL NOT NULL
                );
                INSERT INTO insight_rebuilt (id, fingerprint, text, createdAt) SELECT id, fingerprint, text, createdAt FROM insight;
                DROP TABLE insight;
                ALTER TABLE insight_rebuilt RENAME TO insight;
                """)
            for trigger in triggers { try db.execute(sql: trigger) }
        }
        return migrator
    }
}
