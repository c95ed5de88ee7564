import java.io.File;
import java.io.FileInputStream;
import java.io.FileReader;
import java.math.BigInteger;
import java.nio.file.Files;
import java.security.PrivateKey;
import java.security.Security;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.SignerInfoGenerator;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.DigestCalculator;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.tsp.TSPAlgorithms;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampRequestGenerator;
import org.bouncycastle.tsp.TimeStampResponse;
import org.bouncycastle.tsp.TimeStampResponseGenerator;
import org.bouncycastle.tsp.TimeStampTokenGenerator;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStamp;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStampGenerator;
import org.bouncycastle.tsp.ers.ERSData;
import org.bouncycastle.tsp.ers.ERSDataGroup;
import org.bouncycastle.tsp.ers.ERSEvidenceRecord;
import org.bouncycastle.tsp.ers.ERSEvidenceRecordGenerator;
import org.bouncycastle.tsp.ers.ERSFileData;

/**
 * Bouncy Castle's RFC 4998 implementation (org.bouncycastle.tsp.ers), driven by SigVault's tests.
 *
 *   validate RECORD FILE...                       the files (one data group) are covered, every
 *                                                 archive time-stamp's token verifies
 *   make OUT TSA_CERT TSA_KEY FILE...             a record over the files as one data group, time-stamped
 *                                                 by BC with the given TSA certificate (PEM, its chain
 *                                                 after it) and key
 *   renew-timestamp IN OUT TSA_CERT TSA_KEY       time-stamp renewal
 *   renew-hash IN OUT TSA_CERT TSA_KEY FILE...    hash-tree renewal with SHA-512 over the files
 *
 * Prints one line, "OK" or the failure, and exits 0 or 1.
 */
public final class ErsInterop {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        try {
            switch (args[0]) {
                case "validate": validate(args); break;
                case "make": make(args); break;
                case "renew-timestamp": renewTimeStamp(args); break;
                case "renew-hash": renewHash(args); break;
                default: throw new IllegalArgumentException("unknown mode " + args[0]);
            }
            System.out.println("OK");
        } catch (Exception error) {
            System.out.println("FAILED: " + error);
            System.exit(1);
        }
    }

    static DigestCalculatorProvider digests() throws Exception {
        return new JcaDigestCalculatorProviderBuilder().setProvider("BC").build();
    }

    static ERSData group(String[] args, int from) throws Exception {
        List<ERSData> files = new ArrayList<>();
        for (int index = from; index < args.length; index++) files.add(new ERSFileData(new File(args[index])));
        return files.size() == 1 ? files.get(0) : new ERSDataGroup(files);
    }

    static ERSEvidenceRecord read(String path) throws Exception {
        try (FileInputStream input = new FileInputStream(path)) {
            return new ERSEvidenceRecord(input, digests());
        }
    }

    static void validate(String[] args) throws Exception {
        ERSEvidenceRecord record = read(args[1]);
        record.validatePresent(group(args, 2), new Date());
        X509CertificateHolder signer = record.getSigningCertificate();
        record.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signer));
    }

    /** A TSA in-process: the fixture TSA's certificate and key sign the answer. */
    static TimeStampResponse answer(TimeStampRequest request, String certPath, String keyPath) throws Exception {
        // The PEM file holds the TSA certificate, then its chain (put in the token too).
        List<X509CertificateHolder> chain = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new FileReader(certPath))) {
            for (Object item = parser.readObject(); item != null; item = parser.readObject()) chain.add((X509CertificateHolder) item);
        }
        X509CertificateHolder certificate = chain.get(0);
        PrivateKey key;
        try (PEMParser parser = new PEMParser(new FileReader(keyPath))) {
            Object parsed = parser.readObject();
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter().setProvider("BC");
            key = parsed instanceof PEMKeyPair ? converter.getKeyPair((PEMKeyPair) parsed).getPrivate()
                                              : converter.getPrivateKey((PrivateKeyInfo) parsed);
        }
        SignerInfoGenerator signer = new JcaSimpleSignerInfoGeneratorBuilder().setProvider("BC").build("SHA256withRSA", key, certificate);
        DigestCalculator sha1 = digests().get(new AlgorithmIdentifier(new ASN1ObjectIdentifier("1.3.14.3.2.26")));
        TimeStampTokenGenerator generator = new TimeStampTokenGenerator(signer, sha1, new ASN1ObjectIdentifier("1.2.3.4.1"));
        generator.addCertificates(new org.bouncycastle.util.CollectionStore<>(chain));
        TimeStampResponseGenerator responses = new TimeStampResponseGenerator(generator, TSPAlgorithms.ALLOWED);
        return responses.generate(request, BigInteger.valueOf(System.nanoTime()), new Date());
    }

    static void make(String[] args) throws Exception {
        DigestCalculator sha256 = digests().get(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256));
        ERSArchiveTimeStampGenerator generator = new ERSArchiveTimeStampGenerator(sha256);
        generator.addData(group(args, 4));
        TimeStampRequestGenerator requests = new TimeStampRequestGenerator();
        requests.setCertReq(true);
        TimeStampRequest request = generator.generateTimeStampRequest(requests);
        ERSArchiveTimeStamp stamp = generator.generateArchiveTimeStamp(answer(request, args[2], args[3]));
        ERSEvidenceRecord record = new ERSEvidenceRecordGenerator(digests()).generate(stamp);
        Files.write(new File(args[1]).toPath(), record.getEncoded());
    }

    static void renewTimeStamp(String[] args) throws Exception {
        ERSEvidenceRecord record = read(args[1]);
        TimeStampRequestGenerator requests = new TimeStampRequestGenerator();
        requests.setCertReq(true);
        TimeStampRequest request = record.generateTimeStampRenewalRequest(requests);
        ERSEvidenceRecord renewed = record.renewTimeStamp(answer(request, args[3], args[4]));
        Files.write(new File(args[2]).toPath(), renewed.getEncoded());
    }

    static void renewHash(String[] args) throws Exception {
        ERSEvidenceRecord record = read(args[1]);
        DigestCalculator sha512 = digests().get(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha512));
        TimeStampRequestGenerator requests = new TimeStampRequestGenerator();
        requests.setCertReq(true);
        ERSData data = group(args, 5);
        TimeStampRequest request = record.generateHashRenewalRequest(sha512, data, requests);
        ERSEvidenceRecord renewed = record.renewHash(sha512, data, answer(request, args[3], args[4]));
        Files.write(new File(args[2]).toPath(), renewed.getEncoded());
    }
}
