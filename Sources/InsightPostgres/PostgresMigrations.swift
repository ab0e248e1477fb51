import Foundation
import PostgresNIO

/// The PostgreSQL schema's history. A shipped migration is never edited: changes come as new migrations.
///
/// Several daemons may start at once against one database, so migrating happens under a session-level
/// advisory lock: the first daemon applies what is missing, the others wait and then find nothing to do.
enum PostgresMigrations {
    /// The advisory lock key that serializes migrations ("insightd" in ASCII, folded into 63 bits).
    static let lockKey: Int64 = 0x696E_7369_6768_7464 & Int64.max

    static let all: [(version: Int, name: String, statements: [String])] = [
        (1, "sources, insights, variants, conflicts, LSH bands, occurrences, links, full-text search", [
            """
            CREATE TABLE source (
                id bigserial PRIMARY KEY,
                -- The daemon that owns the file: host and inbox; empty for fetched articles, which all daemons share.
                origin text NOT NULL,
                host text NOT NULL,
                path text NOT NULL,
                kind text NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'url')),
                size bigint,
                mtime double precision,
                sha256 text,
                state text NOT NULL CHECK (state IN ('seen','pending','ingested','failed','skipped','removed')),
                error text,
                encoding text,
                document_date text,
                insight_count integer NOT NULL DEFAULT 0,
                first_seen_at double precision NOT NULL,
                updated_at double precision NOT NULL,
                ingested_at double precision,
                UNIQUE (origin, path),
                CHECK (state <> 'failed' OR error IS NOT NULL),
                CHECK (state <> 'ingested' OR sha256 IS NOT NULL)
            )
            """,
            "CREATE INDEX source_origin_kind_state ON source (origin, kind, state)",
            """
            CREATE TABLE insight (
                id bigserial PRIMARY KEY,
                fingerprint bytea NOT NULL UNIQUE CHECK (length(fingerprint) = 16),
                text text NOT NULL CHECK (text <> ''),
                created_at double precision NOT NULL,
                search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
            )
            """,
            "CREATE INDEX insight_search ON insight USING gin (search)",
            """
            CREATE TABLE insight_band (
                band_key bigint NOT NULL,
                insight_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                PRIMARY KEY (band_key, insight_id)
            )
            """,
            "CREATE INDEX insight_band_insight ON insight_band (insight_id)",
            """
            CREATE TABLE variant (
                id bigserial PRIMARY KEY,
                insight_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                fingerprint bytea NOT NULL UNIQUE CHECK (length(fingerprint) = 16),
                text text NOT NULL CHECK (text <> ''),
                created_at double precision NOT NULL
            )
            """,
            "CREATE INDEX variant_insight ON variant (insight_id)",
            """
            CREATE TABLE occurrence (
                id bigserial PRIMARY KEY,
                insight_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                source_id bigint NOT NULL REFERENCES source (id) ON DELETE CASCADE,
                ordinal integer NOT NULL,
                line integer NOT NULL,
                section text,
                variant_id bigint REFERENCES variant (id) ON DELETE SET NULL,
                UNIQUE (source_id, ordinal)
            )
            """,
            "CREATE INDEX occurrence_insight ON occurrence (insight_id)",
            "CREATE INDEX occurrence_variant ON occurrence (variant_id) WHERE variant_id IS NOT NULL",
            """
            CREATE TABLE conflict (
                insight_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                other_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                kind text NOT NULL CHECK (kind IN ('number', 'negation', 'contentWord')),
                created_at double precision NOT NULL,
                PRIMARY KEY (insight_id, other_id),
                CHECK (insight_id < other_id)
            )
            """,
            "CREATE INDEX conflict_other ON conflict (other_id)",
            """
            CREATE TABLE link (
                id bigserial PRIMARY KEY,
                canonical_url text NOT NULL UNIQUE,
                given_url text NOT NULL,
                final_url text,
                page_canonical_url text,
                state text NOT NULL CHECK (state IN ('queued', 'fetching', 'fetched', 'failed')),
                failure text CHECK (failure IN ('permanent', 'transient')),
                error text,
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at double precision,
                etag text,
                last_modified text,
                title text,
                byline text,
                published text,
                site_name text,
                language text,
                -- The daemon fetching it (host and inbox), so a restart requeues only its own claims.
                claimed_by text,
                created_at double precision NOT NULL,
                updated_at double precision NOT NULL,
                fetched_at double precision,
                CHECK (state <> 'failed' OR (failure IS NOT NULL AND error IS NOT NULL))
            )
            """,
            "CREATE INDEX link_due ON link (state, next_attempt_at)",
            """
            CREATE TABLE link_reference (
                link_id bigint NOT NULL REFERENCES link (id) ON DELETE CASCADE,
                source_id bigint NOT NULL REFERENCES source (id) ON DELETE CASCADE,
                line integer NOT NULL,
                PRIMARY KEY (link_id, source_id, line)
            )
            """,
            "CREATE INDEX link_reference_source ON link_reference (source_id)",
        ]),
        (2, "formats, tags and reading notes", [
            // How the file was read (text, markdown, kindle-clippings, …); NULL for files stored before, read as text.
            "ALTER TABLE source ADD COLUMN format text",
            // What the reader attached to a passage: a note, where it stands in the work, when it was saved.
            "ALTER TABLE occurrence ADD COLUMN note text, ADD COLUMN location text, ADD COLUMN added_at text",
            // The tags of each occurrence (lower-case, without '#'); they go with the occurrence.
            """
            CREATE TABLE occurrence_tag (
                occurrence_id bigint NOT NULL REFERENCES occurrence (id) ON DELETE CASCADE,
                tag text NOT NULL CHECK (tag <> ''),
                PRIMARY KEY (tag, occurrence_id)
            )
            """,
            "CREATE INDEX occurrence_tag_occurrence ON occurrence_tag (occurrence_id)",
        ]),
        (3, "status counters kept by triggers", statusCounters),
        (4, "sentence vectors and paraphrase suggestions", [
            // One vector per insight (int8 values, one scale). An insight without one waits to be embedded.
            """
            CREATE TABLE embedding (
                insight_id bigint PRIMARY KEY REFERENCES insight (id) ON DELETE CASCADE,
                model text NOT NULL,
                scale real NOT NULL CHECK (scale >= 0),
                vector bytea NOT NULL,
                embedded_at double precision NOT NULL
            )
            """,
            "CREATE INDEX embedding_embedded_at ON embedding (embedded_at)",
            // Daemons sharing the database lease insights to embed, so each is embedded once; a lease that ends
            // (a daemon killed while embedding) makes the insight claimable again. A done insight keeps its row
            // with an endless lease, so a daemon whose snapshot predates the vector cannot claim it again.
            """
            CREATE TABLE embedding_claim (
                insight_id bigint PRIMARY KEY REFERENCES insight (id) ON DELETE CASCADE,
                claimed_by text NOT NULL,
                until double precision NOT NULL
            )
            """,
            """
            CREATE TABLE paraphrase (
                insight_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                other_id bigint NOT NULL REFERENCES insight (id) ON DELETE CASCADE,
                score double precision NOT NULL,
                state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'apart')),
                created_at double precision NOT NULL,
                PRIMARY KEY (insight_id, other_id),
                CHECK (insight_id <> other_id)
            )
            """,
            "CREATE INDEX paraphrase_other ON paraphrase (other_id)",
            "CREATE INDEX paraphrase_open ON paraphrase (state, created_at)",
            "INSERT INTO stats (origin, key, shard, value) VALUES ('', 'embedding', 0, 0)",
            """
            CREATE TRIGGER stats_embedding_inserted AFTER INSERT ON embedding REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION insightd_stats_inserted('embedding')
            """,
            """
            CREATE TRIGGER stats_embedding_deleted AFTER DELETE ON embedding REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION insightd_stats_deleted('embedding')
            """,
        ]),
        (5, "band keys in an array on each insight", [
            // A row, two index entries and a foreign key check per band key made most of a bulk load's cost. An array
            // with a GIN index holds the same keys in one row; `fastupdate` is off because every placement searches the
            // index, and a pending list of recent entries is read through by every search.
            "LOCK TABLE insight, insight_band IN ACCESS EXCLUSIVE MODE",
            "ALTER TABLE insight ADD COLUMN bands int8[] NOT NULL DEFAULT '{}'",
            """
            UPDATE insight i SET bands = b.keys
            FROM (SELECT insight_id, array_agg(band_key ORDER BY band_key) AS keys FROM insight_band GROUP BY insight_id) AS b
            WHERE b.insight_id = i.id
            """,
            "CREATE INDEX insight_bands ON insight USING gin (bands) WITH (fastupdate = off)",
            "TRUNCATE insight_band",
            // A daemon of an older version still running against this database writes band rows, which nothing reads
            // any more: its write fails as a lost connection does (SQLSTATE 57P03), so its files wait in its inbox and
            // are stored once it is upgraded, instead of going in without their band keys.
            """
            CREATE FUNCTION insightd_band_rows_retired() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'this database keeps band keys on each insight since schema version 5: upgrade insightd on this machine; its files wait in its inbox until then'
                    USING ERRCODE = '57P03';
            END $$
            """,
            """
            CREATE TRIGGER insight_band_retired BEFORE INSERT ON insight_band
            FOR EACH STATEMENT EXECUTE FUNCTION insightd_band_rows_retired()
            """,
        ]),
        (6, "full-text search of other wordings", [
            // A wording folded into an insight as a variant (a typo, a merge) is found by its own words too.
            "ALTER TABLE variant ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED",
            "CREATE INDEX variant_search ON variant USING gin (search)",
        ]),
    ]

