// Shows a build's progress: bars and a spinner on a terminal, plain timestamped lines anywhere else (CI logs, files).

import { BUNDLE_FILES } from '../core/bundle-layout.js';
import cliProgress from 'cli-progress';
import ora, { type Ora } from 'ora';
import type { BuildEvent } from '../app/build-bundle.js';
import { formatBytes } from './format.js';

export interface Reporter {
  report(event: BuildEvent): void;
  /** Stops bars and spinners; call once, whether the build succeeded or not. */
  close(): void;
}

export interface ReporterOptions {
  stream: NodeJS.WriteStream;
  interactive: boolean;
  now: () => Date;
}

/** `estimate for linux/arm64: 1.23 GB to fetch for 40 images (as served, each shared blob once)`. */
export function describeEstimate(event: Extract<BuildEvent, { type: 'estimate' }>): string {
  const unknown = event.unknown.length === 0 ? '' : `; ${event.unknown.length} more not known before pulling (${event.unknown.slice(0, 3).join(', ')}${event.unknown.length > 3 ? ', ...' : ''})`;
  return `estimate${event.platform === undefined ? '' : ` for ${event.platform}`}: ${formatBytes(event.bytes)} to fetch for ${event.images} images (as served, each shared blob once)${unknown}`;
}

export function createBuildReporter(options: ReporterOptions): Reporter {
  return options.interactive ? new TerminalReporter(options.stream) : new LineReporter(options.stream, options.now);
}

/** Plain lines at a bounded rate: one per pull start/finish/retry, save progress at most every 5 s. */
class LineReporter implements Reporter {
  private lastSaveLine = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly now: () => Date;

  constructor(stream: NodeJS.WriteStream, now: () => Date) {
    this.stream = stream;
    this.now = now;
  }

  private line(text: string): void {
    this.stream.write(`${this.now().toISOString()} ${text}\n`);
  }

  report(event: BuildEvent): void {
    switch (event.type) {
      case 'step':
        this.line(`${event.step}: ${event.detail}`);
        break;
      case 'pull-start':
        this.line(`pull ${event.ref}${event.from === event.ref ? '' : ` from ${event.from}`}`);
        break;
      case 'warning':
      case 'note':
        this.line(`${event.type}: ${event.message}`);
        break;
      case 'estimate':
        this.line(describeEstimate(event));
        break;
      case 'pull-source-failed':
        this.line(`source failed for ${event.ref}: ${event.from}: ${event.message}`);
        break;
      case 'pull-retry':
        this.line(`retry ${event.ref} (attempt ${event.attempt + 1}) in ${event.delayMs} ms: ${event.message}`);
        break;
      case 'pull-done':
        this.line(`${event.alreadyPresent ? 'already in the engine' : 'pulled'} ${event.ref} (${formatBytes(event.size)})`);
        break;
      case 'pull-failed':
        this.line(`FAILED ${event.ref}: ${event.message}`);
        break;
      case 'save-progress': {
        const now = this.now().getTime();
        if (now - this.lastSaveLine >= 5000) {
          this.lastSaveLine = now;
          this.line(`save: ${formatBytes(event.bytes)} written`);
        }
        break;
      }
      case 'pull-progress':
        break;
    }
  }

  close(): void {}
}

