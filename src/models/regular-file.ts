/**
 * Reading a file an operator or a load request points at, without trusting what it
 * is: a FIFO would block the I/O thread in open(), a device or a huge file would be
 * read without end. The file is opened non-blocking, checked on its descriptor (so a
 * swap between check and read changes nothing), and read up to a bound.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export function readRegularFile(file: string, maxBytes: number, what: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${what} is not a regular file`);
    if (stat.size > maxBytes) throw new Error(`${what} is ${stat.size} bytes, more than ${maxBytes}`);
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < stat.size) {
      const n = readSync(fd, buffer, read, stat.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
