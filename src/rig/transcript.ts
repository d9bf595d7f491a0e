// A driver's transcript: everything it said and heard on its link, in the link's native format
// (candump log for CAN, hex with timestamps for serial, JSON lines for OCPP and Modbus). The driver
// appends; the runner cuts the transcript at the end of every phase and attaches the segment to
// that phase, so each phase carries exactly the traffic that happened during it.
//
//   const t = new Transcript({ ext: 'jsonl', mime: 'application/jsonl' });
//   t.write('{"a":1}\n');  t.writeJson({ b: 2 });
//   const segment = t.cut();   // Buffer with both lines; the next segment starts empty
//   const b = t.reserve(n); let at = t.end; ...fill b from at...; t.commit(at - t.end);  // bytes in place
//
// Text is gathered in a string and copied into large blocks (4 KiB at first, growing up to 256 KiB
// while the link is busy) a few kilobytes at a time; nothing is kept as one Buffer per write. A busy link (the
// mock CSMS writes tens of thousands of lines a second) would otherwise pay a native call per write and
// leave that many small objects for the garbage collector until the next cut; a writer that has the
// bytes already (the mock CSMS's frames) assembles its line in the block itself (reserve/commit).
// cut() copies the segment out, so the segment's blocks are kept for the next ones (at most 4 MiB of
// blocks in all): fresh memory costs a page fault per 4 KiB, which on a VM is expensive.

export interface TranscriptFormat {
  /** File extension of the attachment, e.g. `candump`, `jsonl`, `log`. */
  ext: string;
  mime: string;
}

const FIRST_BLOCK_BYTES = 4 * 1024;
/** text gathered before it is encoded into the block (UTF-16 code units) */
const PENDING_CHARS = 8 * 1024;
const MAX_BLOCK_BYTES = 256 * 1024;
/** blocks kept for reuse after a cut, at most */
const MAX_SPARE_BYTES = 4 * 1024 * 1024;

export class Transcript {
  readonly format: TranscriptFormat;
  /** full blocks of the current segment, oldest first, with their used bytes */
  private blocks: { block: Buffer; used: number }[] = [];
  /** emptied blocks for reuse, largest last */
  private spare: Buffer[] = [];
  /** the block being filled, `used` bytes of it */
  private block: Buffer | undefined;
  private used = 0;
  /** bytes of the current segment */
  private size = 0;
  private total = 0;
  /** size of the next block to allocate */
  private nextBlockBytes = FIRST_BLOCK_BYTES;
  /** text written and not yet encoded into a block */
  private pending = '';

  constructor(format: TranscriptFormat) {
    this.format = format;
  }

  /** Appends raw bytes or text (UTF-8). Lines are the driver's business: include the newline. */
  write(entry: string | Uint8Array): void {
    if (typeof entry === 'string') {
      this.pending += entry;
      if (this.pending.length >= PENDING_CHARS) this.flush();
      return;
    }
    if (entry.length === 0) return;
    this.flush();
    const block = this.room(entry.length);
    block.set(entry, this.used);
    this.advance(entry.length);
  }

  /**
   * Room for up to `bytes` more bytes, for writers that assemble a line as bytes in place (the mock
   * CSMS copies each frame's bytes as received or sent): returns the block to fill from `end`; then
   * `commit(n)` with the bytes actually written. Text written before comes first.
   */
  reserve(bytes: number): Buffer {
    if (this.pending.length > 0) this.flush();
    return this.room(bytes);
  }

  /** Offset in the block `reserve` returned where the next byte goes. */
  get end(): number {
    return this.used;
  }

  /** Takes `bytes` bytes filled in after `reserve` into the segment. */
  commit(bytes: number): void {
    this.advance(bytes);
  }

  /** Appends one JSON value as a line (for JSON-lines transcripts). */
  writeJson(value: unknown): void {
    this.write(JSON.stringify(value) + '\n');
  }

  /** Returns what was written since the last cut and starts a new segment. */
  cut(): Buffer {
    this.flush();
    const out = Buffer.allocUnsafe(this.size);
    let at = 0;
    for (const b of this.blocks) at += b.block.copy(out, at, 0, b.used);
    if (this.block !== undefined) this.block.copy(out, at, 0, this.used);
    // the full blocks are free again: keep them (largest last) for the next segment
    let kept = this.spare.reduce((n, b) => n + b.length, 0);
    for (const b of this.blocks) {
      if (kept + b.block.length > MAX_SPARE_BYTES) break;
      this.spare.push(b.block);
      kept += b.block.length;
    }
    this.spare.sort((a, b) => a.length - b.length);
    this.blocks = [];
    this.used = 0;
    this.size = 0;
    return out;
  }

  /** Bytes written since the transcript was created. */
  get totalBytes(): number {
    this.flush();
    return this.total;
  }

  /** Encodes the gathered text into the block. */
  private flush(): void {
    const text = this.pending;
    if (text.length === 0) return;
    this.pending = '';
    // a UTF-8 character takes at most 3 bytes per UTF-16 code unit: no byteLength scan when it surely fits
    const block = text.length * 3 <= this.free() ? (this.block as Buffer) : this.room(Buffer.byteLength(text, 'utf8'));
    this.advance(block.write(text, this.used, 'utf8'));
  }

  private advance(bytes: number): void {
    this.used += bytes;
    this.size += bytes;
    this.total += bytes;
  }

  private free(): number {
    return this.block === undefined ? 0 : this.block.length - this.used;
  }

  /** The current block with at least `bytes` free, starting a new one when needed. */
  private room(bytes: number): Buffer {
    if (this.block !== undefined && this.block.length - this.used >= bytes) return this.block;
    if (this.block !== undefined && this.used > 0) {
      this.blocks.push({ block: this.block, used: this.used });
      // a link that fills blocks gets bigger ones (fewer objects per segment)
      this.nextBlockBytes = Math.min(MAX_BLOCK_BYTES, this.nextBlockBytes * 2);
    }
    const want = Math.max(this.nextBlockBytes, bytes);
    const reuse = this.spare.length > 0 && (this.spare[this.spare.length - 1] as Buffer).length >= want ? this.spare.pop() : undefined;
    this.block = reuse ?? Buffer.allocUnsafeSlow(want);
    this.used = 0;
    return this.block;
  }
}
