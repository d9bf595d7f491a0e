// A driver's transcript: everything it said and heard on its link, in the link's native format
// (candump log for CAN, hex with timestamps for serial, JSON lines for OCPP and Modbus). The driver
// appends; the runner cuts the transcript at the end of every phase and attaches the segment to
// that phase, so each phase carries exactly the traffic that happened during it.

export interface TranscriptFormat {
  /** File extension of the attachment, e.g. `candump`, `jsonl`, `log`. */
  ext: string;
  mime: string;
}

export class Transcript {
  readonly format: TranscriptFormat;
  private chunks: Buffer[] = [];
  private size = 0;
  private total = 0;

  constructor(format: TranscriptFormat) {
    this.format = format;
  }

  /** Appends raw bytes or text. Lines are the driver's business: include the newline. */
  write(entry: string | Uint8Array): void {
    const buf = typeof entry === 'string' ? Buffer.from(entry, 'utf8') : Buffer.from(entry);
    this.chunks.push(buf);
    this.size += buf.length;
    this.total += buf.length;
  }

  /** Appends one JSON value as a line (for JSON-lines transcripts). */
  writeJson(value: unknown): void {
    this.write(JSON.stringify(value) + '\n');
  }

  /** Returns what was written since the last cut and starts a new segment. */
  cut(): Buffer {
    const out = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return out;
  }

  /** Bytes written since the transcript was created. */
  get totalBytes(): number {
    return this.total;
  }
}
