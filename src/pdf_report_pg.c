
/*
 * The PostgreSQL store: the pool, its connections and their prepared
 * statements, pipelines, and the schema.  See pdf_report_pg.h.
 *
 * Tables (version 2; README.md, "The PostgreSQL store"):
 *   pdf_report_schema   the one row with the tables' version
 *   pdf_report_users    id -> record (jsonb): the contract's, fixed
 *   pdf_report_users_fp the directory file's fingerprint, per host, and
 *                       (source '') the SHA-256 of the file the users
 *                       table was last loaded from
 *   pdf_report_jobs     id (uuid) -> the job; partial indexes make the
 *                       pending set (unique per org and user: 409), the
 *                       queue of record, retention's and the purge's
 *                       order, and a pair's jobs for erasure
 *   pdf_report_rate     (org, at_ms) for every counted step-1 request
 *                       still inside some window
 *   pdf_report_idempotency (version 2) (org, key) -> the answer an
 *                       Idempotency-Key was given, until expires_ms
 */


#include <stdlib.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "pdf_report_pg.h"
#include "pdf_report_pg_int.h"


#define PDF_REPORT_PG_SAME_JOB                                              \
    "SELECT (SELECT count(*) FROM u), "                                     \
    "EXISTS (SELECT 1 FROM pdf_report_jobs WHERE id = $1::uuid)"


/* an expired Idempotency-Key record replaced by the new one */
#define PDF_REPORT_PG_IDEM_SET                                              \
    "sha256 = EXCLUDED.sha256, status = EXCLUDED.status,"                   \
    " job_id = EXCLUDED.job_id, user_id = EXCLUDED.user_id,"                \
    " created_ms = EXCLUDED.created_ms, code = EXCLUDED.code,"              \
    " message = EXCLUDED.message, expires_ms = EXCLUDED.expires_ms"


/*
 * Step 1's rate-limit hit and create, ahead of what PDF_REPORT_PG_STEP1
 * and _STEP1_IDEM each add (see there)
 */
#define PDF_REPORT_PG_STEP1_WITH                                            \
    "WITH w AS (SELECT count(*) AS n, min(at_ms) AS oldest"                 \
    "   FROM pdf_report_rate"                                               \
    "   WHERE $7::bigint >= 0 AND org = $1::text AND at_ms > $6::bigint),"  \
    " ok AS (SELECT ($7::bigint < 0 OR w.n < $7::bigint) AS allowed"        \
    "   FROM w),"                                                           \
    " del AS (DELETE FROM pdf_report_rate"                                  \
    "   WHERE $7::bigint >= 0 AND org = $1::text AND at_ms <= $6::bigint)," \
    " hit AS (INSERT INTO pdf_report_rate (org, at_ms)"                     \
    "   SELECT $1::text, $5::bigint FROM ok"                                \
    "   WHERE $7::bigint >= 0 AND ok.allowed RETURNING 1),"                 \
    " job AS (INSERT INTO pdf_report_jobs"                                  \
    "   (id, org, user_id, status, created_ms, updated_ms)"                 \
    "   SELECT $3::uuid, $1::text, $2::text, 0, $4::bigint, $4::bigint"     \
    "   FROM ok WHERE $8::boolean AND ok.allowed"                           \
    "   ON CONFLICT (org, user_id) WHERE status IN (0, 1) DO NOTHING"       \
    "   RETURNING id),"                                                     \
    " nt AS (SELECT pg_notify('" PDF_REPORT_PG_CHANNEL "', '') FROM job)"


/*
 * Every statement a call may run, prepared on each connection once it
 * is made.  Parameters are always passed apart from the text.
 */
