const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A one-line "waiting" indicator with the time left, on stderr and only on a terminal. */
export class Spinner {
  deadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private readonly live: boolean;

  constructor(
    private readonly text: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.live = stream.isTTY === true;
  }

  start(): void {
    if (!this.live) return;
    this.timer = setInterval(() => this.render(), 100);
  }

  note(message: string): void {
    if (this.live) this.stream.write('\r\x1b[2K');
    this.stream.write(`${message}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.live) this.stream.write('\r\x1b[2K');
  }

  private render(): void {
    const s = Math.max(0, Math.round((this.deadline - Date.now()) / 1000));
    const left = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    this.stream.write(`\r\x1b[2K${FRAMES[this.frame++ % FRAMES.length]} ${this.text} (${left} left)`);
  }
}
