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
    ]

    /// The newest version this build knows.
    static var latest: Int { all.map(\.version).max() ?? 0 }

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
                for statement in migration.statements { try session.execute(statement) }
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
