#ifndef SIGVAULT_COPENSSL_SHIM_H
#define SIGVAULT_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/cms.h>
#include <openssl/ts.h>
#include <openssl/ocsp.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <string.h>

/* Function-like and cast macros that Swift cannot import. */
static inline STACK_OF(X509) *sv_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int sv_sk_X509_push(STACK_OF(X509) *s, X509 *x) { return sk_X509_push(s, x); }
static inline int sv_sk_X509_num(const STACK_OF(X509) *s) { return sk_X509_num(s); }
static inline X509 *sv_sk_X509_value(const STACK_OF(X509) *s, int i) { return sk_X509_value(s, i); }
static inline void sv_sk_X509_free(STACK_OF(X509) *s) { sk_X509_free(s); }
static inline void sv_sk_X509_pop_free(STACK_OF(X509) *s) { sk_X509_pop_free(s, X509_free); }

static inline int sv_sk_CMS_SignerInfo_num(const STACK_OF(CMS_SignerInfo) *s) { return sk_CMS_SignerInfo_num(s); }
static inline CMS_SignerInfo *sv_sk_CMS_SignerInfo_value(const STACK_OF(CMS_SignerInfo) *s, int i) { return sk_CMS_SignerInfo_value(s, i); }

static inline int sv_sk_X509_CRL_num(const STACK_OF(X509_CRL) *s) { return sk_X509_CRL_num(s); }
static inline X509_CRL *sv_sk_X509_CRL_value(const STACK_OF(X509_CRL) *s, int i) { return sk_X509_CRL_value(s, i); }
static inline void sv_sk_X509_CRL_pop_free(STACK_OF(X509_CRL) *s) { sk_X509_CRL_pop_free(s, X509_CRL_free); }

static inline int sv_sk_ASN1_TYPE_num(const STACK_OF(ASN1_TYPE) *s) { return sk_ASN1_TYPE_num(s); }
static inline ASN1_TYPE *sv_sk_ASN1_TYPE_value(const STACK_OF(ASN1_TYPE) *s, int i) { return sk_ASN1_TYPE_value(s, i); }
static inline void sv_sk_ASN1_TYPE_pop_free(STACK_OF(ASN1_TYPE) *s) { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }

static inline void sv_openssl_free(void *p) { OPENSSL_free(p); }
static inline void *sv_openssl_malloc(size_t n) { return OPENSSL_malloc(n); }
static inline long sv_bio_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline unsigned long sv_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253; }
static inline unsigned long sv_xn_flag_oneline(void) { return XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB; }
static inline int sv_bio_reset(BIO *b) { return (int)BIO_reset(b); }
static inline const ASN1_TIME *sv_x509_crl_last_update(const X509_CRL *c) { return X509_CRL_get0_lastUpdate(c); }
static inline const ASN1_TIME *sv_x509_crl_next_update(const X509_CRL *c) { return X509_CRL_get0_nextUpdate(c); }

/* The URIs of a certificate's authorityInfoAccess OCSP entries (which = 0) or of its
   cRLDistributionPoints full names (which = 1), one per line, in one OPENSSL_malloc'd string
   (free with sv_openssl_free); NULL when there are none. */
static inline char *sv_x509_urls(X509 *x, int which) {
    BIO *out = BIO_new(BIO_s_mem());
    if (out == NULL) return NULL;
    if (which == 0) {
        STACK_OF(OPENSSL_STRING) *list = X509_get1_ocsp(x);
        for (int i = 0; i < sk_OPENSSL_STRING_num(list); i++) {
            const char *uri = sk_OPENSSL_STRING_value(list, i);
            /* A URI with a line break would split into bogus ones: left out. */
            if (strpbrk(uri, "\r\n") != NULL) continue;
            BIO_puts(out, uri);
            BIO_puts(out, "\n");
        }
        X509_email_free(list);
    } else {
        STACK_OF(DIST_POINT) *points = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
        for (int i = 0; i < sk_DIST_POINT_num(points); i++) {
            DIST_POINT *point = sk_DIST_POINT_value(points, i);
            if (point->distpoint == NULL || point->distpoint->type != 0) continue;
            GENERAL_NAMES *names = point->distpoint->name.fullname;
            for (int j = 0; j < sk_GENERAL_NAME_num(names); j++) {
                GENERAL_NAME *name = sk_GENERAL_NAME_value(names, j);
                if (name->type != GEN_URI) continue;
                ASN1_IA5STRING *uri = name->d.uniformResourceIdentifier;
                const unsigned char *bytes = ASN1_STRING_get0_data(uri);
                int length = ASN1_STRING_length(uri);
                /* A URI with a NUL or a line break would hide or split others: left out. */
                if (length <= 0 || memchr(bytes, 0, (size_t)length) || memchr(bytes, '\n', (size_t)length)
                    || memchr(bytes, '\r', (size_t)length)) continue;
                BIO_write(out, bytes, length);
                BIO_puts(out, "\n");
            }
        }
        sk_DIST_POINT_pop_free(points, DIST_POINT_free);
    }
    char *data = NULL;
    long length = BIO_get_mem_data(out, &data);
    char *copy = NULL;
    if (length > 0 && (copy = OPENSSL_malloc((size_t)length + 1)) != NULL) {
        memcpy(copy, data, (size_t)length);
        copy[length] = 0;
    }
    BIO_free(out);
    ERR_clear_error();
    return copy;
}
#endif
