// What a fleet certificate says: subject (CN node, O fleet, OU site), subject alternative names, serial, validity.

import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { FieldmeshError, isValidId } from '../kit/index.js';
import { x509 } from './x509.js';

export const DAY_MS = 86_400_000;
/** Certificates start this much before "now", so a peer whose clock is a little behind accepts them at once. */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60_000;
/** Default validity of a node certificate (the seeds renew every 6 months or quarterly, well inside it). */
export const NODE_CERT_DAYS = 365;
/** Default validity of the fleet CA. */
export const CA_CERT_DAYS = 3650;
/** Default time from one CRL to its nextUpdate: a broker refuses every client once its CRL is past it. */
export const CRL_DAYS = 30;

/** A subject alternative name a node certificate may carry. */
export interface SubjectAltName {
  readonly type: 'dns' | 'ip';
  readonly value: string;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Reads `--san` values (DNS names or IP addresses; repeated or comma-separated). */
export function parseSans(values: readonly string[]): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  for (const raw of values.flatMap((v) => v.split(','))) {
    const value = raw.trim();
    if (value === '') continue;
    if (isIP(value) !== 0) out.push({ type: 'ip', value });
    else if (value.length <= 253 && value.split('.').every((label) => DNS_LABEL.test(label)))
      out.push({ type: 'dns', value: value.toLowerCase() });
    else {
      throw new FieldmeshError('FM_PKI_INVALID', `--san "${value}" is neither an IP address nor a DNS name`, { details: { san: value } });
    }
  }
  return out;
}

export function formatSan(san: SubjectAltName): string {
  return `${san.type === 'ip' ? 'IP' : 'DNS'}:${san.value}`;
}

/** Throws FM_PKI_INVALID unless `value` is an id of [FM-TOPIC-2]; `what` names it ("node id", "--site"). */
export function assertId(value: string, what: string): string {
  if (!isValidId(value)) {
    throw new FieldmeshError(
      'FM_PKI_INVALID',
      `${what} "${value}" must be 1 to 63 characters of a-z, 0-9, - and _, starting with a letter or digit`,
      { details: { value } },
    );
  }
  return value;
}

/** The fleet's name, carried as O in every certificate. */
export function assertFleetName(fleet: string): string {
  if (fleet.length < 1 || fleet.length > 64 || /[\p{Cc}]/u.test(fleet)) {
    throw new FieldmeshError('FM_PKI_INVALID', `fleet name "${fleet}" must be 1 to 64 printable characters`, { details: { fleet } });
  }
  return fleet;
}

/** The subject of a node certificate: CN = node id, O = fleet, OU = site. */
export function nodeSubject(node: string, fleet: string | undefined, site: string): x509.Name {
  return new x509.Name([{ CN: [node] }, ...(fleet === undefined ? [] : [{ O: [fleet] }]), { OU: [site] }]);
}

export function caSubject(fleet: string): x509.Name {
  return new x509.Name([{ CN: [`${fleet} fleet CA`] }, { O: [fleet] }]);
}

/** The first value of a name's field (CN, OU, O), or undefined. */
export function nameField(name: x509.Name, field: 'CN' | 'O' | 'OU'): string | undefined {
  return name.getField(field)[0];
}

/** A random 128-bit serial number (hex), as the CA/Browser baseline asks (at least 64 random bits). */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  // A non-zero first byte keeps every serial 32 hex digits long; the library adds DER's sign byte when needed.
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

/** Serials compare as canonical hex: lower case, whole bytes, no leading zero byte (DER's sign byte). */
export function canonicalSerial(serial: string): string {
  let hex = serial.toLowerCase().replace(/^0x/, '').replace(/[:\s]/g, '');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

export function isSerial(value: string): boolean {
  return /^(0x)?[0-9a-f]{8,40}$/i.test(value.replace(/:/g, ''));
}

/** Whole days given on the command line (`--days`): a positive integer. */
export function assertDays(days: number, what = '--days'): number {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) {
    throw new FieldmeshError('FM_PKI_INVALID', `${what} must be a whole number of days from 1 to 36500, got ${days}`, {
      details: { days },
    });
  }
  return days;
}

/** The SANs a certificate or CSR carries (DNS and IP only; anything else is reported as other). */
export function sansOf(extensions: readonly x509.Extension[]): { sans: SubjectAltName[]; other: string[] } {
  const sans: SubjectAltName[] = [];
  const other: string[] = [];
  for (const ext of extensions) {
    if (!(ext instanceof x509.SubjectAlternativeNameExtension)) continue;
    for (const name of ext.names.toJSON()) {
      if (name.type === 'dns' || name.type === 'ip') sans.push({ type: name.type, value: name.value });
      else other.push(`${name.type}:${name.value}`);
    }
  }
  return { sans, other };
}