static const char  *pdf_report_pg_sql[PDF_REPORT_PG_NSTMTS] = {

    /* PDF_REPORT_PG_BEGIN: the locks below rely on a snapshot a
     * statement (a server's default may be another level) */
    "BEGIN ISOLATION LEVEL READ COMMITTED",

    /* PDF_REPORT_PG_COMMIT */
    "COMMIT",

    /* PDF_REPORT_PG_LOCK: $1 key; held until the transaction ends */
    "SELECT pg_advisory_xact_lock($1::bigint)",

    /* PDF_REPORT_PG_USER_GET: $1 id */
    "SELECT record::text FROM pdf_report_users WHERE id = $1::text",

    /* PDF_REPORT_PG_JOB_GET: $1 id */
    "SELECT " PDF_REPORT_PG_JOB_COLS
    " FROM pdf_report_jobs WHERE id = $1::uuid",

    /*
     * PDF_REPORT_PG_STEP1: a rate-limit hit, a create, or both, in one
     * statement, run with the org's lock held (so the count sees every
     * hit committed before, and a conflict's pending job): $1 org,
     * $2 user, $3 id, $4 created_ms, $5 now, $6 now - period, $7 limit
     * (-1: not counted), $8 create.  The hit counts whatever the
     * create's outcome; a refused hit creates nothing.
     */
    PDF_REPORT_PG_STEP1_WITH
    " SELECT w.n, w.oldest, ok.allowed, (SELECT count(*) FROM job),"
    "  (SELECT count(*) FROM nt),"
    "  (SELECT p.id::text FROM pdf_report_jobs p"
    "   WHERE $8::boolean AND ok.allowed"
    "   AND NOT EXISTS (SELECT 1 FROM job)"
    "   AND p.org = $1::text AND p.user_id = $2::text"
    "   AND p.status IN (0, 1) LIMIT 1)"
    " FROM w, ok",

    /* PDF_REPORT_PG_RELEASE: $1 id, $2 token, $3 now; the claim did not
     * count as an attempt, and another edge may run it now */
    "WITH u AS (UPDATE pdf_report_jobs SET status = 0,"
    "   attempts = greatest(attempts - 1, 0), lease_until_ms = 0,"
    "   lease_token = 0, updated_ms = $3::bigint"
    "   WHERE id = $1::uuid AND lease_token = $2::bigint AND status = 1"
    "   RETURNING 1),"
    " nt AS (SELECT pg_notify('" PDF_REPORT_PG_CHANNEL "', '') FROM u)"
    " SELECT (SELECT count(*) FROM u) + 0 * (SELECT count(*) FROM nt),"
    " EXISTS (SELECT 1 FROM pdf_report_jobs WHERE id = $1::uuid)",

    /* PDF_REPORT_PG_RENEW: $1 id, $2 token, $3 lease until */
    "WITH u AS (UPDATE pdf_report_jobs SET lease_until_ms = $3::bigint"
    "   WHERE id = $1::uuid AND lease_token = $2::bigint AND status = 1"
    "   RETURNING 1) " PDF_REPORT_PG_SAME_JOB,

    /* PDF_REPORT_PG_FINISH: $1 id, $2 token, $3 now, $4 status, $5 size,
     * $6 duration, $7 sha256 hex, $8 template, $9 error code,
     * $10 message, $11 the orgs with a webhook (text[]) */
    "WITH u AS (UPDATE pdf_report_jobs j SET status = $4::smallint,"
    "   updated_ms = $3::bigint, completed_ms = $3::bigint,"
    "   terminal_ms = $3::bigint, lease_until_ms = 0,"
    "   size_bytes = CASE WHEN $4::smallint = 2 THEN $5::bigint"
    "     ELSE size_bytes END,"
    "   duration_ms = CASE WHEN $4::smallint = 2 THEN $6::bigint"
    "     ELSE duration_ms END,"
    "   sha256 = CASE WHEN $4::smallint = 2 THEN decode($7::text, 'hex')"
    "     ELSE sha256 END,"
    "   template_version = CASE WHEN $4::smallint = 2 THEN $8::text"
    "     ELSE template_version END,"
    "   error_code = CASE WHEN $4::smallint = 2 THEN error_code"
    "     ELSE $9::text END,"
    "   error_message = CASE WHEN $4::smallint = 2 THEN error_message"
    "     ELSE $10::text END"
    "   WHERE id = $1::uuid AND lease_token = $2::bigint AND status = 1"
    "   RETURNING j AS jr),"
    /* its event, in the same transaction, when its org has a webhook */
    " h AS (INSERT INTO pdf_report_hooks"
    "   (job_id, org, due_ms, ended_ms, body)"
    "   SELECT (u.jr).id, (u.jr).org, $3::bigint, $3::bigint,"
    "    pdf_report_event(u.jr, $3::bigint)"
    "   FROM u WHERE (u.jr).org = ANY($11::text[])"
    "   ON CONFLICT (job_id) DO NOTHING) " PDF_REPORT_PG_SAME_JOB,

    /*
     * PDF_REPORT_PG_SCAN_FAIL: $1 now, $2 now - timeout, $3 attempts,
     * $4 the TIMEOUT message, $5 the orgs with a webhook (their events
     * recorded with the failure): jobs past their timeout, and jobs whose
     * lease ran out once too often, fail; oldest first, a batch a pass.
     * The candidates come from two index ranges (the oldest of the
     * queue, the running jobs whose lease ran out), so that a backlog
     * behind them costs nothing: materialized, ordered by their own
     * columns, and re-tested with "status <= 1" (the same, as statuses
     * go, but no match for the queue's partial index), since the planner
     * would otherwise walk the whole queue and look each row up in them
     * (a queue that grew since the last ANALYZE looks empty).  The
     * test is repeated for the rows locked, which another edge may have
     * changed.  SKIP LOCKED: a job
     * another edge is acting on is its own.
     */
    "WITH cand AS MATERIALIZED ("
    "     (SELECT id, created_ms FROM pdf_report_jobs"
    "      WHERE status IN (0, 1) AND created_ms <= $2::bigint"
    "      ORDER BY created_ms, id LIMIT 64)"
    "     UNION"
    "     (SELECT id, created_ms FROM pdf_report_jobs"
    "      WHERE status = 1 AND lease_until_ms <= $1::bigint"
    "      AND attempts >= $3::int ORDER BY lease_until_ms LIMIT 64)),"
    " c AS (SELECT j.id FROM cand JOIN pdf_report_jobs j ON j.id = cand.id"
    "   WHERE j.status <= 1 AND (j.created_ms <= $2::bigint"
    "     OR (j.status = 1 AND j.lease_until_ms <= $1::bigint"
    "         AND j.attempts >= $3::int))"
    "   ORDER BY cand.created_ms, cand.id LIMIT 64"
    "   FOR UPDATE OF j SKIP LOCKED),"
    " u AS (UPDATE pdf_report_jobs j SET status = 3,"
    "   updated_ms = $1::bigint, completed_ms = $1::bigint,"
    "   terminal_ms = $1::bigint, lease_until_ms = 0,"
    "   error_code = CASE WHEN j.created_ms <= $2::bigint THEN 'TIMEOUT'"
    "     ELSE 'PROCESSING_FAILED' END,"
    "   error_message = CASE WHEN j.created_ms <= $2::bigint THEN $4::text"
    "     ELSE 'Processing stopped ' || j.attempts"
    "          || ' times without finishing.' END"
    "   FROM c WHERE j.id = c.id"
    "   RETURNING j.id, j.org, j.created_ms, j.error_code, j AS jr),"
    " h AS (INSERT INTO pdf_report_hooks"
    "   (job_id, org, due_ms, ended_ms, body)"
    "   SELECT u.id, u.org, $1::bigint, $1::bigint,"
    "    pdf_report_event(u.jr, $1::bigint)"
    "   FROM u WHERE u.org = ANY($5::text[])"
    "   ON CONFLICT (job_id) DO NOTHING)"
    " SELECT id::text, org, error_code = 'TIMEOUT' FROM u"
    " ORDER BY created_ms, id",

    /*
     * PDF_REPORT_PG_SCAN_CLAIM: $1 now, $2 now - timeout, $3 attempts,
     * $4 claims, $5 lease until, $6 lease tokens (bigint[]): the oldest
     * PENDING or abandoned jobs, IN_PROGRESS with a lease each.
     */
    "WITH c AS (SELECT id, row_number() OVER (ORDER BY created_ms, id)"
    "   AS n FROM (SELECT id, created_ms FROM pdf_report_jobs"
    "     WHERE status IN (0, 1) AND created_ms > $2::bigint"
    "     AND (status = 0 OR (lease_until_ms <= $1::bigint"
    "          AND attempts < $3::int))"
    "     ORDER BY created_ms, id LIMIT $4::int"
    "     FOR UPDATE SKIP LOCKED) s),"
    " u AS (UPDATE pdf_report_jobs j SET status = 1,"
    "   attempts = j.attempts + 1, claimed_ms = $1::bigint,"
    "   updated_ms = $1::bigint, lease_until_ms = $5::bigint,"
    "   generated_ms = CASE WHEN j.generated_ms = 0 THEN $1::bigint"
    "     ELSE j.generated_ms END,"
    "   lease_token = ($6::bigint[])[c.n]"
    "   FROM c WHERE j.id = c.id RETURNING j.*)"
    " SELECT " PDF_REPORT_PG_JOB_COLS " FROM u ORDER BY created_ms, id",

    /* PDF_REPORT_PG_SCAN_WAIT: $1 now, $2 now - timeout, $3 attempts:
     * a job this pass could have claimed is left.  The first in the
     * queue's order, not EXISTS: the planner turns EXISTS into a bitmap
     * scan of the whole queue, a pass at a time */
    "SELECT (SELECT true FROM pdf_report_jobs"
    "   WHERE status IN (0, 1) AND created_ms > $2::bigint"
    "   AND (status = 0 OR (lease_until_ms <= $1::bigint"
    "        AND attempts < $3::int))"
    "   ORDER BY created_ms, id LIMIT 1) IS NOT NULL",

    /* PDF_REPORT_PG_COUNT: from the queue's index, no table scan */
    "SELECT count(*) FILTER (WHERE status = 0),"
    " count(*) FILTER (WHERE status = 1)"
    " FROM pdf_report_jobs WHERE status IN (0, 1)",

    /* PDF_REPORT_PG_PURGE_DUE: $1 now, $2 now - retention (or the
     * smallest bigint: retention off); the first entry of each index,
     * as the LMDB store looks at the first key */
    "SELECT coalesce((SELECT purge_after_ms FROM pdf_report_jobs"
    "   WHERE purge_after_ms IS NOT NULL"
    "   ORDER BY purge_after_ms, id LIMIT 1) <= $1::bigint, false)"
    " OR coalesce((SELECT terminal_ms FROM pdf_report_jobs"
    "   WHERE purge_after_ms IS NULL AND terminal_ms IS NOT NULL"
    "   ORDER BY terminal_ms, id LIMIT 1) <= $2::bigint, false)",

    /* PDF_REPORT_PG_PURGE_RETAIN: $1 now, $2 now - retention, $3 max:
     * retention ran out, into the purge, due now */
    "WITH c AS (SELECT id, terminal_ms FROM pdf_report_jobs"
    "   WHERE purge_after_ms IS NULL AND terminal_ms <= $2::bigint"
    "   ORDER BY terminal_ms, id LIMIT $3::int + 1"
    "   FOR UPDATE SKIP LOCKED),"
    " t AS (SELECT id FROM c ORDER BY terminal_ms, id LIMIT $3::int),"
    " u AS (UPDATE pdf_report_jobs j SET purge_after_ms = $1::bigint,"
    "   purge_attempts = 0 FROM t WHERE j.id = t.id RETURNING 1)"
    " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM u)",

    /*
     * PDF_REPORT_PG_PURGE_TAKE: $1 now, $2 now - retention (or the
     * smallest bigint), $3 max, $4 lease until: the due deletes, oldest
     * first, leased by moving their time; a job not erased whose
     * retention has not run out after all (a reload) goes back.  One
     * row of NULLs when none is taken, for the count.
     */
    "WITH c AS (SELECT id, purge_after_ms FROM pdf_report_jobs"
    "   WHERE purge_after_ms <= $1::bigint"
    "   ORDER BY purge_after_ms, id LIMIT $3::int + 1"
    "   FOR UPDATE SKIP LOCKED),"
    " t AS (SELECT id, purge_after_ms FROM c"
    "   ORDER BY purge_after_ms, id LIMIT $3::int),"
    " back AS (UPDATE pdf_report_jobs j SET purge_after_ms = NULL,"
    "   purge_attempts = 0 FROM t WHERE j.id = t.id"
    "   AND j.flags & 1 = 0 AND coalesce(j.terminal_ms, 0) > $2::bigint"
    "   RETURNING 1),"
    " lease AS (UPDATE pdf_report_jobs j SET purge_after_ms = $4::bigint"
    "   FROM t WHERE j.id = t.id"
    "   AND NOT (j.flags & 1 = 0"
    "            AND coalesce(j.terminal_ms, 0) > $2::bigint)"
    "   RETURNING j.id, j.org, j.purge_attempts, j.flags, j.created_ms,"
    "   t.purge_after_ms AS was)"
    " SELECT l.id::text, l.org, l.purge_attempts, l.flags, l.created_ms,"
    "  (SELECT count(*) FROM c), (SELECT count(*) FROM back)"
    " FROM (SELECT 1) one LEFT JOIN lease l ON true ORDER BY l.was, l.id",

    /*
     * PDF_REPORT_PG_PURGE_REVOKED: $1 now, $2 erase, $3 max, $4 the
     * orgs with a webhook (text[]): revocations
     * queued by the trigger, oldest first; with $2 their pairs' jobs
     * created up to the revocation are erased, and so due for the take
     * that follows in the same transaction.
     */
    "WITH q AS (DELETE FROM pdf_report_revoked WHERE ctid IN ("
    "   SELECT ctid FROM pdf_report_revoked ORDER BY at_ms LIMIT $3::int"
    "   FOR UPDATE SKIP LOCKED) RETURNING org, user_id, at_ms),"
    " er AS (UPDATE pdf_report_jobs j SET"
    PDF_REPORT_PG_ERASE_SET("$1")
    "   FROM q WHERE $2::boolean AND j.org = q.org"
    "   AND j.user_id = q.user_id AND j.created_ms <= q.at_ms"
    "   AND j.flags & 1 = 0 RETURNING j AS jr),"
    " ev AS (" PDF_REPORT_PG_ERASED_EVENTS("$1", "$4") ")"
    " SELECT (SELECT count(*) FROM q), (SELECT count(*) FROM er)",

    /* PDF_REPORT_PG_HOOKS_DUE: $1 now */
    "SELECT EXISTS (SELECT 1 FROM pdf_report_hooks"
    " WHERE due_ms <= $1::bigint)",

    /* PDF_REPORT_PG_HOOKS_CANDIDATES: $1 now, $2 max: due events,
     * oldest first, locked for this transaction */
    "SELECT job_id::text, org FROM pdf_report_hooks"
    " WHERE due_ms <= $1::bigint ORDER BY due_ms, job_id"
    " LIMIT $2::int FOR UPDATE SKIP LOCKED",

    /* PDF_REPORT_PG_HOOKS_LEASE: $1 lease until, $2 ids (uuid[]) */
    "UPDATE pdf_report_hooks SET due_ms = $1::bigint"
    " WHERE job_id = ANY($2::uuid[])"
    " RETURNING job_id::text, org, attempts, ended_ms, body",

    /* PDF_REPORT_PG_HOOKS_GONE: $1 id, $2 lease: unless taken over */
    "DELETE FROM pdf_report_hooks"
    " WHERE job_id = $1::uuid AND due_ms = $2::bigint",

    /* PDF_REPORT_PG_HOOKS_AGAIN: $1 id, $2 lease, $3 next, $4 failed */
    "UPDATE pdf_report_hooks SET due_ms = $3::bigint,"
    " attempts = attempts + $4::int"
    " WHERE job_id = $1::uuid AND due_ms = $2::bigint",

    /* PDF_REPORT_PG_PURGE_GONE: $1 id, $2 lease: unless taken over */
    "DELETE FROM pdf_report_jobs"
    " WHERE id = $1::uuid AND purge_after_ms = $2::bigint RETURNING flags",

    /* PDF_REPORT_PG_PURGE_AGAIN: $1 id, $2 lease, $3 next, $4 failed */
    "UPDATE pdf_report_jobs SET purge_after_ms = $3::bigint,"
    " purge_attempts = purge_attempts + $4::int"
    " WHERE id = $1::uuid AND purge_after_ms = $2::bigint",

    /* PDF_REPORT_PG_IMPORT: a finished job as it is ($1 to $17 in
     * pdf_report_job_t's order); retention starts at completedAt, or
     * updatedAt for FAILED */
    "INSERT INTO pdf_report_jobs (id, org, user_id, status, flags,"
    " attempts, created_ms, updated_ms, completed_ms, generated_ms,"
    " claimed_ms, size_bytes, duration_ms, sha256, template_version,"
    " error_code, error_message, terminal_ms)"
    " VALUES ($1::uuid, $2::text, $3::text, $4::smallint, $5::int,"
    " $6::int, $7::bigint, $8::bigint, $9::bigint, $10::bigint,"
    " $11::bigint, $12::bigint, $13::bigint, decode($14::text, 'hex'),"
    " $15::text, $16::text, $17::text,"
    " CASE WHEN $4::smallint = 2 THEN $9::bigint ELSE $8::bigint END)",

    /* PDF_REPORT_PG_USAGE: the module's tables with their indexes */
    "SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0)"
    " FROM unnest(ARRAY['pdf_report_jobs', 'pdf_report_rate',"
    " 'pdf_report_users', 'pdf_report_users_fp',"
    " 'pdf_report_schema', 'pdf_report_revoked',"
    " 'pdf_report_hooks', 'pdf_report_idempotency']) t",

    /* PDF_REPORT_PG_JOB_USER: $1 id; the job and its user's record, in
     * one round trip for step 3 (the caller checks the org) */
    "SELECT " PDF_REPORT_PG_JOB_COLS ","
    " (SELECT u.record::text FROM pdf_report_users u"
    "  WHERE u.id = j.user_id)"
    " FROM pdf_report_jobs j WHERE j.id = $1::uuid",

    /* PDF_REPORT_PG_LOCKS: $1 keys (bigint[], sorted): taken in the
     * array's order, held until the transaction ends */
    "SELECT pg_advisory_xact_lock(k)"
    " FROM unnest($1::bigint[]) WITH ORDINALITY AS u (k, i) ORDER BY i",

    /*
     * PDF_REPORT_PG_STEP1_IDEM: PDF_REPORT_PG_STEP1 ($1 to $8) for an
     * Idempotency-Key not used yet (pdf_report_pg_idem.c), which also
     * records the answer under the key, in the same statement, so that
     * a keyed create needs no round trip of its own to remember it:
     * $9 key, $10 the body's SHA-256 (hex), $11 expires_ms, and for an
     * operation that does not create, $12 the status of its refusal
     * (0: none to remember), $13 code, $14 message.  A create remembers
     * its 202 or its 409 JOB_PENDING; nothing when the hit is refused
     * (429 is never remembered).  Its row is STEP1's.
     */
    PDF_REPORT_PG_STEP1_WITH ","
    " pend AS (SELECT p.id::text AS id FROM pdf_report_jobs p, ok"
    "   WHERE $8::boolean AND ok.allowed"
    "   AND NOT EXISTS (SELECT 1 FROM job)"
    "   AND p.org = $1::text AND p.user_id = $2::text"
    "   AND p.status IN (0, 1) LIMIT 1),"
    " ans AS (SELECT 202 AS st, $3::uuid::text AS jid, $2::text AS uid,"
    "   $4::bigint AS cms, '' AS code, '' AS msg FROM job"
    "   UNION ALL SELECT 409, pend.id, '', 0, '', '' FROM pend"
    "   UNION ALL SELECT $12::int, '', '', 0, $13::text, $14::text FROM ok"
    "   WHERE NOT $8::boolean AND ok.allowed AND $12::int > 0),"
    " idem AS (INSERT INTO pdf_report_idempotency (org, key, sha256,"
    "   status, job_id, user_id, created_ms, code, message, expires_ms)"
    "   SELECT $1::text, $9::text, decode($10::text, 'hex'), st, jid, uid,"
    "   cms, code, msg, $11::bigint FROM ans"
    "   ON CONFLICT (org, key) DO UPDATE SET " PDF_REPORT_PG_IDEM_SET
    "   RETURNING 1)"
    " SELECT w.n, w.oldest, ok.allowed, (SELECT count(*) FROM job),"
    "  (SELECT count(*) FROM nt) + 0 * (SELECT count(*) FROM idem),"
    "  (SELECT id FROM pend)"
    " FROM w, ok",

    /* PDF_REPORT_PG_IDEM_SELECT: $1 org, $2 key, $3 now; the record of
     * a key not expired yet */
    "SELECT encode(sha256, 'hex'), status, job_id, user_id, created_ms,"
    " code, message, expires_ms FROM pdf_report_idempotency"
    " WHERE org = $1::text AND key = $2::text AND expires_ms > $3::bigint",

    /* PDF_REPORT_PG_IDEM_PUT: $1 org, $2 key, $3 SHA-256 (hex),
     * $4 status, $5 job id, $6 user, $7 created_ms, $8 code, $9 message,
     * $10 expires_ms; an expired record of the key is replaced */
    "INSERT INTO pdf_report_idempotency (org, key, sha256, status, job_id,"
    " user_id, created_ms, code, message, expires_ms)"
    " VALUES ($1::text, $2::text, decode($3::text, 'hex'), $4::int,"
    " $5::text, $6::text, $7::bigint, $8::text, $9::text, $10::bigint)"
    " ON CONFLICT (org, key) DO UPDATE SET " PDF_REPORT_PG_IDEM_SET
};


