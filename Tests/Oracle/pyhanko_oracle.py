#!/usr/bin/env python3
"""An independent judge of a certificate chain and its revocation at one moment: pyhanko-certvalidator
(https://github.com/MatthiasValvekens/certvalidator), offline, revocation in hard-fail mode.

Reads one JSON object per line on stdin:
  {"name": ..., "leaf": PATH, "certs": [PATH...], "anchors": [PATH...], "crls": [PATH...],
   "ocsp": [PATH...], "moment": "YYYY-MM-DDTHH:MM:SSZ", "maxRevocationAge": SECONDS or null}
(PEM or DER files; PEM bundles allowed) and writes one JSON object per line on stdout:
  {"name": ..., "decision": "valid" | "revoked" | "no-fresh-revinfo" | "no-path" | "expired" | "invalid",
   "detail": TEXT}
The freshness rule is ETSI EN 319 102-1 5.2.5 as SigVault applies it: data issued after the moment
counts (retroactive_revinfo), otherwise data within its thisUpdate..nextUpdate window
(FreshnessReqType.DEFAULT) or, with maxRevocationAge, issued at most that long before the moment
(MAX_DIFF_REVOCATION_VALIDATION).
"""
import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone

from asn1crypto import crl as asn1_crl, ocsp as asn1_ocsp, pem, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors
from pyhanko_certvalidator.policy_decl import (CertRevTrustPolicy, FreshnessReqType, RevocationCheckingPolicy,
                                               RevocationCheckingRule)


def blobs(path):
    data = open(path, "rb").read()
    if pem.detect(data):
        return [der for _, _, der in pem.unarmor(data, multiple=True)]
    return [data]


def loadable(kind, der):
    """Whether `der` parses as `kind` (folders mix CRLs and OCSP responses; SigVault skips what does
    not parse, and so does the oracle)."""
    try:
        kind.load(der).native
        return True
    except Exception:
        return False


def certificates(paths):
    return [x509.Certificate.load(der) for path in paths for der in blobs(path) if loadable(x509.Certificate, der)]


def context(request, check_revocation):
    moment = datetime.strptime(request["moment"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    age = request.get("maxRevocationAge")
    rule = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED if check_revocation else RevocationCheckingRule.NO_CHECK
    policy = CertRevTrustPolicy(
        RevocationCheckingPolicy(ee_certificate_rule=rule, intermediate_ca_cert_rule=rule),
        freshness=timedelta(seconds=age) if age else None,
        freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION if age else FreshnessReqType.DEFAULT,
        retroactive_revinfo=True,
    )
    return ValidationContext(
        trust_roots=certificates(request["anchors"]), other_certs=certificates(request["certs"]), moment=moment,
        allow_fetching=False,
        crls=[der for path in request["crls"] for der in blobs(path) if loadable(asn1_crl.CertificateList, der)],
        ocsps=[der for path in request["ocsp"] for der in blobs(path) if loadable(asn1_ocsp.OCSPResponse, der)],
        revinfo_policy=policy,
        time_tolerance=timedelta(seconds=0))


def validate(request, check_revocation):
    leaf = certificates([request["leaf"]])[0]
    validator = CertificateValidator(leaf, intermediate_certs=certificates(request["certs"]),
                                     validation_context=context(request, check_revocation))
    try:
        asyncio.run(validator.async_validate_usage(set()))
        return "valid", "ok"
    except errors.RevokedError as error:
        return "revoked", str(error)
    except errors.InsufficientRevinfoError as error:
        return "no-fresh-revinfo", str(error)
    except (errors.ExpiredError, errors.NotYetValidError) as error:
        return "expired", str(error)
    except errors.PathBuildingError as error:
        return "no-path", str(error)
    except errors.PathValidationError as error:
        return "invalid", str(error)


def judge(request):
    """Path and validity periods first, then revocation: the order in which SigVault (and ETSI EN
    319 102-1 5.2.6, X.509 certificate validation) reports the first failure."""
    decision = validate(request, check_revocation=False)
    if decision[0] != "valid":
        return decision
    return validate(request, check_revocation=True)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            decision, detail = judge(request)
        except Exception as error:  # the oracle could not run: say so, the test fails on it
            decision, detail = "error", f"{type(error).__name__}: {error}"
        print(json.dumps({"name": request.get("name"), "decision": decision, "detail": detail}), flush=True)


if __name__ == "__main__":
    main()
