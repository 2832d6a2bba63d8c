import { orAfter } from '../time-limit.ts';

/** The longest a clipboard tool may take before we give up on it (a hung xsel must never stall a login). */
const COPY_TIMEOUT_MS = 2_000;

/**
 * Copies text with clipboardy (pbcopy, clip/PowerShell, wl-copy or xsel, whichever the
 * platform has). True only when the tool succeeded; false when there is none or it
 * failed, in which case the caller says nothing.
 */
export async function copyToClipboard(text: string): Promise<boolean> {
  try {
    // Loaded on demand: only an interactive login needs it.
    const { default: clipboard } = await import('clipboardy');
    return await orAfter(clipboard.write(text).then(() => true), COPY_TIMEOUT_MS, false, { unref: true });
  } catch {
    return false;
  }
}