/*
 * Version 1.  Status: 0 PENDING, 1 IN_PROGRESS, 2 COMPLETE, 3 FAILED;
 * flags as pdf_report_job_t's.  terminal_ms: when retention starts;
 * purge_after_ms: NULL while retention runs (or the job runs), else when
 * the next delete of its object may start.
 */
static const char  pdf_report_pg_schema_v1[] =
    "CREATE TABLE IF NOT EXISTS pdf_report_users ("
    "  id text PRIMARY KEY,"
    "  record jsonb NOT NULL);"

    "CREATE TABLE pdf_report_schema ("
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    "  version integer NOT NULL);"

    "CREATE TABLE pdf_report_jobs ("
    "  id uuid PRIMARY KEY,"
    "  org text NOT NULL,"
    "  user_id text NOT NULL,"
    "  status smallint NOT NULL,"
    "  flags integer NOT NULL DEFAULT 0,"
    "  attempts integer NOT NULL DEFAULT 0,"
    "  created_ms bigint NOT NULL,"
    "  updated_ms bigint NOT NULL,"
    "  completed_ms bigint NOT NULL DEFAULT 0,"
    "  generated_ms bigint NOT NULL DEFAULT 0,"
    "  claimed_ms bigint NOT NULL DEFAULT 0,"
    "  lease_until_ms bigint NOT NULL DEFAULT 0,"
    "  lease_token bigint NOT NULL DEFAULT 0,"
    "  size_bytes bigint NOT NULL DEFAULT 0,"
    "  duration_ms bigint NOT NULL DEFAULT 0,"
    "  sha256 bytea,"
    "  template_version text NOT NULL DEFAULT '',"
    "  error_code text NOT NULL DEFAULT '',"
    "  error_message text NOT NULL DEFAULT '',"
    "  terminal_ms bigint,"
    "  purge_after_ms bigint,"
    "  purge_attempts integer NOT NULL DEFAULT 0);"

    /* 409: one job PENDING or IN_PROGRESS per (org, user) */
    "CREATE UNIQUE INDEX pdf_report_jobs_pending"
    "  ON pdf_report_jobs (org, user_id) WHERE status IN (0, 1);"

    /* the queue of record, oldest first */
    "CREATE INDEX pdf_report_jobs_queue"
    "  ON pdf_report_jobs (created_ms, id) WHERE status IN (0, 1);"

    "CREATE INDEX pdf_report_jobs_retain"
    "  ON pdf_report_jobs (terminal_ms, id)"
    "  WHERE purge_after_ms IS NULL AND terminal_ms IS NOT NULL;"

    "CREATE INDEX pdf_report_jobs_purge"
    "  ON pdf_report_jobs (purge_after_ms, id)"
    "  WHERE purge_after_ms IS NOT NULL;"

    /* the running jobs, for those whose lease ran out too often */
    "CREATE INDEX pdf_report_jobs_running"
    "  ON pdf_report_jobs (lease_until_ms) WHERE status = 1;"

    /* a pair's jobs, for erasure */
    "CREATE INDEX pdf_report_jobs_byuser"
    "  ON pdf_report_jobs (org, user_id);"

    "CREATE TABLE pdf_report_rate ("
    "  org text NOT NULL,"
    "  at_ms bigint NOT NULL);"

    "CREATE INDEX pdf_report_rate_org ON pdf_report_rate (org, at_ms);"

    "CREATE TABLE pdf_report_users_fp ("
    "  source text PRIMARY KEY,"
    "  sha256 bytea NOT NULL,"
    "  rules integer NOT NULL,"
    "  stat text NOT NULL DEFAULT '',"
    "  changed_ns bigint NOT NULL DEFAULT 0,"
    "  loaded_ns bigint NOT NULL DEFAULT 0);";


