// Damages a file in place by flipping bits of one byte; flipping again restores it.

import { open } from 'node:fs/promises';

export async function flipByte(path: string, offset: number, mask = 0xff): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ mask;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}
