/**
 * Certificates for the test control plane, made with node:crypto alone (no
 * openssl, no npm package). node:crypto makes keys and signatures but not
 * X.509 certificates, so the few DER structures a certificate needs are
 * encoded here by hand (RFC 5280). Keys are ECDSA P-256, which Go's TLS stack,
 * kube-apiserver's client-certificate authenticator and its service-account
 * token signer (ES256) all accept.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import { isIPv4 } from 'node:net';

// ---- minimal DER encoder -------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.from([unusedBits]), bytes);
}

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  let v = b.subarray(i);
  if ((v[0]! & 0x80) !== 0) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const y = d.getUTCFullYear();
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${rest}`)) : tlv(0x18, Buffer.from(`${y}${rest}`));
}

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

function name(subject: Subject): Buffer {
  const rdns: Buffer[] = [];
  for (const o of subject.organizations ?? []) rdns.push(set(seq(oid(OID.organization), utf8(o))));
  rdns.push(set(seq(oid(OID.commonName), utf8(subject.commonName))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** SHA-1 of the subjectPublicKey bits, as RFC 5280 4.2.1.2 method (1) suggests. */
function keyId(spkiDer: Buffer): Buffer {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, BIT STRING }: the key bits
  // are the content of the last element; for P-256 they are the final 65 bytes.
  return createHash('sha1').update(spkiDer.subarray(spkiDer.length - 65)).digest();
}

// ---- public API ------------------------------------------------------------

export interface Subject {
  commonName: string;
  /** O= entries; kube-apiserver maps them to groups (O=system:masters is cluster-admin). */
  organizations?: string[];
}

export interface KeyPair {
  key: KeyObject;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  keyPem: string;
  /** SPKI PEM ("BEGIN PUBLIC KEY"). */
  publicPem: string;
}

export interface Issued extends KeyPair {
  certPem: string;
  subject: Subject;
}

export interface CertOptions {
  subject: Subject;
  /** Signed by this CA; self-signed CA when omitted. */
  issuer?: Issued;
  isCA?: boolean;
  server?: boolean;
  client?: boolean;
  dnsNames?: string[];
  ips?: string[];
  validDays?: number;
}

export function newKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    key: privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function issue(opts: CertOptions): Issued {
  const pair = newKeyPair();
  const spki = createPublicKey(pair.key).export({ type: 'spki', format: 'der' });
  const issuerSubject = opts.issuer?.subject ?? opts.subject;
  const issuerKey = opts.issuer?.key ?? pair.key;
  const issuerSpki = createPublicKey(issuerKey).export({ type: 'spki', format: 'der' });

  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const now = Date.now();
  const notBefore = new Date(now - 60 * 60 * 1000);
  const notAfter = new Date(now + (opts.validDays ?? 3650) * 24 * 60 * 60 * 1000);

  const exts: Buffer[] = [];
  if (opts.isCA) {
    exts.push(extension(OID.basicConstraints, true, seq(bool(true))));
    // digitalSignature(0), keyCertSign(5), cRLSign(6): 1000 0110, last bit unused.
    exts.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x86]), 1)));
    exts.push(extension(OID.subjectKeyIdentifier, false, octets(keyId(spki))));
  } else {
    exts.push(extension(OID.basicConstraints, true, seq()));
    // digitalSignature(0) only: ECDSA keys do no key encipherment.
    exts.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)));
    const eku: Buffer[] = [];
    if (opts.server) eku.push(oid(OID.serverAuth));
    if (opts.client) eku.push(oid(OID.clientAuth));
    if (eku.length) exts.push(extension(OID.extKeyUsage, false, seq(...eku)));
    const san: Buffer[] = [];
    for (const d of opts.dnsNames ?? []) san.push(tlv(0x82, Buffer.from(d, 'ascii')));
    for (const ip of opts.ips ?? []) {
      if (!isIPv4(ip)) throw new Error(`certs: only IPv4 SANs are supported, got ${ip}`);
      san.push(tlv(0x87, Buffer.from(ip.split('.').map(Number))));
    }
    if (san.length) exts.push(extension(OID.subjectAltName, false, seq(...san)));
    exts.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyId(issuerSpki)))));
  }

  const sigAlg = seq(oid(OID.ecdsaWithSHA256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    sigAlg,
    name(issuerSubject),
    seq(time(notBefore), time(notAfter)),
    name(opts.subject),
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, issuerKey); // DER ECDSA-Sig-Value
  const der = seq(tbs, sigAlg, bitString(signature));
  const b64 = der.toString('base64').replace(/.{1,64}/g, (l) => `${l}\n`);
  return { ...pair, subject: opts.subject, certPem: `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n` };
}

/** Re-reads a CA written earlier (PEM cert + PKCS#8 key), to issue more certs from it. */
export function loadIssued(certPem: string, keyPem: string, subject: Subject): Issued {
  const key = createPrivateKey(keyPem);
  return { key, keyPem, publicPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), certPem, subject };
}