/*
 * pdf_report_pg_migrations[v - 1] brings version v to v + 1; a new
 * schema is version 1 brought up the same way.
 */
static const char  *pdf_report_pg_migrations[] = {

    /*
     * 1 to 2: revocations written to pdf_report_users by other systems
     * (an UPDATE or DELETE that leaves a pair no longer CONNECTED) are
     * queued, with when, in the writer's own transaction; the deletion
     * pass erases the pairs' jobs (PDF_REPORT_PG_PURGE_REVOKED).  A
     * directory load erases for itself and sets pdf_report.loading.
     */
    "CREATE TABLE pdf_report_revoked ("
    "  org text NOT NULL,"
    "  user_id text NOT NULL,"
    "  at_ms bigint NOT NULL);"

    "CREATE INDEX pdf_report_revoked_at ON pdf_report_revoked (at_ms);"

    "CREATE FUNCTION pdf_report_users_revoked() RETURNS trigger"
    " LANGUAGE plpgsql AS $f$ BEGIN"
    "  IF coalesce(current_setting('pdf_report.loading', true), '') = 'on'"
    "  THEN RETURN NULL; END IF;"
    "  INSERT INTO pdf_report_revoked (org, user_id, at_ms)"
    "   SELECT o.org, OLD.id,"
    "    (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    "   FROM " PDF_REPORT_PG_ORGS("OLD.record") " o"
    "   WHERE octet_length(OLD.id) <= 64"
    "   AND (TG_OP = 'DELETE' OR OLD.id <> NEW.id OR NOT EXISTS ("
    "    SELECT 1 FROM " PDF_REPORT_PG_ORGS("NEW.record") " k"
    "    WHERE k.org = o.org));"
    "  RETURN NULL;"
    " END $f$;"

    "CREATE TRIGGER pdf_report_users_revoked"
    "  AFTER UPDATE OR DELETE ON pdf_report_users"
    "  FOR EACH ROW EXECUTE FUNCTION pdf_report_users_revoked();",

    /*
     * 2 to 3: webhook events, one a job, recorded in the transaction that
     * ends the job, with the body of report.completed or report.failed
     * as step 2 shows the job (pdf_report_event()), due at once; a
     * delivery leases one by moving due_ms.
     */
    "CREATE TABLE pdf_report_hooks ("
    "  job_id uuid PRIMARY KEY,"
    "  org text NOT NULL,"
    "  due_ms bigint NOT NULL,"
    "  attempts integer NOT NULL DEFAULT 0,"
    "  ended_ms bigint NOT NULL,"
    "  body text NOT NULL);"

    "CREATE INDEX pdf_report_hooks_due"
    "  ON pdf_report_hooks (due_ms, job_id);"

    "CREATE FUNCTION pdf_report_iso(ms bigint) RETURNS text"
    " LANGUAGE sql IMMUTABLE AS $f$"
    " SELECT to_char(to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') $f$;"

    "CREATE FUNCTION pdf_report_event(j pdf_report_jobs, at_ms bigint)"
    " RETURNS text LANGUAGE sql IMMUTABLE AS $f$"
    " SELECT json_build_object("
    "  'type', CASE WHEN j.status = 2 THEN 'report.completed'"
    "   ELSE 'report.failed' END,"
    "  'timestamp', pdf_report_iso(at_ms),"
    "  'data', CASE WHEN j.status = 2 THEN json_build_object("
    "   'jobId', j.id, 'status', 'COMPLETE', 'userId', j.user_id,"
    "   'templateVersion', j.template_version,"
    "   'sizeBytes', j.size_bytes, 'sha256', encode(j.sha256, 'hex'),"
    "   'durationMs', j.duration_ms,"
    "   'createdAt', pdf_report_iso(j.created_ms),"
    "   'updatedAt', pdf_report_iso(j.updated_ms),"
    "   'completedAt', pdf_report_iso(j.completed_ms))"
    "  ELSE json_build_object("
    "   'jobId', j.id, 'status', 'FAILED', 'userId', j.user_id,"
    "   'errorCode', j.error_code, 'errorMessage', j.error_message,"
    "   'createdAt', pdf_report_iso(j.created_ms),"
    "   'updatedAt', pdf_report_iso(j.updated_ms)) END)::text $f$;",

    /*
     * 3 to 4: Idempotency-Key records (pdf_report_pg_idem.c), one per
     * (org, key), and their order of expiry for the deletion of expired
     * ones.  IF NOT EXISTS: a version put back by hand runs it again.
     */
    "CREATE TABLE IF NOT EXISTS pdf_report_idempotency ("
    "  org text NOT NULL,"
    "  key text NOT NULL,"
    "  sha256 bytea NOT NULL,"
    "  status integer NOT NULL,"
    "  job_id text NOT NULL DEFAULT '',"
    "  user_id text NOT NULL DEFAULT '',"
    "  created_ms bigint NOT NULL DEFAULT 0,"
    "  code text NOT NULL DEFAULT '',"
    "  message text NOT NULL DEFAULT '',"
    "  expires_ms bigint NOT NULL,"
    "  PRIMARY KEY (org, key));"
    "CREATE INDEX IF NOT EXISTS pdf_report_idempotency_expires"
    "  ON pdf_report_idempotency (expires_ms);",

    NULL
};


static __thread char  pdf_report_pg_errbuf[256];


static int pdf_report_pg_connect(pdf_report_pg_t *pg,
    pdf_report_pg_conn_t *c);
static int pdf_report_pg_prepare(pdf_report_pg_conn_t *c);
static int pdf_report_pg_alive(pdf_report_pg_conn_t *c);
static void pdf_report_pg_drop(pdf_report_pg_conn_t *c);
static int pdf_report_pg_schema_txn(pdf_report_pg_conn_t *c,
    unsigned *found, char *err, size_t errlen);
static int pdf_report_pg_simple(pdf_report_pg_conn_t *c, const char *sql,
    int n, const char *const *values, PGresult **res);
static void pdf_report_pg_unquote(char *dst, size_t size, const char *src);
static void pdf_report_pg_notice(void *arg, const char *message);