    /// Version 3: the counters status reads, kept by triggers.
    static let statusCounters: [String] = statsTable + statsTriggers + statsCounted

    static let statsTable: [String] = [
        // Writers wait until the counters are in place and counted from what they committed: nothing is counted
        // twice or missed while a daemon of an older version keeps writing.
        "LOCK TABLE source, link, insight, occurrence, variant, conflict IN SHARE ROW EXCLUSIVE MODE",
        // What status shows, kept exact by triggers in the transaction of every write. Daemons write at once, so a
        // counter is the sum of a few rows (shards) that writers pick without waiting for one another; each
        // daemon's files are counted under its origin, everything else under ''.
        """
        CREATE TABLE stats (
            origin text NOT NULL,
            -- source.STATE (inbox files only), link.STATE, insight, occurrence, variant, conflict.
            key text NOT NULL,
            shard smallint NOT NULL,
            value bigint NOT NULL,
            PRIMARY KEY (origin, key, shard)
        ) WITH (fillfactor = 50)
        """,
        // Adds `delta` to a counter: to the row of this connection's shard if no other transaction holds it, else to
        // any row of the counter that none holds, else to a new row. Two transactions never wait on each other here
        // unless sixteen hold rows of the same counter, so the counters add no lock waits (nor deadlocks) to writes.
        """
        CREATE FUNCTION insightd_stats_add(p_origin text, p_key text, p_delta bigint) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            home smallint := pg_backend_pid() % 16;
        BEGIN
            IF p_delta = 0 THEN RETURN; END IF;
            UPDATE stats SET value = value + p_delta
            WHERE (origin, key, shard) = (
                SELECT origin, key, shard FROM stats WHERE origin = p_origin AND key = p_key
                ORDER BY shard = home DESC, shard LIMIT 1 FOR UPDATE SKIP LOCKED);
            IF NOT FOUND THEN
                INSERT INTO stats (origin, key, shard, value) VALUES (p_origin, p_key, home, p_delta)
                ON CONFLICT (origin, key, shard) DO UPDATE SET value = stats.value + excluded.value;
            END IF;
        END $$
        """,
        // Statement-level triggers with transition tables: one counter update per statement, not per row, so a
        // file's occurrences, inserted in one statement, cost one update. Cascaded deletes run as statements too.
        """
        CREATE FUNCTION insightd_stats_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM insightd_stats_add('', TG_ARGV[0], count(*)) FROM new_rows;
            RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION insightd_stats_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM insightd_stats_add('', TG_ARGV[0], -count(*)) FROM old_rows;
            RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION insightd_stats_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM insightd_stats_add('', 'link.' || state, count(*)) FROM new_rows GROUP BY state;
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM insightd_stats_add('', 'link.' || state, -count(*)) FROM old_rows GROUP BY state;
            ELSE
                PERFORM insightd_stats_add('', key, sum(delta)::int8) FROM (
                    SELECT 'link.' || o.state AS key, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state
                    UNION ALL
                    SELECT 'link.' || n.state, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state
                ) AS changes GROUP BY key;
            END IF;
            RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION insightd_stats_source_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM insightd_stats_add(origin, 'source.' || state, count(*)) FROM new_rows WHERE kind = 'file' GROUP BY origin, state;
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM insightd_stats_add(origin, 'source.' || state, -count(*)) FROM old_rows WHERE kind = 'file' GROUP BY origin, state;
            ELSE
                PERFORM insightd_stats_add(origin, key, sum(delta)::int8) FROM (
                    SELECT o.origin, 'source.' || o.state AS key, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE o.kind = 'file' AND (n.origin, n.kind, n.state) IS DISTINCT FROM (o.origin, o.kind, o.state)
                    UNION ALL
                    SELECT n.origin, 'source.' || n.state, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE n.kind = 'file' AND (n.origin, n.kind, n.state) IS DISTINCT FROM (o.origin, o.kind, o.state)
                ) AS changes GROUP BY origin, key;
            END IF;
            RETURN NULL;
        END $$
        """,
    ]

