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
#include <openssl/ess.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
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
/* RFC 4514 form with UTF-8 kept as UTF-8 (as `openssl x509 -nameopt RFC2253,-esc_msb`). */
static inline unsigned long sv_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB; }
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

/* The issuingDistributionPoint extension of a CRL (RFC 5280 §5.2.5): 0 when absent, -1 when it does
   not decode, else 1 with the fields filled in. *uris: the URIs of its full name, one per line
   (OPENSSL_malloc'd, free with sv_openssl_free; NULL when none; URIs with NUL or line breaks left
   out); *has_name: whether it names a distribution point at all (full or relative name). */
static inline int sv_crl_idp(X509_CRL *crl, int *has_name, char **uris, int *only_user, int *only_ca, int *only_attr,
                             int *indirect, int *some_reasons) {
    int critical = 0;
    *has_name = 0; *uris = NULL; *only_user = 0; *only_ca = 0; *only_attr = 0; *indirect = 0; *some_reasons = 0;
    ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &critical, NULL);
    if (idp == NULL) { ERR_clear_error(); return critical == -1 ? 0 : -1; }
    *only_user = idp->onlyuser > 0;
    *only_ca = idp->onlyCA > 0;
    *only_attr = idp->onlyattr > 0;
    *indirect = idp->indirectCRL > 0;
    *some_reasons = idp->onlysomereasons != NULL;
    if (idp->distpoint != NULL) {
        *has_name = 1;
        if (idp->distpoint->type == 0) {
            BIO *out = BIO_new(BIO_s_mem());
            GENERAL_NAMES *names = idp->distpoint->name.fullname;
            for (int j = 0; out != NULL && j < sk_GENERAL_NAME_num(names); j++) {
                GENERAL_NAME *name = sk_GENERAL_NAME_value(names, j);
                if (name->type != GEN_URI) continue;
                const unsigned char *bytes = ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
                int length = ASN1_STRING_length(name->d.uniformResourceIdentifier);
                if (length <= 0 || memchr(bytes, 0, (size_t)length) || memchr(bytes, '\n', (size_t)length)
                    || memchr(bytes, '\r', (size_t)length)) continue;
                BIO_write(out, bytes, length);
                BIO_puts(out, "\n");
            }
            if (out != NULL) {
                char *data = NULL;
                long length = BIO_get_mem_data(out, &data);
                if (length > 0 && (*uris = OPENSSL_malloc((size_t)length + 1)) != NULL) {
                    memcpy(*uris, data, (size_t)length);
                    (*uris)[length] = 0;
                }
                BIO_free(out);
            }
        }
    }
    ISSUING_DIST_POINT_free(idp);
    ERR_clear_error();
    return 1;
}

/* Whether a CRL carries the deltaCRLIndicator extension (RFC 5280 §5.2.4). */
static inline int sv_crl_is_delta(X509_CRL *crl) { return X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0; }
#endif