int
pdf_report_pg_open(pdf_report_pg_t **pg, const char *uri, unsigned pool,
    char *err, size_t errlen)
{
    char               *msg;
    pdf_report_pg_t    *p;
    PQconninfoOption   *opts;

    *pg = NULL;

    if (pool == 0 || pool > PDF_REPORT_PG_POOL_MAX) {
        snprintf(err, errlen, "pool must be 1 to %d",
                 PDF_REPORT_PG_POOL_MAX);
        return EINVAL;
    }

    msg = NULL;
    opts = PQconninfoParse(uri, &msg);

    if (opts == NULL) {
        /* libpq quotes the part it refused, which may be the password */
        if (msg != NULL) {
            pdf_report_pg_unquote(err, errlen, msg);
            PQfreemem(msg);

        } else {
            snprintf(err, errlen, "out of memory");
        }

        return msg != NULL ? EINVAL : ENOMEM;
    }

    PQconninfoFree(opts);

    p = calloc(1, sizeof(pdf_report_pg_t));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }

    p->conns = calloc(pool, sizeof(pdf_report_pg_conn_t));
    p->uri = strdup(uri);
    p->hook_orgs = strdup("{}");
    p->size = pool;
    p->pid = getpid();
    snprintf(p->connect_timeout, sizeof(p->connect_timeout), "5");

    if (p->conns == NULL || p->uri == NULL || p->hook_orgs == NULL) {
        free(p->conns);
        free(p->uri);
        free(p->hook_orgs);
        free(p);
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }

    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p->conns);
        free(p->uri);
        free(p->hook_orgs);
        free(p);
        snprintf(err, errlen, "pthread_mutex_init() failed");
        return ENOMEM;
    }

    if (pthread_cond_init(&p->cond, NULL) != 0) {
        (void) pthread_mutex_destroy(&p->mutex);
        free(p->conns);
        free(p->uri);
        free(p->hook_orgs);
        free(p);
        snprintf(err, errlen, "pthread_cond_init() failed");
        return ENOMEM;
    }

    *pg = p;

    return 0;
}


void
pdf_report_pg_close(pdf_report_pg_t *pg)
{
    unsigned  i;

    if (pg == NULL) {
        return;
    }

    /*
     * A child of the process that opened the pool shares its sockets:
     * ending the sessions would end the parent's.  Only its memory goes.
     */
    for (i = 0; i < pg->size; i++) {
        if (pg->pid == getpid()) {
            pdf_report_pg_drop(&pg->conns[i]);
        }
    }

    (void) pthread_cond_destroy(&pg->cond);
    (void) pthread_mutex_destroy(&pg->mutex);

    /* the URI may hold a password: not left in freed memory */
    memset(pg->uri, 0, strlen(pg->uri));

    free(pg->uri);
    free(pg->hook_orgs);
    free(pg->conns);
    free(pg);
}


void
pdf_report_pg_describe(pdf_report_pg_t *pg, char *buf, size_t len)
{
    size_t             n;
    const char        *keys[] = { "host", "hostaddr", "port", "dbname",
                                  "user", NULL };
    PQconninfoOption  *opts, *o;
    int                i;

    buf[0] = '\0';

    opts = PQconninfoParse(pg->uri, NULL);
    if (opts == NULL) {
        return;
    }

    n = 0;

    for (i = 0; keys[i] != NULL; i++) {
        for (o = opts; o->keyword != NULL; o++) {
            if (strcmp(o->keyword, keys[i]) == 0 && o->val != NULL
                && o->val[0] != '\0' && n < len)
            {
                n += snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "",
                              keys[i], o->val);
            }
        }
    }

    PQconninfoFree(opts);
}


const char *
pdf_report_pg_error(void)
{
    return pdf_report_pg_errbuf;
}


void
pdf_report_pg_set_error(const char *fmt, ...)
{
    char     *p;
    va_list   args;

    va_start(args, fmt);
    (void) vsnprintf(pdf_report_pg_errbuf, sizeof(pdf_report_pg_errbuf), fmt,
                     args);
    va_end(args);

    /* one log line: libpq's messages run over several */
    for (p = pdf_report_pg_errbuf; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            *p = (p[1] == '\0') ? '\0' : ' ';
        }
    }
}


void
pdf_report_pg_set_erase_on_revoke(pdf_report_pg_t *pg, int on)
{
    pg->erase_on_revoke = on ? 1 : 0;
}


void
pdf_report_pg_set_connect_timeout(pdf_report_pg_t *pg, unsigned s)
{
    snprintf(pg->connect_timeout, sizeof(pg->connect_timeout), "%u", s);
}


/*
 * The pool.  A call prefers a live connection, then a slot that may be
 * connected now, then one still within its retry delay (which answers
 * UNAVAILABLE at once rather than make the call wait for a connection).
 */

int
pdf_report_pg_acquire(pdf_report_pg_t *pg, int prepared,
    pdf_report_pg_conn_t **conn)
{
    int                    rc, score, best_score;
    int64_t                now, wake;
    unsigned               i, live;
    struct timespec        ts;
    pdf_report_pg_conn_t  *c, *best;

    *conn = NULL;

    /* its connections are the parent's: see "Fork" in pdf_report_pg.h */
    if (pg->pid != getpid()) {
        pdf_report_pg_set_error("a PostgreSQL pool used after fork(): "
                                "open one in each process");
        return PDF_REPORT_PG_ERROR;
    }

    if (pthread_mutex_lock(&pg->mutex) != 0) {
        pdf_report_pg_set_error("pthread_mutex_lock() failed");
        return PDF_REPORT_PG_ERROR;
    }

    for ( ;; ) {
        now = pdf_report_now_ms();
        best = NULL;
        best_score = 0;
        live = 0;

        for (i = 0; i < pg->size; i++) {
            c = &pg->conns[i];

            if (c->busy) {
                live += (c->conn != NULL);
                continue;
            }

            score = (c->conn != NULL) ? 3
                    : (now - c->failed_ms >= PDF_REPORT_PG_RETRY_MS) ? 2 : 1;

            if (score > best_score) {
                best = c;
                best_score = score;
            }
        }

        /*
         * Only a slot within its retry delay is free, while calls use
         * live connections: the database is there, one of those will do,
         * sooner than the delay ends.
         */
        if (best != NULL && (best_score > 1 || live == 0)) {
            break;
        }

        if (best == NULL) {
            (void) pthread_cond_wait(&pg->cond, &pg->mutex);
            continue;
        }

        wake = best->failed_ms + PDF_REPORT_PG_RETRY_MS;
        ts.tv_sec = (time_t) (wake / 1000);
        ts.tv_nsec = (long) (wake % 1000) * 1000000;

        (void) pthread_cond_timedwait(&pg->cond, &pg->mutex, &ts);
    }

    best->busy = 1;

    (void) pthread_mutex_unlock(&pg->mutex);

    c = best;

    /* a server that went away has closed it: made again below */
    if (c->conn != NULL && !pdf_report_pg_alive(c)) {
        pdf_report_pg_drop(c);
        c->failed_ms = 0;
    }

    if (c->conn == NULL) {
        if (now - c->failed_ms < PDF_REPORT_PG_RETRY_MS) {
            pdf_report_pg_set_error("the database could not be reached "
                                    "less than a second ago");
            pdf_report_pg_release(pg, c);
            return PDF_REPORT_STORE_UNAVAILABLE;
        }

        rc = pdf_report_pg_connect(pg, c);

        if (rc != 0) {
            c->failed_ms = pdf_report_now_ms();
            pdf_report_pg_release(pg, c);
            return rc;
        }

        c->failed_ms = 0;
    }

    if (prepared && !c->prepared) {
        rc = pdf_report_pg_prepare(c);

        if (rc != 0) {
            pdf_report_pg_release(pg, c);
            return rc;
        }
    }

    *conn = c;

    return 0;
}


