// Rewrites tar header blocks so that an archive's bytes depend only on its entries' names, modes and contents, not on
// when or by whom it was written. `docker save` stamps entries with times that differ between engines and versions;
// with these rewrites two teams saving the same images get the same checksums.

export const BLOCK = 512;

const MTIME = { offset: 136, length: 12 };
const UID = { offset: 108, length: 8 };
const GID = { offset: 116, length: 8 };
const CHECKSUM = { offset: 148, length: 8 };
const TYPEFLAG = 156;
const UNAME = { offset: 265, length: 32 };
const GNAME = { offset: 297, length: 32 };
const SIZE = { offset: 124, length: 12 };

/** PAX records that carry times or owners; dropped so the (normalised) ustar fields apply. */
const VOLATILE_PAX_KEYS = new Set(['mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname']);

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The entry's type flag: `0` file, `5` directory, `x` PAX header for the next entry, `g` global PAX, `L` GNU long name. */
export function typeFlag(header: Uint8Array): string {
  return String.fromCharCode(header[TYPEFLAG] ?? 0);
}

/** The entry's name as the header holds it (ustar prefix joined), for the top-level files that need reordering. */
export function entryName(header: Uint8Array): string {
  const field = (offset: number, length: number) => {
    const bytes = Buffer.from(header.subarray(offset, offset + length));
    const end = bytes.indexOf(0);
    return bytes.subarray(0, end === -1 ? length : end).toString('utf8');
  };
  const prefix = field(345, 155);
  const name = field(0, 100);
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** Rewrites the entry's size field; used when a normaliser changes the entry's data. */
export function setEntrySize(header: Uint8Array, size: number): void {
  writeSize(header, size);
}

/** Size of the entry's data in bytes (octal, or base-256 for sizes of 8 GiB and more). */
export function entrySize(header: Uint8Array): number {
  const field = header.subarray(SIZE.offset, SIZE.offset + SIZE.length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = Buffer.from(field).toString('latin1').replace(/[\0 ]+$/g, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** Bytes the entry's data occupies in the archive: its size rounded up to whole blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function writeOctal(header: Uint8Array, field: { offset: number; length: number }, value: number): void {
  const digits = value.toString(8).padStart(field.length - 1, '0');
  header.set(Buffer.from(`${digits}\0`, 'latin1'), field.offset);
}

function writeSize(header: Uint8Array, size: number): void {
  writeOctal(header, SIZE, size);
}

function clear(header: Uint8Array, field: { offset: number; length: number }): void {
  header.fill(0, field.offset, field.offset + field.length);
}

/**
 * Sets mtime to the epoch and owners to root with no names, then recomputes the checksum; in place. Names, modes,
 * sizes, type and link targets are kept, so the archive extracts and loads exactly as before.
 */
export function normaliseHeader(header: Uint8Array): void {
  writeOctal(header, MTIME, 0);
  writeOctal(header, UID, 0);
  writeOctal(header, GID, 0);
  clear(header, UNAME);
  clear(header, GNAME);
  header.fill(0x20, CHECKSUM.offset, CHECKSUM.offset + CHECKSUM.length);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += header[i]!;
  header.set(Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `, 'latin1'), CHECKSUM.offset);
}

/** Each record of PAX extended header data (`<length> <key>=<value>\n`), whole and as its key and value. */
function paxRecords(data: Uint8Array): { record: Buffer; key: string; value: string }[] {
  const text = Buffer.from(data);
  const records: { record: Buffer; key: string; value: string }[] = [];
  let offset = 0;
  while (offset < text.length) {
    const space = text.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number.parseInt(text.subarray(offset, space).toString('latin1'), 10);
    if (!Number.isFinite(length) || length <= 0 || offset + length > text.length) break;
    const record = text.subarray(offset, offset + length);
    const body = text.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = body.indexOf('=');
    records.push({ record, key: body.slice(0, eq), value: body.slice(eq + 1) });
    offset += length;
  }
  return records;
}

/**
 * PAX extended header data without time and owner records. Returns the new data; the caller writes it with its
 * header's size updated by `normalisePaxHeader`.
 */
export function normalisePaxRecords(data: Uint8Array): Buffer {
  return Buffer.concat(paxRecords(data).filter(({ key }) => !VOLATILE_PAX_KEYS.has(key)).map(({ record }) => record));
}

/** Normalises a PAX header block for data of `size` bytes. */
export function normalisePaxHeader(header: Uint8Array, size: number): void {
  writeSize(header, size);
  normaliseHeader(header);
}

/** The `path` record of PAX extended header data, which names the next entry in place of its header's name. */
export function paxPath(data: Uint8Array): string | undefined {
  return paxRecords(data).findLast(({ key }) => key === 'path')?.value;
}
