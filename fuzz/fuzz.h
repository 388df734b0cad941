
/*
 * What the libFuzzer targets under fuzz/ share: where t/data is, reading
 * a fixture, the policy clock of the JWT fixtures, and an invariant check
 * that crashes (so that libFuzzer keeps the input) when a property of a
 * result does not hold.
 *
 * t/data is $TEST_DATA_DIR when set, else the directory compiled in as
 * FUZZ_DATA_DIR (mk/fuzz.mk passes the checkout's t/data).
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#ifndef FUZZ_DATA_DIR
#define FUZZ_DATA_DIR  "t/data"
#endif

/* the clock of every fixture token (t/data/make-tokens.pl, test_jwt.c) */
#define FUZZ_NOW       1750000000
#define FUZZ_LEEWAY    30
#define FUZZ_ISSUER    "https://auth.sqr.test/"
#define FUZZ_AUDIENCE  "pdf-report"


/* a property every result must have: report it and crash */
#define fuzz_assert(cond, what)                                              \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz invariant failed at %s:%d: %s (%s)\n",    \
                    __FILE__, __LINE__, what, #cond);                        \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);


/* the whole of t/data/rel, NUL-terminated, or exit: a harness needs it */

static inline char *
fuzz_slurp(const char *rel, size_t *len)
{
    char        *buf, path[4096];
    long         size;
    FILE        *f;
    const char  *dir;

    dir = getenv("TEST_DATA_DIR");

    if (dir == NULL || dir[0] == '\0') {
        dir = FUZZ_DATA_DIR;
    }

    snprintf(path, sizeof(path), "%s/%s", dir, rel);

    f = fopen(path, "rb");

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "fuzz: cannot read %s (set TEST_DATA_DIR)\n", path);
        exit(1);
    }

    buf = malloc((size_t) size + 1);

    if (buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        exit(1);
    }

    fclose(f);

    buf[size] = '\0';

    if (len != NULL) {
        *len = (size_t) size;
    }

    return buf;
}


/*
 * The input in a buffer of exactly its size (libFuzzer's own may be
 * larger than size in some modes): ASan then sees the first byte read
 * past the end.
 */

static inline char *
fuzz_dup(const uint8_t *data, size_t size)
{
    char  *buf;

    buf = malloc(size ? size : 1);

    if (buf == NULL) {
        abort();
    }

    if (size) {
        memcpy(buf, data, size);
    }

    return buf;
}


/* 1 when s[0..len) holds only printable ASCII */

static inline int
fuzz_printable(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


#endif /* _FUZZ_H_INCLUDED_ */
