
/*
 * Idempotency-Key in the LMDB store (see pdf_report_store.h): the key's
 * syntax, its record, the steps a group commit runs for a keyed
 * operation, and the deletion of expired records.  No nginx API.
 *
 * Record (the value of "idem"): sha256 (32), expires_ms (8, BE),
 * created_ms (8, BE), status (4, BE), job id (36, or 36 NULs), then user,
 * code and message, each a length byte and its bytes.  "idemexp" holds
 * exactly one entry per record, under the record's expiry.
 */


#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "pdf_report_store.h"
#include "pdf_report_store_int.h"


#define PDF_REPORT_IDEM_KEY_LEN  (PDF_REPORT_ORG_MAX + 1                    \
                                  + PDF_REPORT_IDEM_KEY_MAX)
#define PDF_REPORT_IDEM_REC_MAX  (PDF_REPORT_SHA256_LEN + 20               \
                                  + PDF_REPORT_UUID_LEN + 3                 \
                                  + PDF_REPORT_USER_ID_MAX                  \
                                  + PDF_REPORT_ERR_CODE_MAX                 \
                                  + PDF_REPORT_IDEM_MSG_MAX)


static size_t pdf_report_idem_key(const char *org, const char *key,
    unsigned char *buf);
static size_t pdf_report_idem_encode(const pdf_report_idem_t *rec,
    unsigned char *buf);
static int pdf_report_idem_decode(const MDB_val *v, pdf_report_idem_t *rec);
static unsigned char *pdf_report_idem_put_str(unsigned char *p,
    const char *s, size_t max);
static const unsigned char *pdf_report_idem_get_str(const unsigned char *p,
    const unsigned char *end, char *s, size_t size);
static void pdf_report_idem_put64(unsigned char *p, uint64_t v);
static uint64_t pdf_report_idem_get64(const unsigned char *p);


int
pdf_report_idem_key_parse(const char *value, size_t len, char *key)
{
    size_t       n;
    const char  *p, *end;

    end = value + len;

    /* an sf-string item: optional spaces around it, nothing else */
    while (value < end && *value == ' ') {
        value++;
    }

    while (end > value && end[-1] == ' ') {
        end--;
    }

    if (end - value < 2 || *value != '"' || end[-1] != '"') {
        return -1;
    }

    n = 0;

    for (p = value + 1; p < end - 1; p++) {
        if (*p == '\\') {
            if (++p == end - 1 || (*p != '"' && *p != '\\')) {
                return -1;
            }

        } else if (*p == '"' || *p < 0x20 || *p > 0x7e) {
            return -1;
        }

        if (n == PDF_REPORT_IDEM_KEY_MAX) {
            return -1;
        }

        key[n++] = *p;
    }

    key[n] = '\0';

    return (n == 0) ? -1 : 0;
}


int
pdf_report_store_idem_get(pdf_report_store_t *store, const char *org,
    const char *key, int64_t now_ms, pdf_report_idem_t *rec)
{
    int            rc;
    MDB_txn       *txn;
    MDB_val        k, v;
    unsigned char  kb[PDF_REPORT_IDEM_KEY_LEN];

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    k.mv_data = kb;
    k.mv_size = pdf_report_idem_key(org, key, kb);

    rc = mdb_get(txn, store->idem, &k, &v);

    if (rc == 0) {
        rc = pdf_report_idem_decode(&v, rec);

        if (rc == 0 && rec->expires_ms <= now_ms) {
            rc = PDF_REPORT_STORE_NOT_FOUND;
        }

    } else if (rc == MDB_NOTFOUND) {
        rc = PDF_REPORT_STORE_NOT_FOUND;
    }

    mdb_txn_abort(txn);

    return rc;
}


/* in a batch: the key answered already (REPLAY, REUSED), or 0 */