void
pdf_report_pg_release(pdf_report_pg_t *pg, pdf_report_pg_conn_t *c)
{
    PGresult  *r;

    /* never hand on a connection inside a transaction */
    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK
        && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
    {
        r = PQexec(c->conn, "ROLLBACK");

        if (!pdf_report_pg_ok(r, PGRES_COMMAND_OK)
            || PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        {
            pdf_report_pg_drop(c);
        }

        PQclear(r);
    }

    if (c->conn != NULL && PQstatus(c->conn) != CONNECTION_OK) {
        pdf_report_pg_drop(c);
    }

    (void) pthread_mutex_lock(&pg->mutex);
    c->busy = 0;
    (void) pthread_cond_signal(&pg->cond);
    (void) pthread_mutex_unlock(&pg->mutex);
}


#define PDF_REPORT_PG_CONN_KEYS                                             \
    { "connect_timeout", "fallback_application_name", "keepalives",         \
      "keepalives_idle", "keepalives_interval", "keepalives_count",         \
      "tcp_user_timeout", "options", "dbname", "client_encoding", NULL }

#define PDF_REPORT_PG_CONN_VALS(timeout, uri)                               \
    { (timeout), "nginx pdf_report", "1", "10", "5", "3", "30000",          \
      "-c idle_in_transaction_session_timeout=60s -c lock_timeout=10s"      \
      " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5"             \
      " -c tcp_keepalives_count=3 -c plan_cache_mode=force_generic_plan"   \
      " -c enable_seqscan=off -c synchronous_commit=on",                    \
      (uri), "UTF8", NULL }


/*
 * The URI as the application's "dbname": the options before it are
 * defaults the URI may change (its own "options" replace ours whole),
 * client_encoding after it is ours.
 *
 * The defaults keep a dead peer from holding anything for long: TCP
 * keepalives and an unacknowledged-send limit on our side (a database
 * host that vanished fails a call in about 30 s, not the kernel's 15
 * minutes); on the server's side its own keepalives for our socket, no
 * transaction left idle (an edge that died half way through sending a
 * pipeline would hold its orgs' locks), and no lock waited for past
 * 10 s (a call answers, and its thread is free again).  A directory
 * load and the schema wait for another edge's as long as it takes.
 *
 * Prepared statements keep one generic plan: the server would otherwise
 * plan step 1's statement again at every run (its custom plans look
 * cheaper than the generic one), which took a quarter of the database's
 * CPU a create.  Every statement is written for an index whatever its
 * parameters are, and none may scan a table whole: a plan made while
 * the queue or the rate table looked empty (autovacuum analyses them a
 * minute later at the soonest) would keep scanning them whole as they
 * grow, so sequential scans are off for the sessions.  The directory's
 * loads, which do read tables whole, turn them on for themselves.
 *
 * synchronous_commit is on whatever the database's default: a commit
 * that a 202 reports has reached the disk (and a synchronous standby's,
 * when the server has one).
 */

static int
pdf_report_pg_connect(pdf_report_pg_t *pg, pdf_report_pg_conn_t *c)
{
    const char  *keys[] = PDF_REPORT_PG_CONN_KEYS;
    const char  *vals[] = PDF_REPORT_PG_CONN_VALS(pg->connect_timeout,
                                                  pg->uri);

    c->prepared = 0;
    c->conn = PQconnectdbParams(keys, vals, 1);

    if (c->conn == NULL) {
        pdf_report_pg_set_error("out of memory");
        return PDF_REPORT_STORE_UNAVAILABLE;
    }

    if (PQstatus(c->conn) != CONNECTION_OK) {
        pdf_report_pg_set_error("%s", PQerrorMessage(c->conn));
        pdf_report_pg_drop(c);
        return PDF_REPORT_STORE_UNAVAILABLE;
    }

    /* libpq would print the server's notices to nginx's stderr */
    (void) PQsetNoticeProcessor(c->conn, pdf_report_pg_notice, NULL);

    return 0;
}


/*
 * The same connection, started for a caller that drives it with
 * PQconnectPoll() on its own event loop (pdf_report_pg_async.h).
 */

PGconn *
pdf_report_pg_connect_start(pdf_report_pg_t *pg, const char *hostaddr)
{
    const char  *keys[] = PDF_REPORT_PG_CONN_KEYS;
    const char  *vals[] = PDF_REPORT_PG_CONN_VALS(pg->connect_timeout,
                                                  pg->uri);
    const char  *k[sizeof(keys) / sizeof(keys[0]) + 3];
    const char  *v[sizeof(keys) / sizeof(keys[0]) + 3];
    const char  *addrs, *ports;
    size_t       i;

    for (i = 0; keys[i] != NULL; i++) {
        k[i] = keys[i];
        v[i] = vals[i];
    }

    /*
     * The lists pdf_report_pg_resolve() made, after the URI, so that
     * they win: "host", "hostaddr" and "port" (empty: the URI's)
     */
    if (hostaddr != NULL && hostaddr[0] != '\0') {
        addrs = hostaddr + strlen(hostaddr) + 1;
        ports = addrs + strlen(addrs) + 1;

        k[i] = "host";
        v[i++] = hostaddr;
        k[i] = "hostaddr";
        v[i++] = addrs;

        if (ports[0] != '\0') {
            k[i] = "port";
            v[i++] = ports;
        }
    }

    k[i] = NULL;
    v[i] = NULL;

    return PQconnectStartParams(k, v, 1);
}


/*
 * The URI's host names resolved as libpq would resolve them, every
 * address of each in turn, into lists for pdf_report_pg_connect_start():
 * "host\0hostaddr\0port\0", a host repeated for each of its addresses
 * (and its port, when the URI gives one a host); "" when there is
 * nothing to resolve (addresses, socket directories, no host, or a
 * hostaddr of the URI's own).  For a pool thread: this waits for DNS.
 * 0, or -1 with the error for pdf_report_pg_error().
 */

int
pdf_report_pg_resolve(pdf_report_pg_t *pg, char *hostaddr, size_t len)
{
    int                 rc, any;
    char               *err, *hosts, *h, *next, *ports, *pt, *pnext;
    char                addr[INET6_ADDRSTRLEN];
    char               *hl, *al, *pl;
    size_t              nh, na, np, cap;
    struct addrinfo     hints, *ai, *r;
    PQconninfoOption   *opts, *o;
    const char         *host, *port, *sep;

    hostaddr[0] = '\0';

    err = NULL;
    opts = PQconninfoParse(pg->uri, &err);

    if (opts == NULL) {
        pdf_report_pg_set_error("the URI cannot be read");
        PQfreemem(err);
        return -1;
    }

    host = NULL;
    port = NULL;

    for (o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "hostaddr") == 0 && o->val != NULL
            && o->val[0] != '\0')
        {
            PQconninfoFree(opts);
            return 0;
        }

        if (strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (strcmp(o->keyword, "port") == 0) {
            port = o->val;
        }
    }

    hosts = (host != NULL) ? strdup(host) : NULL;

    /* one port for all hosts: the URI's stays; a list: one a host */
    ports = (port != NULL && strchr(port, ',') != NULL) ? strdup(port)
                                                        : NULL;

    PQconninfoFree(opts);

    if (hosts == NULL) {
        free(ports);
        return (host == NULL) ? 0 : -1;
    }

    /* the three lists, each at most a third of the buffer */
    cap = len / 3;
    hl = malloc(3 * cap);

    if (hl == NULL || cap < 2) {
        free(hosts);
        free(ports);
        free(hl);
        pdf_report_pg_set_error("out of memory");
        return -1;
    }

    al = hl + cap;
    pl = al + cap;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = 0;
    any = 0;
    nh = 0;
    na = 0;
    np = 0;
    pt = ports;

    for (h = hosts; h != NULL && rc == 0; h = next) {
        next = strchr(h, ',');
        if (next != NULL) {
            *next++ = '\0';
        }

        pnext = NULL;

        if (pt != NULL) {
            pnext = strchr(pt, ',');
            if (pnext != NULL) {
                *pnext++ = '\0';
            }
        }

        ai = NULL;

        /* a socket directory or an address: libpq looks nothing up */
        if (h[0] != '\0' && h[0] != '/' && h[0] != '@') {
            hints.ai_flags = AI_NUMERICHOST;

            if (getaddrinfo(h, NULL, &hints, &ai) == 0) {
                freeaddrinfo(ai);
                ai = NULL;

            } else {
                hints.ai_flags = 0;

                if (getaddrinfo(h, NULL, &hints, &ai) != 0 || ai == NULL) {
                    pdf_report_pg_set_error("cannot resolve \"%s\"", h);
                    rc = -1;
                    break;
                }

                any = 1;
            }
        }

        /* the host once per address, as libpq tries them, in order */
        for (r = ai; rc == 0; r = r->ai_next) {
            addr[0] = '\0';

            if (r != NULL
                && getnameinfo(r->ai_addr, r->ai_addrlen, addr,
                               sizeof(addr), NULL, 0, NI_NUMERICHOST)
                   != 0)
            {
                addr[0] = '\0';
            }

            if (nh + strlen(h) + 2 > cap || na + strlen(addr) + 2 > cap
                || (pt != NULL && np + strlen(pt) + 2 > cap))
            {
                pdf_report_pg_set_error("too many hosts in the URI");
                rc = -1;
                break;
            }

            sep = (nh != 0) ? "," : "";

            nh += (size_t) sprintf(hl + nh, "%s%s", sep, h);
            na += (size_t) sprintf(al + na, "%s%s", sep, addr);

            if (pt != NULL) {
                np += (size_t) sprintf(pl + np, "%s%s", sep, pt);
            }

            if (r == NULL || r->ai_next == NULL) {
                break;
            }
        }

        if (ai != NULL) {
            freeaddrinfo(ai);
        }

        pt = pnext;
    }

    if (rc == 0 && any) {
        hl[nh] = '\0';
        al[na] = '\0';
        pl[np] = '\0';

        memcpy(hostaddr, hl, nh + 1);
        memcpy(hostaddr + nh + 1, al, na + 1);
        memcpy(hostaddr + nh + 1 + na + 1, pl, np + 1);
    }

    free(hosts);
    free(ports);
    free(hl);

    return rc;
}


const char *
pdf_report_pg_stmt_sql(pdf_report_pg_stmt_e stmt)
{
    return pdf_report_pg_sql[stmt];
}


void
pdf_report_pg_drop_notices(PGconn *conn)
{
    (void) PQsetNoticeProcessor(conn, pdf_report_pg_notice, NULL);
}


/*
 * A notice (a server shutting down says so, a DDL statement remarks) is
 * no error of a call: those come back as results, and are dropped.
 */

static void
pdf_report_pg_notice(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}


/* every statement prepared in one round trip */

