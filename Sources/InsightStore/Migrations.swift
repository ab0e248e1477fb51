import GRDB

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
        return migrator
    }
}