int
pdf_report_idem_check_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, pdf_report_idem_op_t *idem, int64_t now_ms)
{
    int            rc;
    MDB_val        k, v;
    unsigned char  kb[PDF_REPORT_IDEM_KEY_LEN];

    idem->expired = 0;

    k.mv_data = kb;
    k.mv_size = pdf_report_idem_key(org, idem->key, kb);

    rc = mdb_get(txn, store->idem, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc == 0) {
        rc = pdf_report_idem_decode(&v, &idem->found);
    }

    if (rc != 0) {
        return rc;
    }

    /* an expired record is replaced by this request's answer */
    if (idem->found.expires_ms <= now_ms) {
        idem->expired = 1;
        return 0;
    }

    return (memcmp(idem->found.sha256, idem->sha256, PDF_REPORT_SHA256_LEN)
            == 0)
           ? PDF_REPORT_STORE_IDEM_REPLAY : PDF_REPORT_STORE_IDEM_REUSED;
}


/*
 * In a batch, after pdf_report_idem_check_txn() of the same operation:
 * the answer of idem->rec under the key, in place of an expired one
 */

int
pdf_report_idem_put_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, pdf_report_idem_op_t *idem, int64_t now_ms)
{
    int                 rc;
    size_t              klen;
    MDB_val             k, v;
    unsigned char       kb[PDF_REPORT_IDEM_KEY_LEN];
    unsigned char       xb[8 + PDF_REPORT_IDEM_KEY_LEN];
    unsigned char       rb[PDF_REPORT_IDEM_REC_MAX];

    klen = pdf_report_idem_key(org, idem->key, kb);

    /* the expired record's expiry entry goes with it */
    if (idem->expired) {
        pdf_report_idem_put64(xb, (uint64_t) idem->found.expires_ms);
        memcpy(xb + 8, kb, klen);

        k.mv_data = xb;
        k.mv_size = 8 + klen;

        rc = mdb_del(txn, store->idemexp, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }

        idem->expired = 0;
    }

    memcpy(idem->rec.sha256, idem->sha256, PDF_REPORT_SHA256_LEN);
    idem->rec.expires_ms = now_ms + idem->ttl_ms;

    k.mv_data = kb;
    k.mv_size = klen;
    v.mv_data = rb;
    v.mv_size = pdf_report_idem_encode(&idem->rec, rb);

    rc = mdb_put(txn, store->idem, &k, &v, 0);
    if (rc != 0) {
        return rc;
    }

    pdf_report_idem_put64(xb, (uint64_t) idem->rec.expires_ms);
    memcpy(xb + 8, kb, klen);

    k.mv_data = xb;
    k.mv_size = 8 + klen;
    v.mv_data = "";
    v.mv_size = 0;

    return mdb_put(txn, store->idemexp, &k, &v, 0);
}


int
pdf_report_store_idem_expire(pdf_report_store_t *store, int64_t now_ms,
    size_t max, size_t *n)
{
    int          rc;
    MDB_txn     *txn;
    MDB_val      k, v, rk;
    MDB_cursor  *cur;

    *n = 0;

    /* a read first: most passes find nothing, and take no writer lock */
    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, store->idemexp, &cur);

    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        mdb_cursor_close(cur);
    }

    if (rc == 0 && (k.mv_size < 8
                    || (int64_t) pdf_report_idem_get64(k.mv_data) > now_ms))
    {
        rc = MDB_NOTFOUND;
    }

    mdb_txn_abort(txn);

    if (rc != 0) {
        return (rc == MDB_NOTFOUND) ? 0 : rc;
    }

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, store->idemexp, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    while (*n < max) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc != 0) {
            break;
        }

        if (k.mv_size < 8
            || (int64_t) pdf_report_idem_get64(k.mv_data) > now_ms)
        {
            break;
        }

        rk.mv_data = (unsigned char *) k.mv_data + 8;
        rk.mv_size = k.mv_size - 8;

        rc = mdb_del(txn, store->idem, &rk, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            break;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }

        (*n)++;
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        *n = 0;
        return rc;
    }

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        *n = 0;
    }

    return rc;
}


int
pdf_report_store_idem_count(pdf_report_store_t *store, size_t *n)
{
    int       rc;
    MDB_txn  *txn;
    MDB_stat  st;

    *n = 0;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_stat(txn, store->idem, &st);
    if (rc == 0) {
        *n = st.ms_entries;
    }

    mdb_txn_abort(txn);

    return rc;
}


