
/*
 * A minimal TAP producer for the C unit tests; t/00-unit.t runs every
 * build/unit/test_* binary and folds its lines into one prove result.
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static int  tap_n, tap_failed;


#define ok(cond, ...)                                                      \
    do {                                                                   \
        int  tap_c_ = (cond) ? 1 : 0;                                      \
        tap_n++;                                                           \
        if (!tap_c_) {                                                     \
            tap_failed++;                                                  \
        }                                                                  \
        printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);                 \
        printf(__VA_ARGS__);                                               \
        printf("\n");                                                      \
        if (!tap_c_) {                                                     \
            printf("#   at %s line %d\n", __FILE__, __LINE__);             \
        }                                                                  \
    } while (0)

#define is_str(got, want, ...)                                             \
    do {                                                                   \
        const char  *tap_g_ = (got), *tap_w_ = (want);                     \
        int          tap_e_ = (tap_g_ != NULL && tap_w_ != NULL            \
                               && strcmp(tap_g_, tap_w_) == 0);            \
        ok(tap_e_, __VA_ARGS__);                                           \
        if (!tap_e_) {                                                     \
            printf("#          got: '%s'\n#     expected: '%s'\n",         \
                   tap_g_ ? tap_g_ : "(null)",                             \
                   tap_w_ ? tap_w_ : "(null)");                            \
        }                                                                  \
    } while (0)

#define is_int(got, want, ...)                                             \
    do {                                                                   \
        long long  tap_g_ = (long long) (got), tap_w_ = (long long) (want);\
        ok(tap_g_ == tap_w_, __VA_ARGS__);                                 \
        if (tap_g_ != tap_w_) {                                            \
            printf("#          got: %lld\n#     expected: %lld\n",         \
                   tap_g_, tap_w_);                                        \
        }                                                                  \
    } while (0)

#define done_testing()                                                     \
    (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)


#endif /* _TAP_H_INCLUDED_ */