    static let statsTriggers: [String] = {
        var statements: [String] = []
        // A trigger with transition tables takes one event, and an UPDATE one no column list.
        let events: [(name: String, event: String, tables: String)] = [
            ("inserted", "INSERT", "NEW TABLE AS new_rows"), ("deleted", "DELETE", "OLD TABLE AS old_rows"),
            ("updated", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ]
        for table in ["source", "link"] {
            for (name, event, tables) in events {
                statements.append("CREATE TRIGGER stats_\(table)_\(name) AFTER \(event) ON \(table) REFERENCING \(tables) "
                                  + "FOR EACH STATEMENT EXECUTE FUNCTION insightd_stats_\(table)_changed()")
            }
        }
        for table in ["insight", "occurrence", "variant", "conflict"] {
            for (name, event, tables) in events.prefix(2) {
                statements.append("CREATE TRIGGER stats_\(table)_\(name) AFTER \(event) ON \(table) REFERENCING \(tables) "
                                  + "FOR EACH STATEMENT EXECUTE FUNCTION insightd_stats_\(name)('\(table)')")
            }
        }
        return statements
    }()

    static let statsCounted: [String] = [
        // The counts so far, under the lock taken above.
        """
        INSERT INTO stats (origin, key, shard, value)
        SELECT origin, 'source.' || state, 0, count(*) FROM source WHERE kind = 'file' GROUP BY origin, state
        """,
        "INSERT INTO stats (origin, key, shard, value) SELECT '', 'link.' || state, 0, count(*) FROM link GROUP BY state",
        """
        INSERT INTO stats (origin, key, shard, value) VALUES
            ('', 'insight', 0, (SELECT count(*) FROM insight)), ('', 'occurrence', 0, (SELECT count(*) FROM occurrence)),
            ('', 'variant', 0, (SELECT count(*) FROM variant)), ('', 'conflict', 0, (SELECT count(*) FROM conflict))
        """,
        // The rest of status, found without reading every file of the daemon: its newest ingest and newest failure.
        "CREATE INDEX source_origin_kind_ingested ON source (origin, kind, ingested_at)",
        "CREATE INDEX source_origin_failed ON source (origin, updated_at) WHERE state = 'failed'",
    ]

    /// The newest version this build knows.
    static var latest: Int { all.map(\.version).max() ?? 0 }

    /// How long one statement of a migration may run: one that rewrites every insight takes minutes on a database of
    /// millions, far beyond the bound that tells a vanished server from a slow answer on ordinary statements.
    static let statementTimeout: TimeAmount = .hours(1)

    /// Applies every missing migration, each in its own transaction, holding the migration lock throughout.
    static func migrate(_ session: PostgresSession) throws {
        try session.query("SELECT pg_advisory_lock(\(lockKey))")
        defer { _ = try? session.query("SELECT pg_advisory_unlock(\(lockKey))") }
        try session.execute("""
            CREATE TABLE IF NOT EXISTS insightd_migration (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        var applied = Set<Int>()
        for row in try session.query("SELECT version FROM insightd_migration") {
            applied.insert(try row.decode(Int.self))
        }
        if let newest = applied.max(), newest > latest {
            throw MigrationTooNew(found: newest, known: latest)
        }
        for migration in all where !applied.contains(migration.version) {
            try session.transaction {
                for statement in migration.statements {
                    try session.query(PostgresQuery(unsafeSQL: statement), timeout: statementTimeout)
                }
                try session.query("INSERT INTO insightd_migration (version, name) VALUES (\(migration.version), \(migration.name))")
            }
        }
    }

    struct MigrationTooNew: Error, CustomStringConvertible {
        var found: Int
        var known: Int
        var description: String {
            "the database has schema version \(found) but this insightd knows up to \(known); upgrade insightd on this machine"
        }
    }
}