class TerminalReporter implements Reporter {
  private readonly stream: NodeJS.WriteStream;
  private spinner: Ora | undefined;
  private bars: cliProgress.MultiBar | undefined;
  private readonly pullBars = new Map<string, cliProgress.SingleBar>();
  private saveBar: cliProgress.SingleBar | undefined;
  /** Everything pulled so far: per-image byte counts as the engine reports them, and images finished. */
  private totalBar: cliProgress.SingleBar | undefined;
  private readonly pulledBytes = new Map<string, { current: number; total: number }>();
  private imagesDone = 0;
  private imageCount = 0;
  private pullStarted = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream;
  }

  private multiBar(): cliProgress.MultiBar {
    this.bars ??= new cliProgress.MultiBar(
      {
        stream: this.stream,
        clearOnComplete: false,
        hideCursor: true,
        format: ' {bar} {percentage}% | {name} | {size}',
        formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? formatBytes(value) : String(value)),
      },
      cliProgress.Presets.shades_classic,
    );
    return this.bars;
  }

  report(event: BuildEvent): void {
    switch (event.type) {
      case 'step':
        if (event.step === 'render' || event.step === 'resolve' || event.step === 'write') {
          this.spinner?.succeed();
          this.spinner = ora({ stream: this.stream, text: `${event.step}: ${event.detail}` }).start();
        } else {
          this.spinner?.succeed();
          this.spinner = undefined;
          // The save starts while pull bars are still drawn (batches overlap the pulls): print above them.
          if (this.bars !== undefined) this.bars.log(`${event.step}: ${event.detail}\n`);
          else this.stream.write(`${event.step}: ${event.detail}\n`);
          if (event.step === 'pull' && event.total !== undefined) {
            this.imageCount = event.total;
            this.pullStarted = Date.now();
            this.totalBar = this.multiBar().create(1, 0, { name: `total 0/${event.total} images`, size: '' });
          }
        }
        break;
      case 'pull-start': {
        // A second source for the same image reuses its bar.
        const existing = this.pullBars.get(event.ref);
        if (existing === undefined) this.pullBars.set(event.ref, this.multiBar().create(1, 0, { name: event.ref, size: 'waiting' }));
        else existing.update(0, { size: 'next source' });
        break;
      }
      case 'pull-progress': {
        const bar = this.pullBars.get(event.ref);
        if (bar !== undefined && event.total > 0) {
          bar.setTotal(event.total);
          bar.update(event.current, { size: `${formatBytes(event.current)}/${formatBytes(event.total)}` });
        }
        this.pulledBytes.set(event.ref, { current: event.current, total: event.total });
        this.updateTotal();
        break;
      }
      case 'pull-done': {
        const bar = this.pullBars.get(event.ref);
        bar?.setTotal(1);
        bar?.update(1, { size: `${event.alreadyPresent ? 'present' : 'done'} ${formatBytes(event.size)}` });
        this.imagesDone++;
        const known = this.pulledBytes.get(event.ref);
        if (known !== undefined) this.pulledBytes.set(event.ref, { current: known.total, total: known.total });
        this.updateTotal();
        break;
      }
      case 'pull-retry':
        this.pullBars.get(event.ref)?.update({ size: `retry ${event.attempt + 1} in ${Math.round(event.delayMs / 1000)}s` });
        break;
      case 'pull-source-failed':
        this.pullBars.get(event.ref)?.update({ size: 'next source' });
        break;
      case 'warning':
      case 'note':
        if (this.bars !== undefined) this.bars.log(`${event.type}: ${event.message}\n`);
        else this.stream.write(`${event.type}: ${event.message}\n`);
        break;
      case 'estimate':
        this.spinner?.succeed();
        this.spinner = undefined;
        if (this.bars !== undefined) this.bars.log(`${describeEstimate(event)}\n`);
        else this.stream.write(`${describeEstimate(event)}\n`);
        break;
      case 'pull-failed':
        this.pullBars.get(event.ref)?.update({ size: 'FAILED' });
        break;
      case 'save-progress':
        this.saveBar ??= this.multiBar().create(Math.max(event.estimatedTotal, 1), 0, { name: BUNDLE_FILES.imagesTar, size: '' });
        // The estimate grows as each batch's images are pulled.
        this.saveBar.setTotal(Math.max(event.estimatedTotal, 1));
        this.saveBar.update(Math.min(event.bytes, event.estimatedTotal), { size: formatBytes(event.bytes) });
        break;
    }
  }

  /** The total bar: images finished, bytes so far of what the engine announced, rate, and an ETA from that rate. */
  private updateTotal(): void {
    if (this.totalBar === undefined) return;
    let current = 0;
    let total = 0;
    for (const bytes of this.pulledBytes.values()) {
      current += bytes.current;
      total += bytes.total;
    }
    const seconds = Math.max((Date.now() - this.pullStarted) / 1000, 0.001);
    const rate = current / seconds;
    const eta = rate > 0 && total > current ? `ETA ${Math.ceil((total - current) / rate)}s` : '';
    // Images already on the engine report no bytes; when every image is done the bar is full regardless.
    const finished = this.imagesDone >= this.imageCount;
    this.totalBar.setTotal(Math.max(total, 1));
    this.totalBar.update(finished ? Math.max(total, 1) : Math.min(current, Math.max(total, 1)), {
      name: `total ${this.imagesDone}/${this.imageCount} images`,
      size: `${formatBytes(current)}/${formatBytes(total)} ${formatBytes(rate)}/s ${eta}`,
    });
  }

  close(): void {
    this.spinner?.stop();
    this.bars?.stop();
  }
}