static size_t
pdf_report_idem_key(const char *org, const char *key, unsigned char *buf)
{
    size_t  olen, klen;

    olen = strnlen(org, PDF_REPORT_ORG_MAX);
    klen = strnlen(key, PDF_REPORT_IDEM_KEY_MAX);

    memcpy(buf, org, olen);
    buf[olen] = '\0';
    memcpy(buf + olen + 1, key, klen);

    return olen + 1 + klen;
}


static size_t
pdf_report_idem_encode(const pdf_report_idem_t *rec, unsigned char *buf)
{
    unsigned char  *p;

    p = buf;

    memcpy(p, rec->sha256, PDF_REPORT_SHA256_LEN);
    p += PDF_REPORT_SHA256_LEN;
    pdf_report_idem_put64(p, (uint64_t) rec->expires_ms);
    p += 8;
    pdf_report_idem_put64(p, (uint64_t) rec->created_ms);
    p += 8;

    p[0] = (unsigned char) (rec->status >> 24);
    p[1] = (unsigned char) (rec->status >> 16);
    p[2] = (unsigned char) (rec->status >> 8);
    p[3] = (unsigned char) rec->status;
    p += 4;

    if (rec->job_id[0] != '\0') {
        memcpy(p, rec->job_id, PDF_REPORT_UUID_LEN);

    } else {
        memset(p, 0, PDF_REPORT_UUID_LEN);
    }

    p += PDF_REPORT_UUID_LEN;

    p = pdf_report_idem_put_str(p, rec->user, PDF_REPORT_USER_ID_MAX);
    p = pdf_report_idem_put_str(p, rec->code, PDF_REPORT_ERR_CODE_MAX);
    p = pdf_report_idem_put_str(p, rec->message, PDF_REPORT_IDEM_MSG_MAX);

    return p - buf;
}


static int
pdf_report_idem_decode(const MDB_val *v, pdf_report_idem_t *rec)
{
    const unsigned char  *p, *end;

    memset(rec, 0, sizeof(pdf_report_idem_t));

    p = v->mv_data;
    end = p + v->mv_size;

    if (v->mv_size < PDF_REPORT_SHA256_LEN + 20 + PDF_REPORT_UUID_LEN + 3) {
        return MDB_CORRUPTED;
    }

    memcpy(rec->sha256, p, PDF_REPORT_SHA256_LEN);
    p += PDF_REPORT_SHA256_LEN;
    rec->expires_ms = (int64_t) pdf_report_idem_get64(p);
    p += 8;
    rec->created_ms = (int64_t) pdf_report_idem_get64(p);
    p += 8;
    rec->status = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
                  | ((uint32_t) p[2] << 8) | p[3];
    p += 4;

    if (p[0] != '\0') {
        memcpy(rec->job_id, p, PDF_REPORT_UUID_LEN);
    }

    p += PDF_REPORT_UUID_LEN;

    p = pdf_report_idem_get_str(p, end, rec->user, sizeof(rec->user));
    p = pdf_report_idem_get_str(p, end, rec->code, sizeof(rec->code));
    p = pdf_report_idem_get_str(p, end, rec->message, sizeof(rec->message));

    return (p == NULL) ? MDB_CORRUPTED : 0;
}


static unsigned char *
pdf_report_idem_put_str(unsigned char *p, const char *s, size_t max)
{
    size_t  len;

    len = strnlen(s, max);

    *p++ = (unsigned char) len;
    memcpy(p, s, len);

    return p + len;
}


static const unsigned char *
pdf_report_idem_get_str(const unsigned char *p, const unsigned char *end,
    char *s, size_t size)
{
    size_t  len;

    if (p == NULL || p >= end) {
        return NULL;
    }

    len = *p++;

    if (len >= size || (size_t) (end - p) < len) {
        return NULL;
    }

    memcpy(s, p, len);
    s[len] = '\0';

    return p + len;
}


static void
pdf_report_idem_put64(unsigned char *p, uint64_t v)
{
    int  i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char) v;
        v >>= 8;
    }
}


static uint64_t
pdf_report_idem_get64(const unsigned char *p)
{
    int       i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }

    return v;
}