static int
pdf_report_pg_prepare(pdf_report_pg_conn_t *c)
{
    int        i, rc;
    char       name[32];
    PGresult  *r;

    if (PQenterPipelineMode(c->conn) != 1) {
        pdf_report_pg_set_error("%s", PQerrorMessage(c->conn));
        return PDF_REPORT_PG_ERROR;
    }

    for (i = 0; i < PDF_REPORT_PG_NSTMTS; i++) {
        snprintf(name, sizeof(name), PDF_REPORT_PG_STMT_NAME, i);

        if (PQsendPrepare(c->conn, name, pdf_report_pg_sql[i], 0, NULL)
            != 1)
        {
            break;
        }
    }

    rc = 0;

    if (i < PDF_REPORT_PG_NSTMTS || PQpipelineSync(c->conn) != 1) {
        pdf_report_pg_set_error("%s", PQerrorMessage(c->conn));
        c->prepared = 0;
        pdf_report_pg_drop(c);
        return PDF_REPORT_STORE_UNAVAILABLE;
    }

    for (i = 0; i < PDF_REPORT_PG_NSTMTS; i++) {
        r = PQgetResult(c->conn);

        if (r == NULL) {
            rc = pdf_report_pg_failed(c, NULL);
            break;
        }

        if (!pdf_report_pg_ok(r, PGRES_COMMAND_OK) && rc == 0) {
            rc = pdf_report_pg_failed(c, r);

        } else {
            PQclear(r);
        }

        while ((r = PQgetResult(c->conn)) != NULL) {
            PQclear(r);
        }
    }

    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK
        && i == PDF_REPORT_PG_NSTMTS)
    {
        r = PQgetResult(c->conn);

        if (!pdf_report_pg_ok(r, PGRES_PIPELINE_SYNC) && rc == 0) {
            rc = pdf_report_pg_failed(c, r);
            r = NULL;
        }

        PQclear(r);
    }

    if (c->conn != NULL && PQexitPipelineMode(c->conn) != 1) {
        pdf_report_pg_drop(c);
        rc = rc ? rc : PDF_REPORT_STORE_UNAVAILABLE;
    }

    if (rc == 0) {
        c->prepared = 1;
        return 0;
    }

    /* some may exist: all of them again next time (no schema yet) */
    if (c->conn != NULL) {
        r = PQexec(c->conn, "DEALLOCATE ALL");
        PQclear(r);
    }

    return rc;
}


/* no news from the server since the last call, or news that it is fine */

static int
pdf_report_pg_alive(pdf_report_pg_conn_t *c)
{
    int              n;
    PGnotify        *note;
    struct pollfd    pfd;

    if (PQstatus(c->conn) != CONNECTION_OK || PQsocket(c->conn) < 0) {
        return 0;
    }

    pfd.fd = PQsocket(c->conn);
    pfd.events = POLLIN;
    pfd.revents = 0;

    do {
        n = poll(&pfd, 1, 0);
    } while (n == -1 && errno == EINTR);

    if (n <= 0) {
        return 1;
    }

    /* a server shutting down says so, then closes: seen as BAD here */
    if (PQconsumeInput(c->conn) != 1) {
        return 0;
    }

    while ((note = PQnotifies(c->conn)) != NULL) {
        PQfreemem(note);
    }

    return PQstatus(c->conn) == CONNECTION_OK;
}


static void
pdf_report_pg_drop(pdf_report_pg_conn_t *c)
{
    if (c->conn != NULL) {
        PQfinish(c->conn);
    }

    c->conn = NULL;
    c->prepared = 0;
}


int
pdf_report_pg_ok(PGresult *r, ExecStatusType st)
{
    return r != NULL && PQresultStatus(r) == st;
}


int
pdf_report_pg_failed(pdf_report_pg_conn_t *c, PGresult *r)
{
    char         state[6];
    const char  *field, *msg;

    /*
     * The primary message only: the detail and context may quote the
     * row (a user's record) that failed, which has no place in a log.
     */
    field = (r != NULL) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(state, sizeof(state), "%s", field ? field : "");

    msg = (r != NULL) ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                      : NULL;

    if (msg == NULL || msg[0] == '\0') {
        msg = (c->conn != NULL) ? PQerrorMessage(c->conn) : "";
    }

    pdf_report_pg_set_error("%s%s%s", state, state[0] ? " " : "",
                            (msg[0] != '\0') ? msg : "no result");

    PQclear(r);

    /*
     * The connection is gone (08: connection exception, 57P0x: the
     * server shuts down or cannot take it): the call answers 503 and
     * the connection is made again by a later one.
     */
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK
        || strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)
    {
        if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK) {
            /* closed now, made again by a later call */
            PQfinish(c->conn);
            c->conn = NULL;
            c->prepared = 0;
        }

        return PDF_REPORT_STORE_UNAVAILABLE;
    }

    return PDF_REPORT_PG_ERROR;
}


PGresult *
pdf_report_pg_exec(pdf_report_pg_conn_t *c, pdf_report_pg_stmt_e stmt,
    int n, const char *const *values)
{
    char  name[32];

    snprintf(name, sizeof(name), PDF_REPORT_PG_STMT_NAME, (int) stmt);

    return PQexecPrepared(c->conn, name, n, values, NULL, NULL, 0);
}


int
pdf_report_pg_pipe_begin(pdf_report_pg_pipe_t *p, pdf_report_pg_conn_t *c,
    size_t max)
{
    p->c = c;
    p->n = 0;
    p->rc = 0;
    p->res = calloc(max, sizeof(PGresult *));
    p->max = max;

    if (p->res == NULL) {
        pdf_report_pg_set_error("out of memory");
        return PDF_REPORT_PG_ERROR;
    }

    if (PQenterPipelineMode(c->conn) != 1) {
        pdf_report_pg_set_error("%s", PQerrorMessage(c->conn));
        free(p->res);
        p->res = NULL;
        return PDF_REPORT_PG_ERROR;
    }

    return 0;
}


void
pdf_report_pg_pipe_send(pdf_report_pg_pipe_t *p, pdf_report_pg_stmt_e stmt,
    int n, const char *const *values)
{
    char  name[32];

    if (p->rc != 0) {
        return;
    }

    if (p->n == p->max) {
        pdf_report_pg_set_error("a pipeline of more than %zu statements",
                                p->max);
        p->rc = PDF_REPORT_PG_ERROR;
        return;
    }

    snprintf(name, sizeof(name), PDF_REPORT_PG_STMT_NAME, (int) stmt);

    if (PQsendQueryPrepared(p->c->conn, name, n, values, NULL, NULL, 0)
        != 1)
    {
        p->rc = pdf_report_pg_failed(p->c, NULL);
        return;
    }

    p->n++;
}


int
pdf_report_pg_pipe_end(pdf_report_pg_pipe_t *p)
{
    int        rc;
    size_t     i;
    PGconn    *conn;
    PGresult  *r;

    conn = p->c->conn;

    if (p->rc != 0) {
        rc = p->rc;
        goto exit;
    }

    if (PQpipelineSync(conn) != 1) {
        rc = pdf_report_pg_failed(p->c, NULL);
        goto exit;
    }

    rc = 0;

    for (i = 0; i < p->n; i++) {
        r = PQgetResult(conn);

        if (r == NULL) {
            /* the connection broke: no more results come */
            if (rc == 0) {
                rc = pdf_report_pg_failed(p->c, NULL);
            }

            goto exit;
        }

        p->res[i] = r;

        while ((r = PQgetResult(conn)) != NULL) {
            PQclear(r);
        }

        if (rc == 0 && PQresultStatus(p->res[i]) != PGRES_COMMAND_OK
            && PQresultStatus(p->res[i]) != PGRES_TUPLES_OK)
        {
            /* the first failure: the rest were not run */
            rc = pdf_report_pg_failed(p->c, p->res[i]);
            p->res[i] = NULL;

            if (p->c->conn == NULL) {
                goto exit;
            }
        }
    }

    r = PQgetResult(conn);

    if (!pdf_report_pg_ok(r, PGRES_PIPELINE_SYNC) && rc == 0) {
        rc = pdf_report_pg_failed(p->c, r);
        r = NULL;
    }

    PQclear(r);

exit:

    if (p->c->conn != NULL && PQexitPipelineMode(p->c->conn) != 1) {
        pdf_report_pg_set_error("%s", PQerrorMessage(p->c->conn));
        pdf_report_pg_drop(p->c);
        rc = rc ? rc : PDF_REPORT_STORE_UNAVAILABLE;
    }

    if (p->c->conn == NULL && rc == 0) {
        rc = PDF_REPORT_STORE_UNAVAILABLE;
    }

    return rc;
}


void
pdf_report_pg_pipe_free(pdf_report_pg_pipe_t *p)
{
    size_t  i;

    if (p->res == NULL) {
        return;
    }

    for (i = 0; i < p->n; i++) {
        PQclear(p->res[i]);
    }

    free(p->res);
    p->res = NULL;
}


int64_t
pdf_report_pg_int(PGresult *r, int i, int col)
{
    if (PQgetisnull(r, i, col)) {
        return 0;
    }

    return (int64_t) strtoll(PQgetvalue(r, i, col), NULL, 10);
}


static void
pdf_report_pg_str(PGresult *r, int i, int col, char *dst, size_t size)
{
    snprintf(dst, size, "%s", PQgetvalue(r, i, col));
}


