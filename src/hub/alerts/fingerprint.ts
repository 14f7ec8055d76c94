// Alertmanager's alert fingerprint: FNV-1a 64 over the sorted label names and values, each followed
// by the separator byte 0xff, as prometheus/common's model.LabelSet.Fingerprint, printed as 16 hex
// digits. The same labels give the same fingerprint here and in an Alertmanager, so receivers that
// deduplicate on it keep working.

const FNV_OFFSET_64 = 14695981039346656037n;
const FNV_PRIME_64 = 1099511628211n;
const MASK_64 = (1n << 64n) - 1n;
/** prometheus/common model.SeparatorByte: a byte that cannot occur in valid UTF-8. */
const SEPARATOR_BYTE = 0xff;

const encoder = new TextEncoder();

function addBytes(hash: bigint, bytes: Uint8Array): bigint {
  let h = hash;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME_64) & MASK_64;
  return h;
}

function addByte(hash: bigint, b: number): bigint {
  return ((hash ^ BigInt(b)) * FNV_PRIME_64) & MASK_64;
}

/** The 64-bit signature of a label set (prometheus/common `LabelsToSignature`). */
export function labelsSignature(labels: Readonly<Record<string, string>>): bigint {
  let h = FNV_OFFSET_64;
  for (const name of Object.keys(labels).sort()) {
    h = addByte(addBytes(h, encoder.encode(name)), SEPARATOR_BYTE);
    h = addByte(addBytes(h, encoder.encode(labels[name] as string)), SEPARATOR_BYTE);
  }
  return h;
}

/** The fingerprint as Alertmanager prints it: 16 lowercase hex digits. */
export function fingerprint(labels: Readonly<Record<string, string>>): string {
  return labelsSignature(labels).toString(16).padStart(16, '0');
}