void
pdf_report_pg_job_of(PGresult *r, int i, int col, pdf_report_job_t *job)
{
    size_t       k;
    const char  *hex;

    memset(job, 0, sizeof(pdf_report_job_t));

    pdf_report_pg_str(r, i, col, job->id, sizeof(job->id));
    pdf_report_pg_str(r, i, col + 1, job->org, sizeof(job->org));
    pdf_report_pg_str(r, i, col + 2, job->user, sizeof(job->user));
    job->status = (uint32_t) pdf_report_pg_int(r, i, col + 3);
    job->flags = (uint32_t) pdf_report_pg_int(r, i, col + 4);
    job->attempts = (uint32_t) pdf_report_pg_int(r, i, col + 5);
    job->created_ms = pdf_report_pg_int(r, i, col + 6);
    job->updated_ms = pdf_report_pg_int(r, i, col + 7);
    job->completed_ms = pdf_report_pg_int(r, i, col + 8);
    job->generated_ms = pdf_report_pg_int(r, i, col + 9);
    job->claimed_ms = pdf_report_pg_int(r, i, col + 10);
    job->lease_until_ms = pdf_report_pg_int(r, i, col + 11);
    job->lease_token = (uint64_t) pdf_report_pg_int(r, i, col + 12);
    job->size_bytes = (uint64_t) pdf_report_pg_int(r, i, col + 13);
    job->duration_ms = (uint32_t) pdf_report_pg_int(r, i, col + 14);

    hex = PQgetvalue(r, i, col + 15);

    if (strlen(hex) == 2 * PDF_REPORT_SHA256_LEN) {
        for (k = 0; k < PDF_REPORT_SHA256_LEN; k++) {
            (void) sscanf(hex + 2 * k, "%2hhx", &job->sha256[k]);
        }
    }

    pdf_report_pg_str(r, i, col + 16, job->template_version,
                      sizeof(job->template_version));
    pdf_report_pg_str(r, i, col + 17, job->error_code,
                      sizeof(job->error_code));
    pdf_report_pg_str(r, i, col + 18, job->error_message,
                      sizeof(job->error_message));
}


int64_t
pdf_report_pg_lock_key(const char *kind, const char *name, size_t len)
{
    int            i;
    uint64_t       key;
    unsigned int   n;
    EVP_MD_CTX    *ctx;
    unsigned char  md[EVP_MAX_MD_SIZE];

    memset(md, 0, sizeof(md));

    ctx = EVP_MD_CTX_new();

    if (ctx == NULL
        || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(ctx, "pdf_report\0", 11) != 1
        || EVP_DigestUpdate(ctx, kind, strlen(kind) + 1) != 1
        || EVP_DigestUpdate(ctx, name, len) != 1
        || EVP_DigestFinal_ex(ctx, md, &n) != 1)
    {
        /* one key for all: slower, never wrong */
        memset(md, 0, sizeof(md));
    }

    EVP_MD_CTX_free(ctx);

    key = 0;

    for (i = 0; i < 8; i++) {
        key = (key << 8) | md[i];
    }

    return (int64_t) key;
}


/* ---- schema ---- */

int
pdf_report_pg_schema(pdf_report_pg_t *pg, unsigned *found, char *err,
    size_t errlen)
{
    int                    rc;
    pdf_report_pg_conn_t  *c;

    *found = 0;
    err[0] = '\0';

    rc = pdf_report_pg_acquire(pg, 0, &c);

    if (rc != 0) {
        snprintf(err, errlen, "%s", pdf_report_pg_error());
        return rc;
    }

    rc = pdf_report_pg_schema_txn(c, found, err, errlen);

    pdf_report_pg_release(pg, c);

    return rc;
}


static int
pdf_report_pg_schema_txn(pdf_report_pg_conn_t *c, unsigned *found,
    char *err, size_t errlen)
{
    int          rc;
    char         key[32];
    unsigned     v;
    PGresult    *r;
    const char  *vals[1];

    snprintf(key, sizeof(key), "%lld",
             (long long) pdf_report_pg_lock_key("schema", "", 0));
    vals[0] = key;

    rc = pdf_report_pg_simple(c, "BEGIN ISOLATION LEVEL READ COMMITTED", 0,
                              NULL, NULL);

    /* edges that start together: one creates, the others wait and see */
    if (rc == 0) {
        rc = pdf_report_pg_simple(c, "SET LOCAL lock_timeout = 0", 0, NULL,
                                  NULL);
    }

    if (rc == 0) {
        rc = pdf_report_pg_simple(c,
                                  "SELECT pg_advisory_xact_lock($1::bigint)",
                                  1, vals, NULL);
    }

    if (rc == 0) {
        rc = pdf_report_pg_simple(c,
                 "SELECT pg_encoding_to_char(encoding),"
                 " current_setting('server_version_num')::int,"
                 " to_regclass('pdf_report_schema') IS NOT NULL"
                 " FROM pg_database WHERE datname = current_database()",
                 0, NULL, &r);
    }

    if (rc != 0) {
        snprintf(err, errlen, "%s", pdf_report_pg_error());
        return rc;
    }

    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "UTF8") != 0) {
        snprintf(err, errlen, "the database's encoding is %s, not UTF8: "
                 "create it with ENCODING 'UTF8'",
                 PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "unknown");
        PQclear(r);
        return PDF_REPORT_PG_ERROR;
    }

    if (pdf_report_pg_int(r, 0, 1) < 130000) {
        snprintf(err, errlen, "PostgreSQL %s is older than 13",
                 PQgetvalue(r, 0, 1));
        PQclear(r);
        return PDF_REPORT_PG_ERROR;
    }

    v = 0;

    if (strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
        PQclear(r);

        rc = pdf_report_pg_simple(c, "SELECT version FROM pdf_report_schema",
                                  0, NULL, &r);
        if (rc != 0) {
            snprintf(err, errlen, "%s", pdf_report_pg_error());
            return rc;
        }

        v = (PQntuples(r) == 1) ? (unsigned) pdf_report_pg_int(r, 0, 0) : 0;

        if (v == 0) {
            PQclear(r);
            snprintf(err, errlen, "pdf_report_schema holds no version: "
                     "not this module's tables");
            return PDF_REPORT_PG_ERROR;
        }
    }

    PQclear(r);

    *found = v;

    if (v > PDF_REPORT_PG_SCHEMA_VERSION) {
        snprintf(err, errlen, "the database's pdf_report tables are of "
                 "version %u, newer than this module's %d: upgrade the "
                 "module, or give it another database", v,
                 PDF_REPORT_PG_SCHEMA_VERSION);
        return PDF_REPORT_PG_SCHEMA_NEWER;
    }

    if (v == PDF_REPORT_PG_SCHEMA_VERSION) {
        rc = pdf_report_pg_simple(c, "COMMIT", 0, NULL, NULL);
        goto done;
    }

    if (v == 0) {
        rc = pdf_report_pg_simple(c, pdf_report_pg_schema_v1, 0, NULL, NULL);
        v = 1;
    }

    for ( /* void */ ; rc == 0 && v < PDF_REPORT_PG_SCHEMA_VERSION; v++) {
        rc = pdf_report_pg_simple(c, pdf_report_pg_migrations[v - 1], 0,
                                  NULL, NULL);
    }

    snprintf(key, sizeof(key), "%d", PDF_REPORT_PG_SCHEMA_VERSION);

    if (rc == 0) {
        rc = pdf_report_pg_simple(c,
                 "INSERT INTO pdf_report_schema (version) VALUES ($1::int)"
                 " ON CONFLICT (one) DO UPDATE SET version = $1::int",
                 1, vals, NULL);
    }

    if (rc == 0) {
        rc = pdf_report_pg_simple(c, "COMMIT", 0, NULL, NULL);
    }

done:

    if (rc != 0) {
        snprintf(err, errlen, "%s", pdf_report_pg_error());
    }

    return rc;
}


/*
 * A statement of its own text (schema, directory loads): with
 * parameters when n > 0, several statements in one when none.  res: the
 * result of a query, when wanted.
 */

static int
pdf_report_pg_simple(pdf_report_pg_conn_t *c, const char *sql, int n,
    const char *const *values, PGresult **res)
{
    PGresult        *r;
    ExecStatusType   st;

    if (res != NULL) {
        *res = NULL;
    }

    r = (n > 0) ? PQexecParams(c->conn, sql, n, NULL, values, NULL, NULL, 0)
                : PQexec(c->conn, sql);

    st = PQresultStatus(r);

    if (r == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
        return pdf_report_pg_failed(c, r);
    }

    if (res != NULL) {
        *res = r;

    } else {
        PQclear(r);
    }

    return 0;
}


int
pdf_report_pg_query(pdf_report_pg_conn_t *c, const char *sql, int n,
    const char *const *values, PGresult **res)
{
    return pdf_report_pg_simple(c, sql, n, values, res);
}


/* libpq's message without what it quotes: the URI's own text */

static void
pdf_report_pg_unquote(char *dst, size_t size, const char *src)
{
    size_t  n;
    int     in;

    in = 0;
    n = 0;

    for ( /* void */ ; *src != '\0' && n + 1 < size; src++) {
        if (*src == '"') {
            in = !in;

            if (in && n + 4 < size) {
                memcpy(dst + n, "\"...", 4);
                n += 4;

            } else if (!in) {
                dst[n++] = '"';
            }

            continue;
        }

        if (!in && *src != '\n') {
            dst[n++] = *src;
        }
    }

    dst[n] = '\0';
}
